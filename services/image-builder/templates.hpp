// Image tag templates: "{{version}}", "{{sha}}", "{{short-sha}}",
// "{{branch}}" and literals ("latest"), possibly mixed ("v{{version}}-amd").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conveyor/events/run.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::image_builder {

// What the placeholders expand to for one run.
struct TemplateValues {
  std::optional<std::string> version;  // run.outputs.version.version; nullopt when the run has none
  std::string sha;                     // 40-hex commit
  std::optional<std::string> branch;   // branch of a branch or pull request run; nullopt for tags
};

// Values of a run: version from run.outputs.version.version (the
// version-tagger's output), sha, and the branch of branch runs (the head
// branch of pull request runs).
TemplateValues template_values(const events::RunContext& run);

// Characters a tag may hold, and its length: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
// (OCI distribution spec).
bool is_valid_tag(std::string_view tag) noexcept;

// Replaces what a tag may not hold with '-' (so "feature/x" -> "feature-x",
// "1.2.3+build.5" -> "1.2.3-build.5"), drops leading '.' and '-', and cuts to
// 128 characters.
std::string sanitize_tag(std::string_view text);

// Expands one template. Errors (invalid_argument) name the template: an
// unknown placeholder, an unterminated "{{", {{version}} without a version
// output, {{branch}} on a tag run, or a result that is not a valid tag.
Result<std::string> render_tag(std::string_view tmpl, const TemplateValues& values);

// Expands every template, in order, dropping duplicates. Errors as above;
// also for an empty list.
Result<std::vector<std::string>> render_tags(const std::vector<std::string>& templates, const TemplateValues& values);

}  // namespace conveyor::image_builder
