#pragma once
// Slot sets: a checkpoint's optimizer slots grouped by the optimizer instance
// that made them, from their names alone. A checkpoint can hold two: the
// book's transfer-learning exercise trains with tf.train.AdamOptimizer, then
// builds AdamOptimizer(name="Adam2") for the new layers, and its Saver
// writes both.
//
// How TensorFlow 1 names them (tensorflow/python/training/adam.py,
// optimizer.py, slot_creator.py):
//  - Adam's _create_slots calls _zeros_slot(var, "m", self._name), then
//    _zeros_slot(var, "v", self._name): "m"/"v" only key the optimizer's own
//    dict; the variable is created by slot_creator under
//    variable_scope(None, default_name=VAR + "/" + <optimizer name>), whose
//    default name is made unique with "_N". So one variable's slots are
//    VAR/Adam (m), VAR/Adam_1 (v); a second optimizer named "Adam" (the
//    default) gets VAR/Adam_2 (m), VAR/Adam_3 (v); one named "Adam2" gets
//    VAR/Adam2, VAR/Adam2_1. Slots are made per variable in var_list, in
//    this order, so a variable only the second optimizer trains has
//    VAR/Adam, VAR/Adam_1 even from that second one: only the graph
//    (host/restore/graph_training_op.h) tells those apart.
//  - beta1_power/beta2_power are non-slot variables
//    (_create_non_slot_variable -> variable_scope.variable(name=
//    "beta1_power")), made in the name scope minimize() is called in (the
//    book's "train" scope gives train/beta1_power), not under the
//    optimizer's name; graph name uniquification makes a second
//    optimizer's beta1_power_1 in the same scope. Which pair belongs to
//    which optimizer: the ApplyAdam nodes read them (their inputs 3 and 4);
//    names alone only suggest creation order.
//
// A set is named after its first slot: "Adam" (Adam, Adam_1), "Adam_2"
// (Adam_2, Adam_3), "Adam2" (Adam2, Adam2_1); TF2 object-based slots
// (VAR/.OPTIMIZER_SLOT/optimizer/m/...) form one set per optimizer path
// ("optimizer"). An optimizer explicitly named like a uniquified one
// ("Adam_2") cannot be told from it by name; nor can a centered
// RMSProp's three slots (rms, mg, momentum) from two RMSProps.
#include <map>
#include <string>
#include <vector>

namespace graft {

class BundleReader;

struct SlotKey {
  std::string key;    // "outputs/kernel/Adam2_1"
  std::string slot;   // TF1: the key's last component ("Adam2_1"); TF2: the slot's name ("m", "v")
  int position = -1;  // TF1: its place in the optimizer's creation order (Adam: 0 = m, 1 = v); TF2: -1
};

struct SlotSet {
  std::string name;  // "Adam", "Adam2", "Adam_2"; TF2: the optimizer's object path ("optimizer")
  std::string kind;  // TF1: the optimizer class its names come from ("Adam", "Momentum"); TF2: ""
  // Checkpoint variable (TF2: without /.ATTRIBUTES/VARIABLE_VALUE) -> its
  // slots in this set, TF1 in creation order.
  std::map<std::string, std::vector<SlotKey>> slots;

  bool holds(const std::string& variable) const { return slots.count(variable) > 0; }
};

// Slots a TF1 optimizer class makes per variable ("Adam" 2, "Momentum" 1,
// "RMSProp" 2, "Adagrad" 1, ...); 1 for a class it does not know.
int slots_per_variable(const std::string& kind);

// The slot sets among these checkpoint keys, by name; keys that are not
// optimizer slots (checkpoint/names.h) are skipped.
std::vector<SlotSet> find_slot_sets(const std::vector<std::string>& keys);
std::vector<SlotSet> find_slot_sets(const BundleReader& reader);

// One Adam optimizer's power scalars.
struct PowerScalars {
  std::string beta1;  // "beta1_power", "train/beta1_power", "beta1_power_1"; "" when unknown
  std::string beta2;  // its partner (same scope and suffix); "" when the checkpoint lacks it
  int suffix = 0;     // the graph's uniquifying number: 0 for beta1_power, 1 for beta1_power_1

  bool empty() const { return beta1.empty(); }
};

// Every beta1_power (any scope, any _N) with its beta2_power, in creation
// order as far as names tell: by suffix, then by name.
std::vector<PowerScalars> find_power_scalars(const std::vector<std::string>& keys);
std::vector<PowerScalars> find_power_scalars(const BundleReader& reader);

// The set and slot of a key in `sets`, or nulls.
struct FoundSlot {
  const SlotSet* set = nullptr;
  const SlotKey* slot = nullptr;
};
FoundSlot find_slot(const std::vector<SlotSet>& sets, const std::string& key);

}  // namespace graft
