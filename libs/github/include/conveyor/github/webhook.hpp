// Reading GitHub webhook deliveries: the body encodings GitHub uses and the
// classification of `push` and `pull_request` payloads into what conveyor
// needs (GitHub Docs, "Webhook events and payloads"). Every string taken
// from a payload is data: callers must never place it into a shell command
// or a file path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "conveyor/result/result.hpp"

namespace conveyor::github {

// Returns the JSON text of a delivery body. `application/json` bodies are
// returned as is; `application/x-www-form-urlencoded` bodies are decoded and
// the `payload` field returned. Errors: invalid_argument for a form body
// without `payload` or with bad percent-encoding; not_found (-> 415) for any
// other content type.
Result<std::string> payload_text(std::string_view content_type, std::string_view body);

// payload_text() without copying a JSON body: `body` itself for
// application/json, else the decoded `payload` form field, which is kept in
// `storage` (the view points there). Same errors as payload_text().
Result<std::string_view> payload_view(std::string_view content_type, std::string_view body, std::string& storage);

// Decodes application/x-www-form-urlencoded text ('+' is space, %XX bytes).
// Errors: invalid_argument on a malformed escape.
Result<std::string> form_decode(std::string_view text);

// True when a commit message asks CI to skip it: "[skip ci]", "[ci skip]",
// "[no ci]", "[skip actions]" or "[actions skip]" (case-insensitive), as
// GitHub Actions honours.
bool asks_to_skip_ci(std::string_view message);

// A push or pull_request delivery, reduced to what starts a run.
struct Change {
  enum class Kind { push, pull_request };
  Kind kind = Kind::push;
  std::string repository;     // full name "owner/repo"
  std::string ref;            // full ref ("refs/heads/main", "refs/tags/v1"; PR: "refs/pull/<n>/head")
  std::string ref_kind;       // "branch", "tag" or "pull_request"
  std::string ref_name;       // short name ("main", "v1"; PR: the head branch)
  std::string sha;            // commit to build (push: after; PR: head.sha)
  std::string before_sha;     // push: before; PR: base.sha
  std::string base_branch;    // PR: base.ref; push: ""
  int number = 0;             // PR number
  std::string action;         // PR action ("opened", ...); push: ""
  std::string sender;         // sender.login
  std::string head_message;   // push: head_commit.message; PR: title
  bool deleted = false;       // push deleted the ref
};

// Why a classified delivery starts nothing (empty when it may start a run).
// E.g. "ref deleted", "all-zero sha", "skip marker in head commit",
// "pull_request action 'closed' ignored".
struct Classification {
  std::optional<Change> change;  // set for push and pull_request payloads
  std::string skip_reason;       // non-empty: acknowledged but starts no run
};

// Classifies a parsed payload for event `event` (X-GitHub-Event). Errors
// (invalid_argument) when the payload is not an object or a push/pull_request
// payload lacks a field conveyor needs or has it with the wrong type (the
// message names the field, e.g. "/deleted not a boolean"). Other events are
// Classification{} with skip_reason "event '<name>' ignored".
// The reference implementation: the service uses classify_text().
Result<Classification> classify(std::string_view event, const nlohmann::json& payload);

// Same result as classify(event, nlohmann::json::parse(text)) without building
// a document: one RapidJSON SAX pass (strict RFC 8259, UTF-8 validated,
// iterative so deep nesting cannot exhaust the stack) that keeps only the
// fields classification reads. A text RapidJSON refuses goes to the reference
// parser, which has the last word (a UTF-8 BOM, numbers beyond double's
// range). Errors: invalid_argument "body is not valid JSON", else as
// classify(). Differential-tested against classify() on every fixture.
Result<Classification> classify_text(std::string_view event, std::string_view text);

// True when `text` is one JSON value as nlohmann::json::accept() decides,
// checked without building a document (RapidJSON first, as classify_text).
bool is_json(std::string_view text);

// True for a 40- or 64-character hex SHA that is not all zeros.
bool is_real_sha(std::string_view sha);

}  // namespace conveyor::github
