// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions with padding 1, as MindSpore AOT custom operators (CPU):
// inference with the following BatchNorm folded, bias, residual addition and ReLU fused; training's forward pass,
// backward-data (the same convolution of the output's gradient with the weights transposed and turned by 180°) and
// backward-weights (the transforms' adjoint, the 16 products reducing over all tiles). oneDNN 3.10 has Winograd only
// for AVX-512; with AVX2 its direct kernels do 9 multiply-adds an output per input channel, this does 4.
//
// Each 2×2 output tile t reads a 4×4 input patch d; per channel, V = Bᵀ·d·B (16 values), per output channel
// Y = Aᵀ·M·A with M[k] = Σ_c V[k][c]·U[k][c][o], k = 0..15, U = G·g·Gᵀ the transformed 3×3 kernel g:
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 −1].
// The 16 products M[k] = V[k]·U[k] are oneDNN 1×1 convolutions (rows×C by C×O; on AVX2 oneDNN's matmul falls back
// to its packing GEMM for these shapes, its 1×1 convolution keeps the weights packed in its blocked layout). The
// tiles go in chunks of `rows` tiles, each chunk on one thread of the runtime's pool from its input transform
// through the products (on a single-threaded stream of that thread) to its output transform, so V and M of a chunk
// stay in that core's cache.
//
// Activations are N×H×W×C float32 (NCHW ones are reordered at the boundary, as conv.cc does); weights O×C×3×3,
// transformed once per checksum of their sources (primitives.h's FoldInference) into the products' layout.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "primitives.h"

namespace pose {
namespace {

constexpr int kTaps = 16;  // 4×4 points of a tile's transform

// (Vectors of 8 floats pass by value only inside this file, inlined: GCC's ABI note on them does not apply.)
#pragma GCC diagnostic ignored "-Wpsabi"

// GCC's vector of 8 floats (two SSE registers on baseline x86-64, two NEON registers on aarch64), and a float for
// channel counts that are not a multiple of 8.
typedef float F8 __attribute__((vector_size(32)));

template <class V>
[[gnu::always_inline]] inline V Load(const float *p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <class V>
[[gnu::always_inline]] inline void Store(float *p, const V &v) {
  std::memcpy(p, &v, sizeof(V));
}

template <class V>
[[gnu::always_inline]] inline V Max0(const V &v) {
  if constexpr (sizeof(V) == sizeof(float)) {
    return v > 0.f ? v : 0.f;
  } else {
    return v > 0.f ? v : V{};
  }
}

// One tile's input transform for channels [c, c + lanes): d from the 16 rows `in` (a zero row where the patch
// leaves the image), V[k] to out + k·stride.
template <class V>
[[gnu::always_inline]] inline void InputTile(const float *const in[kTaps], int c, float *out, size_t stride) {
  V d[4][4], t[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) d[i][j] = Load<V>(in[i * 4 + j] + c);
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {
    Store(out + (i * 4 + 0) * stride + c, t[i][0] - t[i][2]);
    Store(out + (i * 4 + 1) * stride + c, t[i][1] + t[i][2]);
    Store(out + (i * 4 + 2) * stride + c, t[i][2] - t[i][1]);
    Store(out + (i * 4 + 3) * stride + c, t[i][1] - t[i][3]);
  }
}

// One tile's output transform for channels [o, o + lanes): M[k] at m + k·stride, y = Aᵀ·M·A + bias [+ residual],
// ReLU'd where asked, written to the rows `out` that lie in the image (`res` the residual's rows, or null).
template <class V>
[[gnu::always_inline]] inline void OutputTile(const float *m, size_t stride, int o, const float *bias, float *const out[4],
                       const float *const res[4], bool relu) {
  V s[2][4];
  for (int j = 0; j < 4; ++j) {
    V m0 = Load<V>(m + (0 + j) * stride + o), m1 = Load<V>(m + (4 + j) * stride + o);
    V m2 = Load<V>(m + (8 + j) * stride + o), m3 = Load<V>(m + (12 + j) * stride + o);
    s[0][j] = m0 + m1 + m2;
    s[1][j] = m1 - m2 - m3;
  }
  V b = bias ? Load<V>(bias + o) : V{};
  for (int i = 0; i < 2; ++i) {
    V y[2] = {s[i][0] + s[i][1] + s[i][2] + b, s[i][1] - s[i][2] - s[i][3] + b};
    for (int j = 0; j < 2; ++j) {
      float *dst = out[i * 2 + j];
      if (!dst) continue;
      V v = y[j];
      if (res) v += Load<V>(res[i * 2 + j] + o);
      if (relu) v = Max0(v);
      Store(dst + o, v);
    }
  }
}

// A single-threaded pool: the stream a chunk's products run on, inside a thread of the runtime's pool.
class SerialPool : public dnnl::threadpool_interop::threadpool_iface {
 public:
  int get_num_threads() const override { return 1; }
  bool get_in_parallel() const override { return false; }
  uint64_t get_flags() const override { return 0; }
  void wait() override {}
  void parallel_for(int n, const std::function<void(int, int)> &fn) override {
    for (int i = 0; i < n; ++i) fn(i, n);
  }
};

// What a thread of the runtime's pool works in: its stream and its chunk's buffers (grown to the largest layer's).
struct Worker {
  SerialPool pool;
  dnnl::stream stream;
  std::vector<float> v, m, zeros;
  std::vector<char> scratch;
  Worker() : stream(dnnl::threadpool_interop::make_stream(Rt().engine, &pool)) {}
};

std::vector<std::unique_ptr<Worker>> &Workers() {
  static std::vector<std::unique_ptr<Worker>> workers;
  int threads = Rt().pool->get_num_threads();
  while (int(workers.size()) < threads) workers.emplace_back(new Worker());
  return workers;
}

// Tiles a chunk holds: about `target_bytes` of V and M together, the chunks a multiple of the threads, evened out.
// On two AVX2 cores (Zen 3, 512 KiB L2 each) 2 MiB did as well as 512 KiB on the layers of up to 256 channels and
// better on the 512-channel ones (1.6× against 1.1× the direct kernel on ResNet-50's layer 4): each chunk's
// products stream all 16 transformed kernels (16·C·O floats), so fewer, larger chunks read them fewer times.
int64_t ChunkRows(int64_t tiles, int64_t channels, int64_t out_channels, int threads) {
  int64_t target_bytes = 2048 << 10;
  if (const char *env = std::getenv("POSE_WINOGRAD_CHUNK_KB")) target_bytes = int64_t(std::atoi(env)) << 10;
  int64_t rows = std::max<int64_t>(8, target_bytes / (kTaps * 4 * (channels + out_channels)));
  int64_t chunks = (tiles + rows - 1) / rows;
  chunks = (chunks + threads - 1) / threads * threads;
  return (tiles + chunks - 1) / chunks;
}

// The 2×2 output tiles of a layer: tiles_h × tiles_w an image, `tiles` in the batch, numbered image by image,
// row by row.
struct Tiling {
  int64_t tiles = 0, tiles_h = 0, tiles_w = 0;
  void Init(const memory::dims &dst) {
    tiles_h = (dst[2] + 1) / 2;
    tiles_w = (dst[3] + 1) / 2;
    tiles = dst[0] * tiles_h * tiles_w;
  }
};

struct WinoConv : Tiling {
  int64_t rows = 0;
  dnnl::convolution_forward prim;
  dnnl::convolution_forward::primitive_desc pd;
  memory::desc v_md, m_md;
  std::vector<dnnl::memory> weights;  // U[k] in the product's layout, k = 0..15
  dnnl::reorder load;                 // U[k] (C×O) into weights[k]
  std::vector<float> bias;
  ActBuffer src, dst;
  SourceSums sums;
};

// U[k][c][o] (16×C×O) of the product's kernel, for the input channels [c_begin, c_end), into `u`: `w` itself
// (O×C×3×3), or with `transpose_flip` the kernel that carries a layer's output gradient back to its input, w's in and
// out channels swapped and each 3×3 turned by 180° (`w` is then the layer's own weights, C×O×3×3 here: the product's
// input channels first).
void TransformWeights(const float *w, int64_t out_ch, int64_t in_ch, bool transpose_flip, int64_t c_begin,
                      int64_t c_end, float *u) {
  for (int64_t c = c_begin; c < c_end; ++c)
    for (int64_t o = 0; o < out_ch; ++o) {
      float g[9];
      if (transpose_flip) {
        const float *src = w + (size_t(c) * out_ch + o) * 9;
        for (int t = 0; t < 9; ++t) g[t] = src[8 - t];
      } else {
        std::memcpy(g, w + (size_t(o) * in_ch + c) * 9, sizeof(g));
      }
      float t[4][3];  // G·g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {
        float row[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) u[(size_t(i * 4 + j) * in_ch + c) * out_ch + o] = row[j];
      }
    }
}

// The 16 input rows of tile t (zero rows outside the image).
[[gnu::always_inline]] inline void TileRows(const float *x, const memory::dims &src, const Tiling &op, int64_t t,
                                                 const float *zeros, const float *rows[kTaps]) {
  int64_t C = src[1], H = src[2], W = src[3];
  int64_t n = t / (op.tiles_h * op.tiles_w), r = t % (op.tiles_h * op.tiles_w);
  int64_t y0 = (r / op.tiles_w) * 2 - 1, x0 = (r % op.tiles_w) * 2 - 1;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      int64_t y = y0 + i, xx = x0 + j;
      bool inside = y >= 0 && y < H && xx >= 0 && xx < W;
      rows[i * 4 + j] = inside ? x + ((n * H + y) * W + xx) * C : zeros;
    }
}

// What one chunk's transforms work on: the layer's shapes and its tiles [first, first + count), whose transforms
// lie `tap_rows` rows apart from one tap to the next (a chunk's rows, or the layer's tiles in backward-weights).
struct ChunkArgs {
  const Tiling *op;
  int64_t tap_rows;
  memory::dims src, dst;
  const float *x, *res, *bias, *zeros;
  float *y, *v, *m;
  int64_t first, count;
  bool relu;
};

// The chunk's input transform into V (16 × rows × C).
[[gnu::always_inline]] inline void InputChunk(const ChunkArgs &a) {
  int64_t C = a.src[1];
  size_t stride = size_t(a.tap_rows) * C;
  const float *rows[kTaps];
  for (int64_t i = 0; i < a.count; ++i) {
    TileRows(a.x, a.src, *a.op, a.first + i, a.zeros, rows);
    float *out = a.v + i * C;
    int64_t c = 0;
    for (; c + 8 <= C; c += 8) InputTile<F8>(rows, int(c), out, stride);
    for (; c < C; ++c) InputTile<float>(rows, int(c), out, stride);
  }
}

// The chunk's output transform of M (16 × rows × O) into y, with bias, residual and ReLU.
[[gnu::always_inline]] inline void OutputChunk(const ChunkArgs &a) {
  const Tiling &op = *a.op;
  int64_t O = a.dst[1], H = a.dst[2], W = a.dst[3];
  size_t stride = size_t(a.tap_rows) * O;
  for (int64_t i = 0; i < a.count; ++i) {
    int64_t t = a.first + i, n = t / (op.tiles_h * op.tiles_w), r = t % (op.tiles_h * op.tiles_w);
    int64_t y0 = (r / op.tiles_w) * 2, x0 = (r % op.tiles_w) * 2;
    float *outs[4];
    const float *res_rows[4];
    for (int k = 0; k < 4; ++k) {
      int64_t yy = y0 + k / 2, xx = x0 + k % 2;
      bool inside = yy < H && xx < W;
      size_t at = ((n * H + yy) * W + xx) * O;
      outs[k] = inside ? a.y + at : nullptr;
      res_rows[k] = inside && a.res ? a.res + at : nullptr;
    }
    const float *mi = a.m + i * O;
    const float *const *res = a.res ? res_rows : nullptr;
    int64_t o = 0;
    for (; o + 8 <= O; o += 8) OutputTile<F8>(mi, stride, int(o), a.bias, outs, res, a.relu);
    for (; o < O; ++o) OutputTile<float>(mi, stride, int(o), a.bias, outs, res, a.relu);
  }
}

// One tile's output-gradient transform for channels [o, o + lanes): dM = A·dY·Aᵀ (the adjoint of Y = Aᵀ·M·A) of
// the 2×2 dY at the rows `dy` (null outside the image: zero), dM[k] to out + k·stride.
template <class V>
[[gnu::always_inline]] inline void GradTile(const float *const dy[4], int o, float *out, size_t stride) {
  V d[2][2];
  for (int k = 0; k < 4; ++k) d[k / 2][k % 2] = dy[k] ? Load<V>(dy[k] + o) : V{};
  V t[4][2];
  for (int j = 0; j < 2; ++j) {
    t[0][j] = d[0][j];
    t[1][j] = d[0][j] + d[1][j];
    t[2][j] = d[0][j] - d[1][j];
    t[3][j] = -d[1][j];
  }
  for (int i = 0; i < 4; ++i) {
    Store(out + (i * 4 + 0) * stride + o, t[i][0]);
    Store(out + (i * 4 + 1) * stride + o, t[i][0] + t[i][1]);
    Store(out + (i * 4 + 2) * stride + o, t[i][0] - t[i][1]);
    Store(out + (i * 4 + 3) * stride + o, -t[i][1]);
  }
}

// The chunk's output-gradient transform of dy (`x`, the layer's dst shape) into dM (`m`, 16 × tap_rows × O).
[[gnu::always_inline]] inline void GradChunk(const ChunkArgs &a) {
  const Tiling &op = *a.op;
  int64_t O = a.dst[1], H = a.dst[2], W = a.dst[3];
  size_t stride = size_t(a.tap_rows) * O;
  for (int64_t i = 0; i < a.count; ++i) {
    int64_t t = a.first + i, n = t / (op.tiles_h * op.tiles_w), r = t % (op.tiles_h * op.tiles_w);
    int64_t y0 = (r / op.tiles_w) * 2, x0 = (r % op.tiles_w) * 2;
    const float *rows[4];
    for (int k = 0; k < 4; ++k) {
      int64_t yy = y0 + k / 2, xx = x0 + k % 2;
      rows[k] = yy < H && xx < W ? a.x + ((n * H + yy) * W + xx) * O : nullptr;
    }
    float *out = a.m + i * O;
    int64_t o = 0;
    for (; o + 8 <= O; o += 8) GradTile<F8>(rows, int(o), out, stride);
    for (; o < O; ++o) GradTile<float>(rows, int(o), out, stride);
  }
}

// The transforms compiled for the baseline instruction set, and on x86-64 for AVX2 too (each 8-float vector one
// register instead of two), chosen at run time.
void InputChunkBase(const ChunkArgs &a) { InputChunk(a); }
void OutputChunkBase(const ChunkArgs &a) { OutputChunk(a); }
void GradChunkBase(const ChunkArgs &a) { GradChunk(a); }
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void InputChunkAvx2(const ChunkArgs &a) { InputChunk(a); }
__attribute__((target("avx2,fma"))) void OutputChunkAvx2(const ChunkArgs &a) { OutputChunk(a); }
__attribute__((target("avx2,fma"))) void GradChunkAvx2(const ChunkArgs &a) { GradChunk(a); }
const bool kHasAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
const bool kHasAvx2 = false;
void InputChunkAvx2(const ChunkArgs &a) { InputChunk(a); }
void OutputChunkAvx2(const ChunkArgs &a) { OutputChunk(a); }
void GradChunkAvx2(const ChunkArgs &a) { GradChunk(a); }
#endif

// The arguments of the 16 products of a chunk on `worker`'s buffers (the same for each chunk a thread runs).
std::vector<std::unordered_map<int, dnnl::memory>> ProductArgs(const WinoConv &op, Worker &worker, int64_t C, int64_t O) {
  auto &engine = Rt().engine;
  dnnl::memory scratch(op.pd.scratchpad_desc(), engine, worker.scratch.data());
  std::vector<std::unordered_map<int, dnnl::memory>> args(kTaps);
  for (int k = 0; k < kTaps; ++k)
    args[k] = {{DNNL_ARG_SRC, dnnl::memory(op.v_md, engine, worker.v.data() + size_t(k) * op.rows * C)},
               {DNNL_ARG_WEIGHTS, op.weights[k]},
               {DNNL_ARG_DST, dnnl::memory(op.m_md, engine, worker.m.data() + size_t(k) * op.rows * O)},
               {DNNL_ARG_SCRATCHPAD, scratch}};
  return args;
}

// Runs chunk `chunk` of the layer on `worker`: input transform, the 16 products, output transform.
void RunChunk(const WinoConv &op, const memory::dims &src, const memory::dims &dst, const float *x, float *y,
              const float *bias, const float *res, bool relu, Worker &worker,
              const std::vector<std::unordered_map<int, dnnl::memory>> &products, int64_t chunk) {
  int64_t first = chunk * op.rows, count = std::min(op.rows, op.tiles - first);
  if (count <= 0) return;
  ChunkArgs a{&op, op.rows, src, dst, x, res, bias, worker.zeros.data(), y, worker.v.data(), worker.m.data(), first, count, relu};
  (kHasAvx2 ? InputChunkAvx2 : InputChunkBase)(a);
  for (int k = 0; k < kTaps; ++k) op.prim.execute(worker.stream, products[k]);
  (kHasAvx2 ? OutputChunkAvx2 : OutputChunkBase)(a);
}

// The cached state of one Winograd convolution of `src` onto `dst` (N×C×H×W dims of the same H×W), MindSpore
// holding them in N×H×W×C where `src_nhwc` / `dst_nhwc`; created on the first use of `key`.
WinoConv *Layer(const std::string &key, const memory::dims &src, const memory::dims &dst, bool src_nhwc,
                bool dst_nhwc) {
  if (dst[2] != src[2] || dst[3] != src[3]) throw std::runtime_error("Winograd: the output's size must be the input's");
  auto &rt = Rt();
  int64_t C = src[1], O = dst[1];
  bool fresh = false;
  WinoConv *op = rt.cache.Get<WinoConv>(key, fresh);
  if (fresh) {
    op->Init(dst);
    op->rows = ChunkRows(op->tiles, C, O, int(Workers().size()));
    // one product: the chunk's rows as a 1×rows image of C channels, N×H×W×C
    op->v_md = memory::desc({1, C, 1, op->rows}, dt::f32, tag::nhwc);
    op->m_md = memory::desc({1, O, 1, op->rows}, dt::f32, tag::nhwc);
    memory::desc wei({O, C, 1, 1}, dt::f32, tag::any);
    op->pd = dnnl::convolution_forward::primitive_desc(rt.engine, dnnl::prop_kind::forward_inference,
                                                       dnnl::algorithm::convolution_direct, op->v_md, wei, op->m_md,
                                                       {1, 1}, {0, 0}, {0, 0}, UserScratchpad());
    op->prim = dnnl::convolution_forward(op->pd);
    for (int k = 0; k < kTaps; ++k) op->weights.emplace_back(op->pd.weights_desc(), rt.engine);
    op->bias.assign(size_t(O), 0.f);
    op->src.Init(Act(src, src_nhwc), Act(src, true), false);
    op->dst.Init(Act(dst, dst_nhwc), Act(dst, true), true);
    rt.cache.Charge(kTaps * op->pd.weights_desc().get_size() + size_t(O) * 4);
    Log("winograd", key + " rows " + std::to_string(op->rows), op->pd);
  }
  return op;
}

// Transforms the 3×3 kernels `w` (TransformWeights') into the products' weights, C input and O output channels, on
// the runtime's pool: each thread transforms a share of the input channels, then reorders a share of the 16 U[k].
// U goes through one buffer of all layers, grown to the largest's. (Training does this on every call: on one thread,
// into a fresh 16·C·O buffer, it took 20 ms of a 27 ms forward pass of a 512-channel layer of the demo network on
// AVX-512.)
void LoadWeights(WinoConv &op, const float *w, bool transpose_flip, int64_t C, int64_t O) {
  auto &rt = Rt();
  auto &workers = Workers();
  int threads = int(workers.size());
  static std::vector<float> u;
  u.resize(std::max(u.size(), size_t(kTaps) * C * O));
  rt.pool->parallel_for(threads, [&](int thread, int) {
    TransformWeights(w, O, C, transpose_flip, C * thread / threads, C * (thread + 1) / threads, u.data());
  });
  memory::desc user_md({O, C, 1, 1}, dt::f32, tag::ihwo);  // U[k] is C×O: an I×1×1×O kernel
  if (!op.load) op.load = dnnl::reorder(dnnl::memory(user_md, rt.engine, u.data()), op.weights[0]);
  rt.pool->parallel_for(threads, [&](int thread, int) {
    Worker &worker = *workers[thread];
    for (int k = thread; k < kTaps; k += threads) {
      dnnl::memory user(user_md, rt.engine, u.data() + size_t(k) * C * O);
      op.load.execute(worker.stream, user, op.weights[k]);
    }
  });
}

// y = act(conv3×3(x, U) + bias [+ residual]) on the runtime's pool, x and y in MindSpore's layouts (Layer's).
void Run(WinoConv &op, const memory::dims &src, const memory::dims &dst, const void *x_user, void *y_user,
         const float *bias, const float *res, bool relu) {
  auto &rt = Rt();
  auto &workers = Workers();
  int threads = int(workers.size());
  int64_t C = src[1], O = dst[1];
  for (auto &worker : workers) {
    worker->v.resize(std::max(worker->v.size(), size_t(kTaps) * op.rows * C));
    worker->m.resize(std::max(worker->m.size(), size_t(kTaps) * op.rows * O));
    worker->zeros.resize(std::max(worker->zeros.size(), size_t(C)), 0.f);
    worker->scratch.resize(std::max(worker->scratch.size(), op.pd.scratchpad_desc().get_size()));
  }
  const float *x = static_cast<const float *>(op.src.In(x_user).get_data_handle());
  float *y = static_cast<float *>(op.dst.Out(y_user).get_data_handle());
  int64_t chunks = (op.tiles + op.rows - 1) / op.rows;
  rt.pool->parallel_for(threads, [&](int thread, int) {
    Worker &worker = *workers[thread];
    auto products = ProductArgs(op, worker, C, O);
    for (int64_t chunk = thread; chunk < chunks; chunk += threads)
      RunChunk(op, src, dst, x, y, bias, res, relu, worker, products, chunk);
  });
  op.dst.Finish(y_user);
}

void RequireWinograd(const Config &cfg) {
  if (cfg.kernel != 3 || cfg.stride != 1 || cfg.pad != 1 || cfg.deconv)
    throw std::runtime_error("Winograd F(2x2, 3x3) takes 3x3 convolutions of stride 1 and padding 1 only");
}

// y = act(conv3×3(x, w·s) + (b − μ)·s + β [+ residual]) as conv.cc's ConvInfer, by Winograd F(2×2, 3×3). Inputs:
// x, w (O×C×3×3), [bias], [γ, β, μ, σ²], [residual (N×H×W×O)]. Output: y. Stride 1, padding 1 only. The weights
// are folded and transformed again only when their sources' checksum changes.
int WinogradInfer(const Config &cfg, int n, void **params, int *, int64_t **shapes) {
  RequireWinograd(cfg);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[n - 1], cfg.dst_nhwc);
  Geometry g = ConvGeometry(src, dst, cfg);
  WinoConv *op = Layer(Key("winograd", {src, dst}, cfg, params[1]), src, dst, cfg.src_nhwc, cfg.dst_nhwc);
  std::vector<float> folded;
  if (FoldInference(cfg, g, params, op->sums, folded, op->bias.data()))
    LoadWeights(*op, folded.data(), false, src[1], dst[1]);
  const float *res = cfg.residual ? static_cast<const float *>(params[2 + AffineInputs(cfg)]) : nullptr;
  Run(*op, src, dst, params[0], params[n - 1], cfg.affine ? op->bias.data() : nullptr, res, cfg.relu);
  return 0;
}

// Training's forward pass and backward-data transform the weights on every call (16·C·O values written, then
// reordered), a cost that grows with the weights while what the products save grows with the tiles: below this many
// 2×2 tiles (N·⌈H/2⌉·⌈W/2⌉) they run oneDNN's direct kernel instead (POSE_WINOGRAD_MIN_TILES, read on each call,
// sets another threshold). Measured per layer over the demo network's training steps (batch 16, 8 December 2026, a
// Xeon with AVX-512 natively and under ONEDNN_MAX_CPU_ISA=AVX2): the 512-channel layer (96 tiles) took 2.0× and
// 1.8× the direct kernel's time in these two passes, the 256-channel one (320 tiles) 1.14× and 0.92×, the 128-channel
// one (1,280 tiles) 0.90× and 0.71×, the 64-channel one (5,120 tiles) 1.03× and 0.74×.
constexpr int64_t kMinTrainingTiles = 256;

bool TooFewTiles(const memory::dims &dst) {
  int64_t threshold = kMinTrainingTiles;
  if (const char *env = std::getenv("POSE_WINOGRAD_MIN_TILES")) threshold = std::atoll(env);
  Tiling tiling;
  tiling.Init(dst);
  return tiling.tiles < threshold;
}

// Training forward as conv.cc's ConvForward, by Winograd F(2×2, 3×3): y = conv3×3(x, w) [+ bias]. Inputs: x,
// w (O×C×3×3), [bias]. Output: y. The weights change every step, so they are transformed on every call, and the
// cache's key holds no pointer (a new one each step would grow the cache). With too few tiles: DirectForward.
int WinogradForward(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes) {
  RequireWinograd(cfg);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[n - 1], cfg.dst_nhwc);
  if (TooFewTiles(dst)) return DirectForward(cfg, n, params, ndims, shapes);
  WinoConv *op = Layer(Key("winograd_forward", {src, dst}, cfg), src, dst, cfg.src_nhwc, cfg.dst_nhwc);
  LoadWeights(*op, static_cast<const float *>(params[1]), false, src[1], dst[1]);
  const float *bias = cfg.bias ? static_cast<const float *>(params[2]) : nullptr;
  Run(*op, src, dst, params[0], params[n - 1], bias, nullptr, false);
  return 0;
}

// Gradient of the input as conv.cc's ConvBackwardData, by Winograd F(2×2, 3×3): dx = conv3×3(dy, w') with w' the
// weights' in and out channels swapped and each kernel turned by 180° (a stride-1 "same" convolution's adjoint).
// Inputs: dy, w (O×C×3×3), x (for its shape). Output: dx. With too few tiles: DirectBackwardData.
int WinogradBackwardData(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes) {
  RequireWinograd(cfg);
  memory::dims dst = Nchw(shapes[0], cfg.dst_nhwc), src = Nchw(shapes[n - 1], cfg.src_nhwc);
  if (TooFewTiles(dst)) return DirectBackwardData(cfg, n, params, ndims, shapes);
  WinoConv *op = Layer(Key("winograd_backward_data", {dst, src}, cfg), dst, src, cfg.dst_nhwc, cfg.src_nhwc);
  LoadWeights(*op, static_cast<const float *>(params[1]), true, dst[1], src[1]);
  Run(*op, dst, src, params[0], params[n - 1], nullptr, nullptr, false);
  return 0;
}

// dW (O×C×3×3) = Gᵀ·dU·G of each (o, c), dU 16×O×C (transposed: read in dW's order): the adjoint of
// TransformWeights' U = G·g·Gᵀ.
void WeightGradient(const float *du, int64_t C, int64_t O, float *dw) {
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c) {
      float u[4][4], t[3][4];  // dU of (o, c); Gᵀ·dU
      for (int k = 0; k < kTaps; ++k) u[k / 4][k % 4] = du[(size_t(k) * O + o) * C + c];
      for (int j = 0; j < 4; ++j) {
        t[0][j] = u[0][j] + 0.5f * (u[1][j] + u[2][j]);
        t[1][j] = 0.5f * (u[1][j] - u[2][j]);
        t[2][j] = 0.5f * (u[1][j] + u[2][j]) + u[3][j];
      }
      float *g = dw + (size_t(o) * C + c) * 9;
      for (int i = 0; i < 3; ++i) {
        g[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
        g[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]);
        g[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
      }
    }
}

struct WinoBackWeights : Tiling {
  dnnl::matmul prim;
  memory::desc v_md, m_md, du_md, scratch;
  ActBuffer src, diff_dst;
};

// The layer-wide transforms of backward-weights, V (16 × tiles × C) and dM (16 × tiles × O), and dU (16 × O × C):
// one set of buffers, grown to the largest layer's.
std::vector<float> &GradBuffer(int which) {
  static std::vector<float> buffers[3];
  return buffers[which];
}

// Gradient of the weights (and bias) as conv.cc's ConvBackwardWeights, by Winograd F(2×2, 3×3): dU[k] = Σ_tiles
// V[k]ᵀ·dM[k] with V the input's transform and dM = A·dY·Aᵀ the output gradient's, then dW = Gᵀ·dU·G. The 16
// products reduce over all the layer's tiles: one batched oneDNN matmul, computing dU[k]ᵀ = dM[k]ᵀ·V[k] (O×C, so
// that dW's transform reads it in order). Inputs: x, dy, w (for its shape).
// Outputs: dw (O×C×3×3), [db].
int WinogradBackwardWeights(const Config &cfg, int, void **params, int *, int64_t **shapes) {
  RequireWinograd(cfg);
  memory::dims src = Nchw(shapes[0], cfg.src_nhwc), dst = Nchw(shapes[1], cfg.dst_nhwc);
  if (dst[2] != src[2] || dst[3] != src[3]) throw std::runtime_error("Winograd: the output's size must be the input's");
  std::string key = Key("winograd_backward_weights", {src, dst}, cfg);
  auto &rt = Rt();
  int64_t C = src[1], O = dst[1];
  bool fresh = false;
  WinoBackWeights *op = rt.cache.Get<WinoBackWeights>(key, fresh);
  if (fresh) {
    op->Init(dst);
    int64_t T = op->tiles;
    // dU[k]ᵀ (O×C) = dM[k]ᵀ (O×T, dM[k] stored T×O) · V[k] (T×C)
    op->m_md = memory::desc({kTaps, O, T}, dt::f32, memory::dims{T * O, 1, O});
    op->v_md = memory::desc({kTaps, T, C}, dt::f32, memory::dims{T * C, C, 1});
    op->du_md = memory::desc({kTaps, O, C}, dt::f32, memory::dims{C * O, C, 1});
    dnnl::matmul::primitive_desc pd(rt.engine, op->m_md, op->v_md, op->du_md, UserScratchpad());
    op->prim = dnnl::matmul(pd);
    op->scratch = pd.scratchpad_desc();
    op->src.Init(Act(src, cfg.src_nhwc), Act(src, true), false);
    op->diff_dst.Init(Act(dst, cfg.dst_nhwc), Act(dst, true), false);
    Log("winograd_backward_weights", key, pd);
  }
  int64_t T = op->tiles;
  std::vector<float> &v = GradBuffer(0), &m = GradBuffer(1), &du = GradBuffer(2);
  v.resize(std::max(v.size(), size_t(kTaps) * T * C));
  m.resize(std::max(m.size(), size_t(kTaps) * T * O));
  du.resize(std::max(du.size(), size_t(kTaps) * C * O));
  auto &workers = Workers();
  int threads = int(workers.size());
  for (auto &worker : workers) worker->zeros.resize(std::max(worker->zeros.size(), size_t(C)), 0.f);
  const float *x = static_cast<const float *>(op->src.In(params[0]).get_data_handle());
  const float *dy = static_cast<const float *>(op->diff_dst.In(params[1]).get_data_handle());
  rt.pool->parallel_for(threads, [&](int thread, int) {
    int64_t first = T * thread / threads, count = T * (thread + 1) / threads - first;
    if (count <= 0) return;
    ChunkArgs a{op, T, src, dst, x, nullptr, nullptr, workers[thread]->zeros.data(), nullptr, v.data() + first * C,
                nullptr, first, count, false};
    (kHasAvx2 ? InputChunkAvx2 : InputChunkBase)(a);
    a.x = dy;
    a.m = m.data() + first * O;
    (kHasAvx2 ? GradChunkAvx2 : GradChunkBase)(a);
  });
  op->prim.execute(rt.stream, {{DNNL_ARG_SRC, dnnl::memory(op->m_md, rt.engine, m.data())},
                               {DNNL_ARG_WEIGHTS, dnnl::memory(op->v_md, rt.engine, v.data())},
                               {DNNL_ARG_DST, dnnl::memory(op->du_md, rt.engine, du.data())},
                               {DNNL_ARG_SCRATCHPAD, rt.Scratchpad(op->scratch)}});
  WeightGradient(du.data(), C, O, static_cast<float *>(params[3]));
  if (cfg.bias) {
    std::vector<double> sum(size_t(O), 0.0);
    for (int64_t p = 0; p < dst[0] * dst[2] * dst[3]; ++p)
      for (int64_t o = 0; o < O; ++o) sum[o] += dy[p * O + o];
    float *db = static_cast<float *>(params[4]);
    for (int64_t o = 0; o < O; ++o) db[o] = float(sum[o]);
  }
  return 0;
}

}  // namespace
}  // namespace pose

POSE_AOT(pose_winograd_infer, pose::WinogradInfer)
POSE_AOT(pose_winograd_forward, pose::WinogradForward)
POSE_AOT(pose_winograd_backward_data, pose::WinogradBackwardData)
POSE_AOT(pose_winograd_backward_weights, pose::WinogradBackwardWeights)
