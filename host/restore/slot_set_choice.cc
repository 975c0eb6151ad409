#include "host/restore/slot_set_choice.h"

#include <algorithm>
#include <set>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "checkpoint/meta_graph.h"

namespace graft {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

const SlotSet* set_named(const std::vector<SlotSet>& sets, const std::string& name) {
  for (const SlotSet& s : sets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool holds(const std::vector<SlotSet>& sets, const std::string& name, const std::string& variable) {
  const SlotSet* s = set_named(sets, name);
  return s && s->holds(variable);
}

std::string ordinal(std::size_t i) {
  static const char* kWords[] = {"first", "second", "third", "fourth", "fifth"};
  return i < 5 ? kWords[i] : std::to_string(i + 1) + "th";
}

// What the graph says: per variable the set of its last update, and per set
// the place of its last update (the later, the later-built training op).
struct GraphSays {
  std::map<std::string, std::string> variable_set;
  std::map<std::string, std::set<std::string>> variable_sets;  // every set whose update trains it
  std::map<std::string, std::size_t> set_order;
  std::map<std::string, const GraphSlotUpdate*> set_last;  // the set's last update
};

GraphSays read_graph(const SlotSetQuery& q) {
  GraphSays out;
  if (!q.graph) return out;
  const std::set<std::string> wanted(q.variables.begin(), q.variables.end());
  std::map<std::string, std::size_t> variable_order;
  for (const GraphSlotUpdate& u : q.graph->updates) {
    if (!wanted.count(u.variable) || u.slots.empty()) continue;
    const FoundSlot found = find_slot(q.sets, u.slots.front());
    if (!found.set || !found.set->holds(u.variable)) continue;
    const std::string& name = found.set->name;
    out.variable_sets[u.variable].insert(name);
    if (!variable_order.count(u.variable) || u.order > variable_order[u.variable]) {
      variable_order[u.variable] = u.order;
      out.variable_set[u.variable] = name;
    }
    if (!out.set_order.count(name) || u.order > out.set_order[name]) {
      out.set_order[name] = u.order;
      out.set_last[name] = &u;
    }
  }
  return out;
}

// The run's set's power scalars and why.
void choose_powers(const SlotSetQuery& q, const GraphSays& graph, SlotSetChoice& c) {
  if (q.powers.empty() || c.set.empty()) return;
  const auto known = [&](const std::string& beta1) -> const PowerScalars* {
    for (const PowerScalars& p : q.powers) {
      if (p.beta1 == beta1) return &p;
    }
    return nullptr;
  };
  if (q.powers.size() == 1) {
    c.powers = q.powers.front();
    c.powers_why = "the checkpoint's only pair";
    return;
  }
  if (const auto last = graph.set_last.find(c.set); last != graph.set_last.end() && last->second->scalars.size() == 2) {
    if (const PowerScalars* p = known(last->second->scalars[0])) {
      c.powers = *p;
      c.powers_why = "slot set " + c.set + "'s: its " + last->second->op + " nodes read them";
      return;
    }
  }
  if (q.record && q.record->set == c.set) {
    const auto b1 = q.record->scalar_names.find("beta1_power");
    if (const PowerScalars* p = b1 == q.record->scalar_names.end() ? nullptr : known(b1->second)) {
      c.powers = *p;
      c.powers_why = "slot set " + c.set + "'s, as " + q.record->origin + " continues them";
      return;
    }
  }
  std::vector<std::string> adam_sets;
  for (const SlotSet& s : q.sets) {
    if (s.kind == "Adam") adam_sets.push_back(s.name);
  }
  const auto at = std::find(adam_sets.begin(), adam_sets.end(), c.set);
  const auto index = static_cast<std::size_t>(at - adam_sets.begin());
  if (at != adam_sets.end() && index < q.powers.size()) {
    c.powers = q.powers[index];
    c.powers_why = "assumed: slot set " + c.set + " is the " + ordinal(index) + " Adam slot set by name (" +
                   join(adam_sets) + "), so its pair is the " + ordinal(index) + " by name";
    return;
  }
  c.powers_why = "none of the checkpoint's pairs can be told to be slot set " + c.set + "'s";
}

}  // namespace

std::vector<SlotSet> usable_slot_sets(const std::vector<SlotSet>& sets, OptimizerKind kind) {
  std::vector<SlotSet> out;
  const std::vector<std::string> suffixes = optimizer_slot_suffixes(kind);
  if (suffixes.empty()) return out;
  for (const SlotSet& s : sets) {
    bool usable = s.kind.empty() ? false : s.kind == suffixes.front();
    for (const auto& [var, slots] : s.slots) {
      for (const SlotKey& k : slots) usable = usable || (s.kind.empty() && slot_position(kind, k) >= 0);
    }
    if (usable) out.push_back(s);
  }
  return out;
}

int slot_position(OptimizerKind kind, const SlotKey& key) {
  const int slots = static_cast<int>(optimizer_slot_suffixes(kind).size());
  if (key.position >= 0) return key.position < slots ? key.position : -1;
  // TF2 (Keras) slots by meaning.
  const std::string& s = key.slot;
  switch (kind) {
    case OptimizerKind::kAdam: return s == "m" ? 0 : s == "v" ? 1 : -1;
    case OptimizerKind::kMomentum:
    case OptimizerKind::kNesterov: return s == "momentum" ? 0 : -1;
    case OptimizerKind::kRmsProp: return s == "rms" ? 0 : s == "momentum" ? 1 : -1;
    case OptimizerKind::kAdagrad: return s == "accumulator" ? 0 : -1;
    case OptimizerKind::kSgd: return -1;
  }
  return -1;
}

void check_slot_set_name(const std::vector<SlotSet>& sets, OptimizerKind kind, const std::string& requested,
                         const std::string& option, const std::string& prefix) {
  if (requested.empty()) return;
  const std::vector<SlotSet> usable = usable_slot_sets(sets, kind);
  if (set_named(usable, requested)) return;
  std::vector<std::string> names;
  for (const SlotSet& s : usable) names.push_back(s.name);
  std::string text = option + " '" + requested + "': " + prefix + " holds no " + optimizer_name(kind) +
                     " slot set " + requested + "; ";
  text += names.empty() ? "it holds no slots " + optimizer_name(kind) + " uses"
                        : std::string(names.size() == 1 ? "its slot set is " : "its slot sets are ") + join(names);
  if (const SlotSet* other = set_named(sets, requested)) {
    text += " (" + requested + " holds " + (other->kind.empty() ? std::string("other") : other->kind) +
            " slots, which " + optimizer_name(kind) + " does not use)";
  }
  throw Error(text);
}

SlotSetQuery slot_set_query(const BundleReader& reader, OptimizerKind kind, const std::vector<std::string>& variables,
                            const std::string& requested, bool powers) {
  SlotSetQuery q;
  q.prefix = reader.prefix();
  q.sets = usable_slot_sets(find_slot_sets(reader), kind);
  if (powers && kind == OptimizerKind::kAdam) q.powers = find_power_scalars(reader);
  q.variables = variables;
  q.requested = requested;
  std::size_t holding = 0;
  for (const SlotSet& s : q.sets) {
    holding += std::any_of(variables.begin(), variables.end(), [&](const std::string& v) { return s.holds(v); });
  }
  if (holding < 2 && q.powers.size() < 2) return q;
  const std::string path = meta_graph_path(reader.prefix());
  try {
    q.graph = read_graph_training(reader.prefix());
    if (!q.graph) q.no_graph = "no graph " + path + " says which one training reads";
  } catch (const Error& e) {
    q.no_graph = std::string("the graph cannot be read: ") + e.what();
  }
  return q;
}

SlotSetChoice choose_slot_sets(const SlotSetQuery& q) {
  SlotSetChoice c;
  c.variables = q.variables;
  for (const SlotSet& s : q.sets) {
    if (std::any_of(q.variables.begin(), q.variables.end(), [&](const std::string& v) { return s.holds(v); })) {
      c.names.push_back(s.name);
    }
  }
  const GraphSays graph = read_graph(q);
  const bool requested = !q.requested.empty() && set_named(q.sets, q.requested);

  // The run's set.
  if (requested) {
    c.set = q.requested;
    c.why = std::find(c.names.begin(), c.names.end(), c.set) == c.names.end()
                ? "as asked; it holds no slots of these variables"
                : "as asked";
  } else if (q.record && std::find(c.names.begin(), c.names.end(), q.record->set) != c.names.end()) {
    c.set = q.record->set;
    c.why = q.record->origin + " trains with it";
  } else if (!graph.set_order.empty()) {
    const auto last = std::max_element(graph.set_order.begin(), graph.set_order.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    c.set = last->first;
    c.why = "the graph's training op reads it";
    std::vector<std::string> earlier;
    for (const auto& [name, order] : graph.set_order) {
      if (name != c.set) earlier.push_back(name);
    }
    if (!earlier.empty()) c.why += "; an earlier training op in the graph reads " + join(earlier);
  } else if (!c.names.empty()) {
    c.set = c.names.front();
    c.why = c.names.size() == 1 ? "the only one" : "assumed: first of " + join(c.names) + " by name";
    if (c.names.size() > 1 && !q.no_graph.empty()) c.why += "; " + q.no_graph;
  }

  // Each variable's.
  for (const std::string& v : q.variables) {
    std::vector<std::string> holders;
    for (const SlotSet& s : q.sets) {
      if (s.holds(v)) holders.push_back(s.name);
    }
    if (holders.empty()) continue;
    std::string set, why;
    FoundSlot from_record;
    if (q.record) {
      const auto r = q.record->slot_names.find(v);
      if (r != q.record->slot_names.end() && !r->second.empty()) from_record = find_slot(q.sets, r->second.front());
    }
    const auto from_graph = graph.variable_set.find(v);
    if (requested && holds(q.sets, q.requested, v)) {
      set = q.requested;
    } else if (from_record.set && from_record.set->holds(v)) {
      set = from_record.set->name;
      why = "as " + q.record->origin + " trains them";
    } else if (from_graph != graph.variable_set.end()) {
      set = from_graph->second;
      why = graph.variable_sets.at(v).size() == 1 ? "the graph trains them with it alone"
                                                  : "the graph's last training op for them reads it";
    } else if (holds(q.sets, c.set, v)) {
      set = c.set;
    } else {
      set = holders.front();
      why = holders.size() == 1 ? "the only one with their slots" : "assumed: first of " + join(holders) + " by name";
    }
    c.variable_set[v] = set;
    if (set != c.set) c.variable_why[v] = why;
  }
  choose_powers(q, graph, c);
  return c;
}

std::string SlotSetChoice::describe() const {
  if (set.empty()) return "";
  std::string text = "slot set " + set + " (" + why + ")";
  // Variables taking another set, grouped by set and reason, in model order.
  std::vector<std::pair<std::string, std::string>> groups;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> members;
  for (const std::string& v : variables) {
    const auto w = variable_why.find(v);
    if (w == variable_why.end()) continue;
    const std::pair<std::string, std::string> g{variable_set.at(v), w->second};
    if (!members.count(g)) groups.push_back(g);
    members[g].push_back(v);
  }
  for (const auto& g : groups) text += "; " + join(members[g]) + " take slot set " + g.first + " (" + g.second + ")";
  return text;
}

std::string SlotSetChoice::describe_with_powers() const {
  std::string text = describe();
  if (!powers.empty()) {
    text += "; power scalars " + powers.beta1 + (powers.beta2.empty() ? "" : ", " + powers.beta2) + " (" +
            powers_why + ")";
  } else if (!powers_why.empty()) {
    text += "; power scalars: " + powers_why;
  }
  return text;
}

std::string other_optimizer_slot(const std::string& set, const std::string& verb) {
  return "optimizer slot of another optimizer (" + set + "; --slot-set " + set + " " + verb + " it)";
}

}  // namespace graft
