// Test stand-in for MindSpore's include/api/serialization.h.
#ifndef SIMPLE_POSE_TEST_STUB_SERIALIZATION_H_
#define SIMPLE_POSE_TEST_STUB_SERIALIZATION_H_
#include <string>

#include "include/api/model.h"
#include "include/api/types.h"

namespace mindspore {
class Serialization {
 public:
  static Status Load(const std::string &file, ModelType model_type, Graph *graph) {
    return file.empty() || model_type != kMindIR || graph == nullptr ? kMEFailed : kSuccess;
  }
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_SERIALIZATION_H_
