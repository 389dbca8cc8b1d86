"""Plain reference implementations that the tests compare the vectorized code against.

Each function here is the reference algorithm written the slow, obvious way: one sample, one joint,
one pixel at a time, as in the original human-pose-estimation code, with no NumPy tricks to get
wrong. Not a test module: the tests import from it. The post-processing loops the benches also time
against (decoding, OKS-NMS, rescoring) and the reference network in PyTorch are in
``bench/reference.py``.

Symbols: N people, J joints, H×W heatmap size.
"""
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np



# ----------------------------------------------------------------------------- heatmap targets (src/data/codec.py)

def loop_gaussian_targets(joints: np.ndarray, joints_vis: np.ndarray, image_size: Sequence[int],
                          heatmap_size: Sequence[int], sigma: float) -> Tuple[np.ndarray, np.ndarray]:
    """The reference's ``generate_target``, one joint at a time: ``(target J×Hh×Wh, weight J×1)``."""
    target_weight = np.ones((len(joints), 1), dtype=np.float32)
    target_weight[:, 0] = joints_vis[:, 0]
    target = np.zeros((len(joints), heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    tmp_size = sigma * 3
    feat_stride = np.array(image_size) / np.array(heatmap_size)
    for j in range(len(joints)):
        mu_x = int(joints[j][0] / feat_stride[0] + 0.5)
        mu_y = int(joints[j][1] / feat_stride[1] + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
            target_weight[j] = 0
            continue
        size = 2 * tmp_size + 1
        x = np.arange(0, size, 1, np.float32)
        y = x[:, np.newaxis]
        x0 = y0 = size // 2
        g = np.exp(- ((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))
        g_x = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        img_x = max(0, ul[0]), min(br[0], heatmap_size[0])
        img_y = max(0, ul[1]), min(br[1], heatmap_size[1])
        if target_weight[j] > 0.5:
            target[j][img_y[0]:img_y[1], img_x[0]:img_x[1]] = g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return target, target_weight


# ----------------------------------------------------------------------------- decoding (src/data/codec.py, src/predict.py)

def hard_heatmaps(rng: np.random.Generator, n: int = 6, j: int = 17, h: int = 10, w: int = 8) -> np.ndarray:
    """N×J×H×W float32 maps for the parity tests of decoding: random maps (rows 6 and on) plus the awkward
    cases vectorized code gets wrong: all negative, all zero, a maximum of exactly zero, many ties, and
    peaks on borders and corners."""
    hm = rng.standard_normal((n, j, h, w)).astype(np.float32)
    hm[0] = -np.abs(hm[0]) - 0.1                           # all negative
    hm[1] = 0.0                                            # all zero
    hm[2] = -1.0
    hm[2, :, 3, 4] = 0.0                                   # maximum exactly zero
    hm[3] = rng.integers(0, 3, size=(j, h, w)).astype(np.float32)  # many ties
    corners = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (1, 3), (h - 2, 3), (4, 1), (4, w - 2),
               (2, 2), (h - 3, w - 3), (0, 3), (4, 0)]
    for k, (y, x) in enumerate(corners):
        hm[4, k] = -0.5
        hm[4, k, y, x] = 2.0
        hm[5, k] = rng.random((h, w)).astype(np.float32) * 0.1
        hm[5, k, y, x] = 1.0
    return hm


# ----------------------------------------------------------------------------- the loss (src/network_define.py)

def loop_joints_mse(output: np.ndarray, target: np.ndarray, weight: np.ndarray, use_target_weight: bool) -> float:
    """The reference's ``JointsMSELoss``: per joint 0.5·MSE of the flattened maps (times the joint weight),
    averaged over joints; computed in float64."""
    n, joints = output.shape[:2]
    pred = output.reshape(n, joints, -1)
    gt = target.reshape(n, joints, -1)
    loss = 0.0
    for j in range(joints):
        p, g = pred[:, j], gt[:, j]
        if use_target_weight:
            p, g = p * weight[:, j], g * weight[:, j]
        loss += 0.5 * np.mean((p.astype(np.float64) - g) ** 2)
    return loss / joints


# ----------------------------------------------------------------------------- PyTorch layer semantics (src/model.py, src/network/fast_ops.py)

def loop_conv_transpose(x: np.ndarray, w: np.ndarray, stride: int, padding: int, output_padding: int) -> np.ndarray:
    """PyTorch's ConvTranspose2d: scatter each input pixel times the kernel, crop ``padding`` at the
    start and ``padding − output_padding`` at the end (``x`` N×C×H×W, ``w`` C×O×k×k)."""
    n, _, h, wd = x.shape
    o, k = w.shape[1], w.shape[2]
    full = np.zeros((n, o, (h - 1) * stride + k, (wd - 1) * stride + k), np.float64)
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += \
                np.einsum("nc,cokl->nokl", x[:, :, i, j], w)
    out_h = (h - 1) * stride - 2 * padding + k + output_padding
    out_w = (wd - 1) * stride - 2 * padding + k + output_padding
    return full[:, :, padding:padding + out_h, padding:padding + out_w]


def loop_max_pool(x: np.ndarray, kernel: int = 3, stride: int = 2, padding: int = 1) -> np.ndarray:
    """PyTorch's MaxPool2d: −inf padding on both sides, windows from the top-left corner."""
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    out_h = (x.shape[2] + 2 * padding - kernel) // stride + 1
    out_w = (x.shape[3] + 2 * padding - kernel) // stride + 1
    out = np.empty(x.shape[:2] + (out_h, out_w), x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def _windows_3x3(x: np.ndarray) -> np.ndarray:
    """N×K×H×W → N×(K·9)×H×W, the 3×3 windows with zero padding 1 (weight O×K×3×3 order)."""
    h, w = x.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    taps = [padded[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)]
    return np.stack(taps, 2).reshape(x.shape[0], -1, h, w)


def _small_pose_net_step(case: Dict[str, np.ndarray], eps: float) -> Dict[str, Any]:
    """The float64 pass of :func:`small_pose_net_gradients`: its results and what BatchNorm sees."""
    p = {name: np.asarray(value, np.float64) for name, value in case.items()}
    c, j = p["conv.weight"].shape[0], p["final.weight"].shape[0]
    cols = _windows_3x3(p["image"])
    z = np.einsum("ok,nkhw->nohw", p["conv.weight"].reshape(c, -1), cols)
    mean, var = z.mean((0, 2, 3), keepdims=True), z.var((0, 2, 3), keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    z_hat = (z - mean) * inv_std
    y = p["bn.gamma"].reshape(1, c, 1, 1) * z_hat + p["bn.beta"].reshape(1, c, 1, 1)
    act = np.maximum(y, 0)
    heatmaps = np.einsum("jc,nchw->njhw", p["final.weight"][:, :, 0, 0], act) + p["final.bias"].reshape(1, j, 1, 1)
    w = p["weight"][..., None]
    diff = (heatmaps - p["target"]) * w
    loss = 0.5 * np.mean(diff ** 2)
    d_heatmaps = diff * w / diff.size
    dy = np.einsum("jc,njhw->nchw", p["final.weight"][:, :, 0, 0], d_heatmaps) * (y > 0)
    dz = p["bn.gamma"].reshape(1, c, 1, 1) * inv_std * (
        dy - dy.mean((0, 2, 3), keepdims=True) - z_hat * (dy * z_hat).mean((0, 2, 3), keepdims=True))
    grads = {
        "conv.weight": np.einsum("nohw,nkhw->ok", dz, cols).reshape(p["conv.weight"].shape),
        "bn.gamma": (dy * z_hat).sum((0, 2, 3)),
        "bn.beta": dy.sum((0, 2, 3)),
        "final.weight": np.einsum("njhw,nchw->jc", d_heatmaps, act).reshape(p["final.weight"].shape),
        "final.bias": d_heatmaps.sum((0, 2, 3)),
    }
    return {"loss": float(loss), "grads": grads, "z": z, "var": var, "dy": dy}


def small_pose_net_gradients(case: Dict[str, np.ndarray], eps: float) -> Tuple[float, Dict[str, np.ndarray]]:
    """One training step of 3×3 convolution (padding 1, no bias) → training-mode BatchNorm (batch statistics,
    ``eps``) → ReLU → 1×1 convolution with bias, under the joints MSE loss with target weights, in float64
    with the chain rule written out: the loss and the gradient of every parameter.

    ``case`` holds ``image`` N×K×H×W, ``target`` N×J×H×W, ``weight`` N×J×1 and the parameters
    ``conv.weight`` C×K×3×3, ``bn.gamma``, ``bn.beta`` (C), ``final.weight`` J×C×1×1, ``final.bias`` (J).
    """
    step = _small_pose_net_step(case, eps)
    return step["loss"], step["grads"]


def small_pose_net_batchnorm(case: Dict[str, np.ndarray], eps: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the BatchNorm of :func:`small_pose_net_gradients` sees, in float64: its input ``z`` (N×C×H×W), the
    batch variance (1×C×1×1) and ``dy``, the loss's gradient with respect to its output (N×C×H×W, ReLU mask
    applied)."""
    step = _small_pose_net_step(case, eps)
    return step["z"], step["var"], step["dy"]


def batchnorm_train_nhwc(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, relu: bool,
                         residual: Optional[np.ndarray], sens: np.ndarray) -> Dict[str, np.ndarray]:
    """Training-mode BatchNorm over the last axis (channels) of ``x``, then ``+ residual`` and ReLU if asked,
    in float64: the output ``y``, the batch ``mean`` and biased ``var``, and the gradients of ``Σ y·sens``
    with respect to ``x``, ``gamma``, ``beta`` and ``residual`` (the chain rule written out)."""
    x, sens = np.asarray(x, np.float64), np.asarray(sens, np.float64)
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    y = np.asarray(gamma, np.float64) * x_hat + np.asarray(beta, np.float64)
    if residual is not None:
        y = y + np.asarray(residual, np.float64)
    g = sens * (y > 0) if relu else sens
    if relu:
        y = np.maximum(y, 0)
    dx = np.asarray(gamma, np.float64) * inv_std * (g - g.mean(axes) - x_hat * (g * x_hat).mean(axes))
    return {"y": y, "mean": mean, "var": var, "x": dx, "gamma": (g * x_hat).sum(axes), "beta": g.sum(axes),
            "residual": g}


# ----------------------------------------------------------------------------- person records (src/data/coco_records.py)

def loop_gt_records(ann_file: str) -> List[Tuple[Dict[str, Any], List[float]]]:
    """The reference's ``_load_coco_keypoint_annotation_kernal`` filter: ``(annotation, clipped [x, y, w, h])``
    of each non-crowd person with labelled keypoints and a non-empty box, in file order."""
    with open(ann_file, encoding="utf-8") as f:
        data = json.load(f)
    images = {img["id"]: img for img in data["images"]}
    keep = []
    for ann in data["annotations"]:
        if ann["iscrowd"] or ann["num_keypoints"] == 0:
            continue
        img = images[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        x1, y1 = max(0, x), max(0, y)
        x2, y2 = min(img["width"] - 1, x1 + max(0, w - 1)), min(img["height"] - 1, y1 + max(0, h - 1))
        if ann["area"] > 0 and x2 >= x1 and y2 >= y1:
            keep.append((ann, [x1, y1, x2 - x1, y2 - y1]))
    return keep
