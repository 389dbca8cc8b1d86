// The settings vector `cfg`: a float32 vector of a layer's settings, each operator's first input. Its order is
// the contract with the Python side (ops.py's CFG_FIELDS, from which make_cfg builds the vector); a test parses
// CfgIndex below and fails when the two differ.
#ifndef POSE_ONEDNN_SETTINGS_H
#define POSE_ONEDNN_SETTINGS_H

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pose {

struct Config {
  int stride = 1, pad = 0, kernel = 1;
  bool src_nhwc = true, dst_nhwc = true, relu = false, deconv = false, residual = false;
  int affine = 0;  // inference: 0 none, 1 bias, 2 BatchNorm (gamma, beta, mean, variance), 3 bias and BatchNorm
  float eps = 1e-5f;
  bool bias = false;  // training: the layer has a bias
  float momentum = 0.9f;  // BatchNorm: weight of the old running statistics (MindSpore's convention)
  // int8 (int8.cc): the scales of the input, the output and the residual, s_x, s_y, s_r (y = s_y·y_q).
  float src_scale = 1.f, dst_scale = 1.f, res_scale = 1.f;
};

// cfg[kAffine]: see Config::affine.
enum CfgIndex { kStride, kPad, kKernel, kSrcNhwc, kDstNhwc, kRelu, kDeconv, kResidual, kAffine, kEps, kBias, kMomentum, kSrcScale, kDstScale,
                kResScale, kCfgLen };

inline Config ReadConfig(const void *data, int64_t length) {
  if (length != kCfgLen)
    throw std::runtime_error("cfg has " + std::to_string(length) + " entries, not " + std::to_string(int(kCfgLen)));
  const float *c = static_cast<const float *>(data);
  Config cfg;
  cfg.stride = int(c[kStride]);
  cfg.pad = int(c[kPad]);
  cfg.kernel = int(c[kKernel]);
  cfg.src_nhwc = c[kSrcNhwc] != 0;
  cfg.dst_nhwc = c[kDstNhwc] != 0;
  cfg.relu = c[kRelu] != 0;
  cfg.deconv = c[kDeconv] != 0;
  cfg.residual = c[kResidual] != 0;
  cfg.affine = int(c[kAffine]);
  cfg.eps = c[kEps];
  cfg.bias = c[kBias] != 0;
  cfg.momentum = c[kMomentum];
  cfg.src_scale = c[kSrcScale];
  cfg.dst_scale = c[kDstScale];
  cfg.res_scale = c[kResScale];
  return cfg;
}

}  // namespace pose

#endif  // POSE_ONEDNN_SETTINGS_H
