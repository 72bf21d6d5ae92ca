#include "templates.hpp"

namespace conveyor::helm_updater {
namespace {

constexpr std::size_t kShortSha = 7;

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t");
  return std::string(s.substr(first, last - first + 1));
}

Error template_error(std::string_view tmpl, const std::string& what) {
  return make_error(Errc::invalid_argument, "template '" + std::string(tmpl) + "': " + what);
}

}  // namespace

TemplateValues template_values(const events::RunContext& run) {
  TemplateValues v;
  v.sha = run.sha;
  const auto& out = run.outputs;
  if (out.is_object() && out.contains("version") && out["version"].is_object()) {
    const auto& version = out["version"];
    if (version.contains("version") && version["version"].is_string() && !version["version"].get<std::string>().empty()) {
      v.version = version["version"].get<std::string>();
    }
  }
  if (out.is_object() && out.contains("build") && out["build"].is_object() && out["build"].contains("images") &&
      out["build"]["images"].is_object()) {
    for (const auto& [name, image] : out["build"]["images"].items()) {
      if (image.is_object() && image.contains("digest") && image["digest"].is_string()) {
        v.digests[name] = image["digest"].get<std::string>();
      }
    }
  }
  return v;
}

Result<std::string> render(std::string_view tmpl, const TemplateValues& values) {
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const auto open = tmpl.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, open - i));
    const auto close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) return template_error(tmpl, "unterminated '{{'");
    const std::string name = trim(tmpl.substr(open + 2, close - open - 2));
    if (name == "version") {
      if (!values.version) {
        return template_error(tmpl, "{{version}} needs the version stage's output (run.outputs.version.version), "
                                    "and this run has none");
      }
      out += *values.version;
    } else if (name == "sha") {
      out += values.sha;
    } else if (name == "short-sha") {
      out += values.sha.substr(0, kShortSha);
    } else if (name.rfind("digest:", 0) == 0) {
      const std::string image = trim(std::string_view(name).substr(7));
      if (image.empty()) return template_error(tmpl, "{{digest:<image name>}} needs an image name");
      const auto it = values.digests.find(image);
      if (it == values.digests.end()) {
        std::string known;
        for (const auto& [n, d] : values.digests) known += (known.empty() ? "" : ", ") + n;
        return template_error(tmpl, "the build stage reported no digest for image '" + image + "'" +
                                        (known.empty() ? " (it reported none)" : " (it reported: " + known + ")"));
      }
      out += it->second;
    } else {
      return template_error(tmpl, "unknown placeholder {{" + name +
                                      "}} (known: version, sha, short-sha, digest:<image name>)");
    }
    i = close + 2;
  }
  return out;
}

}  // namespace conveyor::helm_updater
