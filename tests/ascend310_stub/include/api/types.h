// Test stand-in for include/api/types.h of MindSpore and MindSpore Lite: ModelType and the MSTensor members the
// app uses. Enum values as in the public header.
#ifndef SIMPLE_POSE_TEST_STUB_TYPES_H_
#define SIMPLE_POSE_TEST_STUB_TYPES_H_
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mindspore {
enum ModelType : uint32_t { kMindIR = 0, kAIR = 1, kOM = 2, kONNX = 3, kMindIR_Lite = 4, kUnknownType = 0xFFFFFFFF };

enum class DataType : int { kTypeUnknown = 0, kNumberTypeFloat32 = 43 };

class MSTensor {
 public:
  class Impl;
  MSTensor();
  // Copies `data_len` bytes of `data` (none when it is null).
  MSTensor(const std::string &name, enum DataType type, const std::vector<int64_t> &shape, const void *data,
           size_t data_len);
  ~MSTensor();
  std::string Name() const;
  enum DataType DataType() const;
  const std::vector<int64_t> &Shape() const;
  std::shared_ptr<const void> Data() const;
  void *MutableData();
  size_t DataSize() const;

 private:
  std::shared_ptr<Impl> impl_;
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_TYPES_H_
