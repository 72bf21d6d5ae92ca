// The notifier's logic, free of Kafka and Redis: an event of the public
// stream (`<prefix>.events`) and the pipelines' `notify` routes in, the
// notifications to send out; then sending them once each, so a redelivered
// event repeats none that already went out, and a route that fails for good
// yields a dead-letter record without holding back the other routes.
//
// Which events a route's `on` words select (docs/ARCHITECTURE.md repeats it):
//
//   on          event (type; outcome)                          status
//   started     pipelinerun.started                            pending
//   succeeded   pipelinerun.finished; success                  success
//   failed      pipelinerun.finished; failure | error          failure | error
//   tested      testsuiterun.finished; any outcome             success | failure | error
//   released    dev.conveyor.version.released                  success
//   built       artifact.published (an image pushed)           success
//   deployed    service.deployed, service.upgraded             success
//   verified    taskrun.finished of task "verify"; any outcome success | failure | error
//   rolledback  service.rolledback                             failure
//
// Types match on subject and predicate, whatever their version. Every other
// event (queued, other taskrun.*, build.*, incident.detected, a cancelled
// run, ...) notifies nobody: a failed verification reaches routes as the
// run's `failed` (and the deployer's `rolledback`), not as an incident.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "conveyor/config/config.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::notifier {

// The `on` words of a route (schemas/conveyor.schema.json, notifyRoute.on).
enum class Kind { started, succeeded, failed, tested, released, built, deployed, verified, rolledback };
std::string_view to_string(Kind kind) noexcept;
std::optional<Kind> parse_kind(std::string_view word) noexcept;

// How it went, as providers render it (GitHub state, colour, emoji).
enum class Status { pending, success, failure, error };
std::string_view to_string(Status status) noexcept;

// An event of the public stream, decoded once.
struct Event {
  std::string id, type, source, time, subject;  // CloudEvent attributes (= CDEvent context)
  std::string family;                            // "cdevents" (dev.cdevents.*) or "conveyor" (dev.conveyor.*)
  std::string name;                              // "<subject>.<predicate>", e.g. "pipelinerun.finished"
  std::string run_id;                            // ce_runid, else context.chainId
  std::string pipeline;                          // ce_pipeline, else content.pipelineName
  std::string repository;                        // ce_partitionkey without "@<environment>"
  std::string sha, ref;                          // ce_sha, ce_ref
  std::string version;                           // content.version (version.released), else ce_version
  std::string environment;                       // content.environment.id of service/incident events, else ce_environment
  std::string outcome;                           // content.outcome, "" when the type has none
  std::string task;                              // content.taskName of taskrun events
  std::string detail;                            // content.errors / reason / description, or the artifact id
  std::string data;                              // the CDEvent JSON exactly as received
};

// Decodes a record of `<prefix>.events`. Errors (invalid_argument) when it is
// not a CloudEvent carrying a CDEvent (events::cdevent_from_kafka).
Result<Event> decode_event(const events::KafkaRecord& record);

// The route word and status an event stands for; std::nullopt when routes
// never select it (see the table above).
struct Classification {
  Kind kind;
  Status status;
};
std::optional<Classification> classify(const Event& event);

// One entry of a pipeline's `notify` list, with what it needs of its pipeline.
struct Route {
  std::string name;         // "<pipeline>.notify[<i>]": for logs and dead-letter headers
  std::string key;          // 16 hex of SHA-256(pipeline, route as written): stable across reorderings
  std::string pipeline;
  std::string repository;   // the pipeline's repository, "owner/repo"
  std::string web_url;      // the repository's web page, for commit links
  std::string default_environment;  // the pipeline's deploy.environment, "" when it deploys nothing
  std::string provider;     // slack | discord | webhook | github-status | github-deployment
  std::set<Kind> on;
  std::vector<std::string> repositories;  // globs; empty = any
  std::vector<std::string> environments;  // globs; empty = any (set = only events with a matching environment)
  nlohmann::json spec;      // the route as written (url, url-secret, secret)
};

// Every route of every pipeline, in file order.
std::vector<Route> routes_of(const std::vector<config::Pipeline>& pipelines);

// One message for one route: everything a provider renders.
struct Notification {
  std::string key;       // "<route key>:<event id>": the sent-once record, X-Conveyor-Delivery
  std::string route;     // Route::name
  std::string route_key; // Route::key
  std::string provider;
  Kind kind = Kind::started;
  Status status = Status::pending;
  std::string title;     // one line of plain text, e.g. "imprun: 1.4.0 deployed to production"
  std::string detail;    // plain text, may be ""
  std::string pipeline, repository, run_id, sha, ref, version, environment;
  std::string link;      // the commit's web page (or the repository's when the SHA is unknown)
  std::string event_id, event_type, event_source, event_time, event_subject;
  std::string cdevent;   // the CDEvent JSON as received
};

// The notifications `event` asks for: routes of its pipeline (by ce_pipeline,
// else every pipeline of its repository) whose `on` has the event's kind and
// whose repository and environment globs match. The environment is the
// event's, else the pipeline's deploy environment. github-status needs the
// commit SHA and github-deployment an environment: without them those routes
// are left out.
std::vector<Notification> plan(const Event& event, const std::vector<Route>& routes);

// "main" of "refs/heads/main", "v1.0.0" of "refs/tags/v1.0.0"; other refs as they are.
std::string short_ref(std::string_view ref);

// Sends one notification; one implementation per provider (provider.hpp).
class Provider;

// Remembers which notifications went out (Redis in production: SET NX with
// a TTL). Thread-safe.
class SentLog {
 public:
  virtual ~SentLog() = default;
  virtual Result<bool> was_sent(const std::string& key) = 0;
  virtual Result<void> mark_sent(const std::string& key) = 0;
};

// What happened to one planned notification.
struct RouteResult {
  enum class Outcome { sent, duplicate, failed };
  std::string route, provider, key;
  Outcome outcome = Outcome::sent;
  std::string error;  // failed: why (already redacted); sent: a warning, e.g. the record could not be kept
};

// What handling one event did.
struct Report {
  std::string event_id, event_type, run_id;
  bool selected = false;                         // some route wanted it
  std::vector<RouteResult> routes;
  std::vector<events::KafkaRecord> dead_letters;  // one per failed route, for `<prefix>.dlq`
};

class Dispatcher {
 public:
  // `providers` maps Route::key to the route's provider (all must outlive
  // the dispatcher). `stopping` tells a failure caused by shutdown from a real one.
  Dispatcher(std::vector<Route> routes, std::map<std::string, Provider*> providers, SentLog& sent,
             std::string dlq_topic, std::function<bool()> stopping = [] { return false; });

  // Plans the event's notifications and sends each one not sent before. A
  // route that fails (its provider gave up after the client's retries)
  // becomes a dead-letter record: the original record plus conveyor-error,
  // conveyor-error-code, conveyor-original-topic, conveyor-notify-route and
  // conveyor-notify-provider headers; the other routes still go out.
  // Errors: invalid_argument for a record that is not a CDEvent (straight to
  // the DLQ); unavailable when the sent-once records cannot be read or the
  // service is stopping mid-send (the event is redelivered; what went out is
  // not repeated).
  Result<Report> handle(const events::KafkaRecord& record) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  std::map<std::string, Provider*> providers_;
  SentLog& sent_;
  std::string dlq_topic_;
  std::function<bool()> stopping_;
};

}  // namespace conveyor::notifier
