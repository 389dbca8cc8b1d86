/**
 * Command-line flags of the inference app: --name=value or --name value.
 *
 * The app parses its few flags itself instead of linking gflags: a distribution's gflags is built with the
 * C++11 string ABI while the MindSpore runtimes may use the old one, and one binary cannot mix the two.
 */
#ifndef SIMPLE_POSE_ASCEND310_INFER_INC_FLAGS_H_
#define SIMPLE_POSE_ASCEND310_INFER_INC_FLAGS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace simple_pose {

class FlagSet {
 public:
  explicit FlagSet(std::string program) : program_(std::move(program)) {}

  // Registers --name; `value` holds the default and receives the parsed value.
  void AddString(const std::string &name, std::string *value, const std::string &help);
  void AddInt(const std::string &name, int32_t *value, const std::string &help);

  // Parses argv[1:]. False with a message in *error on an unknown flag, a missing value, a bad number or a
  // positional argument. Sets *help when --help or -h is given (the other flags are still parsed).
  bool Parse(int argc, const char *const *argv, bool *help, std::string *error);

  // The usage text: one line per flag with its default.
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    std::string *text = nullptr;
    int32_t *number = nullptr;
  };
  const Flag *Find(const std::string &name) const;
  bool Set(const Flag &flag, const std::string &value, std::string *error) const;

  std::string program_;
  std::vector<Flag> flags_;
};

}  // namespace simple_pose

#endif  // SIMPLE_POSE_ASCEND310_INFER_INC_FLAGS_H_
