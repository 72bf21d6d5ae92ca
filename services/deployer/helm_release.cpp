#include "helm_release.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <system_error>

#include "conveyor/config/config.hpp"

namespace conveyor::deployer {
namespace {

namespace fs = std::filesystem;

Error bad(const std::string& key, const std::string& why) {
  return make_error(Errc::invalid_argument, "deploy.helm." + key + ": " + why);
}

// Helm's release name rule (pkg/chartutil ValidateReleaseName): a DNS-1123
// subdomain of at most 53 characters.
bool valid_release_name(const std::string& s) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return !s.empty() && s.size() <= 53 && std::regex_match(s, re);
}

// A Kubernetes namespace: DNS-1123 label, at most 63 characters.
bool valid_namespace(const std::string& s) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return !s.empty() && s.size() <= 63 && std::regex_match(s, re);
}

// `relative` resolved inside `root` (both made canonical, so neither `..`
// nor a symlink leads out). The target must exist.
Result<std::string> inside_checkout(const std::string& key, const std::string& relative, const fs::path& root) {
  if (relative.find('\0') != std::string::npos) return bad(key, "contains a NUL byte");
  const fs::path rel(relative);
  if (rel.is_absolute()) return bad(key, "must be relative to the GitOps checkout: " + relative);
  const fs::path normal = rel.lexically_normal();
  if (!normal.empty() && *normal.begin() == "..") return bad(key, "leaves the GitOps checkout: " + relative);
  std::error_code ec;
  const fs::path resolved = fs::canonical(root / normal, ec);
  if (ec) return bad(key, "not found in the GitOps checkout: " + relative);
  const auto r = resolved.lexically_relative(root);
  if (r.empty() || *r.begin() == "..") return bad(key, "leaves the GitOps checkout (symlink): " + relative);
  return resolved.string();
}

const nlohmann::json* field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string str_field(const nlohmann::json& j, const char* key) {
  const auto* v = field(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

Result<HelmSettings> parse_helm_settings(const nlohmann::json& settings, const std::string& checkout_dir,
                                         bool resolve_paths) {
  if (!settings.is_object()) return bad("", "must be an object");
  HelmSettings s;
  s.release = str_field(settings, "release");
  if (!valid_release_name(s.release)) {
    return bad("release", "\"" + s.release + "\" is not a valid Helm release name (lower-case DNS-1123, at most 53)");
  }
  if (const auto* ns = field(settings, "namespace")) {
    s.namespace_ = ns->is_string() ? ns->get<std::string>() : std::string();
    if (!valid_namespace(s.namespace_)) return bad("namespace", "\"" + s.namespace_ + "\" is not a valid namespace");
  }
  if (const auto* ctx = field(settings, "kube-context")) {
    if (!ctx->is_string() || ctx->get<std::string>().empty() ||
        ctx->get<std::string>().find_first_of(std::string("\n\r\0", 3)) != std::string::npos) {
      return bad("kube-context", "must be a non-empty single-line string");
    }
    s.kube_context = ctx->get<std::string>();
  }
  if (const auto* t = field(settings, "timeout")) {
    auto d = config::parse_duration(*t);
    if (!d) return bad("timeout", d.error().message);
    if (d->count() <= 0) return bad("timeout", "must be positive");
    s.timeout = *d;
  }
  if (const auto* r = field(settings, "recover-pending")) {
    if (!r->is_boolean()) return bad("recover-pending", "must be true or false");
    s.recover_pending = r->get<bool>();
  }

  s.chart_as_written = str_field(settings, "chart");
  if (s.chart_as_written.empty()) return bad("chart", "is required");
  const bool oci = s.chart_as_written.rfind("oci://", 0) == 0;
  const auto* values = field(settings, "values-file");
  if (values != nullptr && (!values->is_string() || values->get<std::string>().empty())) {
    return bad("values-file", "must be a non-empty string");
  }
  if (!resolve_paths) {
    s.chart = s.chart_as_written;
    return s;
  }
  if (!oci || values != nullptr) {
    if (checkout_dir.empty()) return bad("chart", "a chart directory needs the GitOps checkout, and there is none");
    std::error_code ec;
    const fs::path root = fs::canonical(checkout_dir, ec);
    if (ec) return make_error(Errc::invalid_argument, "GitOps checkout not found: " + checkout_dir);
    if (!oci) {
      auto chart = inside_checkout("chart", s.chart_as_written, root);
      if (!chart) return chart.error();
      if (!fs::is_regular_file(fs::path(*chart) / "Chart.yaml")) {
        return bad("chart", "no Chart.yaml in " + s.chart_as_written);
      }
      s.chart = *chart;
    }
    if (values != nullptr) {
      auto file = inside_checkout("values-file", values->get<std::string>(), root);
      if (!file) return file.error();
      if (!fs::is_regular_file(*file)) return bad("values-file", "is not a file: " + values->get<std::string>());
      s.values_file = *file;
    }
  }
  if (oci) s.chart = s.chart_as_written;
  return s;
}

std::string go_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

namespace {
void add_common(std::vector<std::string>& a, const HelmSettings& s) {
  a.push_back("--namespace=" + s.namespace_);
  if (s.kube_context) a.push_back("--kube-context=" + *s.kube_context);
}
}  // namespace

std::vector<std::string> helm_history_args(const HelmSettings& s, int max) {
  std::vector<std::string> a{"history", s.release};
  add_common(a, s);
  a.push_back("--output=json");
  a.push_back("--max=" + std::to_string(max));
  return a;
}

std::vector<std::string> helm_upgrade_args(const HelmSettings& s, bool create_namespace, int history_max) {
  std::vector<std::string> a{"upgrade", "--install", s.release, s.chart};
  add_common(a, s);
  if (create_namespace) a.push_back("--create-namespace");
  if (s.values_file) a.push_back("--values=" + *s.values_file);
  a.push_back("--wait");
  a.push_back("--timeout=" + go_duration(s.timeout));
  a.push_back("--history-max=" + std::to_string(history_max));
  a.push_back("--output=json");
  return a;
}

std::vector<std::string> helm_rollback_args(const HelmSettings& s, int revision) {
  std::vector<std::string> a{"rollback", s.release, std::to_string(revision)};
  add_common(a, s);
  a.push_back("--wait");
  a.push_back("--timeout=" + go_duration(s.timeout));
  return a;
}

Result<std::vector<HelmRevision>> parse_helm_history(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return make_error(Errc::invalid_argument, "helm history output is not a JSON array");
  }
  std::vector<HelmRevision> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("revision") || !e["revision"].is_number_integer()) {
      return make_error(Errc::invalid_argument, "helm history entry without an integer revision");
    }
    HelmRevision r;
    r.revision = e["revision"].get<int>();
    r.updated = str_field(e, "updated");
    r.status = str_field(e, "status");
    r.chart = str_field(e, "chart");
    r.app_version = str_field(e, "app_version");
    r.description = str_field(e, "description");
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.revision < b.revision; });
  return out;
}

Result<HelmReleaseInfo> parse_helm_release(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("version") || !j["version"].is_number_integer()) {
    return make_error(Errc::invalid_argument, "helm output is not a release JSON object");
  }
  HelmReleaseInfo r;
  r.revision = j["version"].get<int>();
  if (const auto* info = field(j, "info"); info != nullptr && info->is_object()) r.status = str_field(*info, "status");
  if (const auto* chart = field(j, "chart"); chart != nullptr && chart->is_object()) {
    if (const auto* md = field(*chart, "metadata"); md != nullptr && md->is_object()) {
      r.app_version = str_field(*md, "appVersion");
      r.chart = str_field(*md, "name") + "-" + str_field(*md, "version");
    }
  }
  return r;
}

bool is_pending_status(std::string_view status) {
  return status == "pending-install" || status == "pending-upgrade" || status == "pending-rollback";
}

const HelmRevision* last_good_revision(const std::vector<HelmRevision>& history, int below) {
  const HelmRevision* best = nullptr;
  for (const auto& r : history) {
    if (below > 0 && r.revision >= below) continue;
    if (r.status != "deployed" && r.status != "superseded") continue;
    if (best == nullptr || r.revision > best->revision) best = &r;
  }
  return best;
}

bool is_release_not_found(std::string_view helm_stderr) {
  return helm_stderr.find("release: not found") != std::string_view::npos;
}

std::string reason_excerpt(std::string_view text, const std::vector<std::string>& secrets, int lines,
                           std::size_t max_chars) {
  std::string masked(text);
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto pos = masked.find(secret); pos != std::string::npos; pos = masked.find(secret, pos + 10)) {
      masked.replace(pos, secret.size(), "[redacted]");
    }
  }
  std::vector<std::string> kept;
  std::size_t end = masked.size();
  while (end > 0 && static_cast<int>(kept.size()) < lines) {
    const auto nl = masked.rfind('\n', end - 1);
    const std::size_t begin = nl == std::string::npos ? 0 : nl + 1;
    std::string line = masked.substr(begin, end - begin);
    std::replace_if(line.begin(), line.end(), [](char c) { return c == '\r' || c == '\t'; }, ' ');
    const auto first = line.find_first_not_of(' ');
    if (first != std::string::npos) kept.insert(kept.begin(), line.substr(first, line.find_last_not_of(' ') - first + 1));
    if (nl == std::string::npos) break;
    end = nl;
  }
  std::string out;
  for (const auto& l : kept) out += (out.empty() ? "" : " | ") + l;
  if (out.size() > max_chars) {
    std::size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out = out.substr(0, cut) + "...";
  }
  return out;
}

}  // namespace conveyor::deployer
