/**
 * File helpers of the SimplePoseNet inference app.
 */
#include "inc/utils.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

namespace simple_pose {

namespace {

bool EndsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsDir(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

std::string JoinPath(const std::string &dir, const std::string &name) {
  if (dir.empty()) {
    return name;
  }
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool IsFile(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool ListFiles(const std::string &dir, const std::string &suffix, std::vector<std::string> *files) {
  DIR *handle = opendir(dir.c_str());
  if (handle == nullptr) {
    std::cerr << "error: cannot open the input folder " << dir << ": " << std::strerror(errno) << std::endl;
    return false;
  }
  std::vector<std::string> names;
  for (struct dirent *entry = readdir(handle); entry != nullptr; entry = readdir(handle)) {
    std::string name = entry->d_name;
    if (EndsWith(name, suffix) && IsFile(JoinPath(dir, name))) {
      names.push_back(name);
    }
  }
  closedir(handle);
  std::sort(names.begin(), names.end());
  files->clear();
  for (const auto &name : names) {
    files->push_back(JoinPath(dir, name));
  }
  return true;
}

bool ReadFile(const std::string &path, std::vector<char> *data) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::cerr << "error: cannot open " << path << std::endl;
    return false;
  }
  const std::streamsize size = in.tellg();
  in.seekg(0, std::ios::beg);
  data->resize(static_cast<size_t>(size));
  if (size > 0 && !in.read(data->data(), size)) {
    std::cerr << "error: cannot read " << path << std::endl;
    return false;
  }
  return true;
}

bool WriteFile(const std::string &path, const void *data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size))) {
    std::cerr << "error: cannot write " << path << std::endl;
    return false;
  }
  return true;
}

bool MakeDirs(const std::string &dir) {
  if (dir.empty() || IsDir(dir)) {
    return true;
  }
  const size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0 && !MakeDirs(dir.substr(0, slash))) {
    return false;
  }
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    std::cerr << "error: cannot create the folder " << dir << ": " << std::strerror(errno) << std::endl;
    return false;
  }
  return true;
}

std::string Stem(const std::string &path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

}  // namespace simple_pose
