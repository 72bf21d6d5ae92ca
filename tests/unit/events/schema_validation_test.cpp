// The validation helper of tests/support against the official CDEvents
// conformance examples: proves $ref resolution and draft-07 checks work, so a
// passing schema test elsewhere means something.
#include "schema_validation.hpp"

#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace conveyor::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path cdevents_dir() { return fs::path(shared_dir()) / "cdevents-v0.5.1"; }

// conformance/artifact_packaged.json -> schemas/artifactpackaged.json
fs::path schema_for_example(const fs::path& example) {
  std::string name = example.stem().string();
  std::erase(name, '_');
  return cdevents_dir() / "schemas" / (name + ".json");
}

std::vector<fs::path> conformance_examples() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(cdevents_dir() / "conformance")) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += "  " + e + "\n";
  return out;
}

TEST(Conformance, EveryOfficialExampleValidatesAgainstItsSchema) {
  const auto examples = conformance_examples();
  ASSERT_EQ(examples.size(), 45u);
  int with_links = 0;
  for (const auto& example : examples) {
    const fs::path schema = schema_for_example(example);
    ASSERT_TRUE(fs::exists(schema)) << schema;
    const json instance = load_json(example);
    with_links += instance["context"].contains("links");
    const auto errors = validate_file(schema, instance);
    EXPECT_TRUE(errors.empty()) << example.filename() << ":\n" << joined(errors);
  }
  EXPECT_GT(with_links, 0) << "no example exercises links/embeddedlinksarray";
}

TEST(Conformance, ExamplesValidateAgainstNoOtherEventsSchema) {
  const json example = load_json(cdevents_dir() / "conformance" / "pipelinerun_queued.json");
  EXPECT_FALSE(validate_file(cdevents_dir() / "schemas" / "pipelinerunstarted.json", example).empty());
  EXPECT_FALSE(validate_file(cdevents_dir() / "schemas" / "servicedeployed.json", example).empty());
}

TEST(Validator, RejectsBrokenEvents) {
  const fs::path schema = cdevents_dir() / "schemas" / "servicedeployed.json";
  const json good = load_json(cdevents_dir() / "conformance" / "service_deployed.json");
  ASSERT_TRUE(validate_file(schema, good).empty());

  json no_id = good;
  no_id["context"].erase("id");
  EXPECT_FALSE(validate_file(schema, no_id).empty());

  json bad_time = good;
  bad_time["context"]["timestamp"] = "last tuesday";
  EXPECT_FALSE(validate_file(schema, bad_time).empty());

  json extra = good;
  extra["subject"]["content"]["surprise"] = true;
  EXPECT_FALSE(validate_file(schema, extra).empty());

  json no_env = good;
  no_env["subject"]["content"].erase("environment");
  const auto errors = validate_file(schema, no_env);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(joined(errors).find("environment"), std::string::npos) << joined(errors);
}

TEST(Validator, ResolvesLinksAcrossFiles) {
  // links -> links/embeddedlinksarray -> embeddedlinkend (resolved from inside links/)
  const fs::path schema = cdevents_dir() / "schemas" / "pipelinerunqueued.json";
  json event = load_json(cdevents_dir() / "conformance" / "pipelinerun_queued.json");
  ASSERT_TRUE(validate_file(schema, event).empty());
  event["context"]["links"].push_back({{"linkType", "SIDEWAYS"}});
  EXPECT_FALSE(validate_file(schema, event).empty());
  event["context"]["links"] = json::array({{{"linkType", "END"}, {"from", json::object()}}});  // from.contextId required
  EXPECT_FALSE(validate_file(schema, event).empty());
}

TEST(Validator, UnresolvableRefIsASchemaError) {
  for (const json& schema : {json{{"properties", {{"a", {{"$ref", "nowhere/missing.json"}}}}}},
                             json{{"$ref", "nowhere/missing.json"}}}) {
    const auto errors = validate(schema, json::object(), cdevents_dir().string());
    ASSERT_EQ(errors.size(), 1u) << schema;
    EXPECT_EQ(errors[0].rfind("schema: ", 0), 0u) << errors[0];
    EXPECT_NE(errors[0].find("nowhere/missing.json"), std::string::npos) << errors[0];
  }
}

TEST(Validator, RootRefToAnotherFileIsFollowed) {
  const json schema = {{"$ref", "servicedeployed.json"}};
  const json good = load_json(cdevents_dir() / "conformance" / "service_deployed.json");
  EXPECT_TRUE(validate(schema, good, (cdevents_dir() / "schemas").string()).empty());
  json bad = good;
  bad["subject"]["content"].erase("artifactId");
  EXPECT_FALSE(validate(schema, bad, (cdevents_dir() / "schemas").string()).empty());
}

TEST(Validator, ResolveSchemaRef) {
  const fs::path base = cdevents_dir() / "schemas";
  EXPECT_EQ(resolve_schema_ref("links/embeddedlinksarray", base), base / "links" / "embeddedlinksarray.json");
  EXPECT_EQ(resolve_schema_ref("embeddedlinkend", base), base / "links" / "embeddedlinkend.json");
  EXPECT_EQ(resolve_schema_ref("https://cdevents.dev/0.5.1/schema/links/linkstart", base), base / "links" / "linkstart.json");
  EXPECT_EQ(resolve_schema_ref("servicedeployed.json#/properties", base), base / "servicedeployed.json");
  EXPECT_TRUE(resolve_schema_ref("nope", base).empty());
}

TEST(EventSchemas, AreValidJsonSchemasThatLoad) {
  const fs::path dir = fs::path(source_dir()) / "schemas" / "events";
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    names.insert(entry.path().filename());
    const json schema = load_json(entry.path());
    EXPECT_EQ(schema.value("$schema", ""), "http://json-schema.org/draft-07/schema#") << entry.path();
    // Loading with all refs resolved; an empty object is invalid for all of them.
    const auto errors = validate_file(entry.path(), json::object());
    ASSERT_FALSE(errors.empty()) << entry.path();
    EXPECT_NE(errors[0].rfind("schema: ", 0), 0u) << entry.path() << ": " << errors[0];
  }
  EXPECT_TRUE(names.count("stage-request.schema.json"));
  EXPECT_TRUE(names.count("run-context.schema.json"));
  EXPECT_TRUE(names.count("cdevent-envelope.schema.json"));
  EXPECT_TRUE(names.count("conveyor-event.schema.json"));
}

}  // namespace
}  // namespace conveyor::testing
