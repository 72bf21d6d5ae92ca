#include "conveyor/runtime/service.hpp"

#include <CLI/CLI.hpp>

#include "conveyor/bus/stop_signals.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace conveyor::runtime {

int main(int argc, char** argv, const std::string& name, const std::function<int(Service&)>& body) {
  // Before any thread exists: SIGTERM/SIGINT are then only taken by the
  // service's stop waiter (bus::on_stop_signal), never by a library thread.
  bus::block_stop_signals();
  CLI::App app{"conveyor-" + name + ": a conveyor service"};
  const char* env_config = std::getenv("CONVEYOR_CONFIG");
  std::string config_path = env_config ? env_config : "conveyor.yaml";
  bool check_only = false;
  std::string admin_listen;
  app.add_option("--config", config_path, "conveyor.yaml to load (default $CONVEYOR_CONFIG or ./conveyor.yaml)");
  app.add_flag("--check-config", check_only, "validate the config and exit (0 ok, 2 invalid)");
  app.add_option("--admin", admin_listen, "admin endpoint host:port (overrides admin.listen)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  Service service;
  service.name = name;
  service.logger = log::Logger(name);
  auto loaded = config::load(config_path, config::default_schema_path());
  if (auto* error = std::get_if<config::LoadError>(&loaded)) {
    std::fprintf(stderr, "conveyor-%s: invalid config %s:\n%s", name.c_str(), config_path.c_str(),
                 error->to_string().c_str());
    return 2;
  }
  service.config = std::move(std::get<config::Config>(loaded));
  if (!admin_listen.empty()) service.config.admin.listen = admin_listen;
  if (check_only) {
    std::printf("config ok: %s (%zu pipelines)\n", config_path.c_str(), service.config.pipelines.size());
    return 0;
  }
  return body(service);
}

Result<std::unique_ptr<http::Server>> start_admin(Service& service, std::vector<http::ReadinessCheck> checks) {
  auto listen = http::parse_listen(service.config.admin.listen);
  if (!listen) return std::move(listen).error();
  http::ServerOptions options;
  options.host = listen->first;
  options.port = listen->second;
  options.max_body_bytes = 4096;
  options.threads = 1;
  auto server = std::make_unique<http::Server>(options);
  http::add_admin_routes(*server, service.metrics, std::move(checks));
  if (auto ok = server->start(); !ok) return std::move(ok).error();
  return server;
}

Result<std::unique_ptr<bus::Producer>> make_producer(const Service& service,
                                                     std::chrono::milliseconds delivery_timeout) {
  bus::ProducerOptions options;
  options.brokers = service.config.kafka.brokers;
  options.client_id = "conveyor-" + service.name;
  options.delivery_timeout = delivery_timeout;
  return bus::Producer::create(options);
}

Result<std::shared_ptr<store::Redis>> connect_redis(const Service& service, int connections) {
  store::RedisOptions options;
  options.url = service.config.redis.url;
  options.timeout = service.config.redis.timeout;
  options.connections = connections;
  return store::Redis::connect(options);
}

std::vector<http::ReadinessCheck> dependency_checks(bus::Producer& producer, std::shared_ptr<store::Redis> redis) {
  return {{"kafka", [&producer] { return producer.ping(); }}, {"redis", [redis] { return redis->ping(); }}};
}

Result<std::vector<std::string>> resolve_secrets(const std::vector<config::SecretRef>& refs) {
  std::vector<std::string> out;
  for (const auto& ref : refs) {
    auto value = ref.resolve();
    if (!value) return std::move(value).error();
    out.push_back(std::move(*value));
  }
  return out;
}

}  // namespace conveyor::runtime
