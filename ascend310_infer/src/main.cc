/**
 * SimplePoseNet inference with MindSpore's C++ API, on either runtime build.sh found:
 *   - MindSpore Lite (cloud inference package; SIMPLE_POSE_WITH_LITE defined): Ascend 310/310P, GPU or CPU.
 *     The model is built from the MindIR file, Model::Build(path, kMindIR, context).
 *   - the MindSpore 310 package (include/api + libmindspore.so): Ascend 310 only. The model is built from the
 *     loaded graph, Serialization::Load + Model::Build(GraphCell, context).
 *
 *   ./out/main --mindir_path=simple_pose.mindir --input0_path=preprocess_Result/00_data
 *              [--device_target=Ascend|GPU|CPU] [--device_id=0] [--output_dir=.]
 *
 * Every <name>.bin in --input0_path is one batch: float32, exactly the model input's size (preprocess.py
 * writes them). Output 0 goes to <output_dir>/result_Files/<name>_0.bin and the mean time of Model::Predict
 * per batch to <output_dir>/time_Result/test_perform_static.txt. src/deploy/mindir.py runs the same contract
 * with MindSpore's Python API.
 */
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/types.h"
#ifndef SIMPLE_POSE_WITH_LITE
#include "include/api/serialization.h"
#endif
#include "inc/flags.h"
#include "inc/utils.h"

namespace {

#ifdef SIMPLE_POSE_WITH_LITE
constexpr char kRuntime[] = "MindSpore Lite";
#else
constexpr char kRuntime[] = "the MindSpore 310 package";
#endif

// MindSpore packages before 1.6 name the Ascend device info class Ascend310DeviceInfo.
#ifdef SIMPLE_POSE_ASCEND310_DEVICE_INFO
using AscendInfo = mindspore::Ascend310DeviceInfo;
#else
using AscendInfo = mindspore::AscendDeviceInfo;
#endif

constexpr char kResultDir[] = "result_Files";
constexpr char kTimeDir[] = "time_Result";
constexpr char kTimeFile[] = "test_perform_static.txt";
constexpr char kOutputSuffix[] = "_0.bin";
constexpr int kUsageError = 2;

// The std::string ABI this binary was compiled with; it must be the runtime's (build.sh reads that from the
// runtime library's symbols).
#ifdef _GLIBCXX_USE_CXX11_ABI
constexpr int kCxx11Abi = _GLIBCXX_USE_CXX11_ABI;
#else
constexpr int kCxx11Abi = -1;  // not libstdc++
#endif

struct Options {
  std::string mindir_path;
  std::string input0_path = ".";
  std::string output_dir = ".";
  std::string device_target = "Ascend";
  int32_t device_id = 0;
};

std::string ShapeText(const std::vector<int64_t> &shape) {
  std::ostringstream text;
  for (size_t i = 0; i < shape.size(); ++i) {
    text << (i ? "x" : "") << shape[i];
  }
  return text.str();
}

int Fail(const std::string &message, int code = 1) {
  std::cerr << "error: " << message << std::endl;
  return code;
}

// The device info for --device_target and --device_id; nullptr (and *error) when this runtime lacks it.
std::shared_ptr<mindspore::DeviceInfoContext> MakeDeviceInfo(const Options &options, std::string *error) {
  const auto device_id = static_cast<uint32_t>(options.device_id);
  if (options.device_target == "Ascend") {
    auto ascend = std::make_shared<AscendInfo>();
    ascend->SetDeviceID(device_id);
    return ascend;
  }
  if (options.device_target != "GPU" && options.device_target != "CPU") {
    *error = "--device_target must be Ascend, GPU or CPU, got '" + options.device_target + "'";
    return nullptr;
  }
#ifdef SIMPLE_POSE_WITH_LITE
  if (options.device_target == "GPU") {
    auto gpu = std::make_shared<mindspore::GPUDeviceInfo>();
    gpu->SetDeviceID(device_id);
    return gpu;
  }
  return std::make_shared<mindspore::CPUDeviceInfo>();
#else
  *error = "this app was built against the MindSpore 310 package, which runs on Ascend only; for --device_target=" +
           options.device_target + " set MS_LITE_HOME to a MindSpore Lite package and run build.sh again";
  return nullptr;
#endif
}

// Loads and compiles the model on the chosen device.
bool BuildModel(const Options &options, mindspore::Model *model) {
  std::string error;
  auto device = MakeDeviceInfo(options, &error);
  if (device == nullptr) {
    std::cerr << "error: " << error << std::endl;
    return false;
  }
  auto context = std::make_shared<mindspore::Context>();
  context->MutableDeviceInfo().push_back(device);

#ifdef SIMPLE_POSE_WITH_LITE
  // Lite builds from the file: its Model::Build(GraphCell, ...) answers "unsupported feature".
  mindspore::Status status = model->Build(options.mindir_path, mindspore::kMindIR, context);
#else
  // The MindSpore package builds from a loaded graph: its Model::Build(path, ...) answers "unsupported feature".
  mindspore::Graph graph;
  mindspore::Status status = mindspore::Serialization::Load(options.mindir_path, mindspore::kMindIR, &graph);
  if (status != mindspore::kSuccess) {
    std::cerr << "error: cannot load " << options.mindir_path << " as MindIR: " << status.ToString() << std::endl;
    return false;
  }
  status = model->Build(mindspore::GraphCell(graph), context);
#endif
  if (status != mindspore::kSuccess) {
    std::cerr << "error: " << kRuntime << " cannot build " << options.mindir_path << " for " << options.device_target
              << " " << options.device_id << ": " << status.ToString()
              << " (the runtime's log above says why; a runtime older than the MindSpore that exported the model "
                 "cannot read its MindIR)"
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
                static_cast<long long>(batch), batches);  // NOLINT(runtime/int): the printf type
  const std::string text = line;
  std::cout << text;
  return simple_pose::WriteFile(simple_pose::JoinPath(time_dir, kTimeFile), text.data(), text.size());
}

}  // namespace

int main(int argc, char **argv) {
  Options options;
  simple_pose::FlagSet flags(argv[0]);
  flags.AddString("mindir_path", &options.mindir_path, "exported model (.mindir, from export.py)");
  flags.AddString("input0_path", &options.input0_path, "folder of the input .bin files (preprocess.py's 00_data)");
  flags.AddString("output_dir", &options.output_dir, "folder that receives result_Files/ and time_Result/");
  flags.AddString("device_target", &options.device_target,
                  "Ascend, GPU or CPU (GPU and CPU need the app built against MindSpore Lite)");
  flags.AddInt("device_id", &options.device_id, "device number for Ascend and GPU");
  bool help = false;
  std::string error;
  if (!flags.Parse(argc, argv, &help, &error)) {
    return Fail(error, kUsageError);
  }
  if (help) {
    std::cout << flags.Usage();
    return 0;
  }
  if (options.device_id < 0) {
    return Fail("--device_id must be >= 0, got " + std::to_string(options.device_id), kUsageError);
  }
  if (options.mindir_path.empty() || !simple_pose::IsFile(options.mindir_path)) {
    return Fail("MindIR file not found: '" + options.mindir_path + "' (--mindir_path)", kUsageError);
  }
  std::vector<std::string> files;
  if (!simple_pose::ListFiles(options.input0_path, ".bin", &files)) {
    return 1;
  }
  if (files.empty()) {
    return Fail("no .bin files in " + options.input0_path + " (--input0_path); run preprocess.py first", kUsageError);
  }
  const std::string result_dir = simple_pose::JoinPath(options.output_dir, kResultDir);
  const std::string time_dir = simple_pose::JoinPath(options.output_dir, kTimeDir);
  if (!simple_pose::MakeDirs(result_dir) || !simple_pose::MakeDirs(time_dir)) {
    return 1;
  }

  std::cout << "runtime: " << kRuntime << " (_GLIBCXX_USE_CXX11_ABI=" << kCxx11Abi << "), device "
            << options.device_target << " " << options.device_id << std::endl;
  mindspore::Model model;
  if (!BuildModel(options, &model)) {
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
