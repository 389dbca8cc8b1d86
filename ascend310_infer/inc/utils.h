/**
 * File helpers of the SimplePoseNet inference app (POSIX only, no MindSpore types).
 */
#ifndef SIMPLE_POSE_ASCEND310_INFER_INC_UTILS_H_
#define SIMPLE_POSE_ASCEND310_INFER_INC_UTILS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace simple_pose {

// Regular files of `dir` whose names end with `suffix`, as `dir/name`, sorted by name.
// Returns false (with a message on stderr) when `dir` cannot be opened.
bool ListFiles(const std::string &dir, const std::string &suffix, std::vector<std::string> *files);

// Reads the whole file at `path` into `data`; false (with a message on stderr) on failure.
bool ReadFile(const std::string &path, std::vector<char> *data);

// Writes `size` bytes to `path`, replacing it; false (with a message on stderr) on failure.
bool WriteFile(const std::string &path, const void *data, size_t size);

// Creates `dir` and its missing parents; true when it exists afterwards.
bool MakeDirs(const std::string &dir);

// True when `path` names an existing regular file.
bool IsFile(const std::string &path);

// The file name of `path` without its folder and its last extension: "a/b/sp_bs32_0.bin" -> "sp_bs32_0".
std::string Stem(const std::string &path);

// `dir` and `name` joined with one '/'.
std::string JoinPath(const std::string &dir, const std::string &name);

}  // namespace simple_pose

#endif  // SIMPLE_POSE_ASCEND310_INFER_INC_UTILS_H_
