/**
 * Command-line flags of the inference app.
 */
#include "inc/flags.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sstream>

namespace simple_pose {

void FlagSet::AddString(const std::string &name, std::string *value, const std::string &help) {
  flags_.push_back(Flag{name, help, "\"" + *value + "\"", value, nullptr});
}

void FlagSet::AddInt(const std::string &name, int32_t *value, const std::string &help) {
  flags_.push_back(Flag{name, help, std::to_string(*value), nullptr, value});
}

const FlagSet::Flag *FlagSet::Find(const std::string &name) const {
  for (const auto &flag : flags_) {
    if (flag.name == name) {
      return &flag;
    }
  }
  return nullptr;
}

bool FlagSet::Set(const Flag &flag, const std::string &value, std::string *error) const {
  if (flag.text != nullptr) {
    *flag.text = value;
    return true;
  }
  errno = 0;
  char *end = nullptr;
  const long number = std::strtol(value.c_str(), &end, 10);  // NOLINT(runtime/int): strtol's type
  if (value.empty() || *end != '\0' || errno == ERANGE || number < INT32_MIN || number > INT32_MAX) {
    *error = "--" + flag.name + " takes an integer, got '" + value + "'";
    return false;
  }
  *flag.number = static_cast<int32_t>(number);
  return true;
}

bool FlagSet::Parse(int argc, const char *const *argv, bool *help, std::string *error) {
  *help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      *error = "unexpected argument '" + arg + "'; flags are --name=value";
      return false;
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const Flag *flag = Find(name);
    if (flag == nullptr) {
      *error = "unknown flag --" + name + " (see --help)";
      return false;
    }
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *error = "--" + name + " needs a value";
      return false;
    }
    if (!Set(*flag, value, error)) {
      return false;
    }
  }
  return true;
}

std::string FlagSet::Usage() const {
  std::ostringstream text;
  text << "usage: " << program_ << " --name=value ...\n";
  for (const auto &flag : flags_) {
    text << "  --" << flag.name << ": " << flag.help << " (default " << flag.default_text << ")\n";
  }
  return text.str();
}

}  // namespace simple_pose
