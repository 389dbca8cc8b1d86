// Test stand-in for include/api/cell.h: GraphCell, the graph a Model is built from with Build(GraphCell, ...).
#ifndef SIMPLE_POSE_TEST_STUB_CELL_H_
#define SIMPLE_POSE_TEST_STUB_CELL_H_
#include <memory>

#include "include/api/graph.h"

namespace mindspore {
class GraphCell {
 public:
  GraphCell() = default;
  explicit GraphCell(const Graph &graph);
  const std::shared_ptr<Graph> &GetGraph() const;

 private:
  std::shared_ptr<Graph> graph_;
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_CELL_H_
