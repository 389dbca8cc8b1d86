// oneDNN convolutions and transposed convolutions as MindSpore AOT custom operators (CPU): inference with the
// following BatchNorm folded into the kernel and the bias, residual addition and ReLU fused; training's forward
// pass, backward-data and backward-weights.
//
// Activations are float32, either NCHW or NHWC (MindSpore then sees the shape N×H×W×C); weights are MindSpore's:
// O×C×kh×kw for a convolution, C×O×kh×kw for a transposed one. The primitives work on NHWC and reorder at the
// boundary. Primitives are created once per shape and setting and kept in the runtime's cache; so are inference
// weights, folded with their BatchNorm and reordered into the primitive's layout, as long as a checksum of their
// sources is unchanged.
//
// In inference a transposed convolution without residual runs as one ordinary convolution per output phase
// (phases.h) where oneDNN dispatches AVX-512 kernels: on two AVX-512 cores (a Xeon) ResNet-50's first one
// (2048 -> 256 channels on 8×6 pixels) took 30 against oneDNN's 47 ms, the others the same time or less. On an AVX2
// CPU (Zen 3) oneDNN's own was faster (the network 0.95-0.98x with phases), so it stays there.
// POSE_ONEDNN_DECONV_PHASES=1 or 0 decides otherwise (docs/cpu_performance.md).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "phases.h"
#include "primitives.h"

namespace pose {
namespace {

// MindSpore's weight layout.
memory::desc UserWeights(const Geometry &g, const Config &cfg) {
  return memory::desc(g.wei, dt::f32, ByKind(cfg, [](auto kind) { return decltype(kind)::kUserWeights; }));
}

// Forward primitive descriptor of either kind, on NHWC activations.
struct FwdPd {
  dnnl::primitive_desc pd;
  memory::desc weights, src, dst;
};

FwdPd MakeForward(const Geometry &g, const Config &cfg, dnnl::prop_kind prop, bool bias, const dnnl::primitive_attr &attr) {
  auto &rt = Rt();
  FwdPd out;
  out.src = Act(g.src, true);
  out.dst = Act(g.dst, true);
  memory::desc wei(g.wei, dt::f32, tag::any);
  memory::desc b = bias ? memory::desc({g.dst[1]}, dt::f32, tag::x) : memory::desc();
  ByKind(cfg, [&](auto kind) {
    using K = decltype(kind);
    typename K::Forward::primitive_desc pd(rt.engine, prop, K::kAlg, out.src, wei, b, out.dst, g.strides, g.pad_l,
                                           g.pad_r, attr);
    out.weights = pd.weights_desc();
    out.pd = pd;
  });
  return out;
}

dnnl::primitive ForwardPrimitive(const FwdPd &fwd, const Config &cfg) {
  return ByKind(cfg, [&](auto kind) -> dnnl::primitive {
    using K = decltype(kind);
    return typename K::Forward(typename K::Forward::primitive_desc(fwd.pd.get()));
  });
}

// ------------------------------------------------------------------------------------------------ operators

struct InferConv {
  dnnl::primitive prim;
  FwdPd fwd;
  ActBuffer src, dst;
  dnnl::memory weights, bias;
  memory::desc residual;
  SourceSums sums;
  DeconvPhases phases;
  bool by_phases = false;
};

bool DeconvPhasesWanted() {
  const char *env = std::getenv("POSE_ONEDNN_DECONV_PHASES");
  if (env && *env) return std::string(env) != "0";
  static const bool avx512 = [] {
    unsigned isa = unsigned(dnnl::get_effective_cpu_isa()), core = unsigned(dnnl::cpu_isa::avx512_core);
    return (isa & core) == core;
  }();
  return avx512;
}

struct TrainConv {
  dnnl::primitive prim;
  FwdPd fwd;
  WeightBuffer weights;
  ActBuffer src, dst;
};

struct BackData {
  dnnl::primitive prim;
  memory::desc scratch;
  WeightBuffer weights;
  ActBuffer diff_src, diff_dst;
};

struct BackWeights {
  dnnl::primitive prim;
  memory::desc scratch;
  ActBuffer src, diff_dst, diff_weights;
  bool bias = false;
};

// Inference: y = act(conv(x, w·s) + (b − μ)·s + β [+ residual]), s = γ / sqrt(σ² + eps), with or without a bias b;
// or with a bias and no BatchNorm; or neither. Inputs: x, w, [bias], [γ, β, μ, σ²], [residual]. Output: y.
int ConvInfer(const Config &cfg, int n, void **params, int *, int64_t **shapes) {
  int res_index = 2 + AffineInputs(cfg);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[n - 1], cfg.dst_nhwc);
  Geometry g = ConvGeometry(src, dst, cfg);
  bool phases_wanted = cfg.deconv && !cfg.residual && DeconvPhasesWanted();
  std::string key = Key("infer", {src, dst}, cfg, params[1]) + (phases_wanted ? "|phases" : "");
  auto &rt = Rt();
  bool fresh = false;
  InferConv *op = rt.cache.Get<InferConv>(key, fresh);
  if (fresh) {
    dnnl::primitive_attr attr = UserScratchpad();
    dnnl::post_ops po;
    if (cfg.residual) {
      op->residual = Act(g.dst, true);
      po.append_binary(dnnl::algorithm::binary_add, op->residual);
    }
    if (cfg.relu) po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
    op->src.Init(Act(g.src, cfg.src_nhwc), Act(g.src, true), false);
    op->dst.Init(Act(g.dst, cfg.dst_nhwc), Act(g.dst, true), true);
    op->by_phases = phases_wanted && op->phases.Init(src, dst, cfg, op->src.wanted, dt::f32, dt::f32, cfg.affine != 0,
                                                     attr, key, "inference deconv");
    if (!op->by_phases) {
      op->fwd = MakeForward(g, cfg, dnnl::prop_kind::forward_inference, cfg.affine != 0, attr);
      op->prim = ForwardPrimitive(op->fwd, cfg);
      op->weights = dnnl::memory(op->fwd.weights, rt.engine);
      rt.cache.Charge(op->fwd.weights.get_size());
      Log("inference", key, op->fwd.pd);
    }
    if (cfg.affine) op->bias = dnnl::memory(memory::desc({g.dst[1]}, dt::f32, tag::x), rt.engine);
    rt.cache.Charge(size_t(g.dst[1]) * 4);
  }
  // weights: folded and reordered again only when their sources changed
  std::vector<float> folded;
  float *bias = cfg.affine ? static_cast<float *>(op->bias.get_data_handle()) : nullptr;
  if (FoldInference(cfg, g, params, op->sums, folded, bias)) {
    if (op->by_phases) {
      op->phases.LoadWeights(folded.data(), {g.wei[1], g.wei[0], cfg.kernel, cfg.kernel}, dt::f32);  // C×O×k×k
    } else {
      dnnl::memory user(UserWeights(g, cfg), rt.engine, folded.data());
      dnnl::reorder(user, op->weights).execute(rt.stream, user, op->weights);
    }
  }
  if (op->by_phases) {
    std::unordered_map<int, dnnl::memory> shared;
    if (cfg.affine) shared[DNNL_ARG_BIAS] = op->bias;
    op->phases.Execute(op->src.In(params[0]), static_cast<char *>(op->dst.Out(params[n - 1]).get_data_handle()),
                       shared);
    op->dst.Finish(params[n - 1]);
    return 0;
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, op->src.In(params[0])},
                                             {DNNL_ARG_WEIGHTS, op->weights},
                                             {DNNL_ARG_DST, op->dst.Out(params[n - 1])}};
  if (cfg.affine) args[DNNL_ARG_BIAS] = op->bias;
  if (cfg.residual)
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = dnnl::memory(op->residual, rt.engine, params[res_index]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->fwd.pd.scratchpad_desc());
  op->prim.execute(rt.stream, args);
  op->dst.Finish(params[n - 1]);
  return 0;
}

// Training forward: y = conv(x, w) [+ bias]. Inputs: x, w, [bias]. Output: y.
int ConvForward(const Config &cfg, int n, void **params, int *, int64_t **shapes) {
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[n - 1], cfg.dst_nhwc);
  Geometry g = ConvGeometry(src, dst, cfg);
  std::string key = Key("forward", {src, dst}, cfg);
  auto &rt = Rt();
  bool fresh = false;
  TrainConv *op = rt.cache.Get<TrainConv>(key, fresh);
  if (fresh) {
    op->fwd = MakeForward(g, cfg, dnnl::prop_kind::forward_training, cfg.bias, UserScratchpad());
    op->src.Init(Act(g.src, cfg.src_nhwc), op->fwd.src, false);
    op->dst.Init(Act(g.dst, cfg.dst_nhwc), op->fwd.dst, true);
    op->prim = ForwardPrimitive(op->fwd, cfg);
    op->weights.Init(UserWeights(g, cfg), op->fwd.weights);
    Log("forward", key, op->fwd.pd);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, op->src.In(params[0])},
                                             {DNNL_ARG_WEIGHTS, op->weights.From(params[1])},
                                             {DNNL_ARG_DST, op->dst.Out(params[n - 1])}};
  if (cfg.bias) args[DNNL_ARG_BIAS] = dnnl::memory(memory::desc({g.dst[1]}, dt::f32, tag::x), rt.engine, params[2]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->fwd.pd.scratchpad_desc());
  op->prim.execute(rt.stream, args);
  op->dst.Finish(params[n - 1]);
  return 0;
}

// Gradient of the input: dx = conv_backward_data(dy, w). Inputs: dy, w, x (for its shape). Output: dx.
int ConvBackwardData(const Config &cfg, int n, void **params, int *, int64_t **shapes) {
  memory::dims dst = Nchw(shapes[0], cfg.dst_nhwc), src = Nchw(shapes[n - 1], cfg.src_nhwc);
  Geometry g = ConvGeometry(src, dst, cfg);
  std::string key = Key("backward_data", {src, dst}, cfg);
  auto &rt = Rt();
  bool fresh = false;
  BackData *op = rt.cache.Get<BackData>(key, fresh);
  if (fresh) {
    FwdPd hint = MakeForward(g, cfg, dnnl::prop_kind::forward_training, false, dnnl::primitive_attr());
    memory::desc diff_src = Act(g.src, true), diff_dst = Act(g.dst, true);
    op->diff_src.Init(Act(g.src, cfg.src_nhwc), diff_src, true);
    op->diff_dst.Init(Act(g.dst, cfg.dst_nhwc), diff_dst, false);
    memory::desc wei(g.wei, dt::f32, tag::any);
    dnnl::primitive_desc pd;
    memory::desc wanted;
    ByKind(cfg, [&](auto kind) {
      using K = decltype(kind);
      typename K::BackwardData::primitive_desc p(rt.engine, K::kAlg, diff_src, wei, diff_dst, g.strides, g.pad_l,
                                                 g.pad_r, typename K::Forward::primitive_desc(hint.pd.get()),
                                                 UserScratchpad());
      wanted = p.weights_desc();
      op->prim = typename K::BackwardData(p);
      pd = p;
    });
    op->weights.Init(UserWeights(g, cfg), wanted);
    op->scratch = pd.scratchpad_desc();
    Log("backward_data", key, pd);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, op->diff_dst.In(params[0])},
                                             {DNNL_ARG_WEIGHTS, op->weights.From(params[1])},
                                             {DNNL_ARG_DIFF_SRC, op->diff_src.Out(params[n - 1])}};
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  op->diff_src.Finish(params[n - 1]);
  return 0;
}

// Gradient of the weights (and bias). Inputs: x, dy, w (for its shape). Outputs: dw (MindSpore's layout), [db].
int ConvBackwardWeights(const Config &cfg, int, void **params, int *, int64_t **shapes) {
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[1], cfg.dst_nhwc);
  Geometry g = ConvGeometry(src, dst, cfg);
  std::string key = Key("backward_weights", {src, dst}, cfg);
  auto &rt = Rt();
  bool fresh = false;
  BackWeights *op = rt.cache.Get<BackWeights>(key, fresh);
  if (fresh) {
    FwdPd hint = MakeForward(g, cfg, dnnl::prop_kind::forward_training, cfg.bias, dnnl::primitive_attr());
    memory::desc src_md = Act(g.src, true), diff_dst = Act(g.dst, true);
    op->src.Init(Act(g.src, cfg.src_nhwc), src_md, false);
    op->diff_dst.Init(Act(g.dst, cfg.dst_nhwc), diff_dst, false);
    op->bias = cfg.bias;
    memory::desc wei(g.wei, dt::f32, tag::any);
    memory::desc b = cfg.bias ? memory::desc({g.dst[1]}, dt::f32, tag::x) : memory::desc();
    dnnl::primitive_desc pd;
    memory::desc wanted;
    ByKind(cfg, [&](auto kind) {
      using K = decltype(kind);
      typename K::BackwardWeights::primitive_desc p(rt.engine, K::kAlg, src_md, wei, b, diff_dst, g.strides, g.pad_l,
                                                    g.pad_r, typename K::Forward::primitive_desc(hint.pd.get()),
                                                    UserScratchpad());
      wanted = p.diff_weights_desc();
      op->prim = typename K::BackwardWeights(p);
      pd = p;
    });
    op->diff_weights.Init(UserWeights(g, cfg), wanted, true);
    op->scratch = pd.scratchpad_desc();
    Log("backward_weights", key, pd);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, op->src.In(params[0])},
                                             {DNNL_ARG_DIFF_DST, op->diff_dst.In(params[1])},
                                             {DNNL_ARG_DIFF_WEIGHTS, op->diff_weights.Out(params[3])}};
  if (op->bias) args[DNNL_ARG_DIFF_BIAS] = dnnl::memory(memory::desc({g.dst[1]}, dt::f32, tag::x), rt.engine, params[4]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  op->diff_weights.Finish(params[3]);
  return 0;
}

}  // namespace

int DirectForward(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes) {
  return ConvForward(cfg, n, params, ndims, shapes);
}

int DirectBackwardData(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes) {
  return ConvBackwardData(cfg, n, params, ndims, shapes);
}

}  // namespace pose

POSE_AOT(pose_conv_infer, pose::ConvInfer)
POSE_AOT(pose_conv_forward, pose::ConvForward)
POSE_AOT(pose_conv_backward_data, pose::ConvBackwardData)
POSE_AOT(pose_conv_backward_weights, pose::ConvBackwardWeights)
