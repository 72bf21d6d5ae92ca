#include <cstdio>

#include "commands.hpp"
#include "conveyor/config/config.hpp"

namespace conveyor::cli {

void add_config_commands(CLI::App& app, int& exit_code) {
  auto* config = app.add_subcommand("config", "work with conveyor.yaml");
  config->require_subcommand(1);
  auto* validate = config->add_subcommand("validate", "validate a conveyor.yaml against the schema");
  static std::string file, schema;
  validate->add_option("file", file, "the config file")->required();
  validate->add_option("--schema", schema, "schema file (default: the installed conveyor.schema.json)");
  validate->callback([&exit_code] {
    auto loaded = config::load(file, schema.empty() ? config::default_schema_path() : schema);
    if (auto* error = std::get_if<config::LoadError>(&loaded)) {
      std::fprintf(stderr, "%s: invalid\n%s", file.c_str(), error->to_string().c_str());
      exit_code = 2;
      return;
    }
    const auto& cfg = std::get<config::Config>(loaded);
    std::printf("%s: ok (%zu pipelines)\n", file.c_str(), cfg.pipelines.size());
  });
}

}  // namespace conveyor::cli
