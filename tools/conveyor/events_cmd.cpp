#include <atomic>
#include <csignal>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "conveyor/bus/reader.hpp"
#include "conveyor/config/config.hpp"

namespace conveyor::cli {
namespace {

std::atomic<bool> interrupted{false};

// "dev.cdevents.pipelinerun.queued.0.3.0" -> "pipelinerun.queued".
std::string short_type(const std::string& type) {
  std::string t = type;
  for (const char* prefix : {"dev.cdevents.", "dev.conveyor."}) {
    if (t.rfind(prefix, 0) == 0) t = t.substr(std::string(prefix).size());
  }
  // Drop the trailing semantic version (three numeric dot-separated parts).
  int dots = 0;
  for (size_t i = t.size(); i > 0; --i) {
    if (t[i - 1] == '.' && ++dots == 3) return t.substr(0, i - 1);
  }
  return t;
}

std::string str(const nlohmann::json& j, const char* pointer) {
  const nlohmann::json::json_pointer p(pointer);
  if (j.contains(p) && j.at(p).is_string()) return j.at(p).get<std::string>();
  return "-";
}

}  // namespace

void add_events_commands(CLI::App& app, int& exit_code) {
  auto* events = app.add_subcommand("events", "read the public event stream (conveyor.events)");
  events->require_subcommand(1);
  auto* tail = events->add_subcommand("tail", "print events, one line each (time, run, type, subject, outcome)");
  static std::string brokers, topic = "conveyor.events", run, type_glob;
  static bool follow = false, json = false;
  tail->add_option("--brokers", brokers, "Kafka bootstrap servers (default $CONVEYOR_KAFKA_BROKERS or 127.0.0.1:19092)");
  tail->add_option("--topic", topic, "topic (default conveyor.events)");
  tail->add_option("--run", run, "only events of this run id (CDEvents chainId)");
  tail->add_option("--type", type_glob, "only types matching this glob, e.g. 'pipelinerun.*'");
  tail->add_flag("--follow,-f", follow, "keep waiting for new events (Ctrl-C to stop)");
  tail->add_flag("--json", json, "print each CloudEvent as one JSON line");
  tail->callback([&exit_code] {
    std::signal(SIGINT, [](int) { interrupted = true; });
    std::signal(SIGTERM, [](int) { interrupted = true; });
    auto reader = bus::Reader::open({brokers.empty() ? default_brokers() : brokers, topic, true});
    if (!reader) {
      std::fprintf(stderr, "conveyor: %s\n", reader.error().message.c_str());
      exit_code = 1;
      return;
    }
    int idle_polls = 0;
    while (!interrupted) {
      auto next = (*reader)->next(std::chrono::milliseconds(200));
      if (!next) {
        std::fprintf(stderr, "conveyor: %s\n", next.error().message.c_str());
        exit_code = 1;
        return;
      }
      if (!*next) {
        if (!follow && (*reader)->caught_up() && ++idle_polls >= 2) break;
        continue;
      }
      idle_polls = 0;
      const auto& rec = (*next)->record;
      auto ce = events::from_kafka(rec);
      if (!ce) continue;  // not a CloudEvent: not ours to print
      const auto data = nlohmann::json::parse(ce->data, nullptr, false);
      const std::string run_id = data.is_discarded() ? "-" : str(data, "/context/chainId");
      if (!run.empty() && run_id != run) continue;
      const std::string type = short_type(ce->type);
      if (!type_glob.empty() && !config::glob_match(type_glob, type) && !config::glob_match(type_glob, ce->type)) {
        continue;
      }
      if (json) {
        nlohmann::json out = {{"specversion", ce->specversion}, {"id", ce->id},     {"source", ce->source},
                              {"type", ce->type},               {"time", ce->time}, {"subject", ce->subject}};
        for (const auto& [k, v] : ce->extensions) out[k] = v;
        out["datacontenttype"] = ce->datacontenttype;
        out["data"] = data.is_discarded() ? nlohmann::json(ce->data) : data;
        std::printf("%s\n", out.dump().c_str());
      } else {
        const std::string outcome = data.is_discarded() ? "-" : str(data, "/subject/content/outcome");
        std::printf("%-24s  %-36s  %-22s  %-40s  %s\n", ce->time.c_str(), run_id.c_str(), type.c_str(),
                    ce->subject.c_str(), outcome.c_str());
      }
      std::fflush(stdout);
    }
  });
}

}  // namespace conveyor::cli
