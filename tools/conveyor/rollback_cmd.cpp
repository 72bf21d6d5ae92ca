#include <cstdio>

#include "commands.hpp"
#include "conveyor/bus/producer.hpp"
#include "conveyor/config/config.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/store/redis.hpp"
#include "state.hpp"

namespace conveyor::cli {

void add_rollback_commands(CLI::App& app, int& exit_code) {
  auto* rollback = app.add_subcommand(
      "rollback", "roll an environment back to what ran before its current deployment (via conveyor-deployer)");
  static std::string environment, config_file = "conveyor.yaml", reason = "requested with conveyor rollback";
  rollback->add_option("--environment,-e", environment, "the environment (deploy.environment)")->required();
  rollback->add_option("--config", config_file, "conveyor.yaml for Kafka and Redis (default ./conveyor.yaml)");
  rollback->add_option("--reason", reason, "why (goes into the request and the deployer's events)");
  rollback->callback([&exit_code] {
    auto loaded = config::load(config_file, config::default_schema_path());
    if (auto* error = std::get_if<config::LoadError>(&loaded)) {
      std::fprintf(stderr, "%s: invalid\n%s", config_file.c_str(), error->to_string().c_str());
      exit_code = 2;
      return;
    }
    const auto& cfg = std::get<config::Config>(loaded);
    auto fail = [&exit_code](const std::string& message) {
      std::fprintf(stderr, "conveyor: %s\n", message.c_str());
      exit_code = 1;
    };
    auto redis = store::Redis::connect({cfg.redis.url, cfg.redis.timeout, 1});
    if (!redis) return fail(redis.error().message);
    deployer::DeployState state(*redis);
    auto snapshot = state.load(environment);
    if (!snapshot) return fail(snapshot.error().message);
    if (!snapshot->current.is_object()) return fail("nothing is deployed in " + environment);
    auto run = events::run_from_json(snapshot->current.value("run", nlohmann::json()));
    if (!run) return fail("the current deployment of " + environment + " has no run: " + run.error().message);

    // The same request the health verifier sends, with an id of its own so
    // it never collides with (or is absorbed by) an earlier rollback of the run.
    events::StageRequest request;
    request.id = run->run_id + ":rollback:cli-" + events::new_uuid().substr(0, 8);
    request.stage = "deploy";
    request.run = *run;
    request.settings = {{"environment", environment}, {"action", "rollback"}, {"reason", reason},
                        {"requested_by", "conveyor rollback"}};
    bus::ProducerOptions options;
    options.brokers = cfg.kafka.brokers;
    auto producer = bus::Producer::create(options);
    if (!producer) return fail(producer.error().message);
    if (auto ok = (*producer)->produce_all({events::to_kafka(request, cfg.kafka.topic_prefix)}); !ok) {
      return fail(ok.error().message);
    }
    std::printf("%s\n", request.id.c_str());
    std::fprintf(stderr, "rollback of %s requested: run %s (version %s) -> the deployment before it\n",
                 environment.c_str(), run->run_id.c_str(),
                 snapshot->current.value("version", std::string("?")).c_str());
  });
}

}  // namespace conveyor::cli
