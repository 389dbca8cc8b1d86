// Test stand-in for MindSpore's include/api/model.h: a fake model whose input shape comes from
// the environment variable STUB_INPUT_SHAPE ("2,3,4,4" by default) and whose output 0 is the input × 2.
#ifndef SIMPLE_POSE_TEST_STUB_MODEL_H_
#define SIMPLE_POSE_TEST_STUB_MODEL_H_
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/types.h"

namespace mindspore {
class Graph {};

class GraphCell {
 public:
  GraphCell() = default;
  explicit GraphCell(const Graph &graph) : graph_(graph) {}

 private:
  Graph graph_;
};

class TrainCfg;

class Model {
 public:
  Status Build(GraphCell, const std::shared_ptr<Context> &model_context = nullptr,
               const std::shared_ptr<TrainCfg> & = nullptr) {
    return model_context == nullptr || model_context->MutableDeviceInfo().empty() ? kMEFailed : kSuccess;
  }

  std::vector<MSTensor> GetInputs() {
    const char *text = std::getenv("STUB_INPUT_SHAPE");
    std::stringstream items(text != nullptr ? text : "2,3,4,4");
    std::vector<int64_t> shape;
    int64_t count = 1;
    for (std::string item; std::getline(items, item, ',');) {
      shape.push_back(std::stoll(item));
      count *= shape.back();
    }
    return {MSTensor("x", DataType::kNumberTypeFloat32, shape, nullptr, static_cast<size_t>(count) * sizeof(float))};
  }

  Status Predict(const std::vector<MSTensor> &inputs, std::vector<MSTensor> *outputs) {
    std::shared_ptr<const void> data = inputs[0].Data();
    const float *in = static_cast<const float *>(data.get());
    std::vector<float> out(inputs[0].DataSize() / sizeof(float));
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = 2.0f * in[i];
    }
    outputs->clear();
    outputs->emplace_back("y", DataType::kNumberTypeFloat32, inputs[0].Shape(), out.data(), out.size() * sizeof(float));
    return kSuccess;
  }
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_MODEL_H_
