// Test stand-in for include/api/graph.h: a loaded model graph (Serialization::Load fills it).
#ifndef SIMPLE_POSE_TEST_STUB_GRAPH_H_
#define SIMPLE_POSE_TEST_STUB_GRAPH_H_
#include <cstddef>
#include <memory>

namespace mindspore {
class Graph {
 public:
  class GraphData;
  Graph();
  explicit Graph(const std::shared_ptr<GraphData> &graph_data);
  explicit Graph(std::nullptr_t);
  bool operator==(std::nullptr_t) const;
  bool operator!=(std::nullptr_t) const;
  const std::shared_ptr<GraphData> &graph_data() const;

 private:
  std::shared_ptr<GraphData> graph_data_;
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_GRAPH_H_
