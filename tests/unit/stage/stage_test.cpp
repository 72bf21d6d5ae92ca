// The stage runtime's pure parts: what a result turns into, and the
// idempotency record encoding.
#include "conveyor/stage/stage.hpp"

#include <gtest/gtest.h>

#include "../events/sample_run.hpp"
#include "conveyor/events/cdevents.hpp"

namespace conveyor::stage {
namespace {

events::StageRequest first() {
  return events::first_request(events::test::sample_run(), events::test::full_slip());
}

TEST(OutcomeRecords, SuccessHandsTheRunToTheNextStageWithOutputs) {
  StageResult result;
  result.outputs = {{"tests", 3}, {"outcome", "pass"}};
  result.cdevents.push_back(events::pipelinerun_started(first().run, "/conveyor/test-runner"));
  const auto records = outcome_records(first(), result, "/conveyor/test-runner", "conveyor");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].topic, "conveyor.events");
  EXPECT_EQ(records[1].topic, "conveyor.stage.version");
  auto next = events::request_from_kafka(records[1]);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->stage, "version");
  EXPECT_EQ(next->run.outputs["test"]["tests"], 3);
  EXPECT_EQ(next->slip.size(), 4u);
}

TEST(OutcomeRecords, FailureEndsTheRunAsFailed) {
  StageResult result;
  result.status = StageResult::Status::failed;
  result.reason = "2 tests failed";
  const auto records = outcome_records(first(), result, "/conveyor/test-runner", "conveyor");
  ASSERT_EQ(records.size(), 1u);
  auto cd = events::cdevent_from_kafka(records[0]);
  ASSERT_TRUE(cd.ok());
  EXPECT_EQ((*cd)["context"]["type"], "dev.cdevents.pipelinerun.finished.0.3.0");
  EXPECT_EQ((*cd)["subject"]["content"]["outcome"], "failure");
  EXPECT_EQ((*cd)["subject"]["content"]["errors"], "2 tests failed");
  EXPECT_EQ((*cd)["context"]["id"], first().run.run_id + ":finished");
}

TEST(OutcomeRecords, StopAndLastStageEndTheRunSuccessfully) {
  StageResult stop;
  stop.status = StageResult::Status::stopped;
  stop.reason = "no release";
  auto records = outcome_records(first(), stop, "/conveyor/version-tagger", "conveyor");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ((*events::cdevent_from_kafka(records[0]))["subject"]["content"]["outcome"], "success");

  auto last = events::first_request(events::test::sample_run(), {{"verify", {{"settle", "0s"}}}});
  records = outcome_records(last, StageResult{}, "/conveyor/health-verifier", "conveyor");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].topic, "conveyor.events");
  EXPECT_EQ((*events::cdevent_from_kafka(records[0]))["subject"]["content"]["outcome"], "success");
}

TEST(OutcomeRecords, ExtraRecordsComeAfterTheEventsAndBeforeTheRunEnds) {
  auto verify = events::first_request(events::test::sample_run(), {{"verify", {{"settle", "0s"}}}});
  events::StageRequest rollback;
  rollback.id = verify.run.run_id + ":rollback";
  rollback.stage = "deploy";
  rollback.settings = {{"action", "rollback"}, {"environment", "production"}};
  rollback.run = verify.run;
  StageResult failed;
  failed.status = StageResult::Status::failed;
  failed.reason = "verification failed";
  failed.cdevents.push_back(
      events::incident_detected(verify.run, "/conveyor/health-verifier", verify.id, "production", "liveness failed"));
  failed.extra_records.push_back(events::to_kafka(rollback, "conveyor"));
  const auto records = outcome_records(verify, failed, "/conveyor/health-verifier", "conveyor");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ((*events::cdevent_from_kafka(records[0]))["context"]["type"], "dev.cdevents.incident.detected.0.3.0");
  EXPECT_EQ(records[1].topic, "conveyor.stage.deploy");
  auto decoded = events::request_from_kafka(records[1]);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->id, rollback.id);
  EXPECT_EQ((*events::cdevent_from_kafka(records[2]))["subject"]["content"]["outcome"], "failure");

  // On success they precede the next request, too.
  StageResult ok;
  ok.extra_records.push_back(events::to_kafka(rollback, "conveyor"));
  const auto next = outcome_records(first(), ok, "/conveyor/test-runner", "conveyor");
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].topic, "conveyor.stage.deploy");
  EXPECT_EQ(next[1].topic, "conveyor.stage.version");
}

TEST(OutcomeRecords, RollbackRequestsNeitherContinueNorFinishTheRun) {
  auto rollback = events::first_request(events::test::sample_run(),
                                        {{"deploy", {{"action", "rollback"}, {"environment", "production"}}}});
  rollback.id = rollback.run.run_id + ":rollback";
  EXPECT_TRUE(is_rollback(rollback));
  EXPECT_FALSE(is_rollback(first()));
  StageResult result;
  result.cdevents.push_back(events::pipelinerun_started(rollback.run, "/conveyor/deployer"));
  for (auto status : {StageResult::Status::succeeded, StageResult::Status::failed}) {
    result.status = status;
    const auto records = outcome_records(rollback, result, "/conveyor/deployer", "conveyor");
    ASSERT_EQ(records.size(), 1u) << "only the handler's own event";
  }
}

TEST(RecordedOutcome, RoundTripsBytesAndHeaders) {
  std::vector<events::KafkaRecord> in{{"t", "k", std::string("v\0\xff", 3), {{"a", "1"}, {"a", "2"}}},
                                      {"u", "", "", {}}};
  auto out = decode_records(encode_records(in));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)[0].value, in[0].value) << "binary values survive byte for byte";
  in[0].value = "plain \"json\" value";
  out = decode_records(encode_records(in));
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].value, in[0].value);
  EXPECT_EQ((*out)[0].headers, in[0].headers);
  EXPECT_EQ((*out)[1].topic, "u");
  EXPECT_FALSE(decode_records("{").ok());
  EXPECT_FALSE(decode_records(R"([{"topic":1}])").ok());
}

}  // namespace
}  // namespace conveyor::stage
