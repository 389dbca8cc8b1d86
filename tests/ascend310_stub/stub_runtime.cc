// Test stand-in for a MindSpore C++ runtime library, built by tests/test_infer_310.py as
// runtime/lib/libmindspore-lite.so of a fake MindSpore Lite package (with -DSTUB_LITE) or as lib/libmindspore.so
// of a fake MindSpore 310 package. It keeps the two runtimes' ways to build a model apart:
//   MindSpore Lite: Model::Build(path, kMindIR, context) with one or more device infos (CPU, GPU, Ascend);
//                   Model::Build(GraphCell, ...) answers kLiteNotSupport ("Unsupported Feature.").
//   MindSpore:      Serialization::Load + Model::Build(GraphCell, context) with exactly one device info, and only
//                   Ascend ones (the 310 package has no CPU or GPU backend); Model::Build(path, ...) answers
//                   kMCFailed ("Unsupported Feature.").
// The model is fake: a file "stub-mindir <input shape> <output shape>" (shapes as 3,3,64,32), or any other file
// with the shapes in the environment variable STUB_SHAPES; output[i] = 2 * input[i modulo the input size].
// Each build logs one line on stderr naming the call, the model file and the device.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "include/api/cell.h"
#include "include/api/context.h"
#include "include/api/graph.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/status.h"
#include "include/api/types.h"

namespace mindspore {
namespace {

#ifdef STUB_LITE
constexpr char kRuntimeName[] = "MindSpore Lite";
#else
constexpr char kRuntimeName[] = "MindSpore";
#endif

void Log(const std::string &message) { std::cerr << "stub runtime (" << kRuntimeName << "): " << message << std::endl; }

struct FakeModel {
  std::string path;
  std::vector<int64_t> input_shape;
  std::vector<int64_t> output_shape;
};

int64_t Count(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    count *= dim;
  }
  return count;
}

// "3,3,64,32" -> {3, 3, 64, 32}; empty when a dimension is not a positive number.
std::vector<int64_t> ParseShape(const std::string &text) {
  std::vector<int64_t> shape;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || std::stoll(item) <= 0) {
      return {};
    }
    shape.push_back(std::stoll(item));
  }
  return shape;
}

bool ReadFakeModel(const std::string &path, FakeModel *model, std::string *error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  std::string magic, input, output;
  in >> magic;
  if (magic == "stub-mindir") {
    in >> input >> output;
  } else {
    const char *shapes = std::getenv("STUB_SHAPES");
    if (shapes == nullptr) {
      *error = path + " is not a stub model and STUB_SHAPES is unset";
      return false;
    }
    std::istringstream(shapes) >> input >> output;
  }
  model->path = path;
  model->input_shape = ParseShape(input);
  model->output_shape = ParseShape(output);
  if (model->input_shape.empty() || model->output_shape.empty()) {
    *error = "bad shapes '" + input + "' '" + output + "' for " + path;
    return false;
  }
  return true;
}

}  // namespace

// ---- Status ------------------------------------------------------------------------------------------------

struct Status::Data {
  enum StatusCode code;
  std::string message;
};

Status::Status() : Status(kSuccess) {}
Status::Status(enum StatusCode status_code, const std::string &status_msg)
    : data_(std::make_shared<Data>(Data{status_code, status_msg})) {}
enum StatusCode Status::StatusCode() const { return data_->code; }
std::string Status::ToString() const {
  if (!data_->message.empty()) {
    return data_->message;
  }
  return data_->code == kSuccess ? "success" : "error code " + std::to_string(static_cast<uint32_t>(data_->code));
}
bool Status::operator==(enum StatusCode other_code) const { return data_->code == other_code; }
bool Status::operator!=(enum StatusCode other_code) const { return data_->code != other_code; }

// ---- Context and device infos ------------------------------------------------------------------------------

struct Context::Data {
  std::vector<std::shared_ptr<DeviceInfoContext>> device_info;
};
Context::Context() : data_(std::make_shared<Data>()) {}
std::vector<std::shared_ptr<DeviceInfoContext>> &Context::MutableDeviceInfo() { return data_->device_info; }

struct DeviceInfoContext::Data {
  uint32_t device_id = 0;
};
DeviceInfoContext::DeviceInfoContext() : data_(std::make_shared<Data>()) {}
void GPUDeviceInfo::SetDeviceID(uint32_t device_id) { data_->device_id = device_id; }
uint32_t GPUDeviceInfo::GetDeviceID() const { return data_->device_id; }
void AscendDeviceInfo::SetDeviceID(uint32_t device_id) { data_->device_id = device_id; }
uint32_t AscendDeviceInfo::GetDeviceID() const { return data_->device_id; }

namespace {
std::string DeviceText(const std::shared_ptr<DeviceInfoContext> &device) {
  switch (device->GetDeviceType()) {
    case kCPU:
      return "CPU";
    case kGPU:
      return "GPU " + std::to_string(static_cast<const GPUDeviceInfo &>(*device).GetDeviceID());
    case kAscend:
    case kAscend310:
      return "Ascend " + std::to_string(static_cast<const AscendDeviceInfo &>(*device).GetDeviceID());
    default:
      return "device type " + std::to_string(device->GetDeviceType());
  }
}
}  // namespace

// ---- MSTensor ----------------------------------------------------------------------------------------------

class MSTensor::Impl {
 public:
  std::string name;
  enum DataType type = DataType::kTypeUnknown;
  std::vector<int64_t> shape;
  std::shared_ptr<std::vector<char>> data = std::make_shared<std::vector<char>>();
};

MSTensor::MSTensor() : impl_(std::make_shared<Impl>()) {}
MSTensor::MSTensor(const std::string &name, enum DataType type, const std::vector<int64_t> &shape, const void *data,
                   size_t data_len)
    : impl_(std::make_shared<Impl>()) {
  impl_->name = name;
  impl_->type = type;
  impl_->shape = shape;
  impl_->data->resize(data_len);
  if (data != nullptr && data_len > 0) {
    const char *bytes = static_cast<const char *>(data);
    impl_->data->assign(bytes, bytes + data_len);
  }
}
MSTensor::~MSTensor() = default;
std::string MSTensor::Name() const { return impl_->name; }
enum DataType MSTensor::DataType() const { return impl_->type; }
const std::vector<int64_t> &MSTensor::Shape() const { return impl_->shape; }
std::shared_ptr<const void> MSTensor::Data() const {
  return std::shared_ptr<const void>(impl_->data, impl_->data->data());
}
void *MSTensor::MutableData() { return impl_->data->data(); }
size_t MSTensor::DataSize() const { return impl_->data->size(); }

// ---- Graph, GraphCell, Serialization -----------------------------------------------------------------------

class Graph::GraphData {
 public:
  FakeModel model;
};

Graph::Graph() = default;
Graph::Graph(const std::shared_ptr<GraphData> &graph_data) : graph_data_(graph_data) {}
Graph::Graph(std::nullptr_t) {}
bool Graph::operator==(std::nullptr_t) const { return graph_data_ == nullptr; }
bool Graph::operator!=(std::nullptr_t) const { return graph_data_ != nullptr; }
const std::shared_ptr<Graph::GraphData> &Graph::graph_data() const { return graph_data_; }

GraphCell::GraphCell(const Graph &graph) : graph_(std::make_shared<Graph>(graph)) {}
const std::shared_ptr<Graph> &GraphCell::GetGraph() const { return graph_; }

Status Serialization::Load(const std::string &file, ModelType model_type, Graph *graph) {
  if (model_type != kMindIR || graph == nullptr) {
    return Status(kMEInvalidInput, "Serialization::Load supports kMindIR into a Graph");
  }
  auto data = std::make_shared<Graph::GraphData>();
  std::string error;
  if (!ReadFakeModel(file, &data->model, &error)) {
    return Status(kMEInvalidInput, error);
  }
  *graph = Graph(data);
  return kSuccess;
}

// ---- Model -------------------------------------------------------------------------------------------------

class ModelImpl {
 public:
  FakeModel model;
};

Model::Model() = default;
Model::~Model() = default;

Status Model::Build(const std::string &model_path, ModelType model_type, const std::shared_ptr<Context> &model_context) {
#ifdef STUB_LITE
  if (model_type != kMindIR) {
    return Status(kLiteParamInvalid, "stub: only kMindIR models");
  }
  if (model_context == nullptr || model_context->MutableDeviceInfo().empty()) {
    return Status(kLiteParamInvalid, "no device info in the context");
  }
  FakeModel model;
  std::string error;
  if (!ReadFakeModel(model_path, &model, &error)) {
    return Status(kLiteError, error);
  }
  impl_ = std::make_shared<ModelImpl>(ModelImpl{model});
  Log("Model::Build(" + model_path + ", kMindIR) on " + DeviceText(model_context->MutableDeviceInfo()[0]));
  return kSuccess;
#else
  (void)model_path;
  (void)model_type;
  (void)model_context;
  Log("Model::Build(path): Unsupported Feature.");
  return Status(kMCFailed, "Unsupported Feature.");
#endif
}

Status Model::Build(GraphCell graph, const std::shared_ptr<Context> &model_context,
                    const std::shared_ptr<TrainCfg> &train_cfg) {
  (void)train_cfg;
#ifdef STUB_LITE
  (void)graph;
  (void)model_context;
  Log("Model::Build(GraphCell): Unsupported Feature.");
  return Status(kLiteNotSupport, "Unsupported Feature.");
#else
  if (graph.GetGraph() == nullptr || *graph.GetGraph() == nullptr) {
    return Status(kMCInvalidInput, "Invalid graph input.");
  }
  if (model_context == nullptr) {
    return Status(kMCInvalidInput, "Invalid model context.");
  }
  auto &device_info = model_context->MutableDeviceInfo();
  if (device_info.size() != 1) {
    return Status(kMCInvalidInput, "Invalid model context, only single device info is supported.");
  }
  const enum DeviceType type = device_info[0]->GetDeviceType();
  if (type != kAscend && type != kAscend310) {
    return Status(kMEFailed, "Create session type " + std::to_string(type) + " failed");
  }
  impl_ = std::make_shared<ModelImpl>(ModelImpl{graph.GetGraph()->graph_data()->model});
  Log("Serialization::Load(" + impl_->model.path + ") + Model::Build(GraphCell) on " + DeviceText(device_info[0]));
  return kSuccess;
#endif
}

std::vector<MSTensor> Model::GetInputs() {
  if (impl_ == nullptr) {
    return {};
  }
  const auto bytes = static_cast<size_t>(Count(impl_->model.input_shape)) * sizeof(float);
  return {MSTensor("x", DataType::kNumberTypeFloat32, impl_->model.input_shape, nullptr, bytes)};
}

Status Model::Predict(const std::vector<MSTensor> &inputs, std::vector<MSTensor> *outputs) {
  if (impl_ == nullptr) {
    return Status(kMEFailed, "the model has not been built");
  }
  const auto input_count = static_cast<size_t>(Count(impl_->model.input_shape));
  if (inputs.size() != 1 || inputs[0].DataSize() != input_count * sizeof(float)) {
    return Status(kMEInvalidInput, "stub: one float32 input of the model's shape");
  }
  std::shared_ptr<const void> data = inputs[0].Data();
  const float *in = static_cast<const float *>(data.get());
  std::vector<float> out(static_cast<size_t>(Count(impl_->model.output_shape)));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = 2.0f * in[i % input_count];
  }
  outputs->clear();
  outputs->emplace_back("y", DataType::kNumberTypeFloat32, impl_->model.output_shape, out.data(),
                        out.size() * sizeof(float));
  return kSuccess;
}

}  // namespace mindspore
