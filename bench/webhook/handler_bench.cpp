// CPU cost of conveyor-webhook's decision path, without HTTP, Kafka or Redis:
// `webhook::Handler::handle` (HMAC check, payload classification, pipeline
// match, the two records) on one signed push delivery, N times. Meant for
// `valgrind --tool=callgrind` (instruction counts do not depend on what else
// the machine runs) and prints wall-clock figures as a rough guide.
//
//   handler_bench PAYLOAD_FILE [iterations=2000] [mode=handle|classify|classify-nlohmann]
//
// mode=classify times only the payload-to-Classification step
// (github::classify_text, the RapidJSON pass the service uses);
// classify-nlohmann the reference it replaced (nlohmann DOM parse + classify).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "conveyor/github/signature.hpp"
#include "conveyor/github/webhook.hpp"
#include "handler.hpp"

using namespace conveyor;

// CPU time of this thread in microseconds (what the loop itself burnt,
// whatever else the machine runs).
static double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: handler_bench PAYLOAD_FILE [iterations] [handle|classify|classify-nlohmann]\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  const int n = argc > 2 ? std::stoi(argv[2]) : 2000;
  const std::string mode = argc > 3 ? argv[3] : "handle";

  config::Pipeline p;
  p.name = "bench";
  p.repository = "Codertocat/Hello-World";
  p.clone_url = "https://github.com/Codertocat/Hello-World.git";
  p.triggers.push = config::PushTrigger{{"*"}, {"*"}, {"test"}};
  p.stage_settings["test"] = {{"steps", nlohmann::json::array({{{"name", "nothing"}, {"run", "true"}}})}};
  const std::string secret = "bench-secret";
  const webhook::Handler handler({p}, {secret}, "conveyor-bench");

  webhook::Delivery d;
  d.event = "push";
  d.content_type = "application/json";
  d.body = body;
  d.signature = github::signature_header(secret, body);

  int started = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_us();
  for (int i = 0; i < n; ++i) {
    if (mode == "classify-nlohmann") {
      auto c = github::classify(d.event, nlohmann::json::parse(body));
      started += c && c->change && c->skip_reason.empty();
    } else if (mode == "classify") {
      auto c = github::classify_text(d.event, body);
      started += c && c->change && c->skip_reason.empty();
    } else {
      d.delivery_id = "bench-" + std::to_string(i);
      started += handler.handle(d).outcome == "started";
    }
  }
  const double cpu_us = (thread_cpu_us() - cpu0) / n;
  const auto t1 = std::chrono::steady_clock::now();
  const double us = std::chrono::duration<double, std::micro>(t1 - t0).count() / n;
  std::printf("mode=%s payload_bytes=%zu iterations=%d started=%d us_per_call=%.1f cpu_us_per_call=%.1f\n", mode.c_str(),
              body.size(), n, started, us, cpu_us);
  return started == n ? 0 : 1;
}
