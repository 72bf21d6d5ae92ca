#include "registry.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "conveyor/http/client.hpp"

namespace conveyor::image_builder {
namespace {

constexpr const char* kAcceptManifests =
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
// Reading one index is quick; a registry that takes longer is unwell.
constexpr std::chrono::seconds kFetchTimeout{30};

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// OCI distribution path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const char ch = c[i];
    if (lower_alnum(ch)) continue;
    if (ch != '.' && ch != '_' && ch != '-') return false;
    // Separators: '.', '_', "__", or a run of '-'.
    if (ch == '.' && !lower_alnum(c[i + 1])) return false;
    if (ch == '-' && c[i + 1] != '-' && !lower_alnum(c[i + 1])) return false;
    if (ch == '_' && c[i + 1] == '_' && (i + 2 >= c.size() || !lower_alnum(c[i + 2]))) return false;
    if (ch == '_' && c[i + 1] != '_' && !lower_alnum(c[i + 1])) return false;
  }
  return true;
}

bool valid_host(std::string_view h) {
  if (h.empty()) return false;
  const auto colon = h.find(':');
  const auto name = h.substr(0, colon);
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  }
  if (colon == std::string_view::npos) return true;
  const auto port = h.substr(colon + 1);
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool looks_like_host(std::string_view segment) {
  return segment.find('.') != std::string_view::npos || segment.find(':') != std::string_view::npos ||
         segment == "localhost";
}

struct Platform {
  std::string os, arch, variant;
};

Platform split_platform(std::string_view p) {
  Platform out;
  const auto a = p.find('/');
  out.os = std::string(p.substr(0, a));
  if (a == std::string_view::npos) return out;
  const auto b = p.find('/', a + 1);
  out.arch = std::string(p.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1));
  if (b != std::string_view::npos) out.variant = std::string(p.substr(b + 1));
  return out;
}

}  // namespace

Result<ImageRepository> parse_repository(std::string_view repository, std::string_view default_registry) {
  const std::string what = "image repository '" + std::string(repository) + "'";
  ImageRepository out;
  const auto slash = repository.find('/');
  if (slash != std::string_view::npos && looks_like_host(repository.substr(0, slash))) {
    out.host = std::string(repository.substr(0, slash));
    out.path = std::string(repository.substr(slash + 1));
  } else if (!default_registry.empty()) {
    out.host = std::string(default_registry);
    out.path = std::string(repository);
  } else {
    return make_error(Errc::invalid_argument,
                      what + " names no registry host and the suite's `registry` is not set");
  }
  if (!valid_host(out.host)) return make_error(Errc::invalid_argument, what + ": bad registry host '" + out.host + "'");
  if (out.path.empty()) return make_error(Errc::invalid_argument, what + ": no repository path");
  std::size_t start = 0;
  for (;;) {
    const auto end = out.path.find('/', start);
    const auto component =
        std::string_view(out.path).substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!valid_component(component)) {
      return make_error(Errc::invalid_argument,
                        what + ": path component '" + std::string(component) +
                            "' must be lower-case letters and digits separated by '.', '_' or '-'");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string sha256_digest(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  std::string out = "sha256:";
  char hex[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", md[i]);
    out += hex;
  }
  return out;
}

Result<ImageIndex> parse_index(std::string_view body, std::string digest) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::invalid_argument, "the manifest is not a JSON object");
  }
  ImageIndex index;
  index.digest = std::move(digest);
  index.media_type = j.value("mediaType", "");
  if (!j.contains("manifests")) {
    if (j.contains("layers") || j.contains("config")) {
      return make_error(Errc::invalid_argument,
                        "the tag names a single-platform image manifest, not an image index");
    }
    return make_error(Errc::invalid_argument, "the manifest has no 'manifests' list: not an image index");
  }
  if (!j["manifests"].is_array()) return make_error(Errc::invalid_argument, "'manifests' is not a list");
  for (const auto& m : j["manifests"]) {
    if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string()) {
      return make_error(Errc::invalid_argument, "an index entry has no digest");
    }
    PlatformManifest pm;
    pm.digest = m["digest"].get<std::string>();
    pm.media_type = m.value("mediaType", "");
    if (m.contains("platform") && m["platform"].is_object()) {
      const auto& p = m["platform"];
      pm.platform = p.value("os", "") + "/" + p.value("architecture", "");
      if (const auto variant = p.value("variant", ""); !variant.empty()) pm.platform += "/" + variant;
    }
    index.manifests.push_back(std::move(pm));
  }
  return index;
}

bool platform_matches(std::string_view wanted, std::string_view listed) {
  auto w = split_platform(wanted);
  auto l = split_platform(listed);
  if (w.os != l.os || w.arch != l.arch) return false;
  if (w.arch == "arm64") {  // v8 is arm64's default (and only) variant
    if (w.variant.empty()) w.variant = "v8";
    if (l.variant.empty()) l.variant = "v8";
  }
  return w.variant.empty() || w.variant == l.variant;
}

Result<std::map<std::string, std::string>> match_platforms(const ImageIndex& index,
                                                           const std::vector<std::string>& wanted) {
  std::map<std::string, std::string> found;
  std::string missing;
  for (const auto& w : wanted) {
    const auto it = std::find_if(index.manifests.begin(), index.manifests.end(),
                                 [&](const PlatformManifest& m) { return platform_matches(w, m.platform); });
    if (it == index.manifests.end()) {
      missing += (missing.empty() ? "" : ", ") + w;
    } else {
      found[w] = it->digest;
    }
  }
  if (!missing.empty()) {
    std::string listed;
    for (const auto& m : index.manifests) listed += (listed.empty() ? "" : ", ") + m.platform;
    return make_error(Errc::not_found, "the index " + index.digest + " lacks " + missing + " (it lists: " +
                                           (listed.empty() ? "nothing" : listed) + ")");
  }
  return found;
}

Result<ImageIndex> HttpRegistry::fetch_index(const ImageRepository& repository, const std::string& tag,
                                             const RegistryAccess&) {
  const std::string url = "http://" + repository.host + "/v2/" + repository.path + "/manifests/" + tag;
  http::Headers headers;
  headers["Accept"] = kAcceptManifests;
  auto response = http::request("GET", url, headers, "", kFetchTimeout);
  if (!response) return make_error(response.error().code, "GET " + url + ": " + response.error().message);
  if (response->status == 404) return make_error(Errc::not_found, repository.full() + ":" + tag + " does not exist");
  if (response->status != 200) {
    return make_error(Errc::unavailable, "GET " + url + ": HTTP " + std::to_string(response->status));
  }
  return parse_index(response->body, sha256_digest(response->body));
}

SkopeoRegistry::SkopeoRegistry(CommandRunner runner, std::string program)
    : runner_(std::move(runner)), program_(std::move(program)) {}

std::vector<std::string> SkopeoRegistry::argv(const std::string& program, const ImageRepository& repository,
                                              const std::string& tag, const RegistryAccess& access) {
  return {program, "inspect", "--raw", access.tls_verify ? "--tls-verify=true" : "--tls-verify=false",
          "docker://" + repository.full() + ":" + tag};
}

Result<ImageIndex> SkopeoRegistry::fetch_index(const ImageRepository& repository, const std::string& tag,
                                               const RegistryAccess& access) {
  process::Options o;
  o.argv = argv(program_, repository, tag, access);
  o.env = tool_environment();
  if (!access.auth_file.empty()) o.env["REGISTRY_AUTH_FILE"] = access.auth_file;
  o.timeout = kFetchTimeout;
  auto ran = runner_(o);
  if (!ran) return make_error(ran.error().code, "skopeo inspect: " + ran.error().message);
  if (!ran->exit.ok()) {
    const bool unknown = ran->err.find("manifest unknown") != std::string::npos;
    return make_error(unknown ? Errc::not_found : Errc::unavailable,
                      "skopeo inspect " + repository.full() + ":" + tag + ": " + failure_summary(*ran));
  }
  if (ran->out_truncated) return make_error(Errc::invalid_argument, "the manifest is larger than 4 MiB");
  return parse_index(ran->out, sha256_digest(ran->out));
}

ToolRegistry::ToolRegistry(CommandRunner runner) : skopeo_(std::move(runner)) {}

Result<ImageIndex> ToolRegistry::fetch_index(const ImageRepository& repository, const std::string& tag,
                                             const RegistryAccess& access) {
  if (!access.tls_verify && access.auth_file.empty()) {
    auto plain = http_.fetch_index(repository, tag, access);
    // An HTTP answer is final; no answer may mean the registry speaks https.
    if (plain || plain.error().code == Errc::not_found || plain.error().code == Errc::invalid_argument) return plain;
  }
  return skopeo_.fetch_index(repository, tag, access);
}

}  // namespace conveyor::image_builder
