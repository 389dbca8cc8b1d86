// oneDNN convolutions, transposed convolutions and max-pooling as MindSpore AOT custom operators (CPU).
//
// Every exported operator has MindSpore's AOT signature
//     int f(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *stream, void *extra)
// with params = inputs, then outputs. The last input of each is `cfg`, a float32 vector of the layer's settings
// (see Config). Activations are float32, either NCHW or NHWC (MindSpore then sees the shape N×H×W×C); weights are
// MindSpore's: O×C×kh×kw for a convolution, C×O×kh×kw for a transposed one.
//
// Primitives are created once per shape and setting and kept; so are inference weights, folded with their
// BatchNorm and reordered into the primitive's layout, as long as a checksum of their sources is unchanged.
// Work runs on a persistent pool of threads behind oneDNN's threadpool interface. Calls are serialised.
#include "threadpool_config.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <sched.h>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "oneapi/dnnl/dnnl_threadpool.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#define POSE_PAUSE() _mm_pause()
#else
#define POSE_PAUSE() std::this_thread::yield()
#endif

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// ------------------------------------------------------------------------------------------------ thread pool

// A pool of `threads - 1` workers plus the calling thread. parallel_for hands out the n closures through one
// atomic word holding (generation, n, next index), so a worker late for one region can never take work of the
// next; the caller takes its share and returns once all n have run (a synchronous pool). Idle workers spin for
// a while (oneDNN opens several regions per layer), then sleep on the word.
class ThreadPool : public dnnl::threadpool_interop::threadpool_iface {
 public:
  ThreadPool(int threads, int spin) : threads_(std::max(1, threads)), spin_(spin) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~ThreadPool() override {
    stop_.store(true);
    state_.fetch_add(kGenOne);
    state_.notify_all();
    for (auto &worker : workers_) worker.join();
  }
  int get_num_threads() const override { return threads_; }
  bool get_in_parallel() const override { return in_parallel_; }
  uint64_t get_flags() const override { return 0; }
  void wait() override {}

  void parallel_for(int n, const std::function<void(int, int)> &fn) override {
    if (n <= 0) return;
    if (n == 1 || threads_ == 1 || in_parallel_) {
      for (int i = 0; i < n; ++i) fn(i, n);
      return;
    }
    fn_ = &fn;
    done_.store(0, std::memory_order_relaxed);
    uint64_t gen = (state_.load(std::memory_order_relaxed) >> kGenShift) + 1;
    state_.store((gen << kGenShift) | (uint64_t(n) << kCountShift), std::memory_order_release);
    if (sleeping_.load(std::memory_order_acquire) > 0) state_.notify_all();
    RunShare(gen);
    while (done_.load(std::memory_order_acquire) < n) POSE_PAUSE();
  }

 private:
  static constexpr int kGenShift = 40, kCountShift = 20;
  static constexpr uint64_t kGenOne = uint64_t(1) << kGenShift, kField = (uint64_t(1) << 20) - 1;

  // Takes and runs closures of generation `gen` until none is left.
  void RunShare(uint64_t gen) {
    uint64_t word = state_.load(std::memory_order_acquire);
    while ((word >> kGenShift) == gen) {
      uint64_t n = (word >> kCountShift) & kField, i = word & kField;
      if (i >= n) return;
      if (state_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel)) {
        in_parallel_ = true;
        (*fn_)(int(i), int(n));
        in_parallel_ = false;
        done_.fetch_add(1, std::memory_order_acq_rel);
        word = state_.load(std::memory_order_acquire);
      }
    }
  }

  void Work() {
    uint64_t seen = state_.load() >> kGenShift;
    while (!stop_.load()) {
      uint64_t word = state_.load(std::memory_order_acquire);
      for (int i = 0; (word >> kGenShift) == seen && i < spin_; ++i) {
        POSE_PAUSE();
        word = state_.load(std::memory_order_acquire);
      }
      if ((word >> kGenShift) == seen) {
        sleeping_.fetch_add(1);
        word = state_.load(std::memory_order_acquire);
        while ((word >> kGenShift) == seen && !stop_.load()) {
          state_.wait(word);
          word = state_.load(std::memory_order_acquire);
        }
        sleeping_.fetch_sub(1);
      }
      seen = word >> kGenShift;
      if (!stop_.load()) RunShare(seen);
    }
  }

  const int threads_, spin_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0}, sleeping_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int, int)> *fn_ = nullptr;
  static thread_local bool in_parallel_;
};
thread_local bool ThreadPool::in_parallel_ = false;

// ------------------------------------------------------------------------------------------------ runtime

int DefaultThreads() {
  if (const char *env = std::getenv("POSE_ONEDNN_THREADS")) {
    int value = std::atoi(env);
    if (value > 0) return value;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int DefaultSpin() {
  if (const char *env = std::getenv("POSE_ONEDNN_SPIN")) return std::max(0, std::atoi(env));
  return 20000;
}

struct Runtime {
  std::mutex lock;  // one operator at a time: the stream, the pool and the scratchpad are shared
  std::unique_ptr<ThreadPool> pool;
  dnnl::engine engine;
  dnnl::stream stream;
  std::vector<char> scratch;
  bool verbose = std::getenv("POSE_ONEDNN_VERBOSE") != nullptr;

  Runtime() {
    int threads = DefaultThreads();
    dnnl_threadpool_interop_set_max_concurrency(threads);
    pool.reset(new ThreadPool(threads, DefaultSpin()));
    engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
    stream = dnnl::threadpool_interop::make_stream(engine, pool.get());
  }

  dnnl::memory Scratchpad(const dnnl::memory::desc &md) {
    size_t size = md.get_size();
    if (scratch.size() < size) scratch.resize(size);
    return dnnl::memory(md, engine, scratch.data());
  }
};

Runtime &Rt() {
  static Runtime runtime;
  return runtime;
}

// ------------------------------------------------------------------------------------------------ settings

// cfg vector, float32: the layer's settings.
struct Config {
  int stride = 1, pad = 0, kernel = 1;
  bool src_nhwc = true, dst_nhwc = true, relu = false, deconv = false, residual = false;
  int affine = 0;  // inference: 0 none, 1 bias, 2 BatchNorm (gamma, beta, mean, variance), 3 bias and BatchNorm
  float eps = 1e-5f;
  bool bias = false;  // training: the layer has a bias
  float momentum = 0.9f;  // BatchNorm: weight of the old running statistics (MindSpore's convention)
};

// cfg[kAffine]: see Config::affine.
enum CfgIndex { kStride, kPad, kKernel, kSrcNhwc, kDstNhwc, kRelu, kDeconv, kResidual, kAffine, kEps, kBias, kMomentum, kCfgLen };

Config ReadConfig(const void *data, int64_t length) {
  if (length < kCfgLen) throw std::runtime_error("cfg has " + std::to_string(length) + " entries");
  const float *c = static_cast<const float *>(data);
  Config cfg;
  cfg.stride = int(c[kStride]);
  cfg.pad = int(c[kPad]);
  cfg.kernel = int(c[kKernel]);
  cfg.src_nhwc = c[kSrcNhwc] != 0;
  cfg.dst_nhwc = c[kDstNhwc] != 0;
  cfg.relu = c[kRelu] != 0;
  cfg.deconv = c[kDeconv] != 0;
  cfg.residual = c[kResidual] != 0;
  cfg.affine = int(c[kAffine]);
  cfg.eps = c[kEps];
  cfg.bias = c[kBias] != 0;
  cfg.momentum = c[kMomentum];
  return cfg;
}

// N, C, H, W of an activation given MindSpore's shape and its layout.
memory::dims Nchw(const int64_t *shape, bool nhwc) {
  if (nhwc) return {shape[0], shape[3], shape[1], shape[2]};
  return {shape[0], shape[1], shape[2], shape[3]};
}

memory::desc Act(const memory::dims &nchw, bool nhwc) { return memory::desc(nchw, dt::f32, nhwc ? tag::nhwc : tag::nchw); }

std::string Key(const char *op, std::initializer_list<memory::dims> dims, const Config &cfg, const void *extra = nullptr) {
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

// Geometry of a (transposed) convolution: logical dims of src, weights, dst and the paddings.
struct Geometry {
  memory::dims src, wei, dst, strides, pad_l, pad_r;
};

Geometry MakeGeometry(const memory::dims &src, const memory::dims &dst, const Config &cfg) {
  Geometry g;
  g.src = src;
  g.dst = dst;
  g.wei = {dst[1], src[1], cfg.kernel, cfg.kernel};
  g.strides = {cfg.stride, cfg.stride};
  g.pad_l = {cfg.pad, cfg.pad};
  if (cfg.deconv) {  // Ho = (Hi − 1)·s − pl − pr + k
    g.pad_r = {(src[2] - 1) * cfg.stride + cfg.kernel - cfg.pad - dst[2],
               (src[3] - 1) * cfg.stride + cfg.kernel - cfg.pad - dst[3]};
  } else {  // Ho = (Hi + pl + pr − k) / s + 1
    g.pad_r = {(dst[2] - 1) * cfg.stride + cfg.kernel - src[2] - cfg.pad,
               (dst[3] - 1) * cfg.stride + cfg.kernel - src[3] - cfg.pad};
  }
  return g;
}

// MindSpore's weight layout: O×C×k×k (convolution), C×O×k×k (transposed convolution).
memory::desc UserWeights(const Geometry &g, const Config &cfg) {
  return memory::desc(g.wei, dt::f32, cfg.deconv ? tag::iohw : tag::oihw);
}

dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::algorithm Alg(const Config &cfg) {
  return cfg.deconv ? dnnl::algorithm::deconvolution_direct : dnnl::algorithm::convolution_direct;
}

// Forward primitive descriptor of either kind.
struct FwdPd {
  dnnl::primitive_desc pd;
  memory::desc weights, src, dst;
};

FwdPd MakeForward(const Geometry &g, const Config &cfg, dnnl::prop_kind prop, bool bias, const dnnl::primitive_attr &attr) {
  auto &rt = Rt();
  memory::desc src = Act(g.src, cfg.src_nhwc), dst = Act(g.dst, cfg.dst_nhwc);
  memory::desc wei(g.wei, dt::f32, tag::any);
  memory::desc b = bias ? memory::desc({g.dst[1]}, dt::f32, tag::x) : memory::desc();
  FwdPd out;
  if (cfg.deconv) {
    auto pd = dnnl::deconvolution_forward::primitive_desc(rt.engine, prop, Alg(cfg), src, wei, b, dst, g.strides,
                                                          g.pad_l, g.pad_r, attr);
    out.weights = pd.weights_desc();
    out.pd = pd;
  } else {
    auto pd = dnnl::convolution_forward::primitive_desc(rt.engine, prop, Alg(cfg), src, wei, b, dst, g.strides,
                                                        g.pad_l, g.pad_r, attr);
    out.weights = pd.weights_desc();
    out.pd = pd;
  }
  out.src = src;
  out.dst = dst;
  return out;
}

void Log(const char *what, const std::string &key, const dnnl::primitive_desc &pd) {
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

// ------------------------------------------------------------------------------------------------ checksum

// Fletcher-style sums over 64-bit words: any change of a word (or of their order) changes them.
void Checksum(const void *data, size_t bytes, uint64_t &a, uint64_t &b) {
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

// ------------------------------------------------------------------------------------------------ operators

struct InferConv {
  dnnl::primitive prim;
  FwdPd fwd;
  ActBuffer src, dst;
  dnnl::memory weights, bias;
  memory::desc residual;
  uint64_t sum_a = 0, sum_b = 0;
  bool loaded = false;
};

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

struct Pool {
  dnnl::primitive prim;
  memory::desc scratch;
  memory::desc src, dst, workspace;
};

std::unordered_map<std::string, std::shared_ptr<void>> &Cache() {
  static std::unordered_map<std::string, std::shared_ptr<void>> cache;
  return cache;
}

template <class T>
T *Lookup(const std::string &key, bool &fresh) {
  auto &cache = Cache();
  auto found = cache.find(key);
  if (found != cache.end()) {
    fresh = false;
    return static_cast<T *>(found->second.get());
  }
  auto made = std::make_shared<T>();
  cache[key] = made;
  fresh = true;
  return made.get();
}

// Inference: y = act(conv(x, w·s) + (b − μ)·s + β [+ residual]), s = γ / sqrt(σ² + eps), with or without a bias b;
// or with a bias and no BatchNorm; or neither. Inputs: x, w, [bias], [γ, β, μ, σ²], [residual], cfg. Output: y.
int ConvInfer(int nparam, void **params, int *ndims, int64_t **shapes) {
  int last = nparam - 2;
  Config cfg = ReadConfig(params[last], shapes[last][0]);
  const int kAffineInputs[] = {0, 1, 4, 5};
  if (cfg.affine < 0 || cfg.affine > 3) throw std::runtime_error("affine mode " + std::to_string(cfg.affine));
  int n_affine = kAffineInputs[cfg.affine];
  int res_index = 2 + n_affine;
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[nparam - 1], cfg.dst_nhwc);
  Geometry g = MakeGeometry(src, dst, cfg);
  std::string key = Key("infer", {src, dst}, cfg, params[1]);
  bool fresh = false;
  InferConv *op = Lookup<InferConv>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    dnnl::primitive_attr attr = UserScratchpad();
    dnnl::post_ops po;
    if (cfg.residual) {
      op->residual = Act(g.dst, true);
      po.append_binary(dnnl::algorithm::binary_add, op->residual);
    }
    if (cfg.relu) po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
    // the primitive works on NHWC; other layouts at the boundary are reordered
    Config inner = cfg;
    inner.src_nhwc = inner.dst_nhwc = true;
    op->fwd = MakeForward(g, inner, dnnl::prop_kind::forward_inference, cfg.affine != 0, attr);
    op->src.Init(Act(g.src, cfg.src_nhwc), op->fwd.src, false);
    op->dst.Init(Act(g.dst, cfg.dst_nhwc), op->fwd.dst, true);
    if (cfg.deconv) op->prim = dnnl::deconvolution_forward(dnnl::deconvolution_forward::primitive_desc(op->fwd.pd.get()));
    else op->prim = dnnl::convolution_forward(dnnl::convolution_forward::primitive_desc(op->fwd.pd.get()));
    op->weights = dnnl::memory(op->fwd.weights, rt.engine);
    if (cfg.affine) op->bias = dnnl::memory(memory::desc({g.dst[1]}, dt::f32, tag::x), rt.engine);
    Log("inference", key, op->fwd.pd);
  }
  // weights: folded and reordered again only when their sources changed
  int64_t out_ch = g.dst[1];
  size_t wcount = size_t(g.wei[0]) * g.wei[1] * g.wei[2] * g.wei[3];
  uint64_t a = 0, b = 0;
  Checksum(params[1], wcount * 4, a, b);
  for (int i = 0; i < n_affine; ++i) Checksum(params[2 + i], size_t(out_ch) * 4, a, b);
  if (!op->loaded || a != op->sum_a || b != op->sum_b) {
    const float *w = static_cast<const float *>(params[1]);
    std::vector<float> folded(w, w + wcount);
    if (cfg.affine >= 2) {
      int first = cfg.affine == 3 ? 3 : 2;
      const float *gamma = static_cast<const float *>(params[first]), *beta = static_cast<const float *>(params[first + 1]);
      const float *mean = static_cast<const float *>(params[first + 2]), *var = static_cast<const float *>(params[first + 3]);
      const float *own = cfg.affine == 3 ? static_cast<const float *>(params[2]) : nullptr;
      float *bias = static_cast<float *>(op->bias.get_data_handle());
      std::vector<float> scale(out_ch);
      for (int64_t o = 0; o < out_ch; ++o) {
        scale[o] = gamma[o] / std::sqrt(var[o] + cfg.eps);
        bias[o] = ((own ? own[o] : 0.f) - mean[o]) * scale[o] + beta[o];
      }
      size_t taps = size_t(g.wei[2]) * g.wei[3];
      if (cfg.deconv) {  // C×O×k×k
        for (int64_t c = 0; c < g.wei[1]; ++c)
          for (int64_t o = 0; o < out_ch; ++o)
            for (size_t t = 0; t < taps; ++t) folded[(size_t(c) * out_ch + o) * taps + t] *= scale[o];
      } else {  // O×C×k×k
        size_t per_out = size_t(g.wei[1]) * taps;
        for (int64_t o = 0; o < out_ch; ++o)
          for (size_t t = 0; t < per_out; ++t) folded[o * per_out + t] *= scale[o];
      }
    } else if (cfg.affine == 1) {
      std::memcpy(op->bias.get_data_handle(), params[2], size_t(out_ch) * 4);
    }
    dnnl::memory user(UserWeights(g, cfg), rt.engine, folded.data());
    dnnl::reorder(user, op->weights).execute(rt.stream, user, op->weights);
    op->sum_a = a;
    op->sum_b = b;
    op->loaded = true;
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, op->src.In(params[0])},
                                             {DNNL_ARG_WEIGHTS, op->weights},
                                             {DNNL_ARG_DST, op->dst.Out(params[nparam - 1])}};
  if (cfg.affine) args[DNNL_ARG_BIAS] = op->bias;
  if (cfg.residual)
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = dnnl::memory(op->residual, rt.engine, params[res_index]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->fwd.pd.scratchpad_desc());
  op->prim.execute(rt.stream, args);
  op->dst.Finish(params[nparam - 1]);
  return 0;
}

// Training forward: y = conv(x, w) [+ bias]. Inputs: x, w, [bias], cfg. Output: y.
int ConvForward(int nparam, void **params, int *ndims, int64_t **shapes) {
  int last = nparam - 2;
  Config cfg = ReadConfig(params[last], shapes[last][0]);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[nparam - 1], cfg.dst_nhwc);
  Geometry g = MakeGeometry(src, dst, cfg);
  std::string key = Key("forward", {src, dst}, cfg);
  bool fresh = false;
  TrainConv *op = Lookup<TrainConv>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    Config inner = cfg;
    inner.src_nhwc = inner.dst_nhwc = true;
    op->fwd = MakeForward(g, inner, dnnl::prop_kind::forward_training, cfg.bias, UserScratchpad());
    op->src.Init(Act(g.src, cfg.src_nhwc), op->fwd.src, false);
    op->dst.Init(Act(g.dst, cfg.dst_nhwc), op->fwd.dst, true);
    if (cfg.deconv) op->prim = dnnl::deconvolution_forward(dnnl::deconvolution_forward::primitive_desc(op->fwd.pd.get()));
    else op->prim = dnnl::convolution_forward(dnnl::convolution_forward::primitive_desc(op->fwd.pd.get()));
    op->weights.Init(UserWeights(g, cfg), op->fwd.weights);
    Log("forward", key, op->fwd.pd);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, op->src.In(params[0])},
                                             {DNNL_ARG_WEIGHTS, op->weights.From(params[1])},
                                             {DNNL_ARG_DST, op->dst.Out(params[nparam - 1])}};
  if (cfg.bias) args[DNNL_ARG_BIAS] = dnnl::memory(memory::desc({g.dst[1]}, dt::f32, tag::x), rt.engine, params[2]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->fwd.pd.scratchpad_desc());
  op->prim.execute(rt.stream, args);
  op->dst.Finish(params[nparam - 1]);
  return 0;
}

// Gradient of the input: dx = conv_backward_data(dy, w). Inputs: dy, w, x (for its shape), cfg. Output: dx.
int ConvBackwardData(int nparam, void **params, int *ndims, int64_t **shapes) {
  int last = nparam - 2;
  Config cfg = ReadConfig(params[last], shapes[last][0]);
  memory::dims dst = Nchw(shapes[0], cfg.dst_nhwc), src = Nchw(shapes[nparam - 1], cfg.src_nhwc);
  Geometry g = MakeGeometry(src, dst, cfg);
  std::string key = Key("backward_data", {src, dst}, cfg);
  bool fresh = false;
  BackData *op = Lookup<BackData>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    Config inner = cfg;
    inner.src_nhwc = inner.dst_nhwc = true;
    FwdPd hint = MakeForward(g, inner, dnnl::prop_kind::forward_training, false, dnnl::primitive_attr());
    memory::desc diff_src = Act(g.src, true), diff_dst = Act(g.dst, true);
    op->diff_src.Init(Act(g.src, cfg.src_nhwc), diff_src, true);
    op->diff_dst.Init(Act(g.dst, cfg.dst_nhwc), diff_dst, false);
    memory::desc wei(g.wei, dt::f32, tag::any);
    dnnl::primitive_desc pd;
    memory::desc wanted;
    if (cfg.deconv) {
      auto p = dnnl::deconvolution_backward_data::primitive_desc(
          rt.engine, Alg(cfg), diff_src, wei, diff_dst, g.strides, g.pad_l, g.pad_r,
          dnnl::deconvolution_forward::primitive_desc(hint.pd.get()), UserScratchpad());
      wanted = p.weights_desc();
      op->prim = dnnl::deconvolution_backward_data(p);
      pd = p;
    } else {
      auto p = dnnl::convolution_backward_data::primitive_desc(
          rt.engine, Alg(cfg), diff_src, wei, diff_dst, g.strides, g.pad_l, g.pad_r,
          dnnl::convolution_forward::primitive_desc(hint.pd.get()), UserScratchpad());
      wanted = p.weights_desc();
      op->prim = dnnl::convolution_backward_data(p);
      pd = p;
    }
    op->weights.Init(UserWeights(g, cfg), wanted);
    op->scratch = pd.scratchpad_desc();
    Log("backward_data", key, pd);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, op->diff_dst.In(params[0])},
                                             {DNNL_ARG_WEIGHTS, op->weights.From(params[1])},
                                             {DNNL_ARG_DIFF_SRC, op->diff_src.Out(params[nparam - 1])}};
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  op->diff_src.Finish(params[nparam - 1]);
  return 0;
}

// Gradient of the weights (and bias): Inputs: x, dy, w (for its shape), cfg. Outputs: dw (MindSpore's layout), [db].
int ConvBackwardWeights(int nparam, void **params, int *ndims, int64_t **shapes) {
  Config cfg = ReadConfig(params[3], shapes[3][0]);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[1], cfg.dst_nhwc);
  Geometry g = MakeGeometry(src, dst, cfg);
  std::string key = Key("backward_weights", {src, dst}, cfg);
  bool fresh = false;
  BackWeights *op = Lookup<BackWeights>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    Config inner = cfg;
    inner.src_nhwc = inner.dst_nhwc = true;
    FwdPd hint = MakeForward(g, inner, dnnl::prop_kind::forward_training, cfg.bias, dnnl::primitive_attr());
    memory::desc src = Act(g.src, true), diff_dst = Act(g.dst, true);
    op->src.Init(Act(g.src, cfg.src_nhwc), src, false);
    op->diff_dst.Init(Act(g.dst, cfg.dst_nhwc), diff_dst, false);
    op->bias = cfg.bias;
    memory::desc wei(g.wei, dt::f32, tag::any);
    memory::desc b = cfg.bias ? memory::desc({g.dst[1]}, dt::f32, tag::x) : memory::desc();
    dnnl::primitive_desc pd;
    memory::desc wanted;
    if (cfg.deconv) {
      auto p = dnnl::deconvolution_backward_weights::primitive_desc(
          rt.engine, Alg(cfg), src, wei, b, diff_dst, g.strides, g.pad_l, g.pad_r,
          dnnl::deconvolution_forward::primitive_desc(hint.pd.get()), UserScratchpad());
      wanted = p.diff_weights_desc();
      op->prim = dnnl::deconvolution_backward_weights(p);
      pd = p;
    } else {
      auto p = dnnl::convolution_backward_weights::primitive_desc(
          rt.engine, Alg(cfg), src, wei, b, diff_dst, g.strides, g.pad_l, g.pad_r,
          dnnl::convolution_forward::primitive_desc(hint.pd.get()), UserScratchpad());
      wanted = p.diff_weights_desc();
      op->prim = dnnl::convolution_backward_weights(p);
      pd = p;
    }
    op->diff_weights.Init(UserWeights(g, cfg), wanted, true);
    op->scratch = pd.scratchpad_desc();
    Log("backward_weights", key, pd);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, op->src.In(params[0])},
                                             {DNNL_ARG_DIFF_DST, op->diff_dst.In(params[1])},
                                             {DNNL_ARG_DIFF_WEIGHTS, op->diff_weights.Out(params[4])}};
  if (op->bias) args[DNNL_ARG_DIFF_BIAS] = dnnl::memory(memory::desc({g.dst[1]}, dt::f32, tag::x), rt.engine, params[5]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  op->diff_weights.Finish(params[4]);
  return 0;
}

// Max-pooling on NHWC. cfg: kernel, stride, pad. Forward inputs: x, cfg; outputs: y, [workspace (uint8)].
int PoolForward(int nparam, void **params, int *ndims, int64_t **shapes) {
  Config cfg = ReadConfig(params[1], shapes[1][0]);
  bool train = nparam == 4;
  memory::dims src = Nchw(shapes[0], true), dst = Nchw(shapes[2], true);
  std::string key = Key(train ? "pool_train" : "pool_infer", {src, dst}, cfg);
  bool fresh = false;
  Pool *op = Lookup<Pool>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    Geometry g = MakeGeometry(src, dst, cfg);
    op->src = Act(src, true);
    op->dst = Act(dst, true);
    auto p = dnnl::pooling_forward::primitive_desc(
        rt.engine, train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
        dnnl::algorithm::pooling_max, op->src, op->dst, g.strides, {cfg.kernel, cfg.kernel}, {0, 0}, g.pad_l, g.pad_r,
        UserScratchpad());
    if (train) {
      op->workspace = p.workspace_desc();
      size_t expected = size_t(shapes[3][0]) * shapes[3][1] * shapes[3][2] * shapes[3][3];
      if (op->workspace.get_size() != expected)
        throw std::runtime_error("max-pool workspace of " + std::to_string(op->workspace.get_size()) +
                                 " bytes, expected " + std::to_string(expected));
    }
    op->prim = dnnl::pooling_forward(p);
    op->scratch = p.scratchpad_desc();
    Log("pool", key, p);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dnnl::memory(op->src, rt.engine, params[0])},
                                             {DNNL_ARG_DST, dnnl::memory(op->dst, rt.engine, params[2])}};
  if (train) args[DNNL_ARG_WORKSPACE] = dnnl::memory(op->workspace, rt.engine, params[3]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  return 0;
}

// Max-pooling gradient. Inputs: dy, workspace, x (for its shape), cfg. Output: dx.
int PoolBackward(int nparam, void **params, int *ndims, int64_t **shapes) {
  Config cfg = ReadConfig(params[3], shapes[3][0]);
  memory::dims src = Nchw(shapes[4], true), dst = Nchw(shapes[0], true);
  std::string key = Key("pool_backward", {src, dst}, cfg);
  bool fresh = false;
  Pool *op = Lookup<Pool>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    Geometry g = MakeGeometry(src, dst, cfg);
    op->src = Act(src, true);
    op->dst = Act(dst, true);
    auto hint = dnnl::pooling_forward::primitive_desc(
        rt.engine, dnnl::prop_kind::forward_training, dnnl::algorithm::pooling_max, op->src, op->dst, g.strides,
        {cfg.kernel, cfg.kernel}, {0, 0}, g.pad_l, g.pad_r);
    op->workspace = hint.workspace_desc();
    auto p = dnnl::pooling_backward::primitive_desc(rt.engine, dnnl::algorithm::pooling_max, op->src, op->dst,
                                                    g.strides, {cfg.kernel, cfg.kernel}, {0, 0}, g.pad_l, g.pad_r,
                                                    hint, UserScratchpad());
    op->prim = dnnl::pooling_backward(p);
    op->scratch = p.scratchpad_desc();
    Log("pool_backward", key, p);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, dnnl::memory(op->dst, rt.engine, params[0])},
                                             {DNNL_ARG_WORKSPACE, dnnl::memory(op->workspace, rt.engine, params[1])},
                                             {DNNL_ARG_DIFF_SRC, dnnl::memory(op->src, rt.engine, params[4])}};
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  return 0;
}

// ------------------------------------------------------------------------------------------------ BatchNorm

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

// The loops below are compiled for AVX-512, AVX2 and plain x86-64 (target_clones picks one when the library
// loads); each wrapper calls an always-inlined body per setting, so the inner loops carry no branches.
#define POSE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
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

// Forward (training). Inputs: x, γ, β, running mean, running variance, [r], cfg. Outputs: y, the batch's
// statistics (3×C: μ as a float plus its remainder, μ_hi + μ_lo, then σ², biased), the new running mean and
// variance: momentum·old + (1 − momentum)·batch, the batch variance unbiased (MindSpore's convention).
// (The backward pass needs μ to more than float precision: Σ g·(x − μ) cancels when g is nearly constant.)
int BnForward(int nparam, void **params, int *ndims, int64_t **shapes) {
  int cfg_index = nparam - 5;
  Config cfg = ReadConfig(params[cfg_index], shapes[cfg_index][0]);
  const float *x = static_cast<const float *>(params[0]);
  const float *gamma = static_cast<const float *>(params[1]), *beta = static_cast<const float *>(params[2]);
  const float *run_mean = static_cast<const float *>(params[3]), *run_var = static_cast<const float *>(params[4]);
  const float *res = cfg.residual ? static_cast<const float *>(params[5]) : nullptr;
  float *y = static_cast<float *>(params[cfg_index + 1]);
  int64_t c = shapes[0][ndims[0] - 1], rows = Rows(ndims[0], shapes[0]);
  float *stats = static_cast<float *>(params[cfg_index + 2]);
  float *mean = stats, *mean_lo = stats + c, *var = stats + 2 * c;
  float *new_mean = static_cast<float *>(params[cfg_index + 3]), *new_var = static_cast<float *>(params[cfg_index + 4]);
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

// Backward (training). Inputs: dy, x, y, γ, the forward pass's statistics, cfg. Outputs: dx, dγ, dβ, [dr] (the
// residual's gradient, dy·[y > 0]). With g the gradient before ReLU, x̂ = (x − μ)/s, s = sqrt(σ² + eps), M rows:
//     dβ = Σ g,  dγ = Σ g·x̂ = (Σ g·(x − μ_hi) − μ_lo·Σ g)/s,  dx = γ/s·(g − dβ/M − x̂·dγ/M).
int BnBackward(int nparam, void **params, int *ndims, int64_t **shapes) {
  Config cfg = ReadConfig(params[5], shapes[5][0]);
  const float *dy = static_cast<const float *>(params[0]), *x = static_cast<const float *>(params[1]);
  const float *y = cfg.relu ? static_cast<const float *>(params[2]) : nullptr;
  const float *gamma = static_cast<const float *>(params[3]);
  int64_t c = shapes[0][ndims[0] - 1], rows = Rows(ndims[0], shapes[0]);
  const float *stats = static_cast<const float *>(params[4]);
  const float *mean = stats, *mean_lo = stats + c, *var = stats + 2 * c;
  float *dx = static_cast<float *>(params[6]), *dgamma = static_cast<float *>(params[7]);
  float *dbeta = static_cast<float *>(params[8]);
  float *dres = cfg.residual ? static_cast<float *>(params[9]) : nullptr;
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

using Body = int (*)(int, void **, int *, int64_t **);

// POSE_ONEDNN_PROFILE=1: wall time per operator and shape, printed to stderr when the process ends.
struct Profile {
  bool on = std::getenv("POSE_ONEDNN_PROFILE") != nullptr;
  std::unordered_map<std::string, std::pair<double, int64_t>> spent;  // seconds, calls
  ~Profile() {
    if (spent.empty()) return;
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> rows(spent.begin(), spent.end());
    std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) { return a.second.first > b.second.first; });
    double total = 0;
    for (const auto &row : rows) total += row.second.first;
    std::fprintf(stderr, "pose_onednn profile: %.3f s in %zu kinds of call\n", total, rows.size());
    for (const auto &row : rows)
      std::fprintf(stderr, "%9.1f ms %6lld calls %5.1f %%  %s\n", 1e3 * row.second.first, (long long)row.second.second,
                   100 * row.second.first / total, row.first.c_str());
  }
};

Profile &Prof() {
  static Profile profile;
  return profile;
}

std::string ShapeKey(const char *name, int nparam, int *ndims, int64_t **shapes) {
  std::string key(name);
  for (int i = 0; i < nparam; ++i) {
    key += ' ';
    for (int d = 0; d < ndims[i]; ++d) key += (d ? "x" : "") + std::to_string(shapes[i][d]);
  }
  return key;
}

int Guarded(const char *name, Body body, int nparam, void **params, int *ndims, int64_t **shapes) {
  try {
    std::lock_guard<std::mutex> hold(Rt().lock);
    if (!Prof().on) return body(nparam, params, ndims, shapes);
    auto start = std::chrono::steady_clock::now();
    int status = body(nparam, params, ndims, shapes);
    auto &entry = Prof().spent[ShapeKey(name, nparam, ndims, shapes)];
    entry.first += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    entry.second += 1;
    return status;
  } catch (const dnnl::error &e) {
    std::fprintf(stderr, "pose_onednn %s: oneDNN error %d: %s\n", name, int(e.status), e.what());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "pose_onednn %s: %s\n", name, e.what());
  }
  return 1;
}

}  // namespace

#define POSE_EXPORT extern "C" __attribute__((visibility("default")))
#define POSE_AOT(name, body)                                                                                   \
  POSE_EXPORT int name(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) { \
    return Guarded(#name, body, nparam, params, ndims, shapes);                                                \
  }

POSE_AOT(pose_conv_infer, ConvInfer)
POSE_AOT(pose_conv_forward, ConvForward)
POSE_AOT(pose_conv_backward_data, ConvBackwardData)
POSE_AOT(pose_conv_backward_weights, ConvBackwardWeights)
POSE_AOT(pose_pool_forward, PoolForward)
POSE_AOT(pose_pool_backward, PoolBackward)
POSE_AOT(pose_bn_forward, BnForward)
POSE_AOT(pose_bn_backward, BnBackward)

// For the loader: the library's version (major·10000 + minor·100 + patch), its threading runtime and threads.
POSE_EXPORT int pose_onednn_version() {
  const dnnl_version_t *v = dnnl_version();
  return int(v->major * 10000 + v->minor * 100 + v->patch);
}
POSE_EXPORT int pose_onednn_cpu_runtime() { return int(dnnl_version()->cpu_runtime); }
POSE_EXPORT int pose_onednn_threads() { return Rt().pool->get_num_threads(); }
POSE_EXPORT int pose_onednn_cached() {
  std::lock_guard<std::mutex> hold(Rt().lock);
  return int(Cache().size());
}
// POSE_ONEDNN_PROFILE: forgets the times so far (say, of warm-up calls).
POSE_EXPORT void pose_onednn_profile_reset() {
  std::lock_guard<std::mutex> hold(Rt().lock);
  Prof().spent.clear();
}
