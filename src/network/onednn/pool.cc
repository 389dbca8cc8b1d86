// oneDNN max-pooling of NHWC activations as MindSpore AOT custom operators (CPU): inference, and training with the
// argmax kept in oneDNN's workspace for the backward pass.
#include <stdexcept>
#include <unordered_map>

#include "primitives.h"

namespace pose {
namespace {

struct Pool {
  dnnl::primitive prim;
  memory::desc scratch;
  memory::desc src, dst, workspace;
};

Geometry PoolGeometry(const memory::dims &src, const memory::dims &dst, const Config &cfg) {
  return MakeGeometry(src, dst, cfg, WindowPadRight(src, dst, cfg));
}

// Forward. cfg: kernel, stride, pad. Inputs: x. Outputs: y, [workspace (uint8): training].
int PoolForward(const Config &cfg, int n, void **params, int *, int64_t **shapes) {
  bool train = n == 3;
  memory::dims src = Nchw(shapes[0], true), dst = Nchw(shapes[1], true);
  std::string key = Key(train ? "pool_train" : "pool_infer", {src, dst}, cfg);
  auto &rt = Rt();
  bool fresh = false;
  Pool *op = rt.cache.Get<Pool>(key, fresh);
  if (fresh) {
    Geometry g = PoolGeometry(src, dst, cfg);
    op->src = Act(src, true);
    op->dst = Act(dst, true);
    auto p = dnnl::pooling_forward::primitive_desc(
        rt.engine, train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
        dnnl::algorithm::pooling_max, op->src, op->dst, g.strides, {cfg.kernel, cfg.kernel}, {0, 0}, g.pad_l, g.pad_r,
        UserScratchpad());
    if (train) {
      op->workspace = p.workspace_desc();
      size_t expected = size_t(shapes[2][0]) * shapes[2][1] * shapes[2][2] * shapes[2][3];
      if (op->workspace.get_size() != expected)
        throw std::runtime_error("max-pool workspace of " + std::to_string(op->workspace.get_size()) +
                                 " bytes, expected " + std::to_string(expected));
    }
    op->prim = dnnl::pooling_forward(p);
    op->scratch = p.scratchpad_desc();
    Log("pool", key, p);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dnnl::memory(op->src, rt.engine, params[0])},
                                             {DNNL_ARG_DST, dnnl::memory(op->dst, rt.engine, params[1])}};
  if (train) args[DNNL_ARG_WORKSPACE] = dnnl::memory(op->workspace, rt.engine, params[2]);
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  return 0;
}

// Gradient. Inputs: dy, workspace, x (for its shape). Output: dx.
int PoolBackward(const Config &cfg, int, void **params, int *, int64_t **shapes) {
  memory::dims src = Nchw(shapes[3], true), dst = Nchw(shapes[0], true);
  std::string key = Key("pool_backward", {src, dst}, cfg);
  auto &rt = Rt();
  bool fresh = false;
  Pool *op = rt.cache.Get<Pool>(key, fresh);
  if (fresh) {
    Geometry g = PoolGeometry(src, dst, cfg);
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
                                             {DNNL_ARG_DIFF_SRC, dnnl::memory(op->src, rt.engine, params[3])}};
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op->scratch);
  op->prim.execute(rt.stream, args);
  return 0;
}

}  // namespace
}  // namespace pose

POSE_AOT(pose_pool_forward, pose::PoolForward)
POSE_AOT(pose_pool_backward, pose::PoolBackward)
