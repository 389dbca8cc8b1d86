// Test stand-in for include/api/model.h of MindSpore and MindSpore Lite. Both declare both ways to build:
// MindSpore Lite implements Build(path, type, context) and answers kLiteNotSupport to Build(GraphCell, ...);
// the MindSpore package implements Build(GraphCell, ...) and answers kMCFailed to Build(path, ...).
#ifndef SIMPLE_POSE_TEST_STUB_MODEL_H_
#define SIMPLE_POSE_TEST_STUB_MODEL_H_
#include <memory>
#include <string>
#include <vector>

#include "include/api/cell.h"
#include "include/api/context.h"
#include "include/api/graph.h"
#include "include/api/status.h"
#include "include/api/types.h"

namespace mindspore {
class ModelImpl;
class TrainCfg;

class Model {
 public:
  Model();
  ~Model();
  Model(const Model &) = delete;
  void operator=(const Model &) = delete;

  Status Build(const std::string &model_path, ModelType model_type,
               const std::shared_ptr<Context> &model_context = nullptr);
  Status Build(GraphCell graph, const std::shared_ptr<Context> &model_context = nullptr,
               const std::shared_ptr<TrainCfg> &train_cfg = nullptr);
  std::vector<MSTensor> GetInputs();
  Status Predict(const std::vector<MSTensor> &inputs, std::vector<MSTensor> *outputs);

 private:
  std::shared_ptr<ModelImpl> impl_;
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_MODEL_H_
