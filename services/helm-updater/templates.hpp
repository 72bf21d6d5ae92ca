// Value templates of the helm stage (`values.set: {key.path: template}`):
// literal text with placeholders, e.g. "{{version}}", "v{{short-sha}}",
// "registry.example.com/imprun/server@{{digest:imprun-server}}".
//
//   {{version}}         run.outputs.version.version (the version-tagger's output)
//   {{sha}}             the run's commit, 40 (or 64) hex
//   {{short-sha}}       its first 7 characters
//   {{digest:<image>}}  run.outputs.build.images.<image>.digest ("sha256:...")
//
// Spaces inside the braces are allowed ("{{ version }}").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "conveyor/events/run.hpp"
#include "conveyor/result/result.hpp"

namespace conveyor::helm_updater {

// What the placeholders expand to for one run.
struct TemplateValues {
  std::optional<std::string> version;          // nullopt when the run has no version output
  std::string sha;
  std::map<std::string, std::string> digests;  // image name -> digest, from the build stage's outputs
};

// The values of a run (see above); outputs of the wrong shape are ignored.
TemplateValues template_values(const events::RunContext& run);

// Expands one template. Errors (invalid_argument) name the template and the
// problem: an unknown placeholder, an unterminated "{{", {{version}} without
// a version output, {{digest:x}} for an image the build stage did not report.
Result<std::string> render(std::string_view tmpl, const TemplateValues& values);

}  // namespace conveyor::helm_updater
