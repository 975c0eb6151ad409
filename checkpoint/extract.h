#pragma once
// Copying a checkpoint, optionally keeping only some variables and renaming
// them. Data order is the source's (TF1: key order; TF2: object-graph order,
// graph last), so with no selection or renames the copy is byte-identical.
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace graft {

class BundleReader;

// "REGEX=REPLACEMENT", split at the first '=' not preceded by a backslash
// (write "\=" for a literal '=' in the regex).
struct RenameRule {
  std::string pattern;
  std::regex regex;
  std::string replacement;  // std::regex_replace format: $1, $&, ...
};
RenameRule parse_rename_rule(const std::string& text);
// `name` with every match of the rule replaced (std::regex_replace), but no
// empty match right after a match: '.*=x' turns any name into "x".
std::string apply_rename_rule(const RenameRule& rule, const std::string& name);

struct ExtractOptions {
  // Keep a variable when its whole name matches any of these (ECMAScript,
  // std::regex_match); empty = keep all. Each must match something.
  std::vector<std::string> select;
  // "REGEX=REPLACEMENT" rules; the first rule whose regex occurs in a name
  // renames it (std::regex_replace), later rules are not tried.
  std::vector<std::string> rename;
  // graft's model description (names.h: kModelDescriptionKey) names
  // variables, so a copy that selects or renames keys must rewrite it: given
  // the stored text and the map source key -> output key, return the new
  // text, or nullopt when the copy no longer holds that model (the
  // description is then left out). Without a rewriter it is left out.
  std::function<std::optional<std::string>(const std::string& text,
                                           const std::map<std::string, std::string>& new_names)>
      rewrite_model_description;
};

struct ExtractedTensor {
  std::string source;  // name in the source checkpoint
  std::string name;    // name in the output
};

// What would be copied, in output data order. Throws graft::Error for a bad
// regex, a --select matching nothing, two outputs with one name, or a
// partitioned variable.
std::vector<ExtractedTensor> plan_extract(const BundleReader& reader, const ExtractOptions& options);

struct ExtractResult {
  std::string source_prefix;
  std::string resolution_note;
  std::vector<ExtractedTensor> tensors;
  bool object_graph_rewritten = false;  // TF2 keys dropped or renamed in the graph too
  // What happened to graft's model description when keys changed: "" (none,
  // or copied as it was), "rewritten" or "left out".
  std::string model_description;
};

// Writes the selection to dst_prefix (atomically, see BundleWriter).
ExtractResult extract_checkpoint(const std::string& src, const std::string& dst_prefix,
                                 const ExtractOptions& options);

}  // namespace graft
