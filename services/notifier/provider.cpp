#include "provider.hpp"

#include "providers/discord.hpp"
#include "providers/github_deployment.hpp"
#include "providers/github_status.hpp"
#include "providers/slack.hpp"
#include "providers/webhook.hpp"

namespace conveyor::notifier {
namespace {

using nlohmann::json;

// {env: NAME} or {file: PATH}, as the schema allows.
config::SecretRef secret_ref(const json& j) {
  config::SecretRef ref;
  if (j.is_object()) {
    if (auto it = j.find("env"); it != j.end() && it->is_string()) ref.env = it->get<std::string>();
    if (auto it = j.find("file"); it != j.end() && it->is_string()) ref.file = it->get<std::string>();
  }
  return ref;
}

bool is_github(const std::string& provider) { return provider == "github-status" || provider == "github-deployment"; }

}  // namespace

Result<ProviderSettings> resolve_settings(const Route& route, const config::GitHubSettings& github,
                                          const SecretResolver& resolve) {
  ProviderSettings s;
  s.provider = route.provider;
  auto read = [&](const char* key, std::string& into) -> Result<void> {
    auto it = route.spec.find(key);
    if (it == route.spec.end()) return {};
    const config::SecretRef ref = secret_ref(*it);
    auto value = resolve(ref);
    if (!value) return make_error(value.error().code, route.name + "." + key + " (" + ref.describe() + "): " + value.error().message);
    into = std::move(*value);
    return {};
  };
  if (is_github(route.provider)) {
    if (!github.token) return make_error(Errc::invalid_argument, route.name + ": provider " + route.provider + " needs github.token");
    auto token = resolve(*github.token);
    if (!token) {
      return make_error(token.error().code, "github.token (" + github.token->describe() + "): " + token.error().message);
    }
    s.token = std::move(*token);
    s.api_url = github.api_url;
    while (!s.api_url.empty() && s.api_url.back() == '/') s.api_url.pop_back();
    return s;
  }
  if (auto it = route.spec.find("url"); it != route.spec.end() && it->is_string()) s.url = it->get<std::string>();
  if (auto ok = read("url-secret", s.url); !ok) return std::move(ok).error();
  if (auto ok = read("secret", s.secret); !ok) return std::move(ok).error();
  if (s.url.empty()) return make_error(Errc::invalid_argument, route.name + ": needs url or url-secret");
  return s;
}

std::vector<std::string> secrets_of(const ProviderSettings& settings, const Route& route) {
  std::vector<std::string> out;
  if (route.spec.contains("url-secret") && !settings.url.empty()) {
    out.push_back(settings.url);
    // The path alone too: a server may echo it, and it is where the token is.
    const std::string origin = webclient::origin_of(settings.url);
    if (!origin.empty() && settings.url.size() > origin.size() + 1) out.push_back(settings.url.substr(origin.size()));
  }
  if (!settings.secret.empty()) out.push_back(settings.secret);
  if (!settings.token.empty()) out.push_back(settings.token);
  return out;
}

Result<std::unique_ptr<Provider>> make_provider(const ProviderSettings& s, const webclient::Client& client,
                                                DeploymentIds* deployments) {
  auto need = [&](bool ok, const char* what) -> Result<void> {
    if (ok) return {};
    return make_error(Errc::invalid_argument, "provider " + s.provider + " needs " + what);
  };
  std::unique_ptr<Provider> p;
  if (s.provider == "slack" || s.provider == "discord" || s.provider == "webhook") {
    if (auto ok = need(!s.url.empty(), "a URL"); !ok) return std::move(ok).error();
    if (s.provider == "slack") p = std::make_unique<SlackProvider>(s.url, client);
    if (s.provider == "discord") p = std::make_unique<DiscordProvider>(s.url, client);
    if (s.provider == "webhook") p = std::make_unique<WebhookProvider>(s.url, s.secret, client);
  } else if (is_github(s.provider)) {
    if (auto ok = need(!s.api_url.empty() && !s.token.empty(), "github.api-url and github.token"); !ok) {
      return std::move(ok).error();
    }
    if (s.provider == "github-status") {
      p = std::make_unique<GitHubStatusProvider>(s.api_url, s.token, client);
    } else {
      if (auto ok = need(deployments != nullptr, "a deployment id store"); !ok) return std::move(ok).error();
      p = std::make_unique<GitHubDeploymentProvider>(s.api_url, s.token, client, *deployments);
    }
  } else {
    return make_error(Errc::invalid_argument, "unknown provider '" + s.provider + "'");
  }
  return p;
}

}  // namespace conveyor::notifier
