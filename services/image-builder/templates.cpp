#include "templates.hpp"

#include <algorithm>

namespace conveyor::image_builder {
namespace {

constexpr std::size_t kMaxTagLength = 128;

bool tag_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

Error template_error(std::string_view tmpl, const std::string& why) {
  return make_error(Errc::invalid_argument, "tag template '" + std::string(tmpl) + "': " + why);
}

}  // namespace

TemplateValues template_values(const events::RunContext& run) {
  TemplateValues v;
  v.sha = run.sha;
  if (run.outputs.is_object() && run.outputs.contains("version")) {
    const auto& out = run.outputs["version"];
    if (out.is_object() && out.contains("version") && out["version"].is_string() &&
        !out["version"].get<std::string>().empty()) {
      v.version = out["version"].get<std::string>();
    }
  }
  // A pull request run builds its head branch.
  if ((run.ref_kind == "branch" || run.ref_kind == "pull_request") && !run.ref_name.empty()) v.branch = run.ref_name;
  return v;
}

bool is_valid_tag(std::string_view tag) noexcept {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  if (tag.front() == '.' || tag.front() == '-') return false;
  return std::all_of(tag.begin(), tag.end(), tag_char);
}

std::string sanitize_tag(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(tag_char(c) ? c : '-');
  const auto first = out.find_first_not_of(".-");
  out = first == std::string::npos ? "" : out.substr(first);
  if (out.size() > kMaxTagLength) out.resize(kMaxTagLength);
  return out;
}

Result<std::string> render_tag(std::string_view tmpl, const TemplateValues& values) {
  std::string out;
  std::size_t pos = 0;
  while (pos < tmpl.size()) {
    const auto open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(pos));
      break;
    }
    out.append(tmpl.substr(pos, open - pos));
    const auto close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) return template_error(tmpl, "unterminated '{{'");
    std::string name(tmpl.substr(open + 2, close - open - 2));
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name == "version") {
      if (!values.version) {
        return template_error(tmpl, "{{version}} needs the version stage's output (run.outputs.version.version), "
                                    "which this run lacks");
      }
      out += sanitize_tag(*values.version);
    } else if (name == "sha") {
      out += values.sha;
    } else if (name == "short-sha") {
      out += values.sha.substr(0, 7);
    } else if (name == "branch") {
      if (!values.branch) return template_error(tmpl, "{{branch}} used on a run that is not for a branch");
      out += sanitize_tag(*values.branch);
    } else {
      return template_error(tmpl, "unknown placeholder {{" + name +
                                      "}} (known: {{version}}, {{sha}}, {{short-sha}}, {{branch}})");
    }
    pos = close + 2;
  }
  if (!is_valid_tag(out)) {
    return template_error(tmpl, "'" + out + "' is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
  }
  return out;
}

Result<std::vector<std::string>> render_tags(const std::vector<std::string>& templates,
                                             const TemplateValues& values) {
  if (templates.empty()) return make_error(Errc::invalid_argument, "no tags to push");
  std::vector<std::string> tags;
  for (const auto& t : templates) {
    auto tag = render_tag(t, values);
    if (!tag) return std::move(tag).error();
    if (std::find(tags.begin(), tags.end(), *tag) == tags.end()) tags.push_back(std::move(*tag));
  }
  return tags;
}

}  // namespace conveyor::image_builder
