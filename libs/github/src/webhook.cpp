#include "conveyor/github/webhook.hpp"

#include <algorithm>
#include <cctype>

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

// Reads a string at a JSON pointer; error names the field.
Result<std::string> string_at(const nlohmann::json& j, const char* pointer) {
  const nlohmann::json::json_pointer ptr(pointer);
  if (!j.contains(ptr) || !j.at(ptr).is_string()) {
    return make_error(Errc::invalid_argument, std::string("payload field ") + pointer + " missing or not a string");
  }
  return j.at(ptr).get<std::string>();
}

std::string optional_string_at(const nlohmann::json& j, const char* pointer) {
  const nlohmann::json::json_pointer ptr(pointer);
  if (j.contains(ptr) && j.at(ptr).is_string()) return j.at(ptr).get<std::string>();
  return "";
}

Result<Classification> classify_push(const nlohmann::json& p) {
  Change c;
  c.kind = Change::Kind::push;
  auto repo = string_at(p, "/repository/full_name");
  if (!repo) return std::move(repo).error();
  auto ref = string_at(p, "/ref");
  if (!ref) return std::move(ref).error();
  auto after = string_at(p, "/after");
  if (!after) return std::move(after).error();
  c.repository = *repo;
  c.ref = *ref;
  c.sha = *after;
  c.before_sha = optional_string_at(p, "/before");
  c.sender = optional_string_at(p, "/sender/login");
  c.deleted = p.value("deleted", false);
  if (p.contains("head_commit") && p["head_commit"].is_object()) {
    c.head_message = optional_string_at(p, "/head_commit/message");
  }
  constexpr std::string_view heads = "refs/heads/", tags = "refs/tags/";
  if (c.ref.starts_with(heads)) {
    c.ref_kind = "branch";
    c.ref_name = c.ref.substr(heads.size());
  } else if (c.ref.starts_with(tags)) {
    c.ref_kind = "tag";
    c.ref_name = c.ref.substr(tags.size());
  } else {
    Classification out;
    out.change = c;
    out.skip_reason = "ref '" + c.ref + "' is neither a branch nor a tag";
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

Result<Classification> classify_pull_request(const nlohmann::json& p) {
  Change c;
  c.kind = Change::Kind::pull_request;
  auto action = string_at(p, "/action");
  if (!action) return std::move(action).error();
  auto repo = string_at(p, "/repository/full_name");
  if (!repo) return std::move(repo).error();
  auto head_sha = string_at(p, "/pull_request/head/sha");
  if (!head_sha) return std::move(head_sha).error();
  auto base_ref = string_at(p, "/pull_request/base/ref");
  if (!base_ref) return std::move(base_ref).error();
  const nlohmann::json::json_pointer number_ptr("/number");
  if (!p.contains(number_ptr) || !p.at(number_ptr).is_number_integer()) {
    return make_error(Errc::invalid_argument, "payload field /number missing or not an integer");
  }
  c.action = *action;
  c.repository = *repo;
  c.number = p.at(number_ptr).get<int>();
  c.sha = *head_sha;
  c.base_branch = *base_ref;
  c.before_sha = optional_string_at(p, "/pull_request/base/sha");
  c.ref = "refs/pull/" + std::to_string(c.number) + "/head";
  c.ref_kind = "pull_request";
  c.ref_name = optional_string_at(p, "/pull_request/head/ref");
  c.sender = optional_string_at(p, "/sender/login");
  c.head_message = optional_string_at(p, "/pull_request/title");
  Classification out;
  if (c.action != "opened" && c.action != "synchronize" && c.action != "reopened") {
    out.skip_reason = "pull_request action '" + c.action + "' ignored";
  } else if (!is_real_sha(c.sha)) {
    out.skip_reason = "no commit to build (all-zero or malformed sha)";
  }
  out.change = std::move(c);
  return out;
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

Result<std::string> payload_text(std::string_view content_type, std::string_view body) {
  const std::string type = media_type(content_type);
  if (type == "application/json") return std::string(body);
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
      return form_decode(field.substr(eq + 1));
    }
    pos = amp + 1;
  }
  return make_error(Errc::invalid_argument, "form body has no payload field");
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
  if (!payload.is_object()) return make_error(Errc::invalid_argument, "payload is not a JSON object");
  if (event == "push") return classify_push(payload);
  if (event == "pull_request") return classify_pull_request(payload);
  Classification out;
  out.skip_reason = "event '" + std::string(event) + "' ignored";
  return out;
}

}  // namespace conveyor::github
