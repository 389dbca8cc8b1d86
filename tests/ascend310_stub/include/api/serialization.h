// Test stand-in for include/api/serialization.h: loading a model file into a Graph.
#ifndef SIMPLE_POSE_TEST_STUB_SERIALIZATION_H_
#define SIMPLE_POSE_TEST_STUB_SERIALIZATION_H_
#include <string>

#include "include/api/graph.h"
#include "include/api/status.h"
#include "include/api/types.h"

namespace mindspore {
class Serialization {
 public:
  static Status Load(const std::string &file, ModelType model_type, Graph *graph);
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_SERIALIZATION_H_
