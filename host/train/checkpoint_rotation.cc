#include "host/train/checkpoint_rotation.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "checkpoint/error.h"
#include "checkpoint/save_lock.h"
#include "checkpoint/state_file.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool starts_with(const std::string& s, const std::string& head) { return s.compare(0, head.size(), head) == 0; }

fs::path folder_of(const fs::path& p) { return (p.has_parent_path() ? p.parent_path() : fs::path(".")).lexically_normal(); }

// Whether `prefix` is `base`-<digits> (compared by folder and file name).
bool is_numbered_version(const std::string& prefix, const std::string& base) {
  const fs::path p(prefix), b(base);
  if (folder_of(p) != folder_of(b)) return false;
  const std::string name = p.filename().string(), head = b.filename().string() + "-";
  return starts_with(name, head) && all_digits(name.substr(head.size()));
}

// Numbered versions of `base` in its folder that the state file does not
// list and that are older than every listed one: what a save killed between
// recording the state file and deleting the dropped files leaves behind.
std::vector<std::string> unlisted_numbered_versions(const std::string& saved, const std::string& base) {
  const fs::path dir = folder_of(fs::path(base));
  const std::vector<std::string> listed = state_entries_in_folder(saved);
  const std::string head = fs::path(base).filename().string() + "-";
  auto step_of = [&](const std::string& name) -> long double {  // -1: not a numbered version
    if (!starts_with(name, head) || !all_digits(name.substr(head.size()))) return -1;
    return std::stold(name.substr(head.size()));
  };
  long double oldest_listed = -1;
  for (const std::string& n : listed) {
    const long double step = step_of(n);
    if (step >= 0 && (oldest_listed < 0 || step < oldest_listed)) oldest_listed = step;
  }
  std::vector<std::string> out;
  if (oldest_listed < 0) return out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!starts_with(name, head) || name.size() < 6 || name.compare(name.size() - 6, 6, ".index") != 0) continue;
    const std::string prefix_name = name.substr(0, name.size() - 6);
    const long double step = step_of(prefix_name);
    if (step < 0 || step >= oldest_listed) continue;
    if (std::find(listed.begin(), listed.end(), prefix_name) != listed.end()) continue;
    const std::string prefix = (dir / prefix_name).string();
    if (fs::path(prefix).lexically_normal() == fs::path(saved).lexically_normal()) continue;
    out.push_back(prefix);
  }
  return out;
}

}  // namespace

std::string SaveEvery::describe() const {
  const bool epochs = unit == Unit::kEpochs;
  if (count == 1) return epochs ? "every epoch" : "every step";
  return "every " + std::to_string(count) + (epochs ? " epochs" : " steps");
}

SaveEvery parse_save_every(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string number = text.substr(0, digits), unit = text.substr(digits);
  SaveEvery out;
  if (unit.empty() || unit == "epoch" || unit == "epochs") {
    out.unit = SaveEvery::Unit::kEpochs;
  } else if (unit == "step" || unit == "steps") {
    out.unit = SaveEvery::Unit::kSteps;
  } else {
    throw Error("expected N, Nepochs or Nsteps, got '" + text + "'");
  }
  if (number.empty() || number.size() > 15) {
    throw Error("expected N, Nepochs or Nsteps, got '" + text + "'");
  }
  out.count = std::stoll(number);
  if (out.count <= 0) throw Error("the interval must be positive, got '" + text + "'");
  return out;
}

std::string numbered_prefix(const std::string& prefix, int64_t step) { return prefix + "-" + std::to_string(step); }

void delete_checkpoint_files(const std::string& prefix) {
  const fs::path p(prefix);
  const fs::path dir = folder_of(p);
  const std::string index = p.filename().string() + ".index", data = p.filename().string() + ".data-";
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == index || starts_with(name, data)) doomed.push_back(it->path());
  }
  // The data files first: a prefix with an index but no data would look
  // like a damaged checkpoint rather than a deleted one.
  for (const fs::path& f : doomed) {
    if (f.filename().string() != index) fs::remove(f, ec);
  }
  fs::remove(dir / index, ec);
}

std::vector<std::string> rotate_checkpoints(const std::string& saved, const std::string& base, int keep) {
  if (keep < 0) throw Error("the number of checkpoints to keep must not be negative");
  std::vector<std::string> deleted;
  for (const std::string& dropped : record_checkpoint(saved, keep)) {
    if (dropped == saved || !is_numbered_version(dropped, base)) continue;
    delete_checkpoint_files(dropped);
    deleted.push_back(dropped);
  }
  if (keep > 0) {
    for (const std::string& orphan : unlisted_numbered_versions(saved, base)) {
      try {
        const SaveLock lock(orphan);  // not while another process is saving it
        delete_checkpoint_files(orphan);
        deleted.push_back(orphan);
      } catch (const Error&) {
      }
    }
  }
  return deleted;
}

}  // namespace graft
