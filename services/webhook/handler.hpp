// The webhook service's decision logic, free of HTTP, Kafka and Redis:
// a GitHub delivery in, a verdict out (status, JSON answer, and the records
// to publish when a run starts). The app around it dedupes the delivery id
// and publishes; see app.cpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/config/config.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/events/run_start.hpp"
#include "conveyor/github/signature.hpp"

namespace conveyor::webhook {

// One delivery as received (GitHub webhook delivery headers + raw body).
struct Delivery {
  std::string event;         // X-GitHub-Event
  std::string delivery_id;   // X-GitHub-Delivery
  std::string signature;     // X-Hub-Signature-256
  std::string content_type;  // Content-Type
  std::string body;          // raw bytes as received
};

// What to answer and what to publish.
struct Verdict {
  int status = 500;
  // Metric label, one of: started, ignored, skipped, pong, bad_request,
  // unauthorized, unsupported_media_type.
  std::string outcome;
  std::string reason;        // human-readable, safe to log (already escaped by the logger)
  nlohmann::json body;       // response JSON
  std::vector<events::KafkaRecord> records;  // to publish before answering (only when outcome == started)
  std::vector<std::string> run_ids;
  // Set when a tag push starts runs: the app skips tags conveyor's
  // version-tagger pushed itself (store::CreatedTags), see app.cpp.
  struct TagPush {
    std::string repository;  // "owner/repo" as GitHub names it
    std::string tag;         // short name, "v1.2.0"
    std::string sha;         // the push's `after`
  };
  std::optional<TagPush> tag_push;
};

// The verdict for a tag push whose tag conveyor created: 202, publish nothing.
Verdict skip_created_tag();

class Handler {
 public:
  // `secrets`: resolved HMAC secrets (rotation: any may match). Each
  // pipeline's first stage request is prepared here (events::FirstRequest);
  // throws std::invalid_argument when its settings cannot be serialised (not
  // valid UTF-8).
  Handler(std::vector<config::Pipeline> pipelines, std::vector<std::string> secrets,
          std::string topic_prefix = "conveyor");

  // Decides a delivery. Never throws; every input yields a verdict.
  // 401 bad/missing signature; 400 missing headers or malformed payload;
  // 415 unsupported content type; 200 ping; 202 otherwise (started, ignored
  // or skipped, with the reason).
  Verdict handle(const Delivery& delivery) const;

 private:
  // The first request of a pipeline's runs, per trigger (nullopt: the
  // trigger is not configured or runs no stage).
  struct Prepared {
    std::optional<events::FirstRequest> push;
    std::optional<events::FirstRequest> pull_request;
  };

  std::vector<config::Pipeline> pipelines_;
  std::vector<Prepared> prepared_;  // parallel to pipelines_
  github::SignatureVerifier verifier_;  // the secrets, keyed once
  std::string topic_prefix_;
};

// Deterministic run id for a delivery and pipeline (UUID version 5, RFC 9562,
// over "<delivery id>/<pipeline>"), so a re-published delivery yields the same
// run and request ids and downstream idempotency absorbs the duplicate.
std::string run_id_for(const std::string& delivery_id, const std::string& pipeline);

}  // namespace conveyor::webhook
