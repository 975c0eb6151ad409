#pragma once
// Each subcommand lives in its own file (cmd_NAME.cc) and registers itself
// on the top-level app. A command's callback returns the process exit code.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace graft::cli {

// The exit code a subcommand's callback sets (0 = success, 1 = error).
int& exit_code();

void register_inspect(CLI::App& app);
void register_extract(CLI::App& app);
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_predict(CLI::App& app);
void register_export(CLI::App& app);
void register_demo(CLI::App& app);

// Runs fn, turning graft::Error and std::exception into one line on stderr
// ("graft SUB: error: ...") and exit code 1.
void run_guarded(const char* sub, const std::function<int()>& fn);

// The flag of each CheckpointModelQuery field (host/restore/
// checkpoint_model_resolution.h), for the library's messages.
inline std::string cli_option_name(const std::string& field) {
  if (field == "activation") return "--activation";
  if (field == "layers") return "--layers";
  if (field == "renames") return "--rename";
  return field;
}

}  // namespace graft::cli
