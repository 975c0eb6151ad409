#include "host/restore/rename_rules.h"

namespace graft {

std::vector<RenameRule> parse_rename_rules(const std::vector<std::string>& texts) {
  std::vector<RenameRule> rules;
  for (const std::string& t : texts) rules.push_back(parse_rename_rule(t));
  return rules;
}

std::string apply_renames(const std::vector<RenameRule>& rules, const std::string& name) {
  for (const RenameRule& rule : rules) {
    if (std::regex_search(name, rule.regex)) return apply_rename_rule(rule, name);
  }
  return name;
}

}  // namespace graft
