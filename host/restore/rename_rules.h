#pragma once
// Rename rules for checkpoint variable names, shared with `graft extract`:
// "REGEX=REPLACEMENT" (RenameRule and parse_rename_rule live in
// checkpoint/extract.h). Rules apply in order; the first whose regex occurs in
// a name (std::regex_search) wins and the name becomes
// std::regex_replace(name, regex, replacement); a name no rule matches is kept.
#include <string>
#include <vector>

#include "checkpoint/extract.h"

namespace graft {

std::vector<RenameRule> parse_rename_rules(const std::vector<std::string>& texts);
std::string apply_renames(const std::vector<RenameRule>& rules, const std::string& name);

}  // namespace graft
