// JSON Schema validation for tests: valijson (draft-07) over nlohmann::json,
// with `$ref`s to other files resolved from a base directory. Header-only so
// unit, integration and e2e tests can share it.
//
// valijson 1.0 reads draft-07 keywords; the CDEvents v0.5.1 schemas declare
// draft 2020-12 but use only draft-07-compatible keywords. valijson does not
// track `$id`, so a relative `$ref` ("links/embeddedlinksarray", or
// "embeddedlinkend" from inside that file) reaches the fetch callback as
// written; resolve_schema_ref() maps it to a file under the base directory.
#pragma once

#ifndef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1  // schema errors must not abort the test binary
#endif

#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "fixtures.hpp"  // source_dir(), shared_dir(), read_file()

namespace conveyor::testing {

// Reads and parses a JSON file; throws std::runtime_error naming the file.
inline nlohmann::json load_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::stringstream buf;
  buf << in.rdbuf();
  try {
    return nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("invalid JSON in " + file.string() + ": " + e.what());
  }
}

// Maps a `$ref` document URI to a file under `base_dir`. Tries, in order:
// the path as written and with ".json" (after dropping any scheme and host,
// then ever shorter suffixes of the path), and finally a unique file named
// "<last segment>[.json]" anywhere below base_dir. Empty when nothing fits.
inline std::filesystem::path resolve_schema_ref(const std::string& uri, const std::filesystem::path& base_dir) {
  namespace fs = std::filesystem;
  std::string path = uri.substr(0, uri.find('#'));
  if (auto scheme = path.find("://"); scheme != std::string::npos) {
    auto slash = path.find('/', scheme + 3);
    path = slash == std::string::npos ? "" : path.substr(slash + 1);
  }
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  if (path.empty()) return {};
  for (std::string rest = path;;) {
    for (const fs::path& candidate : {base_dir / rest, base_dir / (rest + ".json")}) {
      if (fs::is_regular_file(candidate)) return candidate;
    }
    auto slash = rest.find('/');
    if (slash == std::string::npos) break;
    rest = rest.substr(slash + 1);
  }
  const std::string name = fs::path(path).filename().string();
  fs::path found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(base_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string file = it->path().filename().string();
    if (file == name || file == name + ".json") {
      if (!found.empty()) return {};  // ambiguous
      found = it->path();
    }
  }
  return found;
}

// Validates `instance` against `schema_doc` (draft-07 semantics), resolving
// `$ref`s to other documents from `base_dir_for_refs` (see
// resolve_schema_ref). Returns one "<json path>: <problem>" string per
// validation error, empty when valid; a schema that cannot be loaded yields a
// single "schema: ..." error.
inline std::vector<std::string> validate(const nlohmann::json& schema_doc, const nlohmann::json& instance,
                                         const std::string& base_dir_for_refs) {
  using Adapter = valijson::adapters::NlohmannJsonAdapter;
  const std::filesystem::path base(base_dir_for_refs);
  std::vector<std::string> errors;
  valijson::Schema schema;
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    auto fetch = [&base](const std::string& uri) -> const nlohmann::json* {
      const auto file = resolve_schema_ref(uri, base);
      if (file.empty()) return nullptr;  // valijson reports "Failed to fetch ... <uri>"
      return new nlohmann::json(load_json(file));
    };
    auto free_doc = [](const nlohmann::json* doc) { delete doc; };
    // valijson 1.0 recurses forever on a root-level `$ref` to another
    // document; nested under allOf the same reference resolves normally.
    const bool root_ref_to_file = schema_doc.is_object() && schema_doc.contains("$ref") &&
                                  schema_doc["$ref"].is_string() &&
                                  schema_doc["$ref"].get<std::string>().rfind('#', 0) != 0;
    const nlohmann::json wrapped = root_ref_to_file ? nlohmann::json{{"allOf", {schema_doc}}} : nlohmann::json();
    parser.populateSchema(Adapter(root_ref_to_file ? wrapped : schema_doc), schema, fetch, free_doc);
  } catch (const std::exception& e) {
    errors.push_back(std::string("schema: ") + e.what());
    return errors;
  }
  valijson::Validator validator;
  valijson::ValidationResults results;
  if (!validator.validate(schema, Adapter(instance), &results)) {
    valijson::ValidationResults::Error error;
    while (results.popError(error)) {
      std::string where;
      for (const auto& part : error.context) where += part;
      errors.push_back((where.empty() ? "<root>" : where) + ": " + error.description);
    }
    if (errors.empty()) errors.push_back("<root>: invalid");
  }
  return errors;
}

// Same, with the schema read from a file and refs resolved from its directory.
inline std::vector<std::string> validate_file(const std::filesystem::path& schema_file, const nlohmann::json& instance) {
  return validate(load_json(schema_file), instance, schema_file.parent_path().string());
}

}  // namespace conveyor::testing
