// Quantized (int8) and bf16 inference operators on oneDNN as MindSpore AOT custom operators (CPU): units of the library
// beside the float operators (conv.cc, pool.cc, batchnorm.cc), on the same runtime (runtime.h: thread pool, stream,
// primitive cache, AOT wrapper).
//
// Every exported operator has MindSpore's AOT signature (runtime.h); the data types of activations come from
// `dtypes` ("float32", "uint8", "int8", "bfloat16"). As for every operator of the library, the first input is `cfg`,
// the layer's settings (settings.h; the scales s_x, s_y, s_r are its src_scale, dst_scale, res_scale).
//
// The arithmetic (src/quantize/arithmetic.py is its NumPy reference):
//   x = s_x·x_q (x_q u8 after a ReLU, s8 elsewhere), w[o] = s_w[o]·w_q[o] (s8, per output channel),
//   y = act(s_x·s_w[o]·Σ x_q·w_q + b[o] [+ s_r·r_q]),  y_q = saturate(rint(y / s_y))   (or y itself in float32).
// Accumulation is int32. oneDNN without VNNI (vpmaddubsw on AVX2) halves the weights to keep its 16-bit pair sums
// from saturating; the Python side then quantizes them to even values, which the halving keeps exact.
// A layer whose input is float32 runs in float32 (weights float32, no scales) and may still write u8/s8.
// A layer whose input is bfloat16 runs in bf16: its float32 weights are rounded to bf16 when they are reordered into
// the primitive's layout, products are summed in float32, and the output is bf16 or float32 (no scales).
//
// Primitives are created once per shape, data types and setting and kept in the runtime's primitive cache; so are
// the weights reordered into the primitive's layout, as long as a checksum of their bytes is unchanged.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "phases.h"
#include "primitives.h"

namespace pose {
namespace {

dt DataType(const char *name) {
  std::string s(name);
  if (s == "float32" || s == "float") return dt::f32;
  if (s == "uint8") return dt::u8;
  if (s == "int8") return dt::s8;
  if (s == "bfloat16") return dt::bf16;
  throw std::runtime_error("unsupported data type " + s);
}

bool Integer(dt type) { return type == dt::u8 || type == dt::s8; }

// The weights' type in a layer's primitive: bf16 where its input is bf16 (the caller's are float32), else the
// caller's.
dt ComputedWeights(dt src, dt weights) { return src == dt::bf16 ? dt::bf16 : weights; }

// A float32 scalar or vector as oneDNN memory over the caller's storage.
dnnl::memory Floats(const float *data, int64_t count) {
  return dnnl::memory(memory::desc({count}, dt::f32, tag::x), Rt().engine, const_cast<float *>(data));
}


// ------------------------------------------------------------------------------------------------ convolution

// The primitive attributes of a layer: the scales (s_x, per-channel s_w, s_y) and the post-ops (the residual's sum,
// ReLU). The sum post-op's scale and type are part of the primitive, not arguments of a call.
dnnl::primitive_attr LayerAttr(const Config &cfg, bool quantized, bool scaled_dst, dt res_dt) {
  dnnl::primitive_attr attr = UserScratchpad();
  if (quantized) {
    attr.set_scales_mask(DNNL_ARG_SRC, 0);
    attr.set_scales_mask(DNNL_ARG_WEIGHTS, 1);  // per output channel
  }
  if (scaled_dst) attr.set_scales_mask(DNNL_ARG_DST, 0);
  dnnl::post_ops po;
  if (cfg.residual) po.append_sum(cfg.res_scale == 0 ? 1.f : cfg.res_scale, 0, res_dt);
  if (cfg.relu) po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(po);
  return attr;
}

// oneDNN's integer transposed convolution on AVX2 ran at about half its convolutions' rate here: a transposed
// convolution without residual runs as one ordinary convolution per output phase (phases.h), bit for bit the same.
struct QDeconv {
  DeconvPhases phases;
  ActBuffer src, dst;
  bool quantized = false, scaled_dst = false;
  uint64_t sum_a = 0, sum_b = 0;
  bool loaded = false, fits = false;
};

// The transposed convolution of QConvForward (no residual) by phases; false where the phases do not fit.
bool QDeconvForward(const Config &cfg, int n, void **params, int64_t **shapes, const char **dtypes) {
  const int out = n - 1;
  dt src_dt = DataType(dtypes[0]), wei_dt = DataType(dtypes[1]), dst_dt = DataType(dtypes[out]);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[out], cfg.dst_nhwc);
  std::string key = Key("qdeconv", {src, dst}, cfg, params[1]) + dtypes[0] + dtypes[out];
  auto &rt = Rt();
  bool fresh = false;
  QDeconv *op = rt.cache.Get<QDeconv>(key, fresh);
  if (fresh) {
    op->quantized = Integer(src_dt);
    op->scaled_dst = Integer(dst_dt);
    op->src.Init(Act(src, cfg.src_nhwc, src_dt), Act(src, true, src_dt), false);
    op->dst.Init(Act(dst, cfg.dst_nhwc, dst_dt), Act(dst, true, dst_dt), true);
    dnnl::primitive_attr attr = LayerAttr(cfg, op->quantized, op->scaled_dst, dst_dt);
    op->fits = op->phases.Init(src, dst, cfg, op->src.wanted, ComputedWeights(src_dt, wei_dt), dst_dt, true, attr, key,
                               "int8 deconv");
  }
  if (!op->fits) return false;
  memory::dims wei{src[1], dst[1], cfg.kernel, cfg.kernel};
  size_t wbytes = size_t(wei[0] * wei[1] * wei[2] * wei[3]) * memory::data_type_size(wei_dt);
  uint64_t a = 0, b = 0;
  Checksum(params[1], wbytes, a, b);
  if (!op->loaded || a != op->sum_a || b != op->sum_b) {
    op->phases.LoadWeights(params[1], wei, wei_dt);
    op->sum_a = a;
    op->sum_b = b;
    op->loaded = true;
  }
  int64_t out_ch = dst[1];
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_BIAS, Floats(static_cast<float *>(params[2]), out_ch)}};
  if (op->quantized) {
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC] = Floats(&cfg.src_scale, 1);
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS] = Floats(static_cast<float *>(params[3]), out_ch);
  }
  if (op->scaled_dst) args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST] = Floats(&cfg.dst_scale, 1);
  op->phases.Execute(op->src.In(params[0]), static_cast<char *>(op->dst.Out(params[out]).get_data_handle()), args);
  op->dst.Finish(params[out]);
  return true;
}

struct QConv {
  dnnl::primitive prim;
  dnnl::primitive_desc pd;
  memory::desc residual;
  ActBuffer src, dst;
  dnnl::memory weights;
  bool quantized = false, scaled_dst = false;
  uint64_t sum_a = 0, sum_b = 0;
  bool loaded = false;
};

// y = act(conv(x, w) + b [+ residual]), quantized as the file's header says. Inputs: x, w, b (O, float32),
// s_w (O, float32; ignored in float32), [residual (NHWC, of y's data type)]. Output: y.
int QConvForward(const Config &cfg, int n, void **params, int *, int64_t **shapes, const char **dtypes) {
  const int out = n - 1, res_index = 4;
  dt src_dt = DataType(dtypes[0]), wei_dt = DataType(dtypes[1]), dst_dt = DataType(dtypes[out]);
  bool quantized = Integer(src_dt);
  if (quantized != (wei_dt == dt::s8) || (!quantized && wei_dt != dt::f32))
    throw std::runtime_error("weights must be int8 with an integer input, float32 with a float32 or bfloat16 input");
  if (cfg.deconv && !cfg.residual && QDeconvForward(cfg, n, params, shapes, dtypes)) return 0;
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[out], cfg.dst_nhwc);
  Geometry g = ConvGeometry(src, dst, cfg);
  std::string key = Key("qconv", {src, dst}, cfg, params[1]) + dtypes[0] + dtypes[out];
  if (cfg.residual) {  // the sum post-op's scale and type are part of the primitive (LayerAttr)
    char sum[64];
    std::snprintf(sum, sizeof(sum), "|%s %a", dtypes[res_index], double(cfg.res_scale));
    key += sum;
  }
  auto &rt = Rt();
  bool fresh = false;
  QConv *op = rt.cache.Get<QConv>(key, fresh);
  if (fresh) {
    op->quantized = quantized;
    op->scaled_dst = Integer(dst_dt);
    dt res_dt = cfg.residual ? DataType(dtypes[res_index]) : dst_dt;
    if (memory::data_type_size(res_dt) != memory::data_type_size(dst_dt))
      throw std::runtime_error("the residual must have the output's data type size");
    if (cfg.residual) op->residual = Act(dst, true, res_dt);
    dnnl::primitive_attr attr = LayerAttr(cfg, quantized, op->scaled_dst, res_dt);
    op->src.Init(Act(src, cfg.src_nhwc, src_dt), Act(src, true, src_dt), false);
    op->dst.Init(Act(dst, cfg.dst_nhwc, dst_dt), Act(dst, true, dst_dt), true);
    if (cfg.residual && !op->dst.same) throw std::runtime_error("a fused residual needs an NHWC output");
    memory::desc w_any(g.wei, ComputedWeights(src_dt, wei_dt), tag::any), bias({dst[1]}, dt::f32, tag::x);
    ByKind(cfg, [&](auto kind) {
      using K = decltype(kind);
      auto pd = typename K::Forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_inference, K::kAlg,
                                                    op->src.wanted, w_any, bias, op->dst.wanted, g.strides, g.pad_l,
                                                    g.pad_r, attr);
      op->prim = typename K::Forward(pd);
      op->pd = pd;
    });
    op->weights = dnnl::memory(op->pd.weights_desc(), rt.engine);
    rt.cache.Charge(op->pd.weights_desc().get_size());
    Log("int8 conv", key, op->pd);
  }
  int64_t out_ch = dst[1];
  size_t wbytes = size_t(g.wei[0]) * g.wei[1] * g.wei[2] * g.wei[3] * memory::data_type_size(wei_dt);
  uint64_t a = 0, b = 0;
  Checksum(params[1], wbytes, a, b);
  if (!op->loaded || a != op->sum_a || b != op->sum_b) {
    memory::desc user(g.wei, wei_dt, ByKind(cfg, [](auto kind) { return decltype(kind)::kUserWeights; }));
    dnnl::memory user_mem(user, rt.engine, params[1]);
    dnnl::reorder(user_mem, op->weights).execute(rt.stream, user_mem, op->weights);
    op->sum_a = a;
    op->sum_b = b;
    op->loaded = true;
  }
  if (cfg.residual) std::memcpy(params[out], params[res_index], op->residual.get_size());
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, op->src.In(params[0])},
                                             {DNNL_ARG_WEIGHTS, op->weights},
                                             {DNNL_ARG_BIAS, Floats(static_cast<float *>(params[2]), out_ch)},
                                             {DNNL_ARG_DST, op->dst.Out(params[out])}};
  if (op->quantized) {
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC] = Floats(&cfg.src_scale, 1);
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS] = Floats(static_cast<float *>(params[3]), out_ch);
  }
  if (op->scaled_dst) args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST] = Floats(&cfg.dst_scale, 1);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->pd.scratchpad_desc());
  op->prim.execute(rt.stream, args);
  op->dst.Finish(params[out]);
  return 0;
}

// ------------------------------------------------------------------------------------------------ reorder, pool

struct QReorder {
  dnnl::reorder prim;
  memory::desc src, dst;
};

// Quantizes or dequantizes: y = x·s_x / s_y, rounded to nearest even and saturated where y is an integer type.
// cfg: src_nhwc, dst_nhwc, s_x, s_y. Inputs: x. Output: y.
int QReorderForward(const Config &cfg, int, void **params, int *, int64_t **shapes, const char **dtypes) {
  dt src_dt = DataType(dtypes[0]), dst_dt = DataType(dtypes[1]);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc);
  std::string key = Key("qreorder", {src}, cfg) + dtypes[0] + dtypes[1];
  auto &rt = Rt();
  bool fresh = false;
  QReorder *op = rt.cache.Get<QReorder>(key, fresh);
  if (fresh) {
    op->src = Act(src, cfg.src_nhwc, src_dt);
    op->dst = Act(src, cfg.dst_nhwc, dst_dt);
    dnnl::primitive_attr attr;
    attr.set_scales_mask(DNNL_ARG_SRC, 0);
    attr.set_scales_mask(DNNL_ARG_DST, 0);
    auto pd = dnnl::reorder::primitive_desc(rt.engine, op->src, rt.engine, op->dst, attr);
    op->prim = dnnl::reorder(pd);
    Log("int8 reorder", key, pd);
  }
  dnnl::memory x(op->src, rt.engine, params[0]), y(op->dst, rt.engine, params[1]);
  op->prim.execute(rt.stream, {{DNNL_ARG_FROM, x}, {DNNL_ARG_TO, y},
                               {DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC, Floats(&cfg.src_scale, 1)},
                               {DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST, Floats(&cfg.dst_scale, 1)}});
  return 0;
}

struct QPool {
  dnnl::primitive prim;
  dnnl::primitive_desc pd;
  memory::desc src, dst;
};

// Max-pooling of an NHWC activation of any of the data types. cfg: kernel, stride, pad. Inputs: x. Output: y.
int QPoolForward(const Config &cfg, int, void **params, int *, int64_t **shapes, const char **dtypes) {
  dt type = DataType(dtypes[0]);
  memory::dims src = Nchw(shapes[0], true), dst = Nchw(shapes[1], true);
  std::string key = Key("qpool", {src, dst}, cfg) + dtypes[0];
  auto &rt = Rt();
  bool fresh = false;
  QPool *op = rt.cache.Get<QPool>(key, fresh);
  if (fresh) {
    op->src = Act(src, true, type);
    op->dst = Act(dst, true, type);
    auto pd = MaxPoolDesc(op->src, op->dst, cfg, dnnl::prop_kind::forward_inference, UserScratchpad());
    op->prim = dnnl::pooling_forward(pd);
    op->pd = pd;
    Log("int8 pool", key, pd);
  }
  op->prim.execute(rt.stream, {{DNNL_ARG_SRC, dnnl::memory(op->src, rt.engine, params[0])},
                               {DNNL_ARG_DST, dnnl::memory(op->dst, rt.engine, params[1])},
                               {DNNL_ARG_SCRATCHPAD, rt.Scratchpad(op->pd.scratchpad_desc())}});
  return 0;
}

}  // namespace
}  // namespace pose

POSE_AOT(pose_q_conv, pose::QConvForward)
POSE_AOT(pose_q_reorder, pose::QReorderForward)
POSE_AOT(pose_q_pool, pose::QPoolForward)
