#include "handler.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "conveyor/events/cdevents.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/events/run.hpp"
#include "conveyor/github/signature.hpp"
#include "fixtures.hpp"

namespace conveyor::webhook {
namespace {

const std::string kSecret = "conveyor-test-secret";

config::Pipeline hello_pipeline() {
  config::Pipeline p;
  p.name = "hello";
  p.repository = "Codertocat/Hello-World";
  p.clone_url = "file:///srv/git/hello.git";
  p.triggers.push = config::PushTrigger{{"master", "release/*"}, {"v*", "simple-*"}, {}};
  p.triggers.pull_request = config::PullRequestTrigger{{"master"}, {"test"}};
  p.stage_settings["test"] = {{"steps", nlohmann::json::array({{{"run", "make test"}}})}};
  p.stage_settings["version"] = {{"tag-prefix", "v"}};
  return p;
}

Handler make_handler() { return Handler({hello_pipeline()}, {"old-secret", kSecret}); }

Delivery signed_delivery(const std::string& event, const std::string& body, const std::string& id = "d-1") {
  Delivery d;
  d.event = event;
  d.delivery_id = id;
  d.content_type = "application/json";
  d.body = body;
  d.signature = github::signature_header(kSecret, body);
  return d;
}

TEST(Handler, PushToConfiguredBranchStartsRunWithQueuedEventAndFirstRequest) {
  const auto v = make_handler().handle(signed_delivery("push", testing::fixture("push/with-new-branch.payload.json")));
  ASSERT_EQ(v.status, 202) << v.reason;
  EXPECT_EQ(v.outcome, "started");
  ASSERT_EQ(v.run_ids.size(), 1u);
  EXPECT_EQ(v.body["run_id"], v.run_ids[0]);
  ASSERT_EQ(v.records.size(), 2u);

  EXPECT_EQ(v.records[0].topic, "conveyor.events");
  EXPECT_EQ(v.records[0].key, "Codertocat/Hello-World");
  auto queued = events::from_kafka(v.records[0]);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->type, "dev.cdevents.pipelinerun.queued.0.3.0");
  const auto cd = nlohmann::json::parse(queued->data);
  EXPECT_EQ(cd["context"]["chainId"], v.run_ids[0]);

  EXPECT_EQ(v.records[1].topic, "conveyor.stage.test");
  auto request = events::request_from_kafka(v.records[1]);
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->stage, "test");
  EXPECT_EQ(request->id, v.run_ids[0] + ":test");
  EXPECT_EQ(request->run.sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  EXPECT_EQ(request->run.ref_kind, "branch");
  EXPECT_EQ(request->run.ref_name, "master");
  EXPECT_EQ(request->run.clone_url, "file:///srv/git/hello.git");
  EXPECT_EQ(request->run.delivery_id, "d-1");
  EXPECT_EQ(request->settings["steps"][0]["run"], "make test");
  ASSERT_EQ(request->slip.size(), 1u);
  EXPECT_EQ(request->slip[0].stage, "version");
}

TEST(Handler, RunIdIsDeterministicPerDeliveryAndPipeline) {
  const auto body = testing::fixture("push/with-new-branch.payload.json");
  const auto a = make_handler().handle(signed_delivery("push", body, "same"));
  const auto b = make_handler().handle(signed_delivery("push", body, "same"));
  const auto c = make_handler().handle(signed_delivery("push", body, "other"));
  ASSERT_EQ(a.run_ids.size(), 1u);
  EXPECT_EQ(a.run_ids, b.run_ids);
  EXPECT_NE(a.run_ids, c.run_ids);
  EXPECT_EQ(run_id_for("x", "p").size(), 36u);
  EXPECT_EQ(run_id_for("x", "p")[14], '5');  // UUID version 5
}

TEST(Handler, SignatureIsCheckedBeforeAnythingElse) {
  auto d = signed_delivery("push", testing::fixture("push/with-new-branch.payload.json"));
  d.signature = github::signature_header("wrong", d.body);
  EXPECT_EQ(make_handler().handle(d).status, 401);
  d.signature.clear();
  EXPECT_EQ(make_handler().handle(d).status, 401);
  auto e = signed_delivery("", "not json at all");
  e.signature = "sha256=deadbeef";
  EXPECT_EQ(make_handler().handle(e).status, 401);
  // Rotation: the old secret still verifies.
  auto f = signed_delivery("ping", testing::fixture("ping/payload.json"));
  f.signature = github::signature_header("old-secret", f.body);
  EXPECT_EQ(make_handler().handle(f).status, 200);
}

TEST(Handler, BadRequests) {
  auto d = signed_delivery("push", "{not json");
  EXPECT_EQ(make_handler().handle(d).status, 400);
  auto no_event = signed_delivery("", "{}");
  EXPECT_EQ(make_handler().handle(no_event).status, 400);
  auto no_id = signed_delivery("push", "{}", "");
  EXPECT_EQ(make_handler().handle(no_id).status, 400);
  auto missing_fields = signed_delivery("push", R"({"ref":"refs/heads/master"})");
  const auto v = make_handler().handle(missing_fields);
  EXPECT_EQ(v.status, 400);
  EXPECT_NE(v.reason.find("repository"), std::string::npos);
  auto text = signed_delivery("push", "{}");
  text.content_type = "text/plain";
  EXPECT_EQ(make_handler().handle(text).status, 415);
}

TEST(Handler, PingAndOtherEvents) {
  for (const char* f : {"ping/payload.json", "ping/with-organization.payload.json", "ping/ghes-34.payload.json"}) {
    const auto v = make_handler().handle(signed_delivery("ping", testing::fixture(f)));
    EXPECT_EQ(v.status, 200) << f;
    EXPECT_TRUE(v.records.empty());
  }
  for (const auto& [event, file] : std::vector<std::pair<std::string, std::string>>{
           {"create", "create/payload.json"},
           {"delete", "delete/payload.json"},
           {"release", "release/published.payload.json"},
           {"check_suite", "check_suite/completed.payload.json"}}) {
    const auto v = make_handler().handle(signed_delivery(event, testing::fixture(file)));
    EXPECT_EQ(v.status, 202) << event;
    EXPECT_EQ(v.outcome, "ignored") << event;
    EXPECT_TRUE(v.records.empty());
  }
}

TEST(Handler, DeletedRefsZeroShasAndSkipMarkersStartNothing) {
  for (const char* f : {"push/payload.json", "push/1.payload.json", "push/with-organization.payload.json",
                        "push/with-installation.payload.json", "push/github.ae.event.payload.json"}) {
    const auto v = make_handler().handle(signed_delivery("push", testing::fixture(f)));
    EXPECT_EQ(v.status, 202) << f;
    EXPECT_EQ(v.outcome, "skipped") << f;
    EXPECT_TRUE(v.records.empty()) << f;
  }
  auto payload = nlohmann::json::parse(testing::fixture("push/with-new-branch.payload.json"));
  payload["head_commit"]["message"] = "docs: typo [ci skip]";
  const auto v = make_handler().handle(signed_delivery("push", payload.dump()));
  EXPECT_EQ(v.outcome, "skipped");
  EXPECT_TRUE(v.records.empty());
}

TEST(Handler, TagPushMatchesTagGlobs) {
  const auto v = make_handler().handle(signed_delivery("push", testing::fixture("push/ghes-34.payload.json")));
  ASSERT_EQ(v.outcome, "started") << v.reason;
  auto request = events::request_from_kafka(v.records[1]);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->run.ref_kind, "tag");
  EXPECT_EQ(request->run.ref_name, "simple-tag");
}

TEST(Handler, TagPushNamesItsTagSoTheAppCanSkipTagsConveyorCreated) {
  const auto v = make_handler().handle(signed_delivery("push", testing::fixture("push/ghes-34.payload.json")));
  ASSERT_EQ(v.outcome, "started") << v.reason;
  ASSERT_TRUE(v.tag_push.has_value());
  EXPECT_EQ(v.tag_push->repository, "Codertocat/Hello-World");
  EXPECT_EQ(v.tag_push->tag, "simple-tag");
  EXPECT_EQ(v.tag_push->sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  const auto branch = make_handler().handle(signed_delivery("push", testing::fixture("push/with-new-branch.payload.json")));
  EXPECT_FALSE(branch.tag_push.has_value());
  const auto skipped = skip_created_tag();
  EXPECT_EQ(skipped.status, 202);
  EXPECT_EQ(skipped.outcome, "skipped");
  EXPECT_TRUE(skipped.records.empty());
  EXPECT_EQ(skipped.body, (nlohmann::json{{"status", "skipped"}, {"reason", "tag created by conveyor"}}));
}

TEST(Handler, PullRequestsUseTheirTriggerStages) {
  const auto v = make_handler().handle(signed_delivery("pull_request", testing::fixture("pull_request/opened.payload.json")));
  ASSERT_EQ(v.outcome, "started") << v.reason;
  auto request = events::request_from_kafka(v.records[1]);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->stage, "test");
  EXPECT_TRUE(request->slip.empty());
  EXPECT_EQ(request->run.pull_request, 2);
  EXPECT_EQ(request->run.trigger, "pull_request");
  const auto closed = make_handler().handle(signed_delivery("pull_request", testing::fixture("pull_request/closed.payload.json")));
  EXPECT_EQ(closed.outcome, "skipped");
}

TEST(Handler, UnmatchedRepositoryOrBranchIsIgnored) {
  auto payload = nlohmann::json::parse(testing::fixture("push/with-new-branch.payload.json"));
  payload["ref"] = "refs/heads/feature/x";
  EXPECT_EQ(make_handler().handle(signed_delivery("push", payload.dump())).outcome, "ignored");
  payload["ref"] = "refs/heads/release/2.0";
  EXPECT_EQ(make_handler().handle(signed_delivery("push", payload.dump())).outcome, "started");
  payload["repository"]["full_name"] = "someone/else";
  EXPECT_EQ(make_handler().handle(signed_delivery("push", payload.dump())).outcome, "ignored");
  // Repository names match case-insensitively, as GitHub treats them.
  payload["repository"]["full_name"] = "codertocat/hello-world";
  payload["ref"] = "refs/heads/master";
  EXPECT_EQ(make_handler().handle(signed_delivery("push", payload.dump())).outcome, "started");
}

TEST(Handler, FormEncodedDeliveryGivesTheSameResult) {
  const std::string json = testing::fixture("push/with-new-branch.payload.json");
  std::string form = "payload=";
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char ch : json) {
    form += '%';
    form += hex[ch >> 4];
    form += hex[ch & 0xf];
  }
  auto d = signed_delivery("push", form);
  d.content_type = "application/x-www-form-urlencoded";
  const auto a = make_handler().handle(d);
  const auto b = make_handler().handle(signed_delivery("push", json));
  ASSERT_EQ(a.outcome, "started") << a.reason;
  EXPECT_EQ(a.run_ids, b.run_ids);
  auto ra = events::request_from_kafka(a.records[1]);
  auto rb = events::request_from_kafka(b.records[1]);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->run.sha, rb->run.sha);
  EXPECT_EQ(ra->run.ref, rb->run.ref);
}

TEST(Handler, WebhookStringsStayData) {
  auto payload = nlohmann::json::parse(testing::fixture("push/with-new-branch.payload.json"));
  payload["ref"] = "refs/heads/$(rm -rf /);`id`";
  payload["head_commit"]["message"] = "feat: \"quoted\"\n{\"level\":\"error\"}";
  Handler h({[] {
              auto p = hello_pipeline();
              p.triggers.push->branches = {"**"};
              return p;
            }()},
            {kSecret});
  const auto v = h.handle(signed_delivery("push", payload.dump()));
  ASSERT_EQ(v.outcome, "started") << v.reason;
  auto request = events::request_from_kafka(v.records[1]);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->run.ref_name, "$(rm -rf /);`id`");
  EXPECT_EQ(request->run.head_message, "feat: \"quoted\"\n{\"level\":\"error\"}");
}

// The records the handler writes directly (events/run_start.hpp) are the
// bytes the nlohmann builders make for the same run, on every push and
// pull_request fixture that starts one (the run read back from the request).
TEST(Handler, RecordsAreTheReferenceBuildersBytesForEveryFixture) {
  auto p = hello_pipeline();
  p.triggers.push->branches = {"**"};
  p.triggers.push->tags = {"**"};
  p.triggers.pull_request->branches = {"**"};
  p.triggers.pull_request->stages = {"test", "version"};
  {
    const Handler h({p}, {kSecret}, "conveyor-x");
    int started = 0;
    for (const char* event : {"push", "pull_request"}) {
      for (const auto& f : std::filesystem::directory_iterator(testing::shared_dir() + "/fixtures/github/" + event)) {
        const auto v = h.handle(signed_delivery(event, testing::read_file(f.path()), "d-\"\u00e9"));
        if (v.outcome != "started") continue;
        ++started;
        SCOPED_TRACE(f.path().string());
        ASSERT_EQ(v.records.size(), 2u);
        auto request = events::request_from_kafka(v.records[1]);
        ASSERT_TRUE(request.ok()) << request.error().message;
        const events::RunContext& run = request->run;
        EXPECT_EQ(run.delivery_id, "d-\"\u00e9");
        auto queued = events::pipelinerun_queued(run, "/conveyor/webhook");
        queued["context"]["id"] = run.run_id + ":queued";
        queued["context"]["timestamp"] = run.queued_at;
        const auto reference_queued = events::cdevent_record(queued, run, "conveyor-x");
        EXPECT_EQ(v.records[0].value, reference_queued.value);
        EXPECT_EQ(v.records[0].headers, reference_queued.headers);
        EXPECT_EQ(v.records[0].key, reference_queued.key);
        std::vector<events::SlipEntry> stages{{request->stage, request->settings}};
        stages.insert(stages.end(), request->slip.begin(), request->slip.end());
        auto reference_request = events::to_kafka(events::first_request(run, stages), "conveyor-x");
        for (auto& [name, value] : reference_request.headers) {
          if (name == "ce_time") value = run.queued_at;
        }
        EXPECT_EQ(v.records[1].value, reference_request.value);
        EXPECT_EQ(v.records[1].headers, reference_request.headers);
        EXPECT_EQ(v.records[1].topic, reference_request.topic);
      }
    }
    EXPECT_GE(started, 8);  // the fixtures' pushes and opened/reopened/synchronize PRs
  }
}

// A delivery id that is not UTF-8 cannot go into the records' JSON: 400, not
// an exception (which the server would answer with 500).
TEST(Handler, DeliveryIdThatIsNotUtf8IsABadRequest) {
  const auto v =
      make_handler().handle(signed_delivery("push", testing::fixture("push/with-new-branch.payload.json"), "d-\xff"));
  EXPECT_EQ(v.status, 400);
  EXPECT_EQ(v.outcome, "bad_request");
  EXPECT_TRUE(v.records.empty());
  EXPECT_NE(v.reason.find("UTF-8"), std::string::npos) << v.reason;
}

TEST(SignatureVerifier, SameAnswersAsVerifySignature) {
  const std::string body = testing::fixture("push/with-new-branch.payload.json");
  const std::vector<std::vector<std::string>> secret_sets = {{}, {""}, {"a"}, {"old", "new"}, {"", "new"}};
  for (const auto& secrets : secret_sets) {
    const github::SignatureVerifier verifier(secrets);
    for (const std::string secret : {"a", "old", "new", "", "other"}) {
      for (const std::string& b : {body, body + " ", std::string()}) {
        std::string header = github::signature_header(secret, body);
        EXPECT_EQ(verifier.verify(header, b), github::verify_signature(header, b, secrets)) << secret;
        header.back() = header.back() == '0' ? '1' : '0';
        EXPECT_EQ(verifier.verify(header, b), github::verify_signature(header, b, secrets)) << secret;
      }
    }
  }
  EXPECT_TRUE(github::SignatureVerifier({"old", "new"}).verify(github::signature_header("new", body), body));
  EXPECT_FALSE(github::SignatureVerifier({"old", "new"}).verify(github::signature_header("new", body), body + "x"));
}

}  // namespace
}  // namespace conveyor::webhook
