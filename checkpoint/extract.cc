#include "checkpoint/extract.h"

#include <map>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/convert.h"
#include "checkpoint/error.h"
#include "checkpoint/names.h"
#include "checkpoint/object_graph.h"
#include "checkpoint/saved_model.h"

namespace graft {
namespace {

std::regex compile(const std::string& pattern, const char* what) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error(std::string("invalid ") + what + " regex '" + pattern + "': " + e.what());
  }
}

std::string renamed(const std::string& name, const std::vector<RenameRule>& rules) {
  for (const auto& rule : rules) {
    if (std::regex_search(name, rule.regex)) return apply_rename_rule(rule, name);
  }
  return name;
}

}  // namespace

std::string apply_rename_rule(const RenameRule& rule, const std::string& name) {
  // Every match, as std::regex_replace, except an empty match right where
  // the previous match ended (sed's rule): regex_replace also replaced the
  // empty match '.*' has at the end of the name, so '.*=x' gave "xx".
  std::string out;
  auto copied = name.cbegin();
  bool matched = false;
  auto previous_end = name.cbegin();
  for (std::sregex_iterator it(name.cbegin(), name.cend(), rule.regex), end; it != end; ++it) {
    const std::smatch& m = *it;
    if (m.length(0) == 0 && matched && m[0].first == previous_end) continue;
    out.append(copied, m[0].first);
    out += m.format(rule.replacement);
    copied = previous_end = m[0].second;
    matched = true;
  }
  out.append(copied, name.cend());
  return out;
}

RenameRule parse_rename_rule(const std::string& text) {
  std::size_t eq = std::string::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=' && (i == 0 || text[i - 1] != '\\')) {
      eq = i;
      break;
    }
  }
  if (eq == std::string::npos || eq == 0) {
    throw Error("--rename '" + text + "' is not REGEX=REPLACEMENT");
  }
  RenameRule rule;
  rule.pattern = text.substr(0, eq);
  rule.regex = compile(rule.pattern, "--rename");
  rule.replacement = text.substr(eq + 1);
  return rule;
}

std::vector<ExtractedTensor> plan_extract(const BundleReader& reader, const ExtractOptions& options) {
  std::vector<std::regex> selects;
  for (const auto& s : options.select) selects.push_back(compile(s, "--select"));
  std::vector<RenameRule> rules;
  for (const auto& r : options.rename) rules.push_back(parse_rename_rule(r));

  std::vector<bool> select_used(selects.size(), false);
  auto selected = [&](const std::string& name) {
    if (selects.empty()) return true;
    bool any = false;
    for (std::size_t i = 0; i < selects.size(); ++i) {
      if (std::regex_match(name, selects[i])) any = select_used[i] = true;
    }
    return any;
  };

  for (const auto& e : reader.entries()) {
    if (e.sliced && selected(e.info.name)) {
      throw Error(reader.index_path() + ": tensor '" + e.info.name +
                  "' is a partitioned variable, which extract cannot copy");
    }
  }

  std::vector<ExtractedTensor> plan;
  std::map<std::string, std::string> source_of;  // output name -> source name
  for (const BundleEntry* e : reader.entries_in_data_order()) {
    // graft's model description is metadata, not a variable: it travels
    // with every copy under its own name (extract_checkpoint rewrites it).
    const bool description = e->info.name == kModelDescriptionKey;
    if (!description && !selected(e->info.name)) continue;
    ExtractedTensor t{e->info.name, description ? e->info.name : renamed(e->info.name, rules)};
    if (t.name.empty()) throw Error("--rename turns '" + t.source + "' into an empty name");
    auto [it, inserted] = source_of.emplace(t.name, t.source);
    if (!inserted) {
      throw Error("two variables would be named '" + t.name + "': '" + it->second + "' and '" +
                  t.source + "' (check --rename)");
    }
    plan.push_back(std::move(t));
  }
  for (std::size_t i = 0; i < selects.size(); ++i) {
    if (!select_used[i]) {
      throw Error("--select '" + options.select[i] + "' matches no variable in " + reader.prefix());
    }
  }
  // TF2 writes the object graph after every tensor it describes.
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].source == kObjectGraphKey && i + 1 != plan.size()) {
      ExtractedTensor g = plan[i];
      plan.erase(plan.begin() + static_cast<std::ptrdiff_t>(i));
      plan.push_back(std::move(g));
      break;
    }
  }
  return plan;
}

ExtractResult extract_checkpoint(const std::string& src, const std::string& dst_prefix,
                                 const ExtractOptions& options) {
  refuse_saving_into_saved_model(dst_prefix, "the destination");
  const BundleReader reader = BundleReader::open(src);
  ExtractResult result;
  result.source_prefix = reader.prefix();
  result.resolution_note = reader.resolution_note();
  result.tensors = plan_extract(reader, options);

  std::optional<std::string> model_description;  // the rewritten text, when keys changed
  std::map<std::string, std::string> new_name;
  for (const auto& t : result.tensors) new_name[t.source] = t.name;
  bool keys_changed = new_name.size() != reader.entries().size();
  for (const auto& [from, to] : new_name) keys_changed = keys_changed || from != to;

  if (keys_changed) {
    // The model description names variables: rewrite it, or leave it out.
    for (auto it = result.tensors.begin(); it != result.tensors.end(); ++it) {
      if (it->source != kModelDescriptionKey) continue;
      const BundleEntry& e = *reader.find(it->source);
      const auto values = e.info.dtype == DType::kString ? reader.read_strings(e) : std::vector<std::string>{};
      if (values.size() == 1 && options.rewrite_model_description) {
        model_description = options.rewrite_model_description(values[0], new_name);
      }
      result.model_description = model_description ? "rewritten" : "left out";
      if (!model_description) result.tensors.erase(it);
      break;
    }
  }

  BundleWriter writer(dst_prefix);
  std::string swapped;
  for (const auto& t : result.tensors) {
    const BundleEntry& e = *reader.find(t.source);
    TensorInfo info = e.info;
    info.name = t.name;
    if (e.info.dtype == DType::kString) {
      auto values = reader.read_strings(e);
      if (t.source == kObjectGraphKey && keys_changed && values.size() == 1) {
        values[0] = rewrite_object_graph(values[0], [&](const std::string& key) -> std::optional<std::string> {
          auto it = new_name.find(key);
          if (it == new_name.end()) return std::nullopt;
          return it->second;
        });
        result.object_graph_rewritten = true;
      }
      if (t.source == kModelDescriptionKey && model_description) values = {*model_description};
      writer.add_strings(info.name, info.shape, values);
      continue;
    }
    std::string_view bytes = reader.raw_bytes(e, true);
    if (reader.big_endian()) {  // graft writes little-endian bundles
      swapped.assign(bytes);
      swap_element_bytes(swapped.data(), shape_elements(e.info.shape), dtype_size(e.info.dtype));
      bytes = swapped;
    }
    writer.add(info, bytes.data(), bytes.size());
  }
  writer.finish();
  return result;
}

}  // namespace graft
