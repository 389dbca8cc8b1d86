// The library's runtime (runtime.h): the thread pool behind oneDNN's threadpool interface, the engine and stream,
// the scratchpad, the primitive cache and the AOT wrapper; the library's own exports (version, threads, cache).
#include "runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sched.h>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POSE_PAUSE() _mm_pause()
#else
#define POSE_PAUSE() std::this_thread::yield()
#endif

namespace pose {
namespace {

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

size_t EnvSize(const char *name, size_t fallback) {
  const char *env = std::getenv(name);
  if (!env) return fallback;
  long long value = std::atoll(env);
  return value > 0 ? size_t(value) : fallback;
}

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

}  // namespace

Runtime::Runtime() : verbose(std::getenv("POSE_ONEDNN_VERBOSE") != nullptr) {
  int threads = DefaultThreads();
  dnnl_threadpool_interop_set_max_concurrency(threads);
  pool.reset(new ThreadPool(threads, DefaultSpin()));
  engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
  stream = dnnl::threadpool_interop::make_stream(engine, pool.get());
}

dnnl::memory Runtime::Scratchpad(const dnnl::memory::desc &md) {
  size_t size = md.get_size();
  if (scratch.size() < size) scratch.resize(size);
  return dnnl::memory(md, engine, scratch.data());
}

Runtime &Rt() {
  static Runtime runtime;
  return runtime;
}

// ------------------------------------------------------------------------------------------------ primitive cache

// A ResNet-152's training and inference primitives for two batch sizes stay well under the entries' bound;
// the bytes' bound holds the folded inference weights of a few networks of that size.
PrimitiveCache::PrimitiveCache()
    : max_entries_(EnvSize("POSE_ONEDNN_CACHE_ENTRIES", 4096)),
      max_bytes_(EnvSize("POSE_ONEDNN_CACHE_MB", 2048) << 20) {}

void PrimitiveCache::Charge(size_t bytes) {
  order_.front().bytes += bytes;
  bytes_ += bytes;
  Evict();
}

void PrimitiveCache::Evict() {
  while (order_.size() > 1 && (order_.size() > max_entries_ || bytes_ > max_bytes_)) {
    Entry &last = order_.back();
    bytes_ -= last.bytes;
    index_.erase(last.key);
    order_.pop_back();
  }
}

// ------------------------------------------------------------------------------------------------ AOT wrapper

namespace {

// Runs `call(cfg)` under the runtime's lock, timed where POSE_ONEDNN_PROFILE asks; errors printed, status 1.
template <class Call>
int GuardedCall(const char *name, int nparam, void **params, int *ndims, int64_t **shapes, const Call &call) {
  try {
    std::lock_guard<std::mutex> hold(Rt().lock);
    Config cfg = ReadConfig(params[0], shapes[0][0]);
    if (!Prof().on) return call(cfg);
    auto start = std::chrono::steady_clock::now();
    int status = call(cfg);
    auto &entry = Prof().spent[ShapeKey(name, nparam - 1, ndims + 1, shapes + 1)];
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

int Guarded(const char *name, Body body, int nparam, void **params, int *ndims, int64_t **shapes, const char **) {
  return GuardedCall(name, nparam, params, ndims, shapes,
                     [&](const Config &cfg) { return body(cfg, nparam - 1, params + 1, ndims + 1, shapes + 1); });
}

int Guarded(const char *name, TypedBody body, int nparam, void **params, int *ndims, int64_t **shapes,
            const char **dtypes) {
  return GuardedCall(name, nparam, params, ndims, shapes, [&](const Config &cfg) {
    return body(cfg, nparam - 1, params + 1, ndims + 1, shapes + 1, dtypes + 1);
  });
}

}  // namespace pose

// For the loader: the library's version (major·10000 + minor·100 + patch), its threading runtime and threads.
POSE_EXPORT int pose_onednn_version() {
  const dnnl_version_t *v = dnnl_version();
  return int(v->major * 10000 + v->minor * 100 + v->patch);
}
POSE_EXPORT int pose_onednn_cpu_runtime() { return int(dnnl_version()->cpu_runtime); }
POSE_EXPORT int pose_onednn_threads() { return pose::Rt().pool->get_num_threads(); }
// The primitive cache: entries, and bytes of weights they own.
POSE_EXPORT int pose_onednn_cached() {
  std::lock_guard<std::mutex> hold(pose::Rt().lock);
  return int(pose::Rt().cache.size());
}
POSE_EXPORT long long pose_onednn_cached_bytes() {
  std::lock_guard<std::mutex> hold(pose::Rt().lock);
  return (long long)pose::Rt().cache.bytes();
}
// POSE_ONEDNN_PROFILE: forgets the times so far (say, of warm-up calls).
POSE_EXPORT void pose_onednn_profile_reset() {
  std::lock_guard<std::mutex> hold(pose::Rt().lock);
  pose::Prof().spent.clear();
}
