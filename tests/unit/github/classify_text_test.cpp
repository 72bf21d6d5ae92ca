// Differential tests: github::classify_text (one RapidJSON SAX pass, what the
// webhook uses) must give exactly what the reference, nlohmann::json::parse +
// github::classify, gives: same Classification field by field, same errors,
// same verdict on what is JSON at all. Inputs: every fixture under
// ../shared/fixtures/github/ for each event kind, hand-written edge cases
// (duplicate members, wrong types, escapes, invalid UTF-8, numbers), and
// seeded random mutations of the fixtures.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "conveyor/github/webhook.hpp"
#include "fixtures.hpp"

namespace conveyor::github {
namespace {

const char* const kEvents[] = {"push", "pull_request", "issues"};

// The reference: what the service did before classify_text existed.
Result<Classification> reference(std::string_view event, const std::string& text) {
  auto payload = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) return make_error(Errc::invalid_argument, "body is not valid JSON");
  return classify(event, payload);
}

std::string describe(const Result<Classification>& r) {
  if (!r) return std::string("error(") + errc_name(r.error().code) + "): " + r.error().message;
  std::string out = "skip_reason=" + r->skip_reason;
  if (!r->change) return out + " change=none";
  const Change& c = *r->change;
  return out + " kind=" + std::to_string(static_cast<int>(c.kind)) + " repository=" + c.repository + " ref=" + c.ref +
         " ref_kind=" + c.ref_kind + " ref_name=" + c.ref_name + " sha=" + c.sha + " before=" + c.before_sha +
         " base=" + c.base_branch + " number=" + std::to_string(c.number) + " action=" + c.action +
         " sender=" + c.sender + " message=" + c.head_message + " deleted=" + std::to_string(c.deleted);
}

// Every event kind: the same classification (or the same error) both ways,
// and the same answer to "is this JSON".
void expect_same(const std::string& text, const std::string& label) {
  for (const char* event : kEvents) {
    EXPECT_EQ(describe(classify_text(event, text)), describe(reference(event, text))) << label << " event " << event;
  }
  EXPECT_EQ(is_json(text), nlohmann::json::accept(text)) << label;
}

std::vector<std::filesystem::path> fixture_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(testing::shared_dir() + "/fixtures/github")) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ClassifyText, SameAsReferenceOnEveryFixture) {
  const auto files = fixture_files();
  ASSERT_GE(files.size(), 25u);
  int started = 0;
  for (const auto& f : files) {
    const std::string text = testing::read_file(f.string());
    expect_same(text, f.string());
    // Compacted, as the bench sends it, too.
    expect_same(nlohmann::json::parse(text).dump(), f.string() + " (compact)");
    for (const char* event : {"push", "pull_request"}) {
      auto c = classify_text(event, text);
      started += c && c->change && c->skip_reason.empty();
    }
  }
  // The comparison is not vacuous: the fixtures start runs both ways.
  EXPECT_GE(started, 6);
}

// A push fixture as a DOM to edit, and the text of each edit.
nlohmann::json push_fixture() { return nlohmann::json::parse(testing::fixture("push/with-new-branch.payload.json")); }
nlohmann::json pr_fixture() { return nlohmann::json::parse(testing::fixture("pull_request/opened.payload.json")); }

TEST(ClassifyText, SameAsReferenceOnEditedPayloads) {
  std::vector<std::pair<std::string, std::string>> cases;
  auto add = [&](const std::string& label, const nlohmann::json& j) { cases.emplace_back(label, j.dump()); };
  auto push = [] { return push_fixture(); };
  auto pr = [] { return pr_fixture(); };
  {
    auto j = push(); j["deleted"] = "yes"; add("deleted string", j);
    j["deleted"] = nullptr; add("deleted null", j);
    j["deleted"] = 1; add("deleted number", j);
    j["deleted"] = true; add("deleted true", j);
    j.erase("deleted"); add("deleted absent", j);
  }
  {
    auto j = push(); j["repository"] = "Codertocat/Hello-World"; add("repository string", j);
    j["repository"] = nlohmann::json::array({{{"full_name", "a/b"}}}); add("repository array", j);
    j["repository"] = nullptr; add("repository null", j);
    j["repository"] = {{"full_name", 42}}; add("full_name number", j);
  }
  {
    auto j = push(); j["head_commit"] = nullptr; add("head_commit null", j);
    j["head_commit"] = {{"message", "fix [skip ci]"}}; add("skip marker", j);
    j["head_commit"] = {{"message", {{"text", "x"}}}}; add("message object", j);
    j["ref"] = "refs/notes/x"; add("odd ref", j);
    j["ref"] = "refs/tags/v1.0.0"; add("tag", j);
    j["after"] = std::string(40, '0'); add("zero sha", j);
    j["after"] = 7; add("after number", j);
    j.erase("sender"); add("no sender", j);
  }
  {
    auto j = pr(); j["number"] = 1.0; add("number float", j);
    j["number"] = -0; add("number -0", j);
    j["number"] = 4294967297LL; add("number beyond int", j);
    j["number"] = 18446744073709551615ULL; add("number uint64 max", j);
    j["number"] = -9223372036854775807LL - 1; add("number int64 min", j);
    j["number"] = "1"; add("number string", j);
    j.erase("number"); add("number absent", j);
  }
  {
    auto j = pr(); j["action"] = "closed"; add("pr closed", j);
    j["action"] = "synchronize"; add("pr synchronize", j);
    j["pull_request"]["head"] = "x"; add("pr head string", j);
    j["pull_request"]["base"].erase("sha"); add("pr no base sha", j);
    j["pull_request"] = nlohmann::json::array(); add("pull_request array", j);
  }
  add("empty object", nlohmann::json::object());
  add("array root", nlohmann::json::array({1, 2}));
  add("string root", "push");
  for (const auto& [label, text] : cases) expect_same(text, label);
}

TEST(ClassifyText, SameAsReferenceOnHandWrittenTexts) {
  const std::string repo = R"("repository":{"full_name":"o/r"})";
  const std::string sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
  const std::string base = R"({"ref":"refs/heads/main","after":")" + sha + R"(",)" + repo;
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Duplicate members: the last one wins, also for whole objects.
      {"dup ref", base + R"(,"ref":"refs/tags/v1"})"},
      {"dup repository object", base + R"(,"repository":{"name":"x"}})"},
      {"dup repository scalar", base + R"(,"repository":"o/r"})"},
      {"dup repository back", R"({"repository":"o/r",)" + base.substr(1) + "}"},
      {"dup nested", base + R"(,"head_commit":{"message":"a"},"head_commit":{"message":"[skip ci]","message":"ok"}})"},
      {"dup pr head", R"({"action":"opened","number":1,)" + repo +
                          R"(,"pull_request":{"head":{"sha":")" + sha +
                          R"("},"base":{"ref":"main"},"head":{"ref":"x"}}})"},
      // Escapes in names and values.
      {"escaped key", R"({"\u0072ef":"refs/heads/m\u00e9n","after":")" + sha + R"(",)" + repo + "}"},
      {"escaped slash", R"({"ref":"refs\/heads\/main","after":")" + sha + R"(",)" + repo + "}"},
      {"surrogate pair", base + R"(,"head_commit":{"message":"\ud83d\ude00 \u0000 nul"}})"},
      {"lone low surrogate", base + R"(,"head_commit":{"message":"\udc00"}})"},
      {"lone low surrogate key", base + R"(,"\udfff":1})"},
      {"lone high surrogate", base + R"(,"head_commit":{"message":"\ud800"}})"},
      {"high then non-low", base + R"(,"head_commit":{"message":"\ud800\u0041"}})"},
      {"escaped backslash u", base + R"(,"head_commit":{"message":"\\udc00"}})"},
      {"raw utf8", base + ",\"head_commit\":{\"message\":\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"}}"},
      // Malformed JSON.
      {"not json", "{not json"},
      {"empty", ""},
      {"spaces", " \t\r\n"},
      {"trailing", "{} x"},
      {"two values", "{} {}"},
      {"trailing comma array", "[1,]"},
      {"trailing comma object", R"({"a":1,})"},
      {"leading zero", "[01]"},
      {"bare fraction", "[1.]"},
      {"minus", "[-]"},
      {"nan", "[NaN]"},
      {"infinity", "[Infinity]"},
      {"partial literal", "[tru]"},
      {"single quotes", "{'a':1}"},
      {"comment", "/* c */ {}"},
      {"control char in string", "{\"a\":\"\x01\"}"},
      {"bad escape", R"({"a":"\x41"})"},
      {"short unicode escape", R"({"a":"\u12"})"},
      {"form feed whitespace", "\f{}"},
      {"unterminated", R"({"a":"b)"},
      {"unbalanced", "[[[]]"},
      {"nul outside", std::string("{}\0", 3)},
      {"nul inside", std::string("{\"a\":\"b\0\"}", 10)},
      {"nul after root", std::string("{} \0 x", 6)},
      // Invalid UTF-8 (RFC 3629).
      {"overlong nul", "{\"a\":\"\xC0\x80\"}"},
      {"overlong slash", "{\"a\":\"\xE0\x80\xAF\"}"},
      {"utf8 surrogate", "{\"a\":\"\xED\xA0\x80\"}"},
      {"beyond U+10FFFF", "{\"a\":\"\xF4\x90\x80\x80\"}"},
      {"F5 lead", "{\"a\":\"\xF5\x80\x80\x80\"}"},
      {"lone continuation", "{\"a\":\"\x80\"}"},
      {"truncated sequence", "{\"a\":\"\xE2\x82\"}"},
      {"truncated at end", "\"\xE2\x82"},
      {"latin1", "{\"a\":\"caf\xE9\"}"},
      {"non-ascii outside string", "{\"a\":1\xC3\xA9}"},
      // Accepted by nlohmann, refused by RapidJSON: the reference decides.
      {"byte order mark", "\xEF\xBB\xBF" + base + "}"},
      {"half a byte order mark", "\xEF\xBB{}"},
      {"number beyond double", base + R"(,"x":1e400})"},
      {"negative beyond double", "[-1e400]"},
      {"tiny number", "[1e-400]"},
      {"many digits", "[123456789012345678901234567890]"},
      // Fine.
      {"whitespace around", " \r\n\t{} \n"},
      {"scalar root", "42"},
      {"null root", "null"},
  };
  for (const auto& [label, text] : cases) expect_same(text, label);
}

TEST(ClassifyText, DeepNestingIsJsonAndDoesNotExhaustTheStack) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_same(deep, "deep arrays");
  EXPECT_TRUE(is_json(deep));
  std::string deep_objects;
  for (int i = 0; i < 50000; ++i) deep_objects += R"({"repository":)";
  deep_objects += "1" + std::string(50000, '}');
  expect_same(deep_objects, "deep objects");
  expect_same(std::string(100000, '['), "deep unbalanced");
}

// Seeded random edits of real payloads (bytes replaced, removed, inserted;
// JSON punctuation and non-ASCII bytes favoured) never make the two differ.
TEST(ClassifyText, SameAsReferenceOnRandomMutations) {
  std::mt19937 rng(20261129);
  const std::string alphabet = std::string("{}[]\",:\\u0123456789abcdefnulltrue-+.eE \t\n") + "\x80\xBF\xC3\xED\xF0\xF4";
  const std::vector<std::string> seeds = {testing::fixture("push/with-new-branch.payload.json"),
                                          testing::fixture("pull_request/synchronize.payload.json"),
                                          nlohmann::json::parse(testing::fixture("push/ghes-34.payload.json")).dump()};
  int valid = 0, invalid = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = seeds[i % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % text.size();
      const char ch = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: text[pos] = ch; break;
        case 1: text.erase(pos, 1 + rng() % 4); break;
        default: text.insert(pos, 1, ch);
      }
    }
    (nlohmann::json::accept(text) ? valid : invalid)++;
    expect_same(text, "mutation " + std::to_string(i));
    if (::testing::Test::HasFailure()) break;  // one report is enough
  }
  // Both kinds of input were exercised.
  EXPECT_GT(valid, 300);
  EXPECT_GT(invalid, 300);
}

}  // namespace
}  // namespace conveyor::github
