// Per-layer activations: the two text forms, their resolution against the
// hidden layers' names, and the errors.
#include <gtest/gtest.h>

#include "checkpoint/error.h"
#include "host/model/layer_activations.h"

namespace graft {
namespace {

const std::vector<std::string> kHidden = {"hidden1", "hidden2", "hidden3"};

std::string resolved(const std::string& text) {
  return layer_activations_text(resolve_layer_activations(parse_layer_activations(text), kHidden, Activation{}));
}

TEST(LayerActivations, InOrderByNameAndOneForAll) {
  EXPECT_EQ(resolved("elu,elu,relu"), "elu,elu,relu");
  EXPECT_EQ(resolved("selu"), "selu");
  EXPECT_EQ(resolved("hidden2=tanh"), "relu,tanh,relu");
  EXPECT_EQ(resolved("hidden3=leaky_relu:0.1,hidden1=selu"), "selu,relu,leaky_relu:0.1");
  const auto each = resolve_layer_activations(parse_layer_activations("elu,leaky_relu:0.3,identity"), kHidden, {});
  ASSERT_EQ(each.size(), 3u);
  EXPECT_EQ(each[1].kind, ActivationKind::kLeakyRelu);
  EXPECT_FLOAT_EQ(each[1].alpha, 0.3f);
  EXPECT_EQ(each[2].kind, ActivationKind::kIdentity);
}

TEST(LayerActivations, ErrorsNameWhatIsWrong) {
  auto message = [](const std::string& text) {
    try {
      resolved(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("elu,relu").find("2 activations for 3 hidden layers"), std::string::npos);
  EXPECT_NE(message("elu,relux,relu").find("unknown activation 'relux'"), std::string::npos);
  EXPECT_NE(message("hidden4=elu").find("no hidden layer named hidden4"), std::string::npos);
  EXPECT_NE(message("hidden4=elu").find("hidden1, hidden2, hidden3"), std::string::npos);
  EXPECT_NE(message("hidden1=elu,relu").find("mix the two forms"), std::string::npos);
  EXPECT_NE(message("hidden1=elu,hidden1=relu").find("two activations"), std::string::npos);
}

}  // namespace
}  // namespace graft
