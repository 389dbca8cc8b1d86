// Test stand-in for MindSpore's include/api/context.h.
#ifndef SIMPLE_POSE_TEST_STUB_CONTEXT_H_
#define SIMPLE_POSE_TEST_STUB_CONTEXT_H_
#include <cstdint>
#include <memory>
#include <vector>

namespace mindspore {
class DeviceInfoContext {
 public:
  virtual ~DeviceInfoContext() = default;
};

class AscendDeviceInfo : public DeviceInfoContext {
 public:
  void SetDeviceID(uint32_t device_id) { device_id_ = device_id; }
  uint32_t GetDeviceID() const { return device_id_; }

 private:
  uint32_t device_id_ = 0;
};
using Ascend310DeviceInfo = AscendDeviceInfo;

class Context {
 public:
  std::vector<std::shared_ptr<DeviceInfoContext>> &MutableDeviceInfo() { return device_info_; }

 private:
  std::vector<std::shared_ptr<DeviceInfoContext>> device_info_;
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_CONTEXT_H_
