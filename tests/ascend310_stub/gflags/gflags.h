// Test stand-in for gflags: DEFINE_string / DEFINE_int32 and --name=value parsing.
#ifndef SIMPLE_POSE_TEST_STUB_GFLAGS_H_
#define SIMPLE_POSE_TEST_STUB_GFLAGS_H_
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <string>

namespace gflags_stub {
using Setter = std::function<void(const std::string &)>;
inline std::map<std::string, Setter> &Flags() {
  static std::map<std::string, Setter> flags;
  return flags;
}
struct Registration {
  Registration(const char *name, Setter setter) { Flags()[name] = setter; }
};
}  // namespace gflags_stub

#define DEFINE_string(name, value, help)                      \
  std::string FLAGS_##name = value;                           \
  static gflags_stub::Registration flag_registration_##name( \
      #name, [](const std::string &text) { FLAGS_##name = text; })
#define DEFINE_int32(name, value, help)                       \
  int32_t FLAGS_##name = value;                               \
  static gflags_stub::Registration flag_registration_##name( \
      #name, [](const std::string &text) { FLAGS_##name = std::stoi(text); })

namespace gflags {
inline void SetUsageMessage(const std::string &) {}
inline uint32_t ParseCommandLineFlags(int *argc, char ***argv, bool) {
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = (*argv)[i];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos || !gflags_stub::Flags().count(arg.substr(2, eq - 2))) {
      std::cerr << "ERROR: unknown command line flag " << arg << std::endl;
      std::exit(1);
    }
    gflags_stub::Flags()[arg.substr(2, eq - 2)](arg.substr(eq + 1));
  }
  return 1;
}
}  // namespace gflags
#endif  // SIMPLE_POSE_TEST_STUB_GFLAGS_H_
