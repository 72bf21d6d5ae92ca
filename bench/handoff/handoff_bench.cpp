// handoff_bench: drives runs through the stage services of bench/handoff/run
// and prints hand-off latency figures (see bench/README.md, "Hand-off").
//
//   handoff_bench topics   BROKERS PREFIX
//     creates <PREFIX>.events, .dlq and .stage.<stage> (6 partitions each).
//
//   handoff_bench handoff  BROKERS PREFIX RUNS
//     RUNS runs of the six-stage pipeline test -> version -> build -> helm ->
//     deploy -> verify, one after the other, every stage a noop_stage. Per
//     run: the first hop is "request produced by this driver -> test handler
//     starts"; each later hop is "previous handler returned -> next handler
//     starts", which covers the stage runtime's whole hand-off: outcome
//     records built, idempotency record written to Redis, the next request
//     produced and acknowledged (acks=all), fetched, decoded and checked
//     against Redis by the next service. Whole run = produced -> the
//     pipelinerun.finished event read back by this driver.
//
//   handoff_bench rollback BROKERS PREFIX RUNS URL
//     RUNS verify requests handled by the real conveyor-health-verifier with one
//     HTTP check of URL (which must fail: nothing listens there), settle 0,
//     no retries; its rollback request is taken by a noop_stage for `deploy`.
//     Measured: failing probe (incident customData.detected_at, ms) -> rollback
//     handler starts (µs), and the verifier's own verdict_to_rollback_ms.
//
// Times are CLOCK_REALTIME microseconds, comparable across processes on one host.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/bus/producer.hpp"
#include "conveyor/bus/reader.hpp"
#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/run.hpp"
#include "kafka_admin.hpp"

using nlohmann::json;
namespace events = conveyor::events;
namespace bus = conveyor::bus;

namespace {

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-29T22:10:00.123Z" -> µs since the epoch.
long long rfc3339_us(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &ms) != 7)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (static_cast<long long>(timegm(&tm)) * 1000 + ms) * 1000;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

void report(const std::string& name, const std::vector<double>& ms) {
  std::printf("%-34s n=%-5zu p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", name.c_str(), ms.size(),
              percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), percentile(ms, 100));
}

events::RunContext make_run(int i) {
  events::RunContext run;
  run.run_id = events::new_uuid();
  run.pipeline = "bench";
  run.repository = "bench/app-" + std::to_string(i % 12);  // spread over partitions
  run.clone_url = "file:///nonexistent";
  run.trigger = "push";
  run.ref = "refs/heads/main";
  run.ref_kind = "branch";
  run.ref_name = "main";
  run.sha = std::string(40, 'a');
  run.delivery_id = run.run_id;
  run.sender = "bench";
  run.queued_at = "2026-01-01T00:00:00Z";
  return run;
}

// Reads `<prefix>.events` until `done(event)` returns true or `timeout`.
template <class F>
bool read_until(bus::Reader& reader, std::chrono::milliseconds timeout, F done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto next = reader.next(std::chrono::milliseconds(100));
    if (!next) {
      std::cerr << "read: " << next.error().message << "\n";
      return false;
    }
    if (!*next) continue;
    auto event = events::cdevent_from_kafka((*next)->record);
    if (!event) continue;
    if (done(*event)) return true;
  }
  return false;
}

// The first kWarmup runs of each mode are not counted: they pay for the
// first produce to each topic and partition (metadata, producer id) of every
// process involved, which a running suite pays once per process.
constexpr int kWarmup = 24;

int handoff(bus::Producer& producer, bus::Reader& reader, const std::string& prefix, int runs) {
  const std::vector<std::string> stages = {"test", "version", "build", "helm", "deploy", "verify"};
  std::map<std::string, std::vector<double>> per_hop;
  std::vector<double> all_hops, whole;
  int failed = 0;
  for (int i = -kWarmup; i < runs; ++i) {
    std::vector<events::SlipEntry> slip;
    for (const auto& s : stages) {
      json settings = json::object();
      if (s == "deploy") settings = {{"environment", "bench"}};
      slip.push_back({s, settings});
    }
    const auto run = make_run(i + kWarmup);
    const auto request = events::first_request(run, slip);
    const long long produced = now_us();
    if (auto ok = producer.produce_all({events::to_kafka(request, prefix)}); !ok) {
      std::cerr << "produce: " << ok.error().message << "\n";
      return 1;
    }
    std::map<std::string, std::pair<long long, long long>> times;  // stage -> started, finished
    long long finished_at = 0;
    const bool complete = read_until(reader, std::chrono::seconds(20), [&](const json& e) {
      if (e["context"].value("chainId", "") != run.run_id) return false;
      const std::string type = e["context"].value("type", "");
      if (type.rfind("dev.conveyor.bench.stage.started", 0) == 0) {
        const auto& c = e["subject"]["content"];
        times[c.value("stage", "")] = {c.value("started_us", 0LL), c.value("finished_us", 0LL)};
      } else if (type.rfind("dev.cdevents.pipelinerun.finished", 0) == 0) {
        finished_at = now_us();
      }
      return finished_at != 0 && times.size() == stages.size();
    });
    if (!complete) {
      ++failed;
      std::cerr << "run " << i << " incomplete (" << times.size() << " stages seen)\n";
      continue;
    }
    if (i < 0) continue;
    long long previous = produced;
    for (const auto& s : stages) {
      const double ms = static_cast<double>(times[s].first - previous) / 1000.0;
      per_hop[(s == "test" ? std::string("driver") : std::string("...")) + " -> " + s].push_back(ms);
      all_hops.push_back(ms);
      previous = times[s].second;
    }
    whole.push_back(static_cast<double>(finished_at - produced) / 1000.0);
  }
  std::printf("hand-off over %d runs of 6 no-op stages (%d incomplete)\n", runs, failed);
  for (const auto& s : stages) {
    const std::string key = (s == "test" ? std::string("driver") : std::string("...")) + " -> " + s;
    report("  hop " + key, per_hop[key]);
  }
  report("  every hop", all_hops);
  report("  whole run (produced -> finished)", whole);
  return failed == 0 ? 0 : 1;
}

int rollback(bus::Producer& producer, bus::Reader& reader, const std::string& prefix, int runs,
             const std::string& url) {
  std::vector<double> to_rollback_start, verifier_own;
  int failed = 0;
  for (int i = -kWarmup; i < runs; ++i) {
    auto run = make_run(i + kWarmup);
    run.outputs["deploy"] = {{"environment", "bench"}, {"backend", "compose"}, {"revision", "bench:2"}};
    const json settings = {{"settle", "0s"},
                           {"soak", "0s"},
                           {"on-failure", "rollback"},
                           {"http", json::array({{{"url", url}, {"retries", 0}, {"timeout", "1s"}}})}};
    const auto request = events::first_request(run, {{"verify", settings}});
    if (auto ok = producer.produce_all({events::to_kafka(request, prefix)}); !ok) {
      std::cerr << "produce: " << ok.error().message << "\n";
      return 1;
    }
    long long detected = 0, started = 0;
    double own = -1;
    const bool complete = read_until(reader, std::chrono::seconds(20), [&](const json& e) {
      if (e["context"].value("chainId", "") != run.run_id) return false;
      const std::string type = e["context"].value("type", "");
      if (type.rfind("dev.cdevents.incident.detected", 0) == 0 && e.contains("customData")) {
        detected = rfc3339_us(e["customData"].value("detected_at", ""));
        own = e["customData"]["rollback"].value("verdict_to_rollback_ms", -1.0);
      } else if (type.rfind("dev.conveyor.bench.stage.started", 0) == 0 &&
                 e["subject"]["content"].value("rollback", false)) {
        started = e["subject"]["content"].value("started_us", 0LL);
      }
      return detected != 0 && started != 0;
    });
    if (!complete) {
      ++failed;
      std::cerr << "rollback run " << i << " incomplete\n";
      continue;
    }
    if (i < 0) continue;
    // detected_at has millisecond resolution: up to 1 ms is added here.
    to_rollback_start.push_back(static_cast<double>(started - detected) / 1000.0);
    if (own >= 0) verifier_own.push_back(own);
  }
  std::printf("failed verdict -> rollback over %d runs (%d incomplete)\n", runs, failed);
  report("  failing probe -> rollback starts", to_rollback_start);
  report("  verifier: probe -> request built", verifier_own);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "topics") {
    const std::string prefix = argv[3];
    try {
      for (const std::string suffix : {"events", "dlq", "stage.test", "stage.version", "stage.build", "stage.helm",
                                       "stage.deploy", "stage.verify"})
        conveyor::testing::create_topic_named(argv[2], prefix + "." + suffix, 6);
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      return 1;
    }
    return 0;
  }
  if (argc < 5) {
    std::cerr << "usage: handoff_bench topics BROKERS PREFIX | handoff|rollback BROKERS PREFIX RUNS [URL]\n";
    return 2;
  }
  const std::string mode = argv[1], brokers = argv[2], prefix = argv[3];
  const int runs = std::atoi(argv[4]);
  bus::ProducerOptions options;
  options.brokers = brokers;
  options.client_id = "conveyor-bench-driver";
  auto producer = bus::Producer::create(options);
  if (!producer) {
    std::cerr << producer.error().message << "\n";
    return 1;
  }
  bus::ReaderOptions read;
  read.brokers = brokers;
  read.topic = events::events_topic(prefix);
  read.from_beginning = false;
  auto reader = bus::Reader::open(read);
  if (!reader) {
    std::cerr << reader.error().message << "\n";
    return 1;
  }
  if (mode == "handoff") return handoff(**producer, **reader, prefix, runs);
  if (mode == "rollback" && argc >= 6) return rollback(**producer, **reader, prefix, runs, argv[5]);
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
