// Training-mode BatchNorm as MindSpore AOT custom operators (CPU), written by hand (no oneDNN primitive): the
// channel sums in double, ReLU and the residual addition fused, on the runtime's thread pool.
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime.h"

namespace pose {
namespace {

// Training-mode BatchNorm on N×H×W×C activations (rows of C channels), with ReLU and a residual addition fused:
//     y = act((x − μ)·γ/sqrt(σ² + eps) + β [+ r]),  μ, σ² the batch's per-channel mean and (biased) variance.
// Channel sums accumulate in double, one partial sum per thread over a contiguous block of rows, so neither the
// statistics nor the gradients' reductions lose precision to long float32 sums or to cancellation (the variance
// from sums of x − K, K the first row: its error relative to σ² is that of double times ((μ − K)/σ)²).

// Rows [begin, end) of thread `part` of `parts`.
inline void RowRange(int64_t rows, int part, int parts, int64_t &begin, int64_t &end) {
  begin = rows * part / parts;
  end = rows * (part + 1) / parts;
}

// On x86-64 the loops below are compiled for AVX-512, AVX2 and plain x86-64 (target_clones picks one when the
// library loads); elsewhere (aarch64) once, for the compiler's target. Each wrapper calls an always-inlined body per
// setting, so the inner loops carry no branches.
#if defined(__x86_64__)
#define POSE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define POSE_CLONES
#endif
#define POSE_INLINE inline __attribute__((always_inline))

// s1 += Σ (x − k), s2 += Σ (x − k)² over the rows, per channel.
POSE_CLONES void SumsShifted(const float *x, int64_t begin, int64_t end, int64_t c, const float *k, double *s1,
                             double *s2) {
  for (int64_t r = begin; r < end; ++r) {
    const float *row = x + r * c;
    for (int64_t j = 0; j < c; ++j) {
      double d = double(row[j]) - double(k[j]);
      s1[j] += d;
      s2[j] += d * d;
    }
  }
}

template <bool kRelu, bool kRes>
POSE_INLINE void NormalizeBody(const float *__restrict x, const float *__restrict r, float *__restrict y, int64_t begin,
                               int64_t end, int64_t c, const float *__restrict mean, const float *__restrict scale,
                               const float *__restrict beta) {
  for (int64_t i = begin; i < end; ++i) {
    const float *xr = x + i * c, *rr = kRes ? r + i * c : nullptr;
    float *yr = y + i * c;
    for (int64_t j = 0; j < c; ++j) {
      float v = (xr[j] - mean[j]) * scale[j] + beta[j];
      if (kRes) v += rr[j];
      yr[j] = kRelu ? std::max(v, 0.f) : v;
    }
  }
}

// y = act((x − μ)·scale + β [+ r]) over the rows.
POSE_CLONES void Normalize(const float *x, const float *r, float *y, int64_t begin, int64_t end, int64_t c,
                           const float *mean, const float *scale, const float *beta, bool relu) {
  if (relu && r) NormalizeBody<true, true>(x, r, y, begin, end, c, mean, scale, beta);
  else if (relu) NormalizeBody<true, false>(x, r, y, begin, end, c, mean, scale, beta);
  else if (r) NormalizeBody<false, true>(x, r, y, begin, end, c, mean, scale, beta);
  else NormalizeBody<false, false>(x, r, y, begin, end, c, mean, scale, beta);
}

template <bool kRelu>
POSE_INLINE void GradSumsBody(const float *__restrict dy, const float *__restrict y, const float *__restrict x,
                              int64_t begin, int64_t end, int64_t c, const float *__restrict k, double *__restrict s1,
                              double *__restrict s2) {
  for (int64_t i = begin; i < end; ++i) {
    const float *dr = dy + i * c, *yr = kRelu ? y + i * c : nullptr, *xr = x + i * c;
    for (int64_t j = 0; j < c; ++j) {
      // the mask as a factor: GCC does not vectorize a select feeding double sums
      float g = kRelu ? dr[j] * float(yr[j] > 0.f) : dr[j];
      double gd = g, xd = double(xr[j]) - double(k[j]);
      s1[j] += gd;
      s2[j] += gd * xd;
    }
  }
}

// g = dy·[y > 0] (dy where there is no ReLU): s1 += Σ g, s2 += Σ g·(x − k), per channel.
POSE_CLONES void GradSums(const float *dy, const float *y, const float *x, int64_t begin, int64_t end, int64_t c,
                          const float *k, double *s1, double *s2) {
  if (y) GradSumsBody<true>(dy, y, x, begin, end, c, k, s1, s2);
  else GradSumsBody<false>(dy, y, x, begin, end, c, k, s1, s2);
}

template <bool kRelu, bool kRes>
POSE_INLINE void GradInputBody(const float *__restrict dy, const float *__restrict y, const float *__restrict x,
                               float *__restrict dx, float *__restrict dr, int64_t begin, int64_t end, int64_t c,
                               const float *__restrict mean, const float *__restrict mean_lo,
                               const float *__restrict a, const float *__restrict gbar,
                               const float *__restrict gbar_lo, const float *__restrict b) {
  for (int64_t i = begin; i < end; ++i) {
    const float *dyr = dy + i * c, *yr = kRelu ? y + i * c : nullptr, *xr = x + i * c;
    float *dxr = dx + i * c, *drr = kRes ? dr + i * c : nullptr;
    for (int64_t j = 0; j < c; ++j) {
      float d = dyr[j], g = kRelu ? (yr[j] > 0.f ? d : 0.f) : d;
      dxr[j] = a[j] * (((g - gbar[j]) - gbar_lo[j]) - b[j] * ((xr[j] - mean[j]) - mean_lo[j]));
      if (kRes) drr[j] = g;
    }
  }
}

// dx = a·((g − ḡ) − b·(x − μ)), and dr = g where the residual's gradient is wanted. ḡ and μ come as float pairs
// (hi + lo): g − ḡ_hi and x − μ_hi are exact where the values are close, so no per-channel constant error
// (the rounding of ḡ or μ, large beside g − ḡ where g is nearly constant) enters dx, whose sums over a channel the
// previous layer's weight gradient takes.
POSE_CLONES void GradInput(const float *dy, const float *y, const float *x, float *dx, float *dr, int64_t begin,
                           int64_t end, int64_t c, const float *mean, const float *mean_lo, const float *a,
                           const float *gbar, const float *gbar_lo, const float *b) {
  if (y && dr) GradInputBody<true, true>(dy, y, x, dx, dr, begin, end, c, mean, mean_lo, a, gbar, gbar_lo, b);
  else if (y) GradInputBody<true, false>(dy, y, x, dx, dr, begin, end, c, mean, mean_lo, a, gbar, gbar_lo, b);
  else if (dr) GradInputBody<false, true>(dy, y, x, dx, dr, begin, end, c, mean, mean_lo, a, gbar, gbar_lo, b);
  else GradInputBody<false, false>(dy, y, x, dx, dr, begin, end, c, mean, mean_lo, a, gbar, gbar_lo, b);
}

// Per-channel sums in double over the rows, one block of rows per thread: add(begin, end, s1, s2) adds those of
// rows [begin, end) into its thread's s1 and s2 (c each); the threads' sums are then totalled in thread order.
template <class Add>
void ChannelSums(int parts, int64_t rows, int64_t c, Add add, std::vector<double> &s1, std::vector<double> &s2) {
  static std::vector<double> partial;
  partial.assign(size_t(parts) * 2 * c, 0.0);
  Rt().pool->parallel_for(parts, [&](int part, int) {
    int64_t begin, end;
    RowRange(rows, part, parts, begin, end);
    add(begin, end, &partial[size_t(part) * 2 * c], &partial[size_t(part) * 2 * c + c]);
  });
  s1.assign(c, 0.0);
  s2.assign(c, 0.0);
  for (int p = 0; p < parts; ++p) {
    for (int64_t j = 0; j < c; ++j) {
      s1[j] += partial[size_t(p) * 2 * c + j];
      s2[j] += partial[size_t(p) * 2 * c + c + j];
    }
  }
}

int64_t Rows(int nd, const int64_t *shape) {
  int64_t rows = 1;
  for (int i = 0; i + 1 < nd; ++i) rows *= shape[i];
  return rows;
}

// Forward (training). Inputs: x, γ, β, running mean, running variance, [r]. Outputs: y, the batch's
// statistics (3×C: μ as a float plus its remainder, μ_hi + μ_lo, then σ², biased), the new running mean and
// variance: momentum·old + (1 − momentum)·batch, the batch variance unbiased (MindSpore's convention).
// (The backward pass needs μ to more than float precision: Σ g·(x − μ) cancels when g is nearly constant.)
int BnForward(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes) {
  const float *x = static_cast<const float *>(params[0]);
  const float *gamma = static_cast<const float *>(params[1]), *beta = static_cast<const float *>(params[2]);
  const float *run_mean = static_cast<const float *>(params[3]), *run_var = static_cast<const float *>(params[4]);
  const float *res = cfg.residual ? static_cast<const float *>(params[5]) : nullptr;
  float *y = static_cast<float *>(params[n - 4]);
  int64_t c = shapes[0][ndims[0] - 1], rows = Rows(ndims[0], shapes[0]);
  float *stats = static_cast<float *>(params[n - 3]);
  float *mean = stats, *mean_lo = stats + c, *var = stats + 2 * c;
  float *new_mean = static_cast<float *>(params[n - 2]), *new_var = static_cast<float *>(params[n - 1]);
  auto &rt = Rt();
  int parts = int(std::min<int64_t>(rt.pool->get_num_threads(), std::max<int64_t>(rows, 1)));
  std::vector<double> s1, s2;
  ChannelSums(parts, rows, c, [&](int64_t begin, int64_t end, double *t1, double *t2) {
    SumsShifted(x, begin, end, c, x, t1, t2);
  }, s1, s2);
  std::vector<float> scale(c);
  double count = double(rows), unbias = rows > 1 ? count / (count - 1) : 1.0;
  for (int64_t j = 0; j < c; ++j) {
    double m = s1[j] / count, v = std::max(0.0, s2[j] / count - m * m), exact = double(x[j]) + m;
    mean[j] = float(exact);
    mean_lo[j] = float(exact - double(mean[j]));
    var[j] = float(v);
    scale[j] = float(double(gamma[j]) / std::sqrt(v + double(cfg.eps)));
    new_mean[j] = cfg.momentum * run_mean[j] + (1.f - cfg.momentum) * mean[j];
    new_var[j] = cfg.momentum * run_var[j] + (1.f - cfg.momentum) * float(v * unbias);
  }
  rt.pool->parallel_for(parts, [&](int part, int) {
    int64_t begin, end;
    RowRange(rows, part, parts, begin, end);
    Normalize(x, res, y, begin, end, c, mean, scale.data(), beta, cfg.relu);
  });
  return 0;
}

// Backward (training). Inputs: dy, x, y, γ, the forward pass's statistics. Outputs: dx, dγ, dβ, [dr] (the
// residual's gradient, dy·[y > 0]). With g the gradient before ReLU, x̂ = (x − μ)/s, s = sqrt(σ² + eps), M rows:
//     dβ = Σ g,  dγ = Σ g·x̂ = (Σ g·(x − μ_hi) − μ_lo·Σ g)/s,  dx = γ/s·(g − dβ/M − x̂·dγ/M).
int BnBackward(const Config &cfg, int, void **params, int *ndims, int64_t **shapes) {
  const float *dy = static_cast<const float *>(params[0]), *x = static_cast<const float *>(params[1]);
  const float *y = cfg.relu ? static_cast<const float *>(params[2]) : nullptr;
  const float *gamma = static_cast<const float *>(params[3]);
  int64_t c = shapes[0][ndims[0] - 1], rows = Rows(ndims[0], shapes[0]);
  const float *stats = static_cast<const float *>(params[4]);
  const float *mean = stats, *mean_lo = stats + c, *var = stats + 2 * c;
  float *dx = static_cast<float *>(params[5]), *dgamma = static_cast<float *>(params[6]);
  float *dbeta = static_cast<float *>(params[7]);
  float *dres = cfg.residual ? static_cast<float *>(params[8]) : nullptr;
  auto &rt = Rt();
  int parts = int(std::min<int64_t>(rt.pool->get_num_threads(), std::max<int64_t>(rows, 1)));
  std::vector<double> s1, s2;
  ChannelSums(parts, rows, c, [&](int64_t begin, int64_t end, double *t1, double *t2) {
    GradSums(dy, y, x, begin, end, c, mean, t1, t2);
  }, s1, s2);
  std::vector<float> a(c), gbar(c), gbar_lo(c), b(c);
  double count = double(rows);
  for (int64_t j = 0; j < c; ++j) {
    double g = s1[j], gx = s2[j] - double(mean_lo[j]) * g;
    double inv = 1.0 / std::sqrt(double(var[j]) + double(cfg.eps));
    dbeta[j] = float(g);
    dgamma[j] = float(gx * inv);
    a[j] = float(double(gamma[j]) * inv);
    gbar[j] = float(g / count);
    gbar_lo[j] = float(g / count - double(gbar[j]));
    b[j] = float(inv * inv * gx / count);
  }
  rt.pool->parallel_for(parts, [&](int part, int) {
    int64_t begin, end;
    RowRange(rows, part, parts, begin, end);
    GradInput(dy, y, x, dx, dres, begin, end, c, mean, mean_lo, a.data(), gbar.data(), gbar_lo.data(), b.data());
  });
  return 0;
}

}  // namespace
}  // namespace pose

POSE_AOT(pose_bn_forward, pose::BnForward)
POSE_AOT(pose_bn_backward, pose::BnBackward)
