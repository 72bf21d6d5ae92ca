// libs/values: the comment-preserving YAML scalar editor. Every edit is
// checked byte for byte against the original with exactly one line replaced.
#include <gtest/gtest.h>

#include <sstream>

#include "conveyor/values/values.hpp"

namespace conveyor::values {
namespace {

// A production values file in the style of a real chart: comments, blank
// lines, anchors and aliases, flow maps and sequences, every quoting style,
// hyphenated keys, dotted annotation keys, empty and null values.
const std::string kValues = R"(# Production values for the imprun chart.
# Managed by conveyor: image tags below are updated on every release.
# Anything else is edited by hand; keep the comments.

global:
  imageRegistry: registry.example.com   # shared by every image
  imagePullSecrets:
    - name: regcred
  labels: {team: platform, tier: "backend"}

x-resources: &default-resources
  requests:
    cpu: 100m
    memory: 128Mi
  limits: {cpu: "1", memory: 512Mi}

appVersion: &appVersion 1.3.9
chartVersion: &chartVersion 0.9.0

imprun-server:
  enabled: true
  replicaCount: 3

  image:
    repository: registry.example.com/imprun/imprun-server
    tag: "1.3.9"          # set by conveyor
    digest: ''
    pullPolicy: IfNotPresent

  podAnnotations:
    app.kubernetes.io/version: 1.3.9
    "prometheus.io/scrape": 'true'
    prometheus.io/port: "9090"

  resources: *default-resources

  env:
    - name: NODE_ENV
      value: production
    - name: FEATURE_FLAGS
      value: 'search,export'
    - {name: LOG_LEVEL, value: info}

  args: [--port, "8080", --metrics]

  notes: |
    Multi-line text
    stays as it is.

imprun-console:
  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.3.9, pullPolicy: Always}
  release: *chartVersion   # pinned with the chart
  serviceAccount:
    create: true
    name:
  ingress:
    enabled: false
    host: console.example.com # public name
    tls: ~
    className: # set per cluster
)";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// kValues with the one line equal to `old_line` replaced by `new_line`.
std::string replace_line(const std::string& text, const std::string& old_line, const std::string& new_line) {
  const std::string needle = "\n" + old_line + "\n";
  const auto at = text.find(needle);
  if (at == std::string::npos || text.find(needle, at + 1) != std::string::npos) {
    ADD_FAILURE() << "line not found exactly once: " << old_line;
    return text;
  }
  return text.substr(0, at + 1) + new_line + text.substr(at + 1 + old_line.size());
}

std::size_t differing_lines(const std::string& a, const std::string& b) {
  const auto la = lines_of(a);
  const auto lb = lines_of(b);
  if (la.size() != lb.size()) return static_cast<std::size_t>(-1);
  std::size_t n = 0;
  for (std::size_t i = 0; i < la.size(); ++i) n += la[i] != lb[i];
  return n;
}

struct Row {
  std::string path;
  std::string value;
  std::string old_line;
  std::string new_line;
  std::string previous;  // "<null>" for a null/empty old value
};

const std::vector<Row> kRows = {
    {"imprun-server.image.tag", "1.4.0", R"(    tag: "1.3.9"          # set by conveyor)",
     R"(    tag: "1.4.0"          # set by conveyor)", "1.3.9"},
    {"imprun-server.image.digest", "sha256:4f1c2b9e8a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c",
     "    digest: ''", "    digest: 'sha256:4f1c2b9e8a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c'", ""},
    {"imprun-server.image.pullPolicy", "Always", "    pullPolicy: IfNotPresent", "    pullPolicy: Always",
     "IfNotPresent"},
    {R"(imprun-server.podAnnotations["app.kubernetes.io/version"])", "1.4.0",
     "    app.kubernetes.io/version: 1.3.9", "    app.kubernetes.io/version: 1.4.0", "1.3.9"},
    {R"(imprun-server.podAnnotations['prometheus.io/port'])", "9091", R"(    prometheus.io/port: "9090")",
     R"(    prometheus.io/port: "9091")", "9090"},
    {R"(imprun-server.podAnnotations.prometheus\.io/scrape)", "false", R"(    "prometheus.io/scrape": 'true')",
     R"(    "prometheus.io/scrape": 'false')", "true"},
    {"imprun-server.replicaCount", "5", "  replicaCount: 3", R"(  replicaCount: "5")", "3"},
    {"imprun-server.env[0].value", "staging", "      value: production", "      value: staging", "production"},
    {"imprun-server.env[1].value", "search,export,beta", "      value: 'search,export'",
     "      value: 'search,export,beta'", "search,export"},
    {"imprun-server.env[2].value", "debug", "    - {name: LOG_LEVEL, value: info}",
     "    - {name: LOG_LEVEL, value: debug}", "info"},
    {"imprun-server.args[1]", "9090", R"(  args: [--port, "8080", --metrics])",
     R"(  args: [--port, "9090", --metrics])", "8080"},
    {"imprun-server.args[2]", "--metrics=true", R"(  args: [--port, "8080", --metrics])",
     R"(  args: [--port, "8080", "--metrics=true"])", "--metrics"},  // a leading '-' is quoted
    {"imprun-console.image.tag", "1.4.0",
     "  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.3.9, pullPolicy: Always}",
     "  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.4.0, pullPolicy: Always}", "1.3.9"},
    {"imprun-console.image.tag", "1.10",
     "  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.3.9, pullPolicy: Always}",
     R"(  image: {repository: registry.example.com/imprun/imprun-console, tag: "1.10", pullPolicy: Always})",
     "1.3.9"},
    {"imprun-console.image.repository", "registry.example.com:5000/imprun/console",
     "  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.3.9, pullPolicy: Always}",
     R"(  image: {repository: "registry.example.com:5000/imprun/console", tag: 1.3.9, pullPolicy: Always})",
     "registry.example.com/imprun/imprun-console"},
    {"imprun-console.serviceAccount.name", "imprun-console", "    name:", "    name: imprun-console", "<null>"},
    {"imprun-console.ingress.tls", "console-tls", "    tls: ~", "    tls: console-tls", "<null>"},
    {"imprun-console.ingress.className", "nginx", "    className: # set per cluster",
     "    className: nginx # set per cluster", "<null>"},
    {"imprun-console.ingress.host", "console.example.org", "    host: console.example.com # public name",
     "    host: console.example.org # public name", "console.example.com"},
    {"imprun-console.ingress.enabled", "true", "    enabled: false", R"(    enabled: "true")", "false"},
    {"appVersion", "1.4.0", "appVersion: &appVersion 1.3.9", "appVersion: &appVersion 1.4.0", "1.3.9"},
    {"global.labels.tier", "frontend", R"(  labels: {team: platform, tier: "backend"})",
     R"(  labels: {team: platform, tier: "frontend"})", "backend"},
    {"global.imagePullSecrets[0].name", "regcred-2", "    - name: regcred", "    - name: regcred-2", "regcred"},
    {"global.imageRegistry", "ghcr.io", "  imageRegistry: registry.example.com   # shared by every image",
     "  imageRegistry: ghcr.io   # shared by every image", "registry.example.com"},
    {"global.imageRegistry", "", "  imageRegistry: registry.example.com   # shared by every image",
     R"(  imageRegistry: ""   # shared by every image)", "registry.example.com"},
};

TEST(ValuesSet, EachEditChangesExactlyItsLine) {
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.path + " = " + row.value);
    auto edited = set(kValues, {{row.path, row.value}});
    ASSERT_TRUE(edited.ok()) << edited.error().message;
    EXPECT_EQ(edited->text, replace_line(kValues, row.old_line, row.new_line));
    EXPECT_EQ(differing_lines(kValues, edited->text), 1u);
    ASSERT_EQ(edited->changes.size(), 1u);
    const auto& change = edited->changes[0];
    EXPECT_TRUE(change.changed);
    EXPECT_EQ(change.path, row.path);
    EXPECT_EQ(change.previous.value_or("<null>"), row.previous);
    EXPECT_EQ(lines_of(kValues).at(static_cast<std::size_t>(change.line - 1)), row.old_line);
    // And the new text holds the value, as a string.
    auto read = get(edited->text, row.path);
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(read->value_or("<null>"), row.value);
  }
}

TEST(ValuesSet, SeveralKeysAtOnceChangeOneLineEach) {
  auto edited = set(kValues, {{"imprun-server.image.tag", "1.4.0"},
                              {R"(imprun-server.podAnnotations["app.kubernetes.io/version"])", "1.4.0"},
                              {"imprun-console.image.tag", "1.4.0"},
                              {"appVersion", "1.4.0"}});
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  std::string want = kValues;
  want = replace_line(want, R"(    tag: "1.3.9"          # set by conveyor)", R"(    tag: "1.4.0"          # set by conveyor)");
  want = replace_line(want, "    app.kubernetes.io/version: 1.3.9", "    app.kubernetes.io/version: 1.4.0");
  want = replace_line(want,
                      "  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.3.9, pullPolicy: Always}",
                      "  image: {repository: registry.example.com/imprun/imprun-console, tag: 1.4.0, pullPolicy: Always}");
  want = replace_line(want, "appVersion: &appVersion 1.3.9", "appVersion: &appVersion 1.4.0");
  EXPECT_EQ(edited->text, want);
  EXPECT_EQ(differing_lines(kValues, edited->text), 4u);
  EXPECT_TRUE(edited->changed());
  ASSERT_EQ(edited->changes.size(), 4u);
  EXPECT_EQ(edited->changes[1].line, 31);
}

TEST(ValuesSet, AlreadyAtTheValueChangesNothing) {
  auto edited = set(kValues, {{"imprun-server.image.tag", "1.3.9"},
                              {"imprun-console.image.tag", "1.3.9"},
                              {"imprun-server.env[1].value", "search,export"}});
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  EXPECT_EQ(edited->text, kValues);
  EXPECT_FALSE(edited->changed());
  for (const auto& c : edited->changes) EXPECT_FALSE(c.changed) << c.path;
}

TEST(ValuesSet, AStringHeldAsAnotherTypeIsRewrittenQuoted) {
  // `replicaCount: 3` is an int; the string "3" is not "already there".
  auto edited = set(kValues, {{"imprun-server.replicaCount", "3"}});
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  EXPECT_TRUE(edited->changed());
  EXPECT_EQ(edited->text, replace_line(kValues, "  replicaCount: 3", R"(  replicaCount: "3")"));
}

// Values YAML reads as something other than a string are quoted, in the
// old scalar's quote style (double quotes for a plain one).
TEST(ValuesSet, YamlSpecialValuesAreQuoted) {
  const std::string doc = "plain: x\nsingle: 'x'\ndouble: \"x\"\n";
  for (const std::string v : {"1.10", "on", "1e3", "null", "~", "yes", "0x1F", ".inf", "-.Inf", ".NaN", "NO", "y",
                              "Off", "true", "FALSE", "017", "0o17", "0b101", "1_000", "12:30", "42", "-7", "+1",
                              "3.", ".5", "1.5e-3", "2024-01-02", "2001-12-14t21:59:43.10-05:00", "+inf", "-Infinity",
                              "<<", "=", ""}) {
    SCOPED_TRACE("value '" + v + "'");
    EXPECT_FALSE(reads_as_string(v));
    auto edited = set(doc, {{"plain", v}, {"single", v}, {"double", v}});
    ASSERT_TRUE(edited.ok()) << edited.error().message;
    EXPECT_EQ(edited->text, "plain: \"" + v + "\"\nsingle: '" + v + "'\ndouble: \"" + v + "\"\n");
  }
}

TEST(ValuesSet, OrdinaryValuesStayPlain) {
  for (const std::string v : {"1.2.3", "v1.10", "1.4.0-rc.1", "1.4.0+build.5", "latest", "abc123", "6113728f",
                              "sha256:4f1c2b9e8a7d6c5b4a39281706f5e4d3", "registry.example.com/a/b", "0.9.0", "1.2.3.4",
                              "nginx@sha256:abcd", "ünïcode", "2024-01-02-abc", "yes-please", "nullable", "off-peak"}) {
    SCOPED_TRACE(v);
    EXPECT_TRUE(reads_as_string(v));
    auto edited = set("tag: x # c\n", {{"tag", v}});
    ASSERT_TRUE(edited.ok()) << edited.error().message;
    EXPECT_EQ(edited->text, "tag: " + v + " # c\n");
  }
}

TEST(ValuesSet, QuotingEscapesPerStyle) {
  auto a = set("a: x\nb: 'x'\nc: \"x\"\n", {{"a", "it's \"quoted\" # not a comment"},
                                            {"b", "it's"},
                                            {"c", "back\\slash \"q\" tab\tnew\nline"}});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->text,
            "a: \"it's \\\"quoted\\\" # not a comment\"\n"
            "b: 'it''s'\n"
            "c: \"back\\\\slash \\\"q\\\" tab\\tnew\\nline\"\n");
  // Control characters cannot go in single quotes: they switch to double quotes.
  auto b = set("b: 'x'\n", {{"b", "two\nlines"}});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->text, "b: \"two\\nlines\"\n");
  // Colons: plain in block context, quoted in flow context.
  auto c = set("a: x\nf: {a: x}\n", {{"a", "host:5000/img"}, {"f.a", "host:5000/img"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->text, "a: host:5000/img\nf: {a: \"host:5000/img\"}\n");
  // Indicators at the start, ": " and " #" inside force quotes.
  for (const std::string v : {"-x", "*x", "&x", "!x", "@x", "%x", "`x", "|x", ">x", "[x]", "{x}", "a: b", "a #b",
                              "x:", " lead", "trail "}) {
    auto d = set("k: v\n", {{"k", v}});
    ASSERT_TRUE(d.ok()) << v << ": " << d.error().message;
    EXPECT_EQ(d->text.substr(0, 4), "k: \"") << v;
  }
}

TEST(ValuesSet, ExplicitStringTagAllowsPlain) {
  auto edited = set("v: !!str 1.3\n", {{"v", "1.10"}});
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  EXPECT_EQ(edited->text, "v: !!str 1.10\n");
}

TEST(ValuesSet, CrlfAndNoTrailingNewlineArePreserved) {
  auto crlf = set("a:\r\n  tag: 1.0.0 # c\r\n  b: 2\r\n", {{"a.tag", "1.1.0"}});
  ASSERT_TRUE(crlf.ok()) << crlf.error().message;
  EXPECT_EQ(crlf->text, "a:\r\n  tag: 1.1.0 # c\r\n  b: 2\r\n");
  auto bare = set("a: {tag: 1.0.0}", {{"a.tag", "1.1.0"}});
  ASSERT_TRUE(bare.ok()) << bare.error().message;
  EXPECT_EQ(bare->text, "a: {tag: 1.1.0}");
  auto empty_last = set("a:", {{"a", "x"}});
  ASSERT_TRUE(empty_last.ok()) << empty_last.error().message;
  EXPECT_EQ(empty_last->text, "a: x");
}

TEST(ValuesSet, ByteOrderMarkAndNonAsciiTextBeforeTheKey) {
  auto bom = set("\xEF\xBB\xBF# values\na: 1\nb: x\n", {{"b", "y2"}});
  ASSERT_TRUE(bom.ok()) << bom.error().message;
  EXPECT_EQ(bom->text, "\xEF\xBB\xBF# values\na: 1\nb: y2\n");
  auto utf8 = set("# Ünïcödé → ✓\na: \"ünïcode 🎉\"\nb: x # c\n", {{"b", "y2"}, {"a", "ö"}});
  ASSERT_TRUE(utf8.ok()) << utf8.error().message;
  EXPECT_EQ(utf8->text, "# Ünïcödé → ✓\na: \"ö\"\nb: y2 # c\n");
}

TEST(ValuesSet, MultiLineQuotedScalarIsReplaced) {
  auto edited = set("a: \"first\n  second\"\nb: 1\n", {{"a", "one"}});
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  EXPECT_EQ(edited->text, "a: \"one\"\nb: 1\n");
}

// ---- errors: never a silent append or a guess --------------------------------

void expect_error(const Result<Edited>& r, Errc code, const std::string& fragment) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(ValuesSetErrors, MissingPathIsNotFoundAndNamesWhatExists) {
  expect_error(set(kValues, {{"imprun-server.image.tagg", "1"}}), Errc::not_found,
               "'imprun-server.image' has no key 'tagg' (its keys: repository, tag, digest, pullPolicy)");
  expect_error(set(kValues, {{"imprun-worker.image.tag", "1"}}), Errc::not_found, "the document has no key 'imprun-worker'");
  expect_error(set(kValues, {{"imprun-server.env[3].value", "1"}}), Errc::not_found,
               "'imprun-server.env' has 3 item(s)");
  expect_error(set(kValues, {{"imprun-server.image.tag.major", "1"}}), Errc::not_found,
               "'imprun-server.image.tag' is a scalar, not a mapping");
  expect_error(set(kValues, {{"imprun-server.image[0]", "1"}}), Errc::not_found, "is a mapping, not a sequence");
  expect_error(set(kValues, {{"imprun-console.serviceAccount.name.first", "1"}}), Errc::not_found,
               "is empty (null), not a mapping");
  // A later missing key fails the whole call: nothing is half-applied.
  expect_error(set(kValues, {{"appVersion", "2"}, {"nope", "1"}}), Errc::not_found, "'nope'");
}

TEST(ValuesSetErrors, UnsupportedTargets) {
  expect_error(set(kValues, {{"imprun-server.notes", "x"}}), Errc::invalid_argument, "block scalar (|)");
  expect_error(set("a: >-\n  folded\n", {{"a", "x"}}), Errc::invalid_argument, "block scalar (>)");
  expect_error(set(kValues, {{"imprun-server.image", "x"}}), Errc::invalid_argument, "is a mapping");
  expect_error(set(kValues, {{"imprun-server.args", "x"}}), Errc::invalid_argument, "is a sequence");
  expect_error(set("a: plain\n  continued\n", {{"a", "x"}}), Errc::invalid_argument, "spanning several lines");
  expect_error(set("a: !!int 3\n", {{"a", "4"}}), Errc::invalid_argument, "explicit tag !!int");
  expect_error(set("a: 1\nb: 2\na: 3\n", {{"a", "4"}}), Errc::invalid_argument, "occurs 2 times");
  expect_error(set("a: 1\n", {{"a", "2"}, {"[\"a\"]", "3"}}), Errc::invalid_argument, "is set twice");
  expect_error(set("a: 1\n", {{"a", std::string("\xff\xfe")}}), Errc::invalid_argument, "not valid UTF-8");
  expect_error(set("a: [1, 2\n", {{"a", "x"}}), Errc::invalid_argument, "not valid YAML");
  expect_error(set("- \n- b\n", {{"[0]", "x"}}), Errc::invalid_argument, "empty sequence item");
}

TEST(ValuesSetErrors, AnchorsThatAliasesUseAndAliasesAreRefused) {
  // The anchored value is used by `release: *chartVersion`.
  expect_error(set(kValues, {{"chartVersion", "1.0.0"}}), Errc::invalid_argument, "aliases (*name) also use");
  // A key whose value is an alias.
  expect_error(set(kValues, {{"imprun-console.release", "1.0.0"}}), Errc::invalid_argument, "alias");
  // Inside an anchored mapping that an alias shares (either way in).
  expect_error(set(kValues, {{"x-resources.requests.cpu", "1"}}), Errc::invalid_argument, "aliases (*name) also use");
  expect_error(set(kValues, {{"imprun-server.resources.requests.cpu", "1"}}), Errc::invalid_argument,
               "aliases (*name) also use");
  // Merge keys are not followed; the message says where to look.
  expect_error(set("base: &b {tag: 1}\nsvc:\n  <<: *b\n", {{"svc.tag", "2"}}), Errc::not_found,
               "keys merged in with '<<' are not followed");
}

TEST(ValuesSetErrors, MultiDocumentNeedsASelector) {
  const std::string doc = "# first\na: 1\n---\n# second\na: 1\nb: x\n";
  expect_error(set(doc, {{"a", "2"}}), Errc::invalid_argument, "holds 2 YAML documents");
  auto second = set(doc, {{"a", "2"}}, Options{1});
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->text, "# first\na: 1\n---\n# second\na: \"2\"\nb: x\n");
  EXPECT_EQ(second->changes[0].line, 5);
  auto first = set(doc, {{"a", "x"}}, Options{0});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->text, "# first\na: x\n---\n# second\na: 1\nb: x\n");
  expect_error(set(doc, {{"a", "2"}}, Options{2}), Errc::invalid_argument, "document 2 does not exist");
  // A leading "---" or a trailing empty document is still one document.
  auto leading = set("---\na: 1\n", {{"a", "x"}});
  ASSERT_TRUE(leading.ok()) << leading.error().message;
  EXPECT_EQ(leading->text, "---\na: x\n");
  expect_error(set("", {{"a", "x"}}), Errc::not_found, "no YAML document");
}

// ---- get ---------------------------------------------------------------------

TEST(ValuesGet, ReadsScalarsAndNulls) {
  EXPECT_EQ(get(kValues, "imprun-server.image.tag")->value_or("?"), "1.3.9");
  EXPECT_EQ(get(kValues, R"(imprun-server.podAnnotations["prometheus.io/scrape"])")->value_or("?"), "true");
  EXPECT_FALSE(get(kValues, "imprun-console.ingress.tls")->has_value());
  EXPECT_EQ(get(kValues, "imprun-server.args[0]")->value_or("?"), "--port");
  EXPECT_EQ(get(kValues, "nope").error().code, Errc::not_found);
  EXPECT_EQ(get(kValues, "imprun-server").error().code, Errc::invalid_argument);
}

// ---- paths -------------------------------------------------------------------

TEST(KeyPaths, Parse) {
  auto p = parse_path(R"(imprun-server.podAnnotations["app.kubernetes.io/version"])");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->segments.size(), 3u);
  EXPECT_EQ(p->segments[2].key, "app.kubernetes.io/version");
  auto q = parse_path("env[1].value");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->segments.size(), 3u);
  EXPECT_EQ(q->segments[1].index, 1u);
  auto helm = parse_path(R"(a.b\.c['d\'e'][0][1])");
  ASSERT_TRUE(helm.ok());
  ASSERT_EQ(helm->segments.size(), 5u);
  EXPECT_EQ(helm->segments[1].key, "b.c");
  EXPECT_EQ(helm->segments[2].key, "d'e");
  EXPECT_EQ(helm->segments[4].index, 1u);
  for (const char* bad : {"", "a..b", ".a", "a.", "a[", "a[x]", "a[\"x\"", "a[\"x\"b]", "a]", "a[1]b", "a\"b"}) {
    auto r = parse_path(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::invalid_argument);
    }
  }
}

TEST(KeyPaths, CanonicalTextRoundTrips) {
  for (const char* text : {"a.b-c.d", R"(a["x.y"][0].z)", R"([0]["a b"])", R"(x["q\"uote"])"}) {
    auto p = parse_path(text);
    ASSERT_TRUE(p.ok()) << text;
    EXPECT_EQ(to_string(*p), text);
    EXPECT_EQ(*parse_path(to_string(*p)), *p);
  }
  EXPECT_EQ(to_string(*parse_path(R"(a.b\.c)")), R"(a["b.c"])");
}

TEST(KeyPaths, Assignments) {
  auto a = parse_assignment("image.tag=1.2.3");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->path, "image.tag");
  EXPECT_EQ(a->value, "1.2.3");
  auto b = parse_assignment(R"(annotations["a=b"]=x=y)");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->path, R"(annotations["a=b"])");
  EXPECT_EQ(b->value, "x=y");
  auto c = parse_assignment("k=");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->value, "");
  EXPECT_FALSE(parse_assignment("novalue").ok());
  EXPECT_FALSE(parse_assignment("=x").ok());
  EXPECT_FALSE(parse_assignment("a..b=x").ok());
}

TEST(RenderScalar, Styles) {
  EXPECT_EQ(render_scalar("1.2.3", ScalarStyle::plain), "1.2.3");
  EXPECT_EQ(render_scalar("1.10", ScalarStyle::plain), "\"1.10\"");
  EXPECT_EQ(render_scalar("1.10", ScalarStyle::plain, false, true), "1.10");
  EXPECT_EQ(render_scalar("a,b", ScalarStyle::plain), "a,b");
  EXPECT_EQ(render_scalar("a,b", ScalarStyle::plain, true), "\"a,b\"");
  EXPECT_EQ(render_scalar("x", ScalarStyle::single_quoted), "'x'");
  EXPECT_EQ(render_scalar("x", ScalarStyle::double_quoted), "\"x\"");
  EXPECT_EQ(render_scalar(std::string("\x01", 1), ScalarStyle::double_quoted), "\"\\x01\"");
}

}  // namespace
}  // namespace conveyor::values
