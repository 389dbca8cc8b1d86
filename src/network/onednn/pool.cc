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

// The cached operator of `key` between the NHWC float32 activations `src` and `dst`; a new one gets their
// descriptors, then `make(op)` builds its primitive and returns the primitive's descriptor.
template <class Make>
Pool &Cached(const std::string &key, const memory::dims &src, const memory::dims &dst, Make make) {
  bool fresh = false;
  Pool *op = Rt().cache.Get<Pool>(key, fresh);
  if (fresh) {
    op->src = Act(src, true);
    op->dst = Act(dst, true);
    dnnl::primitive_desc pd = make(*op);
    op->scratch = pd.scratchpad_desc();
    Log("pool", key, pd);
  }
  return *op;
}

// Runs `op` on `args` and the runtime's scratchpad.
void Run(const Pool &op, std::unordered_map<int, dnnl::memory> args) {
  auto &rt = Rt();
  args[DNNL_ARG_SCRATCHPAD] = rt.Scratchpad(op.scratch);
  op.prim.execute(rt.stream, args);
}

// Forward. cfg: kernel, stride, pad. Inputs: x. Outputs: y, [workspace (uint8): training].
int PoolForward(const Config &cfg, int n, void **params, int *, int64_t **shapes) {
  bool train = n == 3;
  memory::dims src = Nchw(shapes[0], true), dst = Nchw(shapes[1], true);
  Pool &op = Cached(Key(train ? "pool_train" : "pool_infer", {src, dst}, cfg), src, dst, [&](Pool &made) {
    auto p = MaxPoolDesc(made.src, made.dst, cfg,
                         train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
                         UserScratchpad());
    if (train) {
      made.workspace = p.workspace_desc();
      size_t expected = size_t(shapes[2][0]) * shapes[2][1] * shapes[2][2] * shapes[2][3];
      if (made.workspace.get_size() != expected)
        throw std::runtime_error("max-pool workspace of " + std::to_string(made.workspace.get_size()) +
                                 " bytes, expected " + std::to_string(expected));
    }
    made.prim = dnnl::pooling_forward(p);
    return p;
  });
  auto &engine = Rt().engine;
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dnnl::memory(op.src, engine, params[0])},
                                             {DNNL_ARG_DST, dnnl::memory(op.dst, engine, params[1])}};
  if (train) args[DNNL_ARG_WORKSPACE] = dnnl::memory(op.workspace, engine, params[2]);
  Run(op, args);
  return 0;
}

// Gradient. Inputs: dy, workspace, x (for its shape). Output: dx.
int PoolBackward(const Config &cfg, int, void **params, int *, int64_t **shapes) {
  memory::dims src = Nchw(shapes[3], true), dst = Nchw(shapes[0], true);
  Pool &op = Cached(Key("pool_backward", {src, dst}, cfg), src, dst, [&](Pool &made) {
    auto hint = MaxPoolDesc(made.src, made.dst, cfg, dnnl::prop_kind::forward_training);
    made.workspace = hint.workspace_desc();
    auto p = dnnl::pooling_backward::primitive_desc(Rt().engine, dnnl::algorithm::pooling_max, made.src, made.dst,
                                                    hint.get_strides(), hint.get_kernel(), hint.get_dilations(),
                                                    hint.get_padding_l(), hint.get_padding_r(), hint,
                                                    UserScratchpad());
    made.prim = dnnl::pooling_backward(p);
    return p;
  });
  auto &engine = Rt().engine;
  Run(op, {{DNNL_ARG_DIFF_DST, dnnl::memory(op.dst, engine, params[0])},
           {DNNL_ARG_WORKSPACE, dnnl::memory(op.workspace, engine, params[1])},
           {DNNL_ARG_DIFF_SRC, dnnl::memory(op.src, engine, params[3])}});
  return 0;
}

}  // namespace
}  // namespace pose

POSE_AOT(pose_pool_forward, pose::PoolForward)
POSE_AOT(pose_pool_backward, pose::PoolBackward)
