// Notification providers: one file each under providers/, behind one
// one-method interface, chosen by make_provider() from a route's `provider`.
// All of them send through the one shared webclient::Client (timeouts,
// retries, Retry-After, redaction), so none has a retry loop of its own.
//
// Adding a provider: a class in providers/<name>.{hpp,cpp} implementing
// Provider, a case in make_provider(), its name in the schema's
// notifyRoute.provider enum, and a test that checks its exact payload.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "conveyor/config/config.hpp"
#include "conveyor/result/result.hpp"
#include "conveyor/webclient/webclient.hpp"
#include "handler.hpp"

namespace conveyor::notifier {

class Provider {
 public:
  virtual ~Provider() = default;
  // Delivers one notification. An error is final (the client already retried)
  // and its message holds no secret.
  virtual Result<void> post(const Notification& notification) = 0;
};

// GitHub deployment ids by "<repository>:<run id>:<environment>", so the
// later events of a run add statuses to the deployment its first one created
// (Redis in production). Thread-safe.
class DeploymentIds {
 public:
  virtual ~DeploymentIds() = default;
  virtual Result<std::optional<std::string>> find(const std::string& key) = 0;
  virtual Result<void> save(const std::string& key, const std::string& id) = 0;
};

// What a route resolves to at start (secrets read once).
struct ProviderSettings {
  std::string provider;  // slack | discord | webhook | github-status | github-deployment
  std::string url;       // slack, discord, webhook: where to post (a secret for url-secret routes)
  std::string secret;    // webhook: HMAC-SHA256 key; "" = unsigned
  std::string api_url;   // github-*: github.api-url, without a trailing '/'
  std::string token;     // github-*: github.token
};

// Reads a secret reference (tests substitute their own).
using SecretResolver = std::function<Result<std::string>(const config::SecretRef& ref)>;

// Resolves a route's url / url-secret / secret and the GitHub settings it
// needs. Errors name the route and the reference, never a value.
Result<ProviderSettings> resolve_settings(const Route& route, const config::GitHubSettings& github,
                                          const SecretResolver& resolve);

// The values of `settings` that must never be shown: URLs given as secrets
// (with their path alone: it carries the token), signing secrets, tokens.
std::vector<std::string> secrets_of(const ProviderSettings& settings, const Route& route);

// The provider for `settings`. `deployments` is needed by github-deployment
// only. Errors (invalid_argument) for an unknown provider or a missing
// setting.
Result<std::unique_ptr<Provider>> make_provider(const ProviderSettings& settings, const webclient::Client& client,
                                                DeploymentIds* deployments);

}  // namespace conveyor::notifier
