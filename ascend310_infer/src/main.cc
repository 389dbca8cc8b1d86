/**
 * SimplePoseNet inference on an Ascend 310 with the MindSpore C++ API.
 *
 *   ./out/main --mindir_path=simple_pose.mindir --input0_path=preprocess_Result/00_data [--device_id=0]
 *              [--output_dir=.]
 *
 * Every <name>.bin in --input0_path is one batch: float32, exactly the model input's size
 * (preprocess.py writes them). Output 0 goes to <output_dir>/result_Files/<name>_0.bin and the
 * mean time of Model::Predict per batch to <output_dir>/time_Result/test_perform_static.txt.
 * src/infer_mindir.py runs the same contract with MindSpore on a CPU or GPU.
 */
#include <gflags/gflags.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/types.h"
#include "inc/utils.h"

DEFINE_string(mindir_path, "", "exported model (.mindir, from export.py)");
DEFINE_string(input0_path, ".", "folder of the input .bin files (preprocess.py's 00_data)");
DEFINE_int32(device_id, 0, "Ascend device id");
DEFINE_string(output_dir, ".", "folder that receives result_Files/ and time_Result/");

namespace {

// MindSpore packages before 1.6 name the device info class Ascend310DeviceInfo.
#ifdef SIMPLE_POSE_ASCEND310_DEVICE_INFO
using DeviceInfo = mindspore::Ascend310DeviceInfo;
#else
using DeviceInfo = mindspore::AscendDeviceInfo;
#endif

constexpr char kResultDir[] = "result_Files";
constexpr char kTimeDir[] = "time_Result";
constexpr char kTimeFile[] = "test_perform_static.txt";
constexpr char kOutputSuffix[] = "_0.bin";

std::string ShapeText(const std::vector<int64_t> &shape) {
  std::ostringstream text;
  for (size_t i = 0; i < shape.size(); ++i) {
    text << (i ? "x" : "") << shape[i];
  }
  return text.str();
}

int Fail(const std::string &message) {
  std::cerr << "error: " << message << std::endl;
  return 1;
}

// Loads and compiles the model for the device of --device_id.
bool BuildModel(mindspore::Model *model) {
  auto context = std::make_shared<mindspore::Context>();
  auto device = std::make_shared<DeviceInfo>();
  device->SetDeviceID(static_cast<uint32_t>(FLAGS_device_id));
  context->MutableDeviceInfo().push_back(device);

  mindspore::Graph graph;
  mindspore::Status status = mindspore::Serialization::Load(FLAGS_mindir_path, mindspore::ModelType::kMindIR, &graph);
  if (status != mindspore::kSuccess) {
    std::cerr << "error: cannot load " << FLAGS_mindir_path << " as MindIR: " << status.ToString() << std::endl;
    return false;
  }
  status = model->Build(mindspore::GraphCell(graph), context);
  if (status != mindspore::kSuccess) {
    std::cerr << "error: cannot build the model on device " << FLAGS_device_id << ": " << status.ToString()
              << std::endl;
    return false;
  }
  return true;
}

// Runs one input file; adds the time of Predict to *elapsed_ms.
bool InferFile(mindspore::Model *model, const mindspore::MSTensor &input, const std::string &file,
               const std::string &result_dir, double *elapsed_ms) {
  std::vector<char> data;
  if (!simple_pose::ReadFile(file, &data)) {
    return false;
  }
  if (data.size() != input.DataSize()) {
    std::cerr << "error: " << file << " has " << data.size() << " bytes but the model input " << input.Name()
              << " (" << ShapeText(input.Shape()) << ") takes " << input.DataSize()
              << "; run preprocess.py with the --TEST.BATCH_SIZE and --MODEL.IMAGE_SIZE the model was exported with"
              << std::endl;
    return false;
  }
  std::vector<mindspore::MSTensor> inputs;
  inputs.emplace_back(input.Name(), input.DataType(), input.Shape(), data.data(), data.size());
  std::vector<mindspore::MSTensor> outputs;

  const auto start = std::chrono::steady_clock::now();
  mindspore::Status status = model->Predict(inputs, &outputs);
  const auto end = std::chrono::steady_clock::now();
  *elapsed_ms += std::chrono::duration<double, std::milli>(end - start).count();
  if (status != mindspore::kSuccess || outputs.empty()) {
    std::cerr << "error: inference failed on " << file << ": " << status.ToString() << std::endl;
    return false;
  }

  std::shared_ptr<const void> heatmaps = outputs[0].Data();
  const std::string result = simple_pose::JoinPath(result_dir, simple_pose::Stem(file) + kOutputSuffix);
  return simple_pose::WriteFile(result, heatmaps.get(), outputs[0].DataSize());
}

bool WriteTiming(const std::string &time_dir, double mean_ms, int64_t batch, size_t batches) {
  char line[256];
  std::snprintf(line, sizeof(line), "mean inference time: %.3f ms per batch of %lld over %zu batches\n", mean_ms,
                static_cast<long long>(batch), batches);
  const std::string text = line;
  std::cout << text;
  return simple_pose::WriteFile(simple_pose::JoinPath(time_dir, kTimeFile), text.data(), text.size());
}

}  // namespace

int main(int argc, char **argv) {
  gflags::SetUsageMessage("main --mindir_path=MODEL.mindir --input0_path=DIR [--device_id=0] [--output_dir=.]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_mindir_path.empty() || !simple_pose::IsFile(FLAGS_mindir_path)) {
    return Fail("MindIR file not found: '" + FLAGS_mindir_path + "' (--mindir_path)");
  }
  std::vector<std::string> files;
  if (!simple_pose::ListFiles(FLAGS_input0_path, ".bin", &files)) {
    return 1;
  }
  if (files.empty()) {
    return Fail("no .bin files in " + FLAGS_input0_path + " (--input0_path); run preprocess.py first");
  }
  const std::string result_dir = simple_pose::JoinPath(FLAGS_output_dir, kResultDir);
  const std::string time_dir = simple_pose::JoinPath(FLAGS_output_dir, kTimeDir);
  if (!simple_pose::MakeDirs(result_dir) || !simple_pose::MakeDirs(time_dir)) {
    return 1;
  }

  mindspore::Model model;
  if (!BuildModel(&model)) {
    return 1;
  }
  std::vector<mindspore::MSTensor> model_inputs = model.GetInputs();
  if (model_inputs.size() != 1) {
    return Fail("the model has " + std::to_string(model_inputs.size()) + " inputs; SimplePoseNet has one");
  }
  const mindspore::MSTensor &input = model_inputs[0];

  double elapsed_ms = 0.0;
  for (const auto &file : files) {
    if (!InferFile(&model, input, file, result_dir, &elapsed_ms)) {
      return 1;
    }
  }
  const int64_t batch = input.Shape().empty() ? 1 : input.Shape()[0];
  const double mean_ms = elapsed_ms / static_cast<double>(files.size());
  std::cout << files.size() << " batches of " << batch << " inferred; results in " << result_dir << std::endl;
  return WriteTiming(time_dir, mean_ms, batch, files.size()) ? 0 : 1;
}
