// "Did you mean" help: edit distance, closest names, and --rename rules that
// really map the checkpoint name onto the model name (checked by applying
// them with the same code --rename uses).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "host/restore/name_suggestions.h"
#include "host/restore/rename_rules.h"

namespace graft {
namespace {

std::string apply_suggestion(const std::string& rule, const std::string& name) {
  return apply_renames(parse_rename_rules({rule}), name);
}

TEST(NameSuggestions, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("kernel", "kernel"), 0u);
  EXPECT_EQ(edit_distance("kernel", "kernal"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("hidden1/kernel", "dnn/hidden1/kernel"), 4u);
}

TEST(NameSuggestions, ClosestNamesPreferSharedTrailingComponents) {
  const std::vector<std::string> candidates = {"dnn/outputs/kernel", "dnn/hidden2/kernel", "dnn/hidden1/kernel",
                                               "dnn/hidden1/bias"};
  const auto close = closest_names("hidden1/kernel", candidates);
  ASSERT_EQ(close.size(), 3u);
  EXPECT_EQ(close[0], "dnn/hidden1/kernel");  // two components in common
  EXPECT_EQ(close[1], "dnn/hidden2/kernel");  // one, and closer than outputs
  EXPECT_EQ(closest_names("hidden1/kernel", candidates, 1), std::vector<std::string>{"dnn/hidden1/kernel"});
  EXPECT_TRUE(closest_names("x", {}).empty());
  // The misspelt fixture: nothing shares a component, edit distance decides.
  const auto kernal = closest_names("hidden1/kernel", {"dnn/hidden1/bias", "dnn/hidden1/kernal", "dnn/outputs/bias"});
  EXPECT_EQ(kernal.front(), "dnn/hidden1/kernal");
}

TEST(NameSuggestions, SuggestedRulesMapTheWholeScope) {
  struct Case {
    std::string from, to, rule, sibling_from, sibling_to;
  };
  const std::vector<Case> cases = {
      {"dnn/hidden1/kernel", "hidden1/kernel", "^dnn/(.*)=$1", "dnn/outputs/bias", "outputs/bias"},
      {"dnn/hidden1/kernal", "hidden1/kernel", "^dnn/(.*)/kernal$=$1/kernel", "dnn/hidden2/kernal", "hidden2/kernel"},
      {"layer_with_weights-0/kernel", "hidden1/kernel", "^layer_with_weights-0/(.*)=hidden1/$1",
       "layer_with_weights-0/bias", "hidden1/bias"},
      {"layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE", "hidden1/kernel/.ATTRIBUTES/VARIABLE_VALUE",
       "^layer_with_weights-0/(.*)=hidden1/$1", "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE",
       "hidden1/bias/.ATTRIBUTES/VARIABLE_VALUE"},
      {"hidden1/kernel", "dnn/hidden1/kernel", "^(.*)=dnn/$1", "outputs/bias", "dnn/outputs/bias"},
  };
  for (const Case& c : cases) {
    const std::string rule = suggest_rename(c.from, c.to);
    EXPECT_EQ(rule, c.rule) << c.from << " -> " << c.to;
    EXPECT_EQ(apply_suggestion(rule, c.from), c.to) << rule;
    EXPECT_EQ(apply_suggestion(rule, c.sibling_from), c.sibling_to) << rule;
  }
}

TEST(NameSuggestions, NoCommonComponentGivesAOneNameRule) {
  const std::string rule = suggest_rename("fc.1/w", "hidden1/kernel");
  EXPECT_EQ(rule, "^fc\\.1/w$=hidden1/kernel");
  EXPECT_EQ(apply_suggestion(rule, "fc.1/w"), "hidden1/kernel");
  EXPECT_EQ(apply_suggestion(rule, "fcx1/w"), "fcx1/w");  // the dot is escaped
}

}  // namespace
}  // namespace graft
