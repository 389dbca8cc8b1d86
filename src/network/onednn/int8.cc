// Quantized (int8) inference operators on oneDNN as MindSpore AOT custom operators (CPU); a library of its own
// (src/quantize/library.py builds it), beside the float operators (conv.cc, pool.cc, batchnorm.cc).
//
// Every exported operator has MindSpore's AOT signature
//     int f(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *stream, void *extra)
// with params = inputs, then outputs; the data types of activations come from `dtypes` ("float32", "uint8",
// "int8"). The last input of each is `cfg`, a float32 vector of the layer's settings in QIndex order (the Python
// side builds it from the same names: src/quantize/ops.py, QCFG_FIELDS; a test checks they agree).
//
// The arithmetic (src/quantize/arithmetic.py is its NumPy reference):
//   x = s_x·x_q (x_q u8 after a ReLU, s8 elsewhere), w[o] = s_w[o]·w_q[o] (s8, per output channel),
//   y = act(s_x·s_w[o]·Σ x_q·w_q + b[o] [+ s_r·r_q]),  y_q = saturate(rint(y / s_y))   (or y itself in float32).
// Accumulation is int32. oneDNN without VNNI (vpmaddubsw on AVX2) halves the weights to keep its 16-bit pair sums
// from saturating; the Python side then quantizes them to even values, which the halving keeps exact.
// A layer whose input is float32 runs in float32 (weights float32, no scales) and may still write u8/s8.
//
// Primitives are created once per shape, data types and setting and kept; so are the weights reordered into
// the primitive's layout, as long as a checksum of their bytes is unchanged. Work runs on a pool of threads
// behind oneDNN's threadpool interface (as runtime.cc's). Calls are serialised.
#include "threadpool_config.h"

#include <algorithm>
#include <atomic>
#include <cmath>
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
#define Q_PAUSE() _mm_pause()
#else
#define Q_PAUSE() std::this_thread::yield()
#endif

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// ------------------------------------------------------------------------------------------------ thread pool

// `threads - 1` workers plus the caller. One atomic word holds (generation, next index): a worker takes an index
// only while the generation is the one it woke for, so one late for a region never takes work of the next.
// Workers spin a while between regions (oneDNN opens several per layer), then sleep on the word.
class Pool : public dnnl::threadpool_interop::threadpool_iface {
 public:
  Pool(int threads, int spin) : threads_(std::max(1, threads)), spin_(spin) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~Pool() override {
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
    n_ = uint64_t(n);
    done_.store(0, std::memory_order_relaxed);
    uint64_t gen = (state_.load(std::memory_order_relaxed) >> kGenShift) + 1;
    state_.store(gen << kGenShift, std::memory_order_release);
    if (sleeping_.load(std::memory_order_acquire) > 0) state_.notify_all();
    RunShare(gen);
    while (done_.load(std::memory_order_acquire) < n) Q_PAUSE();
  }

 private:
  static constexpr int kGenShift = 32;
  static constexpr uint64_t kGenOne = uint64_t(1) << kGenShift, kIndex = kGenOne - 1;

  void RunShare(uint64_t gen) {
    uint64_t word = state_.load(std::memory_order_acquire);
    while ((word >> kGenShift) == gen && (word & kIndex) < n_) {
      if (state_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel)) {
        in_parallel_ = true;
        (*fn_)(int(word & kIndex), int(n_));
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
        Q_PAUSE();
        word = state_.load(std::memory_order_acquire);
      }
      if ((word >> kGenShift) == seen) {
        sleeping_.fetch_add(1);
        while (((word = state_.load(std::memory_order_acquire)) >> kGenShift) == seen && !stop_.load()) state_.wait(word);
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
  uint64_t n_ = 0;
  const std::function<void(int, int)> *fn_ = nullptr;
  static thread_local bool in_parallel_;
};
thread_local bool Pool::in_parallel_ = false;

int EnvInt(const char *name, int fallback) {
  const char *env = std::getenv(name);
  return env && std::atoi(env) >= 0 ? std::atoi(env) : fallback;
}

int DefaultThreads() {
  int value = EnvInt("POSE_ONEDNN_THREADS", 0);
  if (value > 0) return value;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

struct Runtime {
  std::mutex lock;
  std::unique_ptr<Pool> pool;
  dnnl::engine engine;
  dnnl::stream stream;
  std::vector<char> scratch;
  bool verbose = std::getenv("POSE_ONEDNN_VERBOSE") != nullptr;

  Runtime() {
    int threads = DefaultThreads();
    dnnl_threadpool_interop_set_max_concurrency(threads);
    pool.reset(new Pool(threads, EnvInt("POSE_ONEDNN_SPIN", 20000)));
    engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
    stream = dnnl::threadpool_interop::make_stream(engine, pool.get());
  }
  dnnl::memory Scratchpad(const memory::desc &md) {
    if (scratch.size() < md.get_size()) scratch.resize(md.get_size());
    return dnnl::memory(md, engine, scratch.data());
  }
};

Runtime &Rt() {
  static Runtime runtime;
  return runtime;
}

// ------------------------------------------------------------------------------------------------ settings

// cfg, float32, in this order (src/quantize/ops.py QCFG_FIELDS).
enum QIndex { kStride, kPad, kKernel, kSrcNhwc, kDstNhwc, kRelu, kDeconv, kResidual, kSrcScale, kDstScale,
              kResScale, kQCfgLen };

struct QConfig {
  int stride = 1, pad = 0, kernel = 1;
  bool src_nhwc = true, dst_nhwc = true, relu = false, deconv = false, residual = false;
  const float *scales = nullptr;  // &cfg[kSrcScale]: s_x, s_y, s_r
};

QConfig ReadConfig(void *data, int64_t length) {
  if (length < kQCfgLen) throw std::runtime_error("cfg has " + std::to_string(length) + " entries");
  const float *c = static_cast<const float *>(data);
  QConfig cfg;
  cfg.stride = int(c[kStride]);
  cfg.pad = int(c[kPad]);
  cfg.kernel = int(c[kKernel]);
  cfg.src_nhwc = c[kSrcNhwc] != 0;
  cfg.dst_nhwc = c[kDstNhwc] != 0;
  cfg.relu = c[kRelu] != 0;
  cfg.deconv = c[kDeconv] != 0;
  cfg.residual = c[kResidual] != 0;
  cfg.scales = c + kSrcScale;
  return cfg;
}

dt DataType(const char *name) {
  std::string s(name);
  if (s == "float32" || s == "float") return dt::f32;
  if (s == "uint8") return dt::u8;
  if (s == "int8") return dt::s8;
  throw std::runtime_error("unsupported data type " + s);
}

memory::dims Nchw(const int64_t *shape, bool nhwc) {
  if (nhwc) return {shape[0], shape[3], shape[1], shape[2]};
  return {shape[0], shape[1], shape[2], shape[3]};
}

memory::desc Act(const memory::dims &nchw, dt type, bool nhwc) { return memory::desc(nchw, type, nhwc ? tag::nhwc : tag::nchw); }

// A float32 scalar or vector as oneDNN memory over the caller's storage.
dnnl::memory Floats(const float *data, int64_t count) {
  return dnnl::memory(memory::desc({count}, dt::f32, tag::x), Rt().engine, const_cast<float *>(data));
}

void Log(const char *what, const std::string &key, const dnnl::primitive_desc_base &pd) {
  if (Rt().verbose) std::fprintf(stderr, "pose_int8: %s %s -> %s\n", what, key.c_str(), pd.impl_info_str());
}

// Fletcher-style sums over 64-bit words (and the tail's bytes): any change of the weights changes them.
void Checksum(const void *data, size_t bytes, uint64_t &a, uint64_t &b) {
  const uint64_t *w = static_cast<const uint64_t *>(data);
  size_t n = bytes / 8;
  for (size_t i = 0; i < n; ++i) {
    a += w[i];
    b += a;
  }
  const unsigned char *tail = static_cast<const unsigned char *>(data) + n * 8;
  for (size_t j = 0; j < bytes % 8; ++j) {
    a += tail[j];
    b += a;
  }
}

std::unordered_map<std::string, std::shared_ptr<void>> &Cache() {
  static std::unordered_map<std::string, std::shared_ptr<void>> cache;
  return cache;
}

template <class T>
T *Lookup(const std::string &key, bool &fresh) {
  auto &cache = Cache();
  auto found = cache.find(key);
  fresh = found == cache.end();
  if (!fresh) return static_cast<T *>(found->second.get());
  auto made = std::make_shared<T>();
  cache[key] = made;
  return made.get();
}

std::string DimsKey(const char *op, std::initializer_list<memory::dims> dims) {
  std::string key(op);
  for (const auto &d : dims) {
    key += '|';
    for (auto v : d) key += std::to_string(v) + ',';
  }
  return key;
}

// ------------------------------------------------------------------------------------------------ convolution

struct QConv {
  dnnl::primitive prim;
  dnnl::primitive_desc pd;
  memory::desc src, dst, wanted_src, wanted_dst, residual;
  dnnl::memory src_buffer, dst_buffer, weights;
  dnnl::reorder src_reorder, dst_reorder;
  bool quantized = false, scaled_dst = false;
  uint64_t sum_a = 0, sum_b = 0;
  bool loaded = false;
};

// y = act(conv(x, w) + b [+ residual]), quantized as the file's header says. Inputs: x, w, b (O, float32),
// s_w (O, float32; ignored in float32), [residual (NHWC, of y's data type)], cfg. Output: y.
int QConvForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes) {
  int cfg_index = nparam - 2, out = nparam - 1;
  QConfig cfg = ReadConfig(params[cfg_index], shapes[cfg_index][0]);
  dt src_dt = DataType(dtypes[0]), wei_dt = DataType(dtypes[1]), dst_dt = DataType(dtypes[out]);
  bool quantized = src_dt != dt::f32;
  if (quantized != (wei_dt == dt::s8) || (!quantized && wei_dt != dt::f32))
    throw std::runtime_error("weights must be int8 with an integer input, float32 with a float32 input");
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[out], cfg.dst_nhwc);
  memory::dims wei = {dst[1], src[1], cfg.kernel, cfg.kernel};
  memory::dims strides = {cfg.stride, cfg.stride}, pad_l = {cfg.pad, cfg.pad}, pad_r;
  if (cfg.deconv)
    pad_r = {(src[2] - 1) * cfg.stride + cfg.kernel - cfg.pad - dst[2], (src[3] - 1) * cfg.stride + cfg.kernel - cfg.pad - dst[3]};
  else
    pad_r = {(dst[2] - 1) * cfg.stride + cfg.kernel - src[2] - cfg.pad, (dst[3] - 1) * cfg.stride + cfg.kernel - src[3] - cfg.pad};
  std::string key = DimsKey("qconv", {src, dst}) + dtypes[0] + dtypes[out] +
                    std::to_string(cfg.stride * 1000 + cfg.pad * 100 + cfg.kernel) + (cfg.src_nhwc ? "n" : "c") +
                    (cfg.dst_nhwc ? "n" : "c") + (cfg.relu ? "r" : "") + (cfg.deconv ? "d" : "") +
                    (cfg.residual ? "s" : "") + std::to_string(reinterpret_cast<uintptr_t>(params[1]));
  if (cfg.residual) {  // the sum post-op's scale and type are part of the primitive, not arguments of a call
    char sum[64];
    std::snprintf(sum, sizeof(sum), "|%s %a", dtypes[4], double(cfg.scales[2]));
    key += sum;
  }
  bool fresh = false;
  QConv *op = Lookup<QConv>(key, fresh);
  auto &rt = Rt();
  int res_index = 4;
  if (fresh) {
    op->quantized = quantized;
    op->scaled_dst = dst_dt != dt::f32;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (quantized) {
      attr.set_scales_mask(DNNL_ARG_SRC, 0);
      attr.set_scales_mask(DNNL_ARG_WEIGHTS, 1);  // per output channel
    }
    if (op->scaled_dst) attr.set_scales_mask(DNNL_ARG_DST, 0);
    dnnl::post_ops po;
    if (cfg.residual) {
      dt res_dt = DataType(dtypes[res_index]);
      if (memory::data_type_size(res_dt) != memory::data_type_size(dst_dt))
        throw std::runtime_error("the residual must have the output's data type size");
      po.append_sum(cfg.scales[2] == 0 ? 1.f : cfg.scales[2], 0, res_dt);
      op->residual = Act(dst, res_dt, true);
    }
    if (cfg.relu) po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
    op->src = Act(src, src_dt, cfg.src_nhwc);
    op->dst = Act(dst, dst_dt, cfg.dst_nhwc);
    op->wanted_src = Act(src, src_dt, true);
    op->wanted_dst = Act(dst, dst_dt, true);
    memory::desc w_any(wei, wei_dt, tag::any), bias({dst[1]}, dt::f32, tag::x);
    memory::desc weights_md;
    if (cfg.deconv) {
      auto pd = dnnl::deconvolution_forward::primitive_desc(
          rt.engine, dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, op->wanted_src, w_any,
          bias, op->wanted_dst, strides, pad_l, pad_r, attr);
      weights_md = pd.weights_desc();
      op->prim = dnnl::deconvolution_forward(pd);
      op->pd = pd;
    } else {
      auto pd = dnnl::convolution_forward::primitive_desc(
          rt.engine, dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, op->wanted_src, w_any,
          bias, op->wanted_dst, strides, pad_l, pad_r, attr);
      weights_md = pd.weights_desc();
      op->prim = dnnl::convolution_forward(pd);
      op->pd = pd;
    }
    op->weights = dnnl::memory(weights_md, rt.engine);
    if (op->src != op->wanted_src) {
      op->src_buffer = dnnl::memory(op->wanted_src, rt.engine);
      op->src_reorder = dnnl::reorder(dnnl::memory(op->src, rt.engine), op->src_buffer);
    }
    if (op->dst != op->wanted_dst) {
      if (cfg.residual) throw std::runtime_error("a fused residual needs an NHWC output");
      op->dst_buffer = dnnl::memory(op->wanted_dst, rt.engine);
      op->dst_reorder = dnnl::reorder(op->dst_buffer, dnnl::memory(op->dst, rt.engine));
    }
    Log("conv", key, op->pd);
  }
  int64_t out_ch = dst[1];
  size_t wbytes = size_t(wei[0]) * wei[1] * wei[2] * wei[3] * memory::data_type_size(wei_dt);
  uint64_t a = 0, b = 0;
  Checksum(params[1], wbytes, a, b);
  if (!op->loaded || a != op->sum_a || b != op->sum_b) {
    memory::desc user(wei, wei_dt, cfg.deconv ? tag::iohw : tag::oihw);
    dnnl::memory user_mem(user, rt.engine, params[1]);
    dnnl::reorder(user_mem, op->weights).execute(rt.stream, user_mem, op->weights);
    op->sum_a = a;
    op->sum_b = b;
    op->loaded = true;
  }
  dnnl::memory src_mem(op->src, rt.engine, params[0]);
  if (op->src_buffer) {
    op->src_reorder.execute(rt.stream, src_mem, op->src_buffer);
    src_mem = op->src_buffer;
  }
  dnnl::memory dst_mem = op->dst_buffer ? op->dst_buffer : dnnl::memory(op->dst, rt.engine, params[out]);
  if (cfg.residual) std::memcpy(params[out], params[res_index], op->residual.get_size());
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_mem},
                                             {DNNL_ARG_WEIGHTS, op->weights},
                                             {DNNL_ARG_BIAS, Floats(static_cast<float *>(params[2]), out_ch)},
                                             {DNNL_ARG_DST, dst_mem}};
  if (op->quantized) {
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC] = Floats(cfg.scales, 1);
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS] = Floats(static_cast<float *>(params[3]), out_ch);
  }
  if (op->scaled_dst) args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST] = Floats(cfg.scales + 1, 1);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->pd.scratchpad_desc());
  op->prim.execute(rt.stream, args);
  if (op->dst_buffer) {
    dnnl::memory user(op->dst, rt.engine, params[out]);
    op->dst_reorder.execute(rt.stream, op->dst_buffer, user);
  }
  return 0;
}

// ------------------------------------------------------------------------------------------------ reorder, pool

struct QReorder {
  dnnl::reorder prim;
  memory::desc src, dst;
};

// Quantizes or dequantizes: y = x·s_x / s_y, rounded to nearest even and saturated where y is an integer type.
// Inputs: x, cfg (src_nhwc, dst_nhwc, s_x, s_y used). Output: y.
int QReorderForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes) {
  QConfig cfg = ReadConfig(params[1], shapes[1][0]);
  dt src_dt = DataType(dtypes[0]), dst_dt = DataType(dtypes[2]);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc);
  std::string key = DimsKey("qreorder", {src}) + dtypes[0] + dtypes[2] + (cfg.src_nhwc ? "n" : "c") + (cfg.dst_nhwc ? "n" : "c");
  bool fresh = false;
  QReorder *op = Lookup<QReorder>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    op->src = Act(src, src_dt, cfg.src_nhwc);
    op->dst = Act(src, dst_dt, cfg.dst_nhwc);
    dnnl::primitive_attr attr;
    attr.set_scales_mask(DNNL_ARG_SRC, 0);
    attr.set_scales_mask(DNNL_ARG_DST, 0);
    auto pd = dnnl::reorder::primitive_desc(rt.engine, op->src, rt.engine, op->dst, attr);
    op->prim = dnnl::reorder(pd);
    Log("reorder", key, pd);
  }
  dnnl::memory x(op->src, rt.engine, params[0]), y(op->dst, rt.engine, params[2]);
  op->prim.execute(rt.stream, {{DNNL_ARG_FROM, x}, {DNNL_ARG_TO, y},
                               {DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC, Floats(cfg.scales, 1)},
                               {DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST, Floats(cfg.scales + 1, 1)}});
  return 0;
}

struct QPool {
  dnnl::primitive prim;
  dnnl::primitive_desc pd;
  memory::desc src, dst;
};

// Max-pooling of an NHWC activation of any of the data types. Inputs: x, cfg (kernel, stride, pad). Output: y.
int QPoolForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes) {
  QConfig cfg = ReadConfig(params[1], shapes[1][0]);
  dt type = DataType(dtypes[0]);
  memory::dims src = Nchw(shapes[0], true), dst = Nchw(shapes[2], true);
  std::string key = DimsKey("qpool", {src, dst}) + dtypes[0] + std::to_string(cfg.stride * 1000 + cfg.pad * 100 + cfg.kernel);
  bool fresh = false;
  QPool *op = Lookup<QPool>(key, fresh);
  auto &rt = Rt();
  if (fresh) {
    op->src = Act(src, type, true);
    op->dst = Act(dst, type, true);
    memory::dims pad_r = {(dst[2] - 1) * cfg.stride + cfg.kernel - src[2] - cfg.pad,
                          (dst[3] - 1) * cfg.stride + cfg.kernel - src[3] - cfg.pad};
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto pd = dnnl::pooling_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_inference,
                                                    dnnl::algorithm::pooling_max, op->src, op->dst,
                                                    {cfg.stride, cfg.stride}, {cfg.kernel, cfg.kernel}, {0, 0},
                                                    {cfg.pad, cfg.pad}, pad_r, attr);
    op->prim = dnnl::pooling_forward(pd);
    op->pd = pd;
    Log("pool", key, pd);
  }
  op->prim.execute(rt.stream, {{DNNL_ARG_SRC, dnnl::memory(op->src, rt.engine, params[0])},
                               {DNNL_ARG_DST, dnnl::memory(op->dst, rt.engine, params[2])},
                               {DNNL_ARG_SCRATCHPAD, rt.Scratchpad(op->pd.scratchpad_desc())}});
  return 0;
}

using Body = int (*)(int, void **, int *, int64_t **, const char **);

int Guarded(const char *name, Body body, int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes) {
  try {
    std::lock_guard<std::mutex> hold(Rt().lock);
    return body(nparam, params, ndims, shapes, dtypes);
  } catch (const dnnl::error &e) {
    std::fprintf(stderr, "pose_int8 %s: oneDNN error %d: %s\n", name, int(e.status), e.what());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "pose_int8 %s: %s\n", name, e.what());
  }
  return 1;
}

}  // namespace

#define Q_EXPORT extern "C" __attribute__((visibility("default")))
#define Q_AOT(name, body)                                                                                          \
  Q_EXPORT int name(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) { \
    return Guarded(#name, body, nparam, params, ndims, shapes, dtypes);                                            \
  }

Q_AOT(pose_q_conv, QConvForward)
Q_AOT(pose_q_reorder, QReorderForward)
Q_AOT(pose_q_pool, QPoolForward)

// The length of cfg (QIndex), for the Python side's check.
Q_EXPORT int pose_q_cfg_len() { return kQCfgLen; }
// oneDNN's effective instruction set (dnnl_cpu_isa_t), which decides whether the weights are halved.
Q_EXPORT int pose_q_isa() { return int(dnnl::get_effective_cpu_isa()); }
// The threads of the pool.
Q_EXPORT int pose_q_threads() { return Rt().pool->get_num_threads(); }
