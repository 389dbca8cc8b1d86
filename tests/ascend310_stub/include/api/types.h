// Test stand-in for MindSpore's include/api/types.h (the members the app uses).
#ifndef SIMPLE_POSE_TEST_STUB_TYPES_H_
#define SIMPLE_POSE_TEST_STUB_TYPES_H_
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace mindspore {
enum class DataType : int { kTypeUnknown = 0, kNumberTypeFloat32 = 43 };
enum ModelType : uint32_t { kMindIR = 0, kAIR = 1, kOM = 2, kONNX = 3 };
enum StatusCode : uint32_t { kSuccess = 0, kMEFailed = 1 };

class Status {
 public:
  Status(enum StatusCode code = kSuccess) : code_(code) {}  // NOLINT: implicit as in MindSpore
  bool operator==(enum StatusCode other) const { return code_ == other; }
  bool operator!=(enum StatusCode other) const { return code_ != other; }
  std::string ToString() const { return code_ == kSuccess ? "success" : "failed"; }

 private:
  enum StatusCode code_;
};

class MSTensor {
 public:
  MSTensor() = default;
  MSTensor(const std::string &name, enum DataType type, const std::vector<int64_t> &shape, const void *data,
           size_t data_len)
      : name_(name), type_(type), shape_(shape), data_(std::make_shared<std::vector<char>>(data_len)) {
    if (data != nullptr) {
      std::memcpy(data_->data(), data, data_len);
    }
  }
  std::string Name() const { return name_; }
  enum DataType DataType() const { return type_; }
  const std::vector<int64_t> &Shape() const { return shape_; }
  std::shared_ptr<const void> Data() const { return std::shared_ptr<const void>(data_, data_->data()); }
  void *MutableData() { return data_->data(); }
  size_t DataSize() const { return data_->size(); }

 private:
  std::string name_;
  enum DataType type_ = DataType::kTypeUnknown;
  std::vector<int64_t> shape_;
  std::shared_ptr<std::vector<char>> data_ = std::make_shared<std::vector<char>>();
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_TYPES_H_
