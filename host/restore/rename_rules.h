#pragma once
// Rename rules for checkpoint variable names, shared with `graft extract`:
// "REGEX=REPLACEMENT" (RenameRule and parse_rename_rule live in
// checkpoint/extract.h). Rules apply in order; the first whose regex occurs in
// a name (std::regex_search) wins and its matches are replaced as
// std::regex_replace does, except an empty match right after a match
// (apply_rename_rule: '.*=x' gives "x", not "xx"); a name no rule matches is
// kept.
#include <string>
#include <vector>

#include "checkpoint/extract.h"

namespace graft {

std::vector<RenameRule> parse_rename_rules(const std::vector<std::string>& texts);
std::string apply_renames(const std::vector<RenameRule>& rules, const std::string& name);

}  // namespace graft
