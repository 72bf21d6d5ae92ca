// Reading back what a push left in the registry: the OCI image index (or
// Docker manifest list) a tag names, its digest, and the manifest of each
// platform. The handler verifies every requested platform is listed before it
// reports the image as published.
//
// Two ways to read it: the registry HTTP API over plain http (local and other
// insecure registries without credentials, through conveyor::http), and
// `skopeo inspect --raw` for everything else (https, credentials via
// REGISTRY_AUTH_FILE). ToolRegistry picks per repository.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::image_builder {

// A repository split into registry host and path:
// "127.0.0.1:15000/team/app" -> {"127.0.0.1:15000", "team/app"}.
struct ImageRepository {
  std::string host;
  std::string path;
  std::string full() const { return host + "/" + path; }
};

// Splits `repository`. Its first segment is the registry when it contains '.'
// or ':' or is "localhost"; otherwise `default_registry` (the suite's
// `registry`) is put in front. Errors (invalid_argument): no registry either
// way, an empty or non-lower-case path, bad characters.
Result<ImageRepository> parse_repository(std::string_view repository, std::string_view default_registry);

// One entry of an index.
struct PlatformManifest {
  std::string platform;  // "os/arch" or "os/arch/variant"
  std::string digest;    // "sha256:<hex>"
  std::string media_type;
};

// An index as read from the registry.
struct ImageIndex {
  std::string digest;      // "sha256:<hex>" of the exact bytes
  std::string media_type;  // application/vnd.oci.image.index.v1+json or the Docker manifest list type
  std::vector<PlatformManifest> manifests;
};

// "sha256:<hex>" of `bytes`.
std::string sha256_digest(std::string_view bytes);

// Parses an index body whose digest is `digest`. Errors (invalid_argument):
// not JSON, a single-platform image manifest instead of an index (the
// message says so), entries without digest.
Result<ImageIndex> parse_index(std::string_view body, std::string digest);

// Whether an index entry's platform satisfies a requested one: same os and
// architecture, and the same variant when the request names one ("linux/arm64"
// matches "linux/arm64/v8"; "linux/arm64/v8" matches "linux/arm64" too, v8
// being arm64's only variant).
bool platform_matches(std::string_view wanted, std::string_view listed);

// The manifest digest for each requested platform (keyed as requested).
// Errors (not_found) list every requested platform the index lacks.
Result<std::map<std::string, std::string>> match_platforms(const ImageIndex& index,
                                                           const std::vector<std::string>& wanted);

// How to reach a registry.
struct RegistryAccess {
  bool tls_verify = true;
  std::string auth_file;  // "" = anonymous
};

class Registry {
 public:
  virtual ~Registry() = default;
  // The index `repository:tag` names now. Errors: not_found (no such tag),
  // unavailable (registry unreachable or refusing), invalid_argument (not an
  // index).
  virtual Result<ImageIndex> fetch_index(const ImageRepository& repository, const std::string& tag,
                                         const RegistryAccess& access) = 0;
};

// The registry HTTP API over plain http, anonymous (GET /v2/<path>/manifests/<tag>).
class HttpRegistry : public Registry {
 public:
  Result<ImageIndex> fetch_index(const ImageRepository& repository, const std::string& tag,
                                 const RegistryAccess& access) override;
};

// `skopeo inspect --raw`, with REGISTRY_AUTH_FILE and --tls-verify.
class SkopeoRegistry : public Registry {
 public:
  explicit SkopeoRegistry(CommandRunner runner, std::string program = "skopeo");
  Result<ImageIndex> fetch_index(const ImageRepository& repository, const std::string& tag,
                                 const RegistryAccess& access) override;
  static std::vector<std::string> argv(const std::string& program, const ImageRepository& repository,
                                       const std::string& tag, const RegistryAccess& access);

 private:
  CommandRunner runner_;
  std::string program_;
};

// Plain http for registries with tls_verify off and no credentials (falling
// back to skopeo when that gets no HTTP answer: an https registry with an
// untrusted certificate); skopeo for the rest.
class ToolRegistry : public Registry {
 public:
  explicit ToolRegistry(CommandRunner runner);
  Result<ImageIndex> fetch_index(const ImageRepository& repository, const std::string& tag,
                                 const RegistryAccess& access) override;

 private:
  HttpRegistry http_;
  SkopeoRegistry skopeo_;
};

}  // namespace conveyor::image_builder
