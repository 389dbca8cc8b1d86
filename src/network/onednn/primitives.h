// What the oneDNN operators (conv.cc, winograd.cc, pool.cc, int8.cc) share: activations' descriptors in either
// layout, the primitive cache's keys, the window geometry, the two kinds of convolution and max-pooling's
// descriptor, the weights' checksum, inference weights with BatchNorm folded, and buffers that reorder weights and
// activations between MindSpore's layouts and a primitive's.
#ifndef POSE_ONEDNN_PRIMITIVES_H
#define POSE_ONEDNN_PRIMITIVES_H

#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime.h"

namespace pose {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// N, C, H, W of an activation given MindSpore's shape and its layout.
inline memory::dims Nchw(const int64_t *shape, bool nhwc) {
  if (nhwc) return {shape[0], shape[3], shape[1], shape[2]};
  return {shape[0], shape[1], shape[2], shape[3]};
}

inline memory::desc Act(const memory::dims &nchw, bool nhwc, dt type = dt::f32) {
  return memory::desc(nchw, type, nhwc ? tag::nhwc : tag::nchw);
}

inline std::string Key(const char *op, std::initializer_list<memory::dims> dims, const Config &cfg,
                       const void *extra = nullptr) {
  std::string key(op);
  for (const auto &d : dims) {
    key += '|';
    for (auto v : d) key += std::to_string(v) + ',';
  }
  char buf[160];
  std::snprintf(buf, sizeof(buf), "|s%d p%d k%d %d%d%d%d%d a%d b%d %p", cfg.stride, cfg.pad, cfg.kernel, cfg.src_nhwc,
                cfg.dst_nhwc, cfg.relu, cfg.deconv, cfg.residual, cfg.affine, cfg.bias, extra);
  return key + buf;
}

// Geometry of a window operation (convolution, transposed convolution, pooling): logical dims of src, weights,
// dst, and the paddings.
struct Geometry {
  memory::dims src, wei, dst, strides, pad_l, pad_r;
};

// The right/bottom padding that makes a window of `cfg.kernel`, stride `cfg.stride`, left padding `cfg.pad` map
// `in` onto `out` (H and W of N×C×H×W dims): Ho = (Hi + pl + pr − k) / s + 1.
inline memory::dims WindowPadRight(const memory::dims &in, const memory::dims &out, const Config &cfg) {
  return {(out[2] - 1) * cfg.stride + cfg.kernel - in[2] - cfg.pad, (out[3] - 1) * cfg.stride + cfg.kernel - in[3] - cfg.pad};
}

// `pad_right` is WindowPadRight of the operation's kind (Kind below for the transposed convolution).
inline Geometry MakeGeometry(const memory::dims &src, const memory::dims &dst, const Config &cfg,
                             const memory::dims &pad_right) {
  Geometry g;
  g.src = src;
  g.dst = dst;
  g.wei = {dst[1], src[1], cfg.kernel, cfg.kernel};
  g.strides = {cfg.stride, cfg.stride};
  g.pad_l = {cfg.pad, cfg.pad};
  g.pad_r = pad_right;
  return g;
}

// The one place where a convolution and a transposed convolution differ, each line giving the transposed
// convolution's choice first: oneDNN's primitive classes and algorithm, MindSpore's weight layout (and so the axis
// of the output channels in it), and the direction of the window formula (a transposed convolution's output is
// the window operation's input: Ho = (Hi − 1)·s − pl − pr + k).
template <bool kDeconv>
struct Kind {
  template <class Deconv, class Conv>
  using Pick = std::conditional_t<kDeconv, Deconv, Conv>;
  using Forward = Pick<dnnl::deconvolution_forward, dnnl::convolution_forward>;
  using BackwardData = Pick<dnnl::deconvolution_backward_data, dnnl::convolution_backward_data>;
  using BackwardWeights = Pick<dnnl::deconvolution_backward_weights, dnnl::convolution_backward_weights>;
  static constexpr dnnl::algorithm kAlg =
      kDeconv ? dnnl::algorithm::deconvolution_direct : dnnl::algorithm::convolution_direct;
  static constexpr tag kUserWeights = kDeconv ? tag::iohw : tag::oihw;  // C×O×k×k, O×C×k×k
  static constexpr int kOutAxis = kDeconv ? 1 : 0;
  static memory::dims PadRight(const memory::dims &src, const memory::dims &dst, const Config &cfg) {
    return kDeconv ? WindowPadRight(dst, src, cfg) : WindowPadRight(src, dst, cfg);
  }
};

// f(Kind<cfg.deconv>()).
template <class F>
decltype(auto) ByKind(const Config &cfg, F &&f) {
  if (cfg.deconv) return f(Kind<true>());
  return f(Kind<false>());
}

// A convolution's or transposed convolution's geometry.
inline Geometry ConvGeometry(const memory::dims &src, const memory::dims &dst, const Config &cfg) {
  return MakeGeometry(src, dst, cfg, ByKind(cfg, [&](auto kind) { return decltype(kind)::PadRight(src, dst, cfg); }));
}

// Max-pooling of `src` onto `dst` (any layout and data type) in `cfg`'s window: kernel, stride, left padding, and
// the right padding that fits. A backward pass takes its window from this descriptor, its hint.
inline dnnl::pooling_forward::primitive_desc MaxPoolDesc(const memory::desc &src, const memory::desc &dst,
                                                         const Config &cfg, dnnl::prop_kind prop,
                                                         const dnnl::primitive_attr &attr = dnnl::primitive_attr()) {
  return dnnl::pooling_forward::primitive_desc(Rt().engine, prop, dnnl::algorithm::pooling_max, src, dst,
                                               {cfg.stride, cfg.stride}, {cfg.kernel, cfg.kernel}, {0, 0},
                                               {cfg.pad, cfg.pad}, WindowPadRight(src.get_dims(), dst.get_dims(), cfg),
                                               attr);
}

// Fletcher-style sums over 64-bit words: any change of a word (or of their order) changes them.
inline void Checksum(const void *data, size_t bytes, uint64_t &a, uint64_t &b) {
  const uint64_t *w = static_cast<const uint64_t *>(data);
  size_t n = bytes / 8;
  uint64_t a0 = a, a1 = 0, a2 = 0, a3 = 0, b0 = b, b1 = 0, b2 = 0, b3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += w[i]; b0 += a0;
    a1 += w[i + 1]; b1 += a1;
    a2 += w[i + 2]; b2 += a2;
    a3 += w[i + 3]; b3 += a3;
  }
  for (; i < n; ++i) { a0 += w[i]; b0 += a0; }
  const unsigned char *tail = static_cast<const unsigned char *>(data) + n * 8;
  for (size_t j = 0; j < bytes % 8; ++j) { a0 += tail[j]; b0 += a0; }
  a = a0 + 3 * a1 + 5 * a2 + 7 * a3;
  b = b0 ^ (b1 * 0x9E3779B97F4A7C15ull) ^ (b2 * 0xC2B2AE3D27D4EB4Full) ^ (b3 * 0x165667B19E3779F9ull);
}

// The inputs an inference operator takes after x and w for Config::affine (0 none, 1 bias, 2 BatchNorm's γ, β, μ,
// σ², 3 both); the residual, where there is one, follows them.
inline int AffineInputs(const Config &cfg) {
  const int kAffineInputs[] = {0, 1, 4, 5};
  if (cfg.affine < 0 || cfg.affine > 3) throw std::runtime_error("affine mode " + std::to_string(cfg.affine));
  return kAffineInputs[cfg.affine];
}

// Multiplies each output channel o of MindSpore-layout weights `w` (g.wei's dims) by scale[o].
inline void ScaleOutputChannels(float *w, const Geometry &g, const Config &cfg, const std::vector<float> &scale) {
  int out_axis = ByKind(cfg, [](auto kind) { return decltype(kind)::kOutAxis; });
  int64_t outer = out_axis == 0 ? g.wei[0] : g.wei[1], inner = out_axis == 0 ? g.wei[1] : g.wei[0];
  size_t taps = size_t(g.wei[2]) * g.wei[3];
  for (int64_t i = 0; i < outer; ++i)
    for (int64_t j = 0; j < inner; ++j) {
      float s = scale[out_axis == 0 ? i : j];
      float *block = w + (size_t(i) * inner + j) * taps;
      for (size_t t = 0; t < taps; ++t) block[t] *= s;
    }
}

// The checksum of an inference operator's weight sources when they were last folded.
struct SourceSums {
  uint64_t a = 0, b = 0;
  bool loaded = false;
};

// Inference weights with the following BatchNorm folded in (MindSpore's layout, g.wei's dims): w·s and the bias
// (b − μ)·s + β, s = γ / sqrt(σ² + eps); or w and b as they are (Config::affine). `params` are an inference
// operator's inputs after cfg: x, w, [b], [γ, β, μ, σ²]. Computed only when the sources' checksum differs from
// `sums` (then updated): returns whether `folded` and `bias` (O floats, unless affine is 0) were written.
inline bool FoldInference(const Config &cfg, const Geometry &g, void **params, SourceSums &sums,
                          std::vector<float> &folded, float *bias) {
  int n_affine = AffineInputs(cfg);
  int64_t out_ch = g.dst[1];
  size_t wcount = size_t(g.wei[0]) * g.wei[1] * g.wei[2] * g.wei[3];
  uint64_t a = 0, b = 0;
  Checksum(params[1], wcount * 4, a, b);
  for (int i = 0; i < n_affine; ++i) Checksum(params[2 + i], size_t(out_ch) * 4, a, b);
  if (sums.loaded && a == sums.a && b == sums.b) return false;
  const float *w = static_cast<const float *>(params[1]);
  folded.assign(w, w + wcount);
  if (cfg.affine >= 2) {
    int first = cfg.affine == 3 ? 3 : 2;
    const float *gamma = static_cast<const float *>(params[first]), *beta = static_cast<const float *>(params[first + 1]);
    const float *mean = static_cast<const float *>(params[first + 2]), *var = static_cast<const float *>(params[first + 3]);
    const float *own = cfg.affine == 3 ? static_cast<const float *>(params[2]) : nullptr;
    std::vector<float> scale(out_ch);
    for (int64_t o = 0; o < out_ch; ++o) {
      scale[o] = gamma[o] / std::sqrt(var[o] + cfg.eps);
      bias[o] = ((own ? own[o] : 0.f) - mean[o]) * scale[o] + beta[o];
    }
    ScaleOutputChannels(folded.data(), g, cfg, scale);
  } else if (cfg.affine == 1) {
    std::memcpy(bias, params[2], size_t(out_ch) * 4);
  }
  sums = SourceSums{a, b, true};
  return true;
}

inline dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

inline void Log(const char *what, const std::string &key, const dnnl::primitive_desc_base &pd) {
  if (Rt().verbose) std::fprintf(stderr, "pose_onednn: %s %s -> %s\n", what, key.c_str(), pd.impl_info_str());
}

// Weights reordered from MindSpore's layout into a primitive's, in a buffer of their own.
struct WeightBuffer {
  memory::desc user, wanted;
  dnnl::memory mem;
  dnnl::reorder reorder;
  bool same = false;
  void Init(const memory::desc &user_md, const memory::desc &wanted_md) {
    user = user_md;
    wanted = wanted_md;
    same = user == wanted;
    if (!same) {
      mem = dnnl::memory(wanted, Rt().engine);
      reorder = dnnl::reorder(dnnl::memory(user, Rt().engine), mem);
    }
  }
  // The primitive's weights memory holding `data` (MindSpore's layout).
  dnnl::memory From(const void *data) {
    auto &rt = Rt();
    dnnl::memory src(user, rt.engine, const_cast<void *>(data));
    if (same) return src;
    reorder.execute(rt.stream, src, mem);
    return mem;
  }
};

// An activation in the layout a primitive wants; reordered through a buffer when MindSpore's differs.
struct ActBuffer {
  memory::desc user, wanted;
  dnnl::memory buffer;
  dnnl::reorder reorder;
  bool same = true;
  void Init(const memory::desc &user_md, const memory::desc &wanted_md, bool to_user) {
    user = user_md;
    wanted = wanted_md;
    same = user == wanted;
    if (!same) {
      buffer = dnnl::memory(wanted, Rt().engine);
      dnnl::memory u(user, Rt().engine);
      reorder = to_user ? dnnl::reorder(buffer, u) : dnnl::reorder(u, buffer);
    }
  }
  dnnl::memory In(const void *data) {
    dnnl::memory u(user, Rt().engine, const_cast<void *>(data));
    if (same) return u;
    reorder.execute(Rt().stream, u, buffer);
    return buffer;
  }
  dnnl::memory Out(void *data) {
    return same ? dnnl::memory(user, Rt().engine, data) : buffer;
  }
  void Finish(void *data) {
    if (same) return;
    dnnl::memory u(user, Rt().engine, data);
    reorder.execute(Rt().stream, buffer, u);
  }
};

// conv.cc's training forward pass and backward-data on oneDNN's direct kernels, which winograd.cc's training operators
// hand the layers with few tiles to (the operators' arguments).
int DirectForward(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes);
int DirectBackwardData(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes);

}  // namespace pose

#endif  // POSE_ONEDNN_PRIMITIVES_H
