// Test stand-in for include/api/status.h of MindSpore and MindSpore Lite: the codes the stub runtime returns
// (values as in the public header) and the Status members the app uses.
#ifndef SIMPLE_POSE_TEST_STUB_STATUS_H_
#define SIMPLE_POSE_TEST_STUB_STATUS_H_
#include <cstdint>
#include <memory>
#include <string>

namespace mindspore {
enum CompCode : uint32_t {
  kCore = 0x00000000u,
  kME = 0x20000000u,
  kMC = 0x30000000u,
  kLite = 0xF0000000u,
};

enum StatusCode : uint32_t {
  kSuccess = 0,
  kMEFailed = kME | 0x1,
  kMEInvalidInput = kME | 0x2,
  kMCFailed = kMC | 0x1,
  kMCInvalidInput = kMC | 0x3,
  kLiteError = kLite | (0x0FFFFFFF & -1),
  kLiteParamInvalid = kLite | (0x0FFFFFFF & -3),
  kLiteNotSupport = kLite | (0x0FFFFFFF & -7),
};

class Status {
 public:
  Status();
  // The real header routes the message through an inline std::vector<char> overload; the stub takes the string
  // itself, so that the stub library exports symbols that carry the std::string ABI (build.sh reads it).
  Status(enum StatusCode status_code, const std::string &status_msg = "");  // NOLINT(runtime/explicit)
  enum StatusCode StatusCode() const;
  std::string ToString() const;
  bool operator==(enum StatusCode other_code) const;
  bool operator!=(enum StatusCode other_code) const;

 private:
  struct Data;
  std::shared_ptr<Data> data_;
};
}  // namespace mindspore
#endif  // SIMPLE_POSE_TEST_STUB_STATUS_H_
