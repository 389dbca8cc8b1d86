// Test stand-in for include/api/context.h of MindSpore and MindSpore Lite: the context and the device infos of
// the app's three targets (DeviceType values as in MindSpore Lite 2.x). Ascend310DeviceInfo is the pre-1.6 name.
#ifndef SIMPLE_POSE_TEST_STUB_CONTEXT_H_
#define SIMPLE_POSE_TEST_STUB_CONTEXT_H_
#include <cstdint>
#include <memory>
#include <vector>

namespace mindspore {
enum DeviceType {
  kCPU = 0,
  kGPU,
  kKirinNPU,
  kAscend,
  kAscend910,
  kAscend310,
  kInvalidDeviceType = 100,
};

class DeviceInfoContext;

class Context {
 public:
  struct Data;
  Context();
  std::vector<std::shared_ptr<DeviceInfoContext>> &MutableDeviceInfo();

 private:
  std::shared_ptr<Data> data_;
};

class DeviceInfoContext : public std::enable_shared_from_this<DeviceInfoContext> {
 public:
  struct Data;
  DeviceInfoContext();
  virtual ~DeviceInfoContext() = default;
  virtual enum DeviceType GetDeviceType() const = 0;

 protected:
  std::shared_ptr<Data> data_;
};

class CPUDeviceInfo : public DeviceInfoContext {
 public:
  enum DeviceType GetDeviceType() const override { return kCPU; }
};

class GPUDeviceInfo : public DeviceInfoContext {
 public:
  enum DeviceType GetDeviceType() const override { return kGPU; }
  void SetDeviceID(uint32_t device_id);
  uint32_t GetDeviceID() const;
};

class AscendDeviceInfo : public DeviceInfoContext {
 public:
  enum DeviceType GetDeviceType() const override { return kAscend; }
  void SetDeviceID(uint32_t device_id);
  uint32_t GetDeviceID() const;
};
using Ascend310DeviceInfo = AscendDeviceInfo;
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_CONTEXT_H_
