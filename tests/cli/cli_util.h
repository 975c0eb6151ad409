#pragma once
// Running the graft binary from the CLI tests.
#include <filesystem>
#include <string>

#include "tests/common/fixtures.h"

namespace graft::test {

// The executable, build/tools/graft.
inline std::string graft_executable() { return graft_binary().string(); }

// Runs `graft ARGS` (args already shell-quoted), stdout and stderr together.
inline CommandResult graft(const std::string& args) {
  return run_command("'" + graft_executable() + "' " + args);
}

// Runs `VAR=value... graft ARGS`: env is a shell-quoted list of assignments
// that apply to this one command.
inline CommandResult graft_env(const std::string& env, const std::string& args) {
  return run_command(env + " '" + graft_executable() + "' " + args);
}

// Runs `graft ARGS` and captures stdout only (stderr discarded).
inline CommandResult graft_stdout(const std::string& args) {
  // Grouped, so run_command's own "2>&1" cannot bring stderr back.
  return run_command("{ '" + graft_executable() + "' " + args + " 2>/dev/null; }");
}

// The prefix of a fixture checkpoint ("tf1/seed_original/my_model_final.ckpt"), "" when absent.
inline std::string prefix_of(const std::string& rel) {
  auto p = fixture(rel + ".index");
  return p ? p->string().substr(0, p->string().size() - 6) : "";
}

// `accuracy: X` from graft eval's stdout, or -1.
inline double accuracy_in(const std::string& out) {
  const auto at = out.find("accuracy: ");
  return at == std::string::npos ? -1.0 : std::stod(out.substr(at + 10));
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Number of lines in s (a final line without '\n' counts).
inline int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

}  // namespace graft::test
