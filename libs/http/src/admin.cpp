// /healthz, /readyz and /metrics on a Server (no Beast in this file).
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>

#include "conveyor/http/admin.hpp"

namespace conveyor::http {

std::string render_metrics(const prometheus::Registry& registry) {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, registry.Collect());
  return out.str();
}

void add_admin_routes(Server& server, std::shared_ptr<prometheus::Registry> registry,
                      std::vector<ReadinessCheck> checks) {
  server.route("GET", "/healthz", [](Request&&, Reply reply) { reply(json_response(200, R"({"status":"ok"})")); });

  // Checks run inline on the I/O thread that received /readyz: they must be
  // quick and bounded (a ping with a short timeout). Give the admin port its
  // own Server so a slow check never delays other traffic.
  auto shared_checks = std::make_shared<const std::vector<ReadinessCheck>>(std::move(checks));
  server.route("GET", "/readyz", [shared_checks](Request&&, Reply reply) {
    nlohmann::json results = nlohmann::json::object();
    bool ready = true;
    for (const auto& c : *shared_checks) {
      std::string outcome = "ok";
      try {
        if (!c.check) {
          outcome = "no check configured";
        } else if (auto r = c.check(); !r.ok()) {
          outcome = std::string(errc_name(r.error().code)) + ": " + r.error().message;
        }
      } catch (const std::exception& e) {
        outcome = std::string("check threw: ") + e.what();
      } catch (...) {
        outcome = "check threw";
      }
      if (outcome != "ok") ready = false;
      results[c.name] = outcome;
    }
    nlohmann::json body = {{"ready", ready}, {"checks", std::move(results)}};
    reply(json_response(ready ? 200 : 503,
                        body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  });

  server.route("GET", "/metrics", [registry = std::move(registry)](Request&&, Reply reply) {
    Response r;
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (registry) r.body = render_metrics(*registry);
    reply(std::move(r));
  });
}

}  // namespace conveyor::http
