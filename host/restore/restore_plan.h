#pragma once
// Partial restore from a TensorFlow checkpoint, as data: which model variable
// comes from which checkpoint tensor, which keep their initial values, and
// why each unused checkpoint tensor was left alone. The plan is computed (a
// pure function of the model's parameter table, the checkpoint's index and
// the rules), printed, tested, and only then applied.
//
// Rules, as TF's Saver(var_list / reuse_vars_dict) and assignment_map:
//  - renames map checkpoint names to model names (host/restore/rename_rules.h); a
//    TF2 key's "/.ATTRIBUTES/VARIABLE_VALUE" is dropped after renaming;
//  - a --restore regex selects a model variable when it matches the whole
//    name or a whole leading scope of it ("hidden[123]" selects
//    hidden1/kernel; so does "hidden[123]/.*"); no regex = every model
//    variable the checkpoint has;
//  - a regex that selects no model variable, or a selected variable the
//    checkpoint lacks, is an error listing the closest checkpoint names and
//    the --rename rule that would fix it; so is a shape mismatch (unless
//    skip_mismatch) and a dtype that is not convertible to float32;
//  - optimizer slots are restored only with restore_slots, and only for
//    trainable variables (frozen ones have none); step counters and
//    optimizer scalars never are (a transfer run starts at step 0);
//  - a checkpoint holding several optimizers' slots (slot sets: VAR/Adam
//    and VAR/Adam2, checkpoint/slot_sets.h) gives each variable one set's:
//    slot_set's, else the one the graph's training op reads, else the first
//    by name (host/restore/slot_set_choice.h); the plan says which and why.
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/extract.h"
#include "host/backend.h"
#include "host/model/model_spec.h"

namespace graft {

struct RestoreOptions {
  std::vector<std::string> restore;  // regexes over model variable names
  std::vector<RenameRule> renames;   // checkpoint name -> model name
  bool skip_mismatch = false;
  bool restore_slots = false;
  // With restore_slots, when the checkpoint holds several optimizers' slots:
  // the slot set to restore ("Adam2"); "" = the graph's choice, else the
  // first by name. A name the checkpoint lacks is an error naming its sets.
  std::string slot_set;
};

enum class VariableSource { kRestored, kInitialised, kSkippedMismatch };

struct SlotRestore {
  int slot = 0;                // index in optimizer_slot_suffixes order
  std::string checkpoint_key;
};

struct PlannedVariable {
  std::string name;            // model variable
  Shape shape;
  VariableSource source = VariableSource::kInitialised;
  std::string checkpoint_key;  // kRestored / kSkippedMismatch
  Shape checkpoint_shape;
  std::string initializer;     // what it starts from otherwise
  bool trainable = true;
  std::vector<SlotRestore> slots;
  std::string slot_set;        // the slot set they come from, when the checkpoint holds several
};

struct UnusedCheckpointVariable {
  std::string key;
  std::string reason;          // "not selected by --restore", "optimizer slot", ...
};

struct RestorePlan {
  std::string checkpoint_prefix;
  std::vector<PlannedVariable> variables;  // model order
  std::vector<UnusedCheckpointVariable> unused;
  // With several slot sets: which the slots come from and why
  // ("slot set Adam2 (the graph's training op reads it)"); "" otherwise.
  std::string slot_sets;

  int restored_count() const;
  // The table printed before training: each model variable with its source,
  // then each checkpoint variable not used, with the reason.
  std::string table() const;
};

// Throws graft::Error (one line, with the closest names and a suggested
// --rename rule where that helps) when a --restore regex selects no model
// variable, when a selected variable is missing from the checkpoint, when
// nothing at all would be restored (the model and the checkpoint share no
// name), on a shape mismatch (unless skip_mismatch: then the variable keeps
// its initial value and the plan says so), on a dtype or slot that
// cannot be read as float32, and on a slot_set the checkpoint lacks.
RestorePlan plan_restore(const std::vector<ParameterSpec>& table, const BundleReader& reader,
                         const RestoreOptions& options);

// The plan without a checkpoint: every variable initialised (what
// `graft train --dry-run` prints without --init-from).
RestorePlan initial_plan(const std::vector<ParameterSpec>& table);

// Writes the restored variables (and slots) into a backend built for `table`,
// whose other variables already hold their initial values.
void apply_restore_plan(Backend& backend, const BundleReader& reader, const std::vector<ParameterSpec>& table,
                        const RestorePlan& plan);

// True when `pattern` matches the whole name or a whole leading scope of it.
bool matches_name_or_scope(const std::regex& pattern, const std::string& name);
// Compiles user regexes, naming the flag and the text in the error.
std::vector<std::regex> compile_name_regexes(const std::vector<std::string>& texts, const std::string& flag);

}  // namespace graft
