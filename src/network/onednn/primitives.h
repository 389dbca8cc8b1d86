// What the oneDNN operators (conv.cc, pool.cc, int8.cc) share: activations' descriptors in either layout, the primitive
// cache's keys, the window geometry, and buffers that reorder weights and activations between MindSpore's layouts
// and a primitive's.
#ifndef POSE_ONEDNN_PRIMITIVES_H
#define POSE_ONEDNN_PRIMITIVES_H

#include <cstdio>
#include <initializer_list>
#include <string>

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

// `pad_right` is WindowPadRight of the operation's kind (conv.cc's Kind for the transposed convolution).
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

}  // namespace pose

#endif  // POSE_ONEDNN_PRIMITIVES_H
