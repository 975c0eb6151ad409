#pragma once
// The TensorFlow 1 graph forms of batch normalization that graft imports
// (host/restore/graph_batch_norm.h), built node by node as TF writes them,
// for the graph-import tests, the CLI tests and the fuzz seeds:
//   - fused: tf.layers/Keras fused=True and tf.contrib's default on 2-D
//     inputs (tensorflow/python/keras/layers/normalization.py
//     _fused_batch_norm; contrib/layers/python/layers/layers.py
//     _fused_batch_norm): x reshaped to 4-D, FusedBatchNorm{,V2,V3}, the
//     output reshaped back, a tf.cond on the training placeholder choosing
//     the is_training op (true branch) or the inference one (false branch);
//   - tf.contrib's own unfused batch_norm (fused=False with
//     updates_collections=None): a cond over the statistics, then
//     nn.batch_normalization; no gamma by default.
#include <string>
#include <vector>

#include "tests/common/graph_builder.h"

namespace graft::test {

// The training flag the forms switch on: "training", a
// tf.placeholder_with_default(False, ()) (or, with `plain`, a
// tf.placeholder(tf.bool) without a default: not inference by default).
inline std::string training_flag(GraphBuilder& b, bool plain = false) {
  if (!b.has("training")) {
    if (plain) {
      (*b.node("training", "Placeholder").mutable_attr())["dtype"].set_type(10);
    } else {
      b.bool_placeholder_with_default("training", false);
    }
  }
  return "training";
}

// SCOPE's tf.cond glue on `pred`: SCOPE/Switch, switch_t, switch_f, pred_id;
// returns the pred_id every Switch of the cond reads.
inline std::string cond_glue(GraphBuilder& b, const std::string& scope, const std::string& pred) {
  b.node(scope + "/Switch", "Switch", {pred, pred});
  b.node(scope + "/switch_t", "Identity", {scope + "/Switch:1"});
  b.node(scope + "/switch_f", "Identity", {scope + "/Switch"});
  b.node(scope + "/pred_id", "Identity", {pred});
  return scope + "/pred_id";
}

enum class FusedMomentum {
  kNone,       // no update (training fixed to False: smart_cond took the inference branch)
  kDecay,      // AssignSub(var, (var - batch) * decay), decay a Const (tf.contrib, tf.layers)
  kKerasCond,  // decay = 1 - smart_cond(training, momentum, 1.0) (Keras/tf.layers fused, TF 1.10+)
  kDecayCond,  // decay = smart_cond(training, 1 - momentum, 0.) (tf.layers fused, TF 1.4-1.9)
  kAvgFactor,  // FusedBatchNormV3's exponential_avg_factor (TF 2.x Keras in a TF1 graph)
};

struct FusedBatchNormForm {
  std::string op = "FusedBatchNormV3";
  bool cond = true;                // a training placeholder (else training fixed to False: no cond, no update)
  bool plain_placeholder = false;  // the cond's predicate has no default
  bool scale = true, center = true;
  std::string format = "NHWC";
  bool expand_dims = false;             // two ExpandDims in, Squeeze out (else Reshape in, Reshape out)
  bool contrib_reshape_back = false;    // Reshape(y, Shape(x)), as tf.contrib (else a Const [-1, C])
  bool contrib_forced_updates = false;  // tf.contrib updates_collections=None: a cond around y
  float epsilon = 0.001f;
  FusedMomentum momentum = FusedMomentum::kKerasCond;
  double momentum_value = 0.99;       // a Python float: TF writes float32(1 - m) or float32(m)
  bool training_branch_only = false;  // is_training true and no cond (tf.contrib's default is_training=True)
  bool mean_constant = false;         // the inference op's mean is a Const, not the variable
  bool resource = false;              // resource variables (VarHandleOp, ReadVariableOp, AssignSubVariableOp)
};

// Batch normalization of x ([N, units]) under `scope` in the fused form;
// its variables are SCOPE/{gamma,beta,moving_mean,moving_variance} (gamma
// and beta only with scale/center). Returns the 2-D output's name.
inline std::string fused_batch_norm(GraphBuilder& b, const std::string& x, const std::string& scope, int64_t units,
                                    const FusedBatchNormForm& f) {
  const int32_t c = static_cast<int32_t>(units);
  const bool nchw = f.format == "NCHW";
  // A ref variable's read (NAME/read), or a resource variable's handle, read where it is used.
  auto variable = [&](const std::string& name) {
    if (!f.resource) return b.variable(name, {units});
    GraphBuilder::shape_attr(b.node(name, "VarHandleOp"), "shape", {units});
    return name;
  };
  auto is_handle = [&](const std::string& name) { return b.at(name).op() == "VarHandleOp"; };
  // `t` as the op reads it: a handle through ReadVariableOp NAME.
  auto read = [&](const std::string& t, const std::string& name) {
    if (!is_handle(t.substr(0, t.find(':')))) return t;
    b.node(name, "ReadVariableOp", {t});
    return name;
  };
  std::string gamma, beta;
  if (f.scale) {
    gamma = variable(scope + "/gamma");
  } else {
    gamma = b.constant(scope + "/Const", {1.0f}, {units});
  }
  if (f.center) {
    beta = variable(scope + "/beta");
  } else {
    beta = b.constant(scope + "/Const_1", {0.0f}, {units});
  }
  const std::string mean = variable(scope + "/moving_mean");
  const std::string var = variable(scope + "/moving_variance");
  std::string x4;
  if (f.expand_dims) {
    b.node(scope + "/ExpandDims", "ExpandDims", {x, b.int_constant(scope + "/ExpandDims/dim", {nchw ? 2 : 1}, true)});
    b.node(scope + "/ExpandDims_1", "ExpandDims",
           {scope + "/ExpandDims", b.int_constant(scope + "/ExpandDims_1/dim", {nchw ? 3 : 2}, true)});
    x4 = scope + "/ExpandDims_1";
  } else {
    b.node(scope + "/Reshape", "Reshape",
           {x, b.int_constant(scope + "/Reshape/shape",
                              nchw ? std::vector<int32_t>{-1, c, 1, 1} : std::vector<int32_t>{-1, 1, 1, c})});
    x4 = scope + "/Reshape";
  }
  auto attrs = [&](tf::NodeDef& n, bool training) {
    (*n.mutable_attr())["epsilon"].set_f(f.epsilon);
    (*n.mutable_attr())["is_training"].set_b(training);
    (*n.mutable_attr())["data_format"].set_s(f.format);
    (*n.mutable_attr())["T"].set_type(1);
    if (training && f.momentum == FusedMomentum::kAvgFactor) {
      (*n.mutable_attr())["exponential_avg_factor"].set_f(static_cast<float>(1.0 - f.momentum_value));
    }
  };
  const std::string mean_in = f.mean_constant ? b.constant(scope + "/fixed_mean", {0.5f}, {units}) : mean;
  std::string y, batch_mean, batch_var, pred;
  if (f.cond) {
    const std::string cond = scope + "/cond";
    pred = cond_glue(b, cond, training_flag(b, f.plain_placeholder));
    const std::string inf = cond + "/" + f.op + "_1", tr = cond + "/" + f.op;
    const std::vector<std::string> operands{x4, gamma, beta, mean_in, var};
    std::vector<std::string> inf_in, tr_in;
    for (std::size_t i = 0; i < operands.size(); ++i) {
      const std::string suffix = i == 0 ? "/Switch" : "/Switch_" + std::to_string(i);
      b.node(inf + suffix, "Switch", {operands[i], pred});
      const bool handle = is_handle(operands[i]);
      inf_in.push_back(handle ? read(inf + suffix, inf + "/ReadVariableOp" + suffix.substr(7)) : inf + suffix);
      if (i < 3 || f.momentum == FusedMomentum::kAvgFactor) {
        b.node(tr + suffix, "Switch", {operands[i], pred});
        tr_in.push_back(handle ? read(tr + suffix + ":1", tr + "/ReadVariableOp" + suffix.substr(7))
                               : tr + suffix + ":1");
      } else {
        // Training takes no statistics: empty Consts in the true branch.
        tf::NodeDef& e = b.node(cond + "/Const" + (i == 3 ? "" : "_1"), "Const", {"^" + cond + "/switch_t"});
        tf::TensorProto* t = (*e.mutable_attr())["value"].mutable_tensor();
        t->set_dtype(1);
        t->mutable_tensor_shape()->add_dim()->set_size(0);
        tr_in.push_back(e.name());
      }
    }
    attrs(b.node(tr, f.op, tr_in), true);
    attrs(b.node(inf, f.op, inf_in), false);
    b.node(cond + "/Merge", "Merge", {inf, tr});
    b.node(cond + "/Merge_1", "Merge", {inf + ":1", tr + ":1"});
    b.node(cond + "/Merge_2", "Merge", {inf + ":2", tr + ":2"});
    y = cond + "/Merge";
    batch_mean = cond + "/Merge_1";
    batch_var = cond + "/Merge_2";
  } else {
    y = scope + "/" + f.op;
    attrs(b.node(y, f.op,
                 {x4, read(gamma, scope + "/ReadVariableOp"), read(beta, scope + "/ReadVariableOp_1"),
                  read(mean_in, scope + "/ReadVariableOp_2"), read(var, scope + "/ReadVariableOp_3")}),
          f.training_branch_only);
    batch_mean = y + ":1";
    batch_var = y + ":2";
  }
  // The moving averages' updates.
  const std::string mean_var[2] = {scope + "/moving_mean", scope + "/moving_variance"};
  const std::string reads[2] = {mean, var};
  const std::string batch[2] = {batch_mean, batch_var};
  if ((f.momentum == FusedMomentum::kKerasCond || f.momentum == FusedMomentum::kDecayCond) && f.cond) {
    // smart_cond(training, lambda: value, lambda: idle): two Consts, one per branch.
    const bool keras = f.momentum == FusedMomentum::kKerasCond;
    const std::string mc = scope + "/cond_1";
    cond_glue(b, mc, "training");
    b.constant(mc + "/Const", static_cast<float>(keras ? f.momentum_value : 1.0 - f.momentum_value));
    b.at(mc + "/Const").add_input("^" + mc + "/switch_t");
    b.constant(mc + "/Const_1", keras ? 1.0f : 0.0f);
    b.at(mc + "/Const_1").add_input("^" + mc + "/switch_f");
    b.node(mc + "/Merge", "Merge", {mc + "/Const_1", mc + "/Const"});
  }
  const std::string assign_sub = f.resource ? "AssignSubVariableOp" : "AssignSub";
  for (int k = 0; k < 2; ++k) {
    const std::string s = scope + "/AssignMovingAvg" + (k == 0 ? "" : "_1");
    if (f.momentum == FusedMomentum::kDecay) {
      b.constant(s + "/decay", static_cast<float>(1.0 - f.momentum_value));
      b.node(s + "/sub", "Sub", {read(reads[k], s + "/ReadVariableOp"), batch[k]});
      b.node(s + "/mul", "Mul", {s + "/sub", s + "/decay"});
      b.node(s, assign_sub, {mean_var[k], s + "/mul"});
    } else if (f.momentum == FusedMomentum::kDecayCond && f.cond) {
      b.node(s + "/read", f.resource ? "ReadVariableOp" : "Identity", {mean_var[k]});  // variable.read_value()
      b.node(s + "/Sub", "Sub", {s + "/read", batch[k]});
      b.node(s + "/Mul", "Mul", {s + "/Sub", scope + "/cond_1/Merge"});
      b.node(s, assign_sub, {mean_var[k], s + "/Mul"});
    } else if (f.momentum == FusedMomentum::kKerasCond && f.cond) {
      b.node(s + "/sub", "Sub", {b.constant(s + "/sub/x", 1.0f), scope + "/cond_1/Merge"});
      b.node(s + "/sub_1", "Sub", {read(reads[k], s + "/ReadVariableOp"), batch[k]});
      b.node(s + "/mul", "Mul", {s + "/sub_1", s + "/sub"});
      b.node(s, assign_sub, {mean_var[k], s + "/mul"});
    } else if (f.momentum == FusedMomentum::kAvgFactor) {
      b.node(s, f.resource ? "AssignVariableOp" : "Assign", {mean_var[k], batch[k]});
    }
  }
  if (f.contrib_forced_updates) {
    // smart_cond(is_training, force the updates then identity(y), lambda: y)
    const std::string oc = scope + "/cond_2";
    const std::string p = cond_glue(b, oc, "training");
    b.node(oc + "/Switch_1", "Switch", {y, p});
    b.node(oc + "/Identity/Switch", "Switch", {y, p});
    b.node(oc + "/Identity", "Identity", {oc + "/Identity/Switch:1", "^" + scope + "/AssignMovingAvg"});
    b.node(oc + "/Merge", "Merge", {oc + "/Switch_1", oc + "/Identity"});
    y = oc + "/Merge";
  }
  if (f.expand_dims) {
    tf::NodeDef& sq = b.node(scope + "/Squeeze", "Squeeze", {y});
    auto* dims = (*sq.mutable_attr())["squeeze_dims"].mutable_list();
    dims->add_i(nchw ? 2 : 1);
    dims->add_i(nchw ? 3 : 2);
    return scope + "/Squeeze";
  }
  if (f.contrib_reshape_back) {
    b.node(scope + "/Shape", "Shape", {x});
    b.node(scope + "/Reshape_1", "Reshape", {y, scope + "/Shape"});
  } else {
    b.node(scope + "/Reshape_1", "Reshape", {y, b.int_constant(scope + "/Reshape_1/shape", {-1, c})});
  }
  return scope + "/Reshape_1";
}

struct ContribBatchNormForm {
  bool cond = true;    // is_training a placeholder (else the Python bool False: no cond, no update)
  bool gamma = false;  // tf.contrib's default scale=False
  bool beta = true;
  float epsilon = 0.001f;
  double decay = 0.999;  // tf.contrib's default
};

// tf.contrib.layers.batch_norm(x, fused=False, updates_collections=None,
// is_training=training) under `scope` (LAYER/BatchNorm): mean, variance =
// smart_cond(training, force the updates then the batch's moments, the
// moving ones); nn.batch_normalization(x, mean, variance, beta, gamma, eps).
inline std::string contrib_batch_norm(GraphBuilder& b, const std::string& x, const std::string& scope, int64_t units,
                                      const ContribBatchNormForm& f) {
  const std::string beta = f.beta ? b.variable(scope + "/beta", {units}) : "";
  const std::string gamma = f.gamma ? b.variable(scope + "/gamma", {units}) : "";
  const std::string mean = b.variable(scope + "/moving_mean", {units});
  const std::string var = b.variable(scope + "/moving_variance", {units});
  std::string m = mean, v = var;
  if (f.cond) {
    b.node(scope + "/moments/mean", "Mean", {x, b.int_constant(scope + "/moments/mean/reduction_indices", {0})});
    b.node(scope + "/moments/variance", "Mean", {x, scope + "/moments/mean/reduction_indices"});
    const std::string c = scope + "/cond";
    const std::string p = cond_glue(b, c, training_flag(b));
    // True branch: the updates, then identity(mean), identity(variance).
    const std::string stats[2] = {scope + "/moments/mean", scope + "/moments/variance"};
    const std::string vars[2] = {scope + "/moving_mean", scope + "/moving_variance"};
    const std::string reads[2] = {mean, var};
    for (int k = 0; k < 2; ++k) {
      const std::string u = c + "/AssignMovingAvg" + (k == 0 ? "" : "_1");
      b.constant(u + "/decay", static_cast<float>(1.0 - f.decay));
      b.at(u + "/decay").add_input("^" + c + "/switch_t");
      b.node(u + "/sub/Switch", "Switch", {reads[k], p});
      b.node(u + "/sub/Switch_1", "Switch", {stats[k], p});
      b.node(u + "/sub", "Sub", {u + "/sub/Switch:1", u + "/sub/Switch_1:1"});
      b.node(u + "/mul", "Mul", {u + "/sub", u + "/decay"});
      b.node(u + "/Switch", "RefSwitch", {vars[k], p});
      b.node(u, "AssignSub", {u + "/Switch:1", u + "/mul"});
      b.node(c + "/Identity" + (k == 0 ? "" : "_1") + "/Switch", "Switch", {stats[k], p});
      b.node(c + "/Identity" + (k == 0 ? "" : "_1"), "Identity",
             {c + "/Identity" + (k == 0 ? "" : "_1") + "/Switch:1", "^" + c + "/AssignMovingAvg",
              "^" + c + "/AssignMovingAvg_1"});
    }
    // False branch: the moving statistics, through the cond's Switch.
    b.node(c + "/Switch_1", "Switch", {mean, p});
    b.node(c + "/Switch_2", "Switch", {var, p});
    b.node(c + "/Merge", "Merge", {c + "/Switch_1", c + "/Identity"});
    b.node(c + "/Merge_1", "Merge", {c + "/Switch_2", c + "/Identity_1"});
    m = c + "/Merge";
    v = c + "/Merge_1";
  }
  const std::string bn = scope + "/batchnorm";
  b.node(bn + "/add", "Add", {v, b.constant(bn + "/add/y", f.epsilon)});
  b.node(bn + "/Rsqrt", "Rsqrt", {bn + "/add"});
  std::string inv = bn + "/Rsqrt";
  if (f.gamma) {
    b.node(bn + "/mul", "Mul", {inv, gamma});
    inv = bn + "/mul";
  }
  b.node(bn + "/mul_1", "Mul", {x, inv});
  b.node(bn + "/mul_2", "Mul", {m, inv});
  if (f.beta) {
    b.node(bn + "/sub", "Sub", {beta, bn + "/mul_2"});
  } else {
    b.node(bn + "/sub", "Neg", {bn + "/mul_2"});
  }
  b.node(bn + "/add_1", "Add", {bn + "/mul_1", bn + "/sub"});
  return bn + "/add_1";
}

}  // namespace graft::test
