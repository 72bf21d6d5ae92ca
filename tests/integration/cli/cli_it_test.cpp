// The `conveyor` CLI as a user runs it: signing, config validation, sending a
// delivery to a real conveyor-webhook, and reading the run back with
// `events tail`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

using namespace std::chrono_literals;

struct Ran {
  int code = -1;
  std::string output;
};

Ran run_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  const auto dir = temp_dir("cli");
  ServiceProcess p(bin_dir() + "/conveyor", args, dir + "/out", env);
  Ran r;
  r.code = p.wait_exit(60s).value_or(-1);
  r.output = p.log();
  return r;
}

TEST(Cli, WebhookSignMatchesGitHubsDocumentedVector) {
  const auto dir = temp_dir("cli-sign");
  write_file(dir + "/body", "Hello, World!");
  const auto r = run_cli({"webhook", "sign", "--secret-env", "SIGN_SECRET", dir + "/body"},
                         {{"SIGN_SECRET", "It's a Secret to Everybody"}});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.output, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n");
  const auto missing = run_cli({"webhook", "sign", "--secret-env", "NOT_SET_ANYWHERE", dir + "/body"});
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.output.find("NOT_SET_ANYWHERE"), std::string::npos);
}

TEST(Cli, ConfigValidate) {
  const auto ok = run_cli({"config", "validate", source_dir() + "/deploy/conveyor.example.yaml"});
  EXPECT_EQ(ok.code, 0) << ok.output;
  const auto dir = temp_dir("cli-config");
  write_file(dir + "/bad.yaml", "pipelines:\n  - name: x\n    repository: a/b\n    test: { steps: [ { run: make, timeout: soon } ] }\n");
  const auto bad = run_cli({"config", "validate", dir + "/bad.yaml"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("pipelines[0].test.steps[0].timeout"), std::string::npos) << bad.output;
}

TEST(Cli, SendThenTailShowsTheRun) {
  const auto dir = temp_dir("cli-send");
  write_file(dir + "/conveyor.yaml",
             "kafka: { brokers: \"" + kafka_brokers() + "\" }\nredis: { url: \"" + redis_url() +
                 "\" }\nwebhook: { listen: \"127.0.0.1:0\", secrets: [ { env: CLI_SECRET } ] }\n"
                 "admin: { listen: \"127.0.0.1:0\" }\n"
                 "pipelines:\n  - name: hello\n    repository: Codertocat/Hello-World\n"
                 "    triggers: { push: { branches: [master] } }\n    test: { steps: [ { run: make test } ] }\n");
  ServiceProcess webhook(bin_dir() + "/conveyor-webhook", {"--config", dir + "/conveyor.yaml"}, dir + "/webhook.log",
                         {{"CLI_SECRET", "cli-secret"}});
  const int port = webhook.port("webhook_port");
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/webhooks/github";
  const std::string payload = shared_dir() + "/fixtures/github/push/with-new-branch.payload.json";

  const auto sent = run_cli({"webhook", "send", url, payload, "--event", "push", "--secret-env", "CLI_SECRET"},
                            {{"CLI_SECRET", "cli-secret"}});
  ASSERT_EQ(sent.code, 0) << sent.output;
  ASSERT_EQ(sent.output.rfind("202 ", 0), 0u) << sent.output;
  const std::string run_id = nlohmann::json::parse(sent.output.substr(4))["run_id"];

  const auto form = run_cli({"webhook", "send", url, payload, "--event", "push", "--form", "--secret-env", "CLI_SECRET"},
                            {{"CLI_SECRET", "cli-secret"}});
  EXPECT_EQ(form.output.rfind("202 ", 0), 0u) << form.output;
  const auto wrong = run_cli({"webhook", "send", url, payload, "--event", "push", "--secret-env", "CLI_SECRET"},
                             {{"CLI_SECRET", "wrong"}});
  EXPECT_NE(wrong.code, 0);
  EXPECT_EQ(wrong.output.rfind("401 ", 0), 0u) << wrong.output;

  const auto tail = run_cli({"events", "tail", "--run", run_id, "--brokers", kafka_brokers()});
  EXPECT_EQ(tail.code, 0) << tail.output;
  EXPECT_NE(tail.output.find("pipelinerun.queued"), std::string::npos) << tail.output;
  EXPECT_NE(tail.output.find(run_id), std::string::npos);
  const auto json = run_cli({"events", "tail", "--run", run_id, "--json", "--type", "pipelinerun.*"});
  ASSERT_EQ(json.code, 0);
  const auto line = nlohmann::json::parse(json.output.substr(0, json.output.find('\n')));
  EXPECT_EQ(line["type"], "dev.cdevents.pipelinerun.queued.0.3.0");
  EXPECT_EQ(line["data"]["context"]["chainId"], run_id);
}

}  // namespace
}  // namespace conveyor::testing
