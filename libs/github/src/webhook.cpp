#include "conveyor/github/webhook.hpp"

// SSE2 is part of x86-64: RapidJSON then scans strings and whitespace 16
// bytes at a time.
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/reader.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <vector>

namespace conveyor::github {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The media type of a Content-Type value, lower-cased, without parameters.
std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto t = content_type.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return lower(t);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The payload fields classify() reads, as the payload holds them. Both
// readers (nlohmann DOM, RapidJSON SAX) fill the same table, so the
// classification below is one piece of code whatever read the payload.
enum Field : unsigned {
  kRef,
  kAfter,
  kBefore,
  kDeleted,
  kAction,
  kNumber,
  kRepositoryFullName,
  kSenderLogin,
  kHeadCommitMessage,
  kPrTitle,
  kPrHeadSha,
  kPrHeadRef,
  kPrBaseRef,
  kPrBaseSha,
  kHeadCommitId,
  kFieldCount
};

// JSON pointer of each field (RFC 6901), in Field order; named in errors.
constexpr const char* kPointers[kFieldCount] = {
    "/ref",           "/after",        "/before",
    "/deleted",       "/action",       "/number",
    "/repository/full_name", "/sender/login", "/head_commit/message",
    "/pull_request/title",   "/pull_request/head/sha", "/pull_request/head/ref",
    "/pull_request/base/ref", "/pull_request/base/sha", "/head_commit/id",
};

// A field's value: absent (or below something that is not an object), or
// the JSON value kept when it is a string, boolean or integer.
struct Value {
  enum class Type : unsigned char { absent, string, boolean, integer, other };
  Type type = Type::absent;
  bool boolean = false;
  long long integer = 0;  // integers beyond long long wrap as nlohmann's get<int>() would truncate anyway
  std::string str;
};

struct Fields {
  bool is_object = false;  // the payload's root is a JSON object
  Value v[kFieldCount];
};

Result<std::string> string_at(Fields& f, Field field) {
  if (f.v[field].type != Value::Type::string) {
    return make_error(Errc::invalid_argument, std::string("payload field ") + kPointers[field] + " missing or not a string");
  }
  return std::move(f.v[field].str);
}

std::string optional_string_at(Fields& f, Field field) {
  return f.v[field].type == Value::Type::string ? std::move(f.v[field].str) : std::string();
}

Result<Classification> classify_push(Fields& p) {
  Change c;
  c.kind = Change::Kind::push;
  auto repo = string_at(p, kRepositoryFullName);
  if (!repo) return std::move(repo).error();
  auto ref = string_at(p, kRef);
  if (!ref) return std::move(ref).error();
  auto after = string_at(p, kAfter);
  if (!after) return std::move(after).error();
  // GitHub always sends a boolean; anything else present is malformed (400).
  const Value& deleted = p.v[kDeleted];
  if (deleted.type != Value::Type::absent && deleted.type != Value::Type::boolean) {
    return make_error(Errc::invalid_argument, "payload field /deleted not a boolean");
  }
  c.repository = std::move(*repo);
  c.ref = std::move(*ref);
  c.sha = std::move(*after);
  c.before_sha = optional_string_at(p, kBefore);
  c.sender = optional_string_at(p, kSenderLogin);
  c.deleted = deleted.boolean;
  c.head_message = optional_string_at(p, kHeadCommitMessage);
  constexpr std::string_view heads = "refs/heads/", tags = "refs/tags/";
  if (c.ref.starts_with(heads)) {
    c.ref_kind = "branch";
    c.ref_name = c.ref.substr(heads.size());
  } else if (c.ref.starts_with(tags)) {
    c.ref_kind = "tag";
    c.ref_name = c.ref.substr(tags.size());
    // For an annotated tag, `after` names the tag object; the commit it
    // points at (what a run builds and checks out) is head_commit.id.
    if (std::string head = optional_string_at(p, kHeadCommitId); is_real_sha(head)) c.sha = std::move(head);
  } else {
    Classification out;
    out.skip_reason = "ref '" + c.ref + "' is neither a branch nor a tag";
    out.change = std::move(c);
    return out;
  }
  Classification out;
  if (c.deleted) {
    out.skip_reason = "ref deleted";
  } else if (!is_real_sha(c.sha)) {
    out.skip_reason = "no commit to build (all-zero or malformed sha)";
  } else if (asks_to_skip_ci(c.head_message)) {
    out.skip_reason = "skip marker in head commit message";
  }
  out.change = std::move(c);
  return out;
}

Result<Classification> classify_pull_request(Fields& p) {
  Change c;
  c.kind = Change::Kind::pull_request;
  auto action = string_at(p, kAction);
  if (!action) return std::move(action).error();
  auto repo = string_at(p, kRepositoryFullName);
  if (!repo) return std::move(repo).error();
  auto head_sha = string_at(p, kPrHeadSha);
  if (!head_sha) return std::move(head_sha).error();
  auto base_ref = string_at(p, kPrBaseRef);
  if (!base_ref) return std::move(base_ref).error();
  if (p.v[kNumber].type != Value::Type::integer) {
    return make_error(Errc::invalid_argument, "payload field /number missing or not an integer");
  }
  c.action = std::move(*action);
  c.repository = std::move(*repo);
  c.number = static_cast<int>(p.v[kNumber].integer);
  c.sha = std::move(*head_sha);
  c.base_branch = std::move(*base_ref);
  c.before_sha = optional_string_at(p, kPrBaseSha);
  c.ref = "refs/pull/" + std::to_string(c.number) + "/head";
  c.ref_kind = "pull_request";
  c.ref_name = optional_string_at(p, kPrHeadRef);
  c.sender = optional_string_at(p, kSenderLogin);
  c.head_message = optional_string_at(p, kPrTitle);
  Classification out;
  if (c.action != "opened" && c.action != "synchronize" && c.action != "reopened") {
    out.skip_reason = "pull_request action '" + c.action + "' ignored";
  } else if (!is_real_sha(c.sha)) {
    out.skip_reason = "no commit to build (all-zero or malformed sha)";
  }
  out.change = std::move(c);
  return out;
}

Result<Classification> classify_fields(std::string_view event, Fields& fields) {
  if (!fields.is_object) return make_error(Errc::invalid_argument, "payload is not a JSON object");
  if (event == "push") return classify_push(fields);
  if (event == "pull_request") return classify_pull_request(fields);
  Classification out;
  out.skip_reason = "event '" + std::string(event) + "' ignored";
  return out;
}

// --- reading the fields from a nlohmann DOM (the reference reader) ---------

Fields fields_of(const nlohmann::json& j) {
  Fields f;
  f.is_object = j.is_object();
  if (!f.is_object) return f;
  for (unsigned i = 0; i < kFieldCount; ++i) {
    const nlohmann::json::json_pointer ptr(kPointers[i]);
    if (!j.contains(ptr)) continue;
    const nlohmann::json& v = j.at(ptr);
    Value& out = f.v[i];
    if (v.is_string()) {
      out.type = Value::Type::string;
      out.str = v.get<std::string>();
    } else if (v.is_boolean()) {
      out.type = Value::Type::boolean;
      out.boolean = v.get<bool>();
    } else if (v.is_number_integer()) {  // signed or unsigned, not float
      out.type = Value::Type::integer;
      out.integer = v.is_number_unsigned() ? static_cast<long long>(v.get<unsigned long long>()) : v.get<long long>();
    } else {
      out.type = Value::Type::other;
    }
  }
  return f;
}

// --- reading the fields in one SAX pass (RapidJSON) -------------------------

// The objects on the way to a field. kNone: anything else (arrays, objects
// elsewhere), whose members are only validated.
enum Node : int { kNone = -1, kRoot, kRepository, kSender, kHeadCommit, kPullRequest, kPrHead, kPrBase };

// A member name under a node: either a field or an object node to descend into.
struct Member {
  Node parent;
  std::string_view name;
  int field;  // Field, or -1
  Node child;  // Node, or kNone
};
constexpr Member kMembers[] = {
    {kRoot, "ref", kRef, kNone},
    {kRoot, "after", kAfter, kNone},
    {kRoot, "before", kBefore, kNone},
    {kRoot, "deleted", kDeleted, kNone},
    {kRoot, "action", kAction, kNone},
    {kRoot, "number", kNumber, kNone},
    {kRoot, "repository", -1, kRepository},
    {kRoot, "sender", -1, kSender},
    {kRoot, "head_commit", -1, kHeadCommit},
    {kRoot, "pull_request", -1, kPullRequest},
    {kRepository, "full_name", kRepositoryFullName, kNone},
    {kSender, "login", kSenderLogin, kNone},
    {kHeadCommit, "message", kHeadCommitMessage, kNone},
    {kHeadCommit, "id", kHeadCommitId, kNone},
    {kPullRequest, "title", kPrTitle, kNone},
    {kPullRequest, "head", -1, kPrHead},
    {kPullRequest, "base", -1, kPrBase},
    {kPrHead, "sha", kPrHeadSha, kNone},
    {kPrHead, "ref", kPrHeadRef, kNone},
    {kPrBase, "ref", kPrBaseRef, kNone},
    {kPrBase, "sha", kPrBaseSha, kNone},
};

// Whether `field` lies below `node` (its pointer starts with the node's path).
bool below(unsigned field, Node node) {
  static constexpr std::string_view paths[] = {"", "/repository/", "/sender/", "/head_commit/",
                                               "/pull_request/", "/pull_request/head/", "/pull_request/base/"};
  return std::string_view(kPointers[field]).starts_with(paths[node]);
}

// RapidJSON SAX handler filling Fields. Duplicate member names behave as in
// nlohmann (the last one wins): a repeated object member first forgets every
// field found below its earlier value.
class Extractor : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Extractor> {
 public:
  // `escapes`: the text holds a backslash-u escape (else no string needs
  // the lone-surrogate check).
  Extractor(Fields& f, bool escapes) : f_(f), escapes_(escapes) { stack_.reserve(16); }

  bool Null() { return scalar(Value::Type::other) && done_value(); }
  bool Bool(bool b) {
    if (!scalar(Value::Type::boolean)) return false;
    if (pending_field_ >= 0) f_.v[pending_field_].boolean = b;
    return done_value();
  }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) { return integer(u); }
  bool Int64(int64_t i) { return integer(i); }
  bool Uint64(uint64_t u) { return integer(static_cast<long long>(u)); }
  bool Double(double) { return scalar(Value::Type::other) && done_value(); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(Value::Type::other) && done_value(); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (escapes_ && lone_surrogate(s, n)) return false;
    if (!scalar(Value::Type::string)) return false;
    if (pending_field_ >= 0) f_.v[pending_field_].str.assign(s, n);
    return done_value();
  }
  bool StartObject() {
    if (stack_.empty()) f_.is_object = true;
    const Node node = stack_.empty() ? kRoot : pending_child_;
    if (node != kNone) forget_below(node);
    if (pending_field_ >= 0) set(Value::Type::other);
    stack_.push_back(node);
    pending_field_ = -1;
    pending_child_ = kNone;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (escapes_ && lone_surrogate(s, n)) return false;
    pending_field_ = -1;
    pending_child_ = kNone;
    const Node at = stack_.back();
    if (at == kNone) return true;
    const std::string_view name(s, n);
    for (const Member& m : kMembers) {
      if (m.parent == at && m.name == name) {
        pending_field_ = m.field;
        pending_child_ = m.child;
        break;
      }
    }
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }
  bool StartArray() {
    if (pending_child_ != kNone) forget_below(pending_child_);
    if (pending_field_ >= 0) set(Value::Type::other);
    stack_.push_back(kNone);
    pending_field_ = -1;
    pending_child_ = kNone;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }

 private:
  // A scalar value: recorded if it is a wanted field; a wanted object given
  // as a scalar hides everything that was below it.
  bool scalar(Value::Type type) {
    if (pending_child_ != kNone) forget_below(pending_child_);
    if (pending_field_ >= 0) set(type);
    return true;
  }
  bool integer(long long i) {
    scalar(Value::Type::integer);
    if (pending_field_ >= 0) f_.v[pending_field_].integer = i;
    return done_value();
  }
  bool done_value() {
    pending_field_ = -1;
    pending_child_ = kNone;
    return true;
  }
  void set(Value::Type type) {
    Value& v = f_.v[pending_field_];
    v.type = type;
    v.boolean = false;
    v.integer = 0;
    v.str.clear();
  }
  void forget_below(Node node) {
    for (unsigned i = 0; i < kFieldCount; ++i) {
      if (below(i, node)) f_.v[i] = Value{};
    }
  }
  // RapidJSON 1.1 decodes a lone "\uDC00".."\uDFFF" escape into the UTF-8 of
  // a surrogate (ED B0..BF xx), which RFC 8259 parsers such as nlohmann
  // refuse; refuse it too (raw surrogate bytes fail utf8_without_nul).
  static bool lone_surrogate(const char* s, rapidjson::SizeType n) {
    const char* end = s + n;
    for (const char* p = s; (p = static_cast<const char*>(std::memchr(p, '\xED', end - p))) != nullptr; ++p) {
      if (p + 1 < end && static_cast<unsigned char>(p[1]) >= 0xA0) return true;
    }
    return false;
  }

  Fields& f_;
  bool escapes_;
  std::vector<Node> stack_;
  int pending_field_ = -1;
  Node pending_child_ = kNone;
};

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF) and holds no NUL byte. Runs of ASCII are
// checked 8 bytes at a time.
bool utf8_without_nul(std::string_view s) {
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL, kOnes = 0x0101010101010101ULL;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (((w & kHigh) | ((w - kOnes) & ~w & kHigh)) == 0) {  // 8 ASCII bytes, none NUL
        p += 8;
        continue;
      }
    }
    const unsigned c = *p;
    if (c < 0x80) {
      if (c == 0) return false;
      ++p;
      continue;
    }
    // Unicode 15, Table 3-7: the well-formed byte sequences.
    int trail = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      trail = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      trail = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      trail = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p <= trail || p[1] < lo || p[1] > hi) return false;
    for (int i = 2; i <= trail; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
    }
    p += trail + 1;
  }
  return true;
}

// Parses `text` strictly (RFC 8259: one value, no comments, NaN or trailing
// commas; iterative, so nesting depth costs heap, not stack), in place on a
// copy. False when the text is not well-formed UTF-8 or RapidJSON refuses it.
bool extract(std::string_view text, Fields& f) {
  // Also keeps NUL out: RapidJSON's in-situ stream ends at the first NUL.
  if (!utf8_without_nul(text)) return false;
  std::string copy(text);
  rapidjson::InsituStringStream in(copy.data());
  const bool escapes = text.find("\\u") != std::string_view::npos;
  Extractor handler(f, escapes);
  rapidjson::Reader reader;
  constexpr unsigned flags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;
  return !reader.Parse<flags>(in, handler).IsError();
}

// The reference parser's verdict, for texts RapidJSON refused (rare: GitHub
// sends plain JSON).
Result<Classification> classify_with_reference(std::string_view event, std::string_view text) {
  auto payload = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) return make_error(Errc::invalid_argument, "body is not valid JSON");
  return classify(event, payload);
}

}  // namespace

Result<std::string> form_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '+') {
      out.push_back(' ');
    } else if (ch == '%') {
      if (i + 2 >= text.size()) {
        return make_error(Errc::invalid_argument, "truncated percent-escape in form body");
      }
      const int hi = hex_digit(text[i + 1]), lo = hex_digit(text[i + 2]);
      if (hi < 0 || lo < 0) return make_error(Errc::invalid_argument, "bad percent-escape in form body");
      out.push_back(static_cast<char>(hi << 4 | lo));
      i += 2;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

Result<std::string_view> payload_view(std::string_view content_type, std::string_view body, std::string& storage) {
  const std::string type = media_type(content_type);
  if (type == "application/json") return body;
  if (type != "application/x-www-form-urlencoded") {
    return make_error(Errc::not_found, "unsupported content type '" + type + "'");
  }
  // Fields are name=value pairs separated by '&'; GitHub sends one: payload.
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    auto field = body.substr(pos, amp - pos);
    auto eq = field.find('=');
    auto name = form_decode(field.substr(0, eq));
    if (!name) return std::move(name).error();
    if (*name == "payload") {
      if (eq == std::string_view::npos) return make_error(Errc::invalid_argument, "form field payload has no value");
      auto value = form_decode(field.substr(eq + 1));
      if (!value) return std::move(value).error();
      storage = std::move(value).value();
      return std::string_view(storage);
    }
    pos = amp + 1;
  }
  return make_error(Errc::invalid_argument, "form body has no payload field");
}

Result<std::string> payload_text(std::string_view content_type, std::string_view body) {
  std::string storage;
  auto text = payload_view(content_type, body, storage);
  if (!text) return std::move(text).error();
  return std::string(*text);
}

bool asks_to_skip_ci(std::string_view message) {
  static constexpr std::string_view markers[] = {"[skip ci]", "[ci skip]", "[no ci]", "[skip actions]",
                                                 "[actions skip]"};
  const std::string m = lower(message);
  return std::any_of(std::begin(markers), std::end(markers),
                     [&](std::string_view marker) { return m.find(marker) != std::string::npos; });
}

bool is_real_sha(std::string_view sha) {
  if (sha.size() != 40 && sha.size() != 64) return false;
  bool nonzero = false;
  for (char c : sha) {
    if (hex_digit(c) < 0) return false;
    nonzero |= c != '0';
  }
  return nonzero;
}

Result<Classification> classify(std::string_view event, const nlohmann::json& payload) {
  Fields fields = fields_of(payload);
  return classify_fields(event, fields);
}

bool is_json(std::string_view text) {
  Fields ignored;
  // RapidJSON refuses a few texts nlohmann accepts (a UTF-8 byte order mark,
  // numbers beyond double's range); the reference parser has the last word.
  return extract(text, ignored) || nlohmann::json::accept(text);
}

Result<Classification> classify_text(std::string_view event, std::string_view text) {
  Fields fields;
  if (!extract(text, fields)) return classify_with_reference(event, text);
  return classify_fields(event, fields);
}

}  // namespace conveyor::github
