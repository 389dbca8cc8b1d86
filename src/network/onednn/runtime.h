// The runtime every operator of the library shares: oneDNN's engine and stream on a persistent thread pool, the
// scratchpad, the primitive cache, and the wrapper that turns MindSpore's AOT calls into calls of the operators'
// bodies (one at a time, errors caught and printed, optionally timed).
//
// Every exported operator has MindSpore's AOT signature
//     int f(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *stream, void *extra)
// with params = inputs, then outputs. The first input is always `cfg`, the layer's settings (settings.h); the
// wrapper reads it and hands the body the other inputs and the outputs, numbered from 0.
#ifndef POSE_ONEDNN_RUNTIME_H
#define POSE_ONEDNN_RUNTIME_H

#include "threadpool_config.h"

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "oneapi/dnnl/dnnl_threadpool.hpp"
#include "settings.h"

namespace pose {

// Primitives (and what they own: reorder buffers, folded inference weights) by key, least recently used evicted
// first once there are more than `max_entries` of them or they own more than `max_bytes` (the environment's
// POSE_ONEDNN_CACHE_ENTRIES and POSE_ONEDNN_CACHE_MB), never the one in use.
class PrimitiveCache {
 public:
  PrimitiveCache();
  // The entry of `key`, made (default-constructed, `fresh` true) where there is none.
  template <class T>
  T *Get(const std::string &key, bool &fresh) {
    auto found = index_.find(key);
    if (found != index_.end()) {
      order_.splice(order_.begin(), order_, found->second);
      fresh = false;
      return static_cast<T *>(found->second->value.get());
    }
    order_.push_front(Entry{key, std::make_shared<T>(), 0});
    index_[key] = order_.begin();
    fresh = true;
    Evict();
    return static_cast<T *>(order_.front().value.get());
  }
  // Counts `bytes` more as owned by the entry got last.
  void Charge(size_t bytes);
  size_t size() const { return order_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<void> value;
    size_t bytes;
  };
  void Evict();
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0, max_entries_, max_bytes_;
};

struct Runtime {
  std::mutex lock;  // one operator at a time: the stream, the pool, the scratchpad and the cache are shared
  std::unique_ptr<dnnl::threadpool_interop::threadpool_iface> pool;
  dnnl::engine engine;
  dnnl::stream stream;
  std::vector<char> scratch;
  PrimitiveCache cache;
  bool verbose;

  Runtime();
  dnnl::memory Scratchpad(const dnnl::memory::desc &md);
};

Runtime &Rt();

// An operator's body: the settings, then `n` pointers (the inputs after cfg, then the outputs) with their shapes.
using Body = int (*)(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes);
// The body of an operator whose data types vary (int8.cc): the pointers' types ("float32", "uint8", ...) too.
using TypedBody = int (*)(const Config &cfg, int n, void **params, int *ndims, int64_t **shapes, const char **dtypes);

// Runs `body` on an exported operator's arguments (the settings vector read from the first), one operator at a
// time; an exception becomes a line on stderr and status 1. `dtypes` reaches a TypedBody only.
int Guarded(const char *name, Body body, int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes);
int Guarded(const char *name, TypedBody body, int nparam, void **params, int *ndims, int64_t **shapes,
            const char **dtypes);

}  // namespace pose

#define POSE_EXPORT extern "C" __attribute__((visibility("default")))
// The operator `name` with MindSpore's AOT signature, running `body` (a Body or a TypedBody).
#define POSE_AOT(name, body)                                                                                           \
  POSE_EXPORT int name(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) { \
    return pose::Guarded(#name, body, nparam, params, ndims, shapes, dtypes);                                         \
  }

#endif  // POSE_ONEDNN_RUNTIME_H
