#pragma once
// Which slot set (checkpoint/slot_sets.h) a restore (--restore-slots) or a
// resume takes when a checkpoint holds several optimizers' slots, per
// variable, and why -- a pure function of what the checkpoint, its graph and
// the caller say:
//  - a set asked for by name (RestoreOptions::slot_set,
//    ResumeOptions::slot_set, --slot-set) wins for every variable it holds
//    slots of;
//  - else a graft model description's record of an earlier choice
//    (ModelDescription::slot_set, after resuming such a checkpoint);
//  - else the graph (PREFIX.meta, host/restore/graph_training_op.h): the run
//    takes the set the graph's training op reads -- of two, the one built
//    last (the book's exercise imports the first, then minimize()s the
//    second) -- and each variable the set its own update reads (the
//    book's Adam2 trains only the new layers; the others keep Adam's);
//  - else, said as assumed, the first set by name.
// A variable the run's set holds no slots of takes its own: the graph's,
// else the first by name that holds them. Adam's power scalars are the run's
// set's: those its ApplyAdam nodes read, else the record's, else (assumed)
// the pair whose place in name order is the set's.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/slot_sets.h"
#include "host/model/optimizer_config.h"
#include "host/restore/graph_training_op.h"

namespace graft {

class BundleReader;

// An earlier choice, as a graft model description records it.
struct RecordedSlotSet {
  std::string origin;  // "the model recorded in P"
  std::string set;     // the run's set then
  std::map<std::string, std::vector<std::string>> slot_names;  // variable -> its slot keys then
  std::map<std::string, std::string> scalar_names;             // "beta1_power" -> the key then
};

struct SlotSetQuery {
  std::string prefix;                  // the checkpoint, in texts
  std::vector<SlotSet> sets;           // its slot sets the optimizer can use (usable_slot_sets)
  std::vector<PowerScalars> powers;    // its Adam power scalars (empty when they do not matter)
  std::vector<std::string> variables;  // checkpoint variables whose slots are wanted, in model order
  std::optional<GraphTraining> graph;  // the graph's updates, when read
  std::string no_graph;                // why there is none, in words ("no graph P.meta")
  std::optional<RecordedSlotSet> record;
  std::string requested;               // a set asked for by name; "" = choose
};

struct SlotSetChoice {
  std::vector<std::string> names;      // the sets holding slots of the variables, by name
  std::vector<std::string> variables;  // the query's, in model order
  std::string set;                     // the run's set; "" when no set holds any of the variables' slots
  std::string why;                     // "the graph's training op reads it", "assumed: first of Adam, Adam2 ..."
  std::map<std::string, std::string> variable_set;  // variable -> the set its slots come from
  std::map<std::string, std::string> variable_why;  // where variable_set is not `set`: why
  PowerScalars powers;                 // the run's set's power scalars; empty when not known
  std::string powers_why;

  bool several() const { return names.size() > 1; }
  // "slot set Adam2 (the graph's training op reads it); hidden1/kernel,
  // hidden1/bias take slot set Adam (the only one with their slots)"
  std::string describe() const;
  // describe() + "; power scalars beta1_power_1, beta2_power_1 (...)" when known.
  std::string describe_with_powers() const;
};

// The sets whose slots an optimizer of `kind` has: TF1 sets of its class
// (Adam's for adam), TF2 sets with slots it knows by name (m, v).
std::vector<SlotSet> usable_slot_sets(const std::vector<SlotSet>& sets, OptimizerKind kind);

// The optimizer's slot index (optimizer_slot_suffixes order) for a key of a
// usable set; -1 when it has no such slot.
int slot_position(OptimizerKind kind, const SlotKey& key);

// Throws graft::Error when `requested` is not empty and names no set of
// `sets` that `kind` uses: "OPTION 'Adam3': PREFIX holds no adam slot set
// Adam3; its slot sets are Adam, Adam2". `option` is the caller's name for
// the setting (RestoreOptions::slot_set, --slot-set).
void check_slot_set_name(const std::vector<SlotSet>& sets, OptimizerKind kind, const std::string& requested,
                         const std::string& option, const std::string& prefix);

// The query for `reader`: its usable sets, (with `powers`) its Adam power
// scalars, and its graph, read only when several sets or pairs make it
// matter (a graph that cannot be read is said in no_graph, not thrown).
SlotSetQuery slot_set_query(const BundleReader& reader, OptimizerKind kind, const std::vector<std::string>& variables,
                            const std::string& requested, bool powers);

SlotSetChoice choose_slot_sets(const SlotSetQuery& query);

// Why a slot of another set than a variable's is left alone:
// "optimizer slot of another optimizer (Adam2; --slot-set Adam2 restores it)".
std::string other_optimizer_slot(const std::string& set, const std::string& verb);

}  // namespace graft
