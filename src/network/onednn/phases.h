// A transposed convolution of stride s computed as s×s ordinary convolutions, one per phase (a, b) of its output:
// the pixels (s·m + a, s·n + b). The int8 and bf16 inference takes it (int8.cc): oneDNN's integer transposed
// convolution on AVX2 ran at about half its convolutions' rate here (docs/int8.md). The float32 inference takes it
// where oneDNN dispatches AVX-512 kernels (conv.cc: ResNet-50's 2048 -> 256 layer ran 1.5x as fast); on AVX2
// (Zen 3) oneDNN's float transposed convolution was faster (docs/cpu_performance.md).
//
// Along one axis, output row s·m + a gathers the input rows iy with kernel row ky = s·(m − iy + q) + r, where
// a + pad = s·q + r; these are t taps, t = ⌈(k − r) / s⌉, an ordinary convolution of kernel t with left padding
// t − 1 − q whose tap j is the kernel row s·(t − 1 − j) + r. The sums are the transposed convolution's terms, so
// integer results are bit for bit the same.
//
// oneDNN's convolutions write dense activations only (with a strided output they take the reference kernel): each
// phase writes an NHWC buffer, then a reorder scatters it into the transposed convolution's (strided) output view.
#ifndef POSE_ONEDNN_PHASES_H
#define POSE_ONEDNN_PHASES_H

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "primitives.h"

namespace pose {

struct PhaseAxis {
  int64_t taps = 0, pad_l = 0, pad_r = 0, size = 0, first_row = 0;  // first_row: r, the kernel row of the last tap
};

// The phase `a` of one axis (input size `in`, output size `out`); size 0 where it does not fit the scheme.
inline PhaseAxis Phase(int64_t in, int64_t out, int stride, int pad, int kernel, int a) {
  PhaseAxis p;
  int64_t r = (a + pad) % stride, q = (a + pad) / stride;
  p.taps = (kernel - r + stride - 1) / stride;
  p.first_row = r;
  p.size = (out - a + stride - 1) / stride;
  p.pad_l = p.taps - 1 - q;
  p.pad_r = p.size - 1 + p.taps - in - p.pad_l;
  if (p.taps <= 0 || p.size <= 0 || p.pad_l < 0 || p.pad_r < 0) p.size = 0;
  return p;
}

// One phase: its convolution and the reorder scattering its output into the transposed convolution's.
struct DeconvPhase {
  dnnl::primitive prim;
  dnnl::primitive_desc pd;
  dnnl::memory weights;
  memory::desc dst, view;  // the phase's output (NHWC) and its pixels in the transposed convolution's (strided)
  dnnl::reorder scatter;  // from the one to the other
  size_t offset = 0;  // bytes from the output's first pixel to the phase's
  PhaseAxis y, x;
};

// The phases' geometry of a transposed convolution from `src` to `dst` (N×C×H×W dims), or none where one does not
// fit.
inline std::vector<DeconvPhase> PhaseGeometry(const memory::dims &src, const memory::dims &dst, const Config &cfg) {
  std::vector<DeconvPhase> phases;
  for (int a = 0; a < cfg.stride; ++a)
    for (int b = 0; b < cfg.stride; ++b) {
      DeconvPhase ph;
      ph.y = Phase(src[2], dst[2], cfg.stride, cfg.pad, cfg.kernel, a);
      ph.x = Phase(src[3], dst[3], cfg.stride, cfg.pad, cfg.kernel, b);
      if (ph.y.size == 0 || ph.x.size == 0) return {};
      phases.push_back(ph);
    }
  return phases;
}

// Phase weights O×C×t_y×t_x (oihw) gathered from a transposed convolution's C×O×k×k (`wei`), `size` bytes an element.
inline void GatherPhaseWeights(const char *w, const memory::dims &wei, const DeconvPhase &ph, int stride, size_t size,
                               std::vector<char> &out) {
  int64_t in_ch = wei[0], out_ch = wei[1], k = wei[2];
  out.resize(size_t(out_ch * in_ch * ph.y.taps * ph.x.taps) * size);
  char *o_ptr = out.data();
  for (int64_t o = 0; o < out_ch; ++o)
    for (int64_t c = 0; c < in_ch; ++c)
      for (int64_t i = 0; i < ph.y.taps; ++i)
        for (int64_t j = 0; j < ph.x.taps; ++j, o_ptr += size) {
          int64_t ky = stride * (ph.y.taps - 1 - i) + ph.y.first_row, kx = stride * (ph.x.taps - 1 - j) + ph.x.first_row;
          std::memcpy(o_ptr, w + size_t(((c * out_ch + o) * k + ky) * k + kx) * size, size);
        }
}

// A transposed convolution's phases with their primitives, the buffer they write, and their weights.
struct DeconvPhases {
  std::vector<DeconvPhase> phases;
  std::vector<char> buffer;
  int stride = 1;

  // Builds the phases of a transposed convolution from `src` to `dst` (N×C×H×W dims), reading `src_md` (NHWC)
  // with weights of `wei_dt` into `dst_dt`, with or without a float32 bias, under `attr`; false where the phases
  // do not fit (then nothing is built).
  bool Init(const memory::dims &src, const memory::dims &dst, const Config &cfg, const memory::desc &src_md,
            dt wei_dt, dt dst_dt, bool bias, const dnnl::primitive_attr &attr, const std::string &key,
            const char *what) {
    auto &rt = Rt();
    phases = PhaseGeometry(src, dst, cfg);
    if (phases.empty()) return false;
    stride = cfg.stride;
    memory::dim row = dst[3] * dst[1];  // NHWC: elements of an output row
    size_t size = memory::data_type_size(dst_dt);
    for (size_t i = 0; i < phases.size(); ++i) {
      DeconvPhase &ph = phases[i];
      int a = int(i) / cfg.stride, b = int(i) % cfg.stride;
      memory::dims dims{dst[0], dst[1], ph.y.size, ph.x.size};
      ph.dst = Act(dims, true, dst_dt);
      ph.view = memory::desc(dims, dst_dt, memory::dims{dst[2] * row, 1, cfg.stride * row, cfg.stride * dst[1]});
      auto scatter = dnnl::reorder::primitive_desc(rt.engine, ph.dst, rt.engine, ph.view);
      ph.scatter = dnnl::reorder(scatter);
      ph.offset = size_t(a * row + b * dst[1]) * size;
      buffer.resize(std::max(buffer.size(), ph.dst.get_size()));
      memory::desc w_any({dst[1], src[1], ph.y.taps, ph.x.taps}, wei_dt, tag::any);
      memory::desc b_md = bias ? memory::desc({dst[1]}, dt::f32, tag::x) : memory::desc();
      auto pd = dnnl::convolution_forward::primitive_desc(
          rt.engine, dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, w_any, b_md,
          ph.dst, {1, 1}, {ph.y.pad_l, ph.x.pad_l}, {ph.y.pad_r, ph.x.pad_r}, attr);
      ph.prim = dnnl::convolution_forward(pd);
      ph.pd = pd;
      ph.weights = dnnl::memory(pd.weights_desc(), rt.engine);
      rt.cache.Charge(pd.weights_desc().get_size());
      Log((std::string(what) + " phase").c_str(), key, pd);
      Log((std::string(what) + " scatter").c_str(), key, scatter);
    }
    rt.cache.Charge(buffer.size());
    return true;
  }

  // Gathers each phase's weights from the transposed convolution's `w` (C×O×k×k dims `wei`, of `type`) and
  // reorders them into its primitive's layout.
  void LoadWeights(const void *w, const memory::dims &wei, dt type) {
    auto &rt = Rt();
    std::vector<char> gathered;
    for (DeconvPhase &ph : phases) {
      GatherPhaseWeights(static_cast<const char *>(w), wei, ph, stride, memory::data_type_size(type), gathered);
      memory::desc user({wei[1], wei[0], ph.y.taps, ph.x.taps}, type, tag::oihw);
      dnnl::memory user_mem(user, rt.engine, gathered.data());
      dnnl::reorder(user_mem, ph.weights).execute(rt.stream, user_mem, ph.weights);
    }
  }

  // Runs the phases on `x` into the NHWC output at `y`; `args` holds what every phase shares (bias, scales).
  void Execute(const dnnl::memory &x, char *y, std::unordered_map<int, dnnl::memory> args) {
    auto &rt = Rt();
    args[DNNL_ARG_SRC] = x;
    for (DeconvPhase &ph : phases) {
      dnnl::memory phase_out(ph.dst, rt.engine, buffer.data()), view(ph.view, rt.engine, y + ph.offset);
      args[DNNL_ARG_WEIGHTS] = ph.weights;
      args[DNNL_ARG_DST] = phase_out;
      args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(ph.pd.scratchpad_desc());
      ph.prim.execute(rt.stream, args);
      ph.scatter.execute(rt.stream, phase_out, view);
    }
  }
};

}  // namespace pose

#endif  // POSE_ONEDNN_PHASES_H
