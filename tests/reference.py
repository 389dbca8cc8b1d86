"""Plain reference implementations that the tests (and ``bench/``) compare the vectorized code against.

Each function here is the reference algorithm written the slow, obvious way: one sample, one joint,
one pixel at a time, as in the original human-pose-estimation code, with no NumPy tricks to get
wrong. Not a test module: the tests import from it, and so does ``bench/postprocess.py`` to time
the loops the project replaced.

Symbols: N people, J joints, H×W heatmap size.
"""
import json
import math
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from src.constants import COCO_SIGMAS
from src.utils.transform import affine_transform, get_affine_transform


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


def loop_get_max_preds(heatmaps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """First maximum in row-major order by a scan; (0, 0) where the maximum is not positive.

    Returns ``(preds N×J×2 float32 [x, y] in heatmap space, maxvals N×J×1)``.
    """
    n, j, _, w = heatmaps.shape
    preds = np.zeros((n, j, 2), dtype=np.float32)
    maxvals = np.zeros((n, j, 1), dtype=heatmaps.dtype)
    for a in range(n):
        for b in range(j):
            flat = heatmaps[a, b].ravel()
            best = 0
            for k in range(1, flat.size):
                if flat[k] > flat[best]:
                    best = k
            maxvals[a, b, 0] = flat[best]
            if flat[best] > 0:
                preds[a, b] = (best % w, best // w)
    return preds, maxvals


def loop_refine(coords: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """The quarter-pixel step toward the higher neighbour, one joint at a time (``1 < p < size - 1`` only)."""
    coords = coords.copy()
    _, _, h, w = heatmaps.shape
    for a in range(coords.shape[0]):
        for b in range(coords.shape[1]):
            hm = heatmaps[a, b]
            px = int(math.floor(coords[a, b, 0] + 0.5))
            py = int(math.floor(coords[a, b, 1] + 0.5))
            if 1 < px < w - 1 and 1 < py < h - 1:
                diff = np.array([hm[py][px + 1] - hm[py][px - 1], hm[py + 1][px] - hm[py - 1][px]])
                coords[a, b] += np.sign(diff) * .25
    return coords


def loop_transform_preds(coords: np.ndarray, center: np.ndarray, scale: np.ndarray, w: int, h: int) -> np.ndarray:
    """Heatmap coordinates (N×J×2) back to the image, one sample's transform and one joint at a time."""
    preds = coords.copy()
    for i in range(len(coords)):
        trans = get_affine_transform(center[i], scale[i], 0, [w, h], inv=1)
        for p in range(coords.shape[1]):
            preds[i, p] = affine_transform(coords[i, p], trans)
    return preds


def loop_get_final_preds(cfg: Any, heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """The reference's ``get_final_preds``: maxima, the refinement when ``TEST.POST_PROCESS``, back to the image."""
    coords, maxvals = loop_get_max_preds(heatmaps)
    h, w = heatmaps.shape[2:]
    if cfg.TEST.POST_PROCESS:
        coords = loop_refine(coords, heatmaps)
    return loop_transform_preds(coords, center, scale, w, h), maxvals


# ----------------------------------------------------------------------------- OKS and OKS-NMS (src/utils/nms.py)

def loop_oks_iou(g: np.ndarray, d: np.ndarray, a_g: float, a_d: Sequence[float], sigmas=None,
                 in_vis_thre=None) -> np.ndarray:
    """OKS of one pose ``g`` (J*3 flat) with each row of ``d``, one detection at a time; a joint counts
    only where it is above ``in_vis_thre`` in both (the element-wise fix of the reference's ``and``)."""
    sigmas = np.array(COCO_SIGMAS if sigmas is None else sigmas)
    variances = (sigmas * 2) ** 2
    xg, yg, vg = g[0::3], g[1::3], g[2::3]
    ious = np.zeros(d.shape[0])
    for k in range(d.shape[0]):
        xd, yd, vd = d[k, 0::3], d[k, 1::3], d[k, 2::3]
        dx = xd - xg
        dy = yd - yg
        e = (dx ** 2 + dy ** 2) / variances / ((a_g + a_d[k]) / 2 + np.spacing(1)) / 2
        if in_vis_thre is not None:
            e = e[(vg > in_vis_thre) & (vd > in_vis_thre)]
        ious[k] = np.sum(np.exp(-e)) / e.shape[0] if e.shape[0] != 0 else 0.0
    return ious


def loop_oks_nms(kpts_db: List[Dict[str, Any]], thresh: float, sigmas=None, in_vis_thre=None) -> List[int]:
    """The reference's greedy ``oks_nms`` over ``[{'keypoints', 'score', 'area'}]``: kept indices, best first."""
    if len(kpts_db) == 0:
        return []
    scores = np.array([p['score'] for p in kpts_db])
    kpts = np.array([p['keypoints'].flatten() for p in kpts_db])
    areas = np.array([p['area'] for p in kpts_db])
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        ovr = loop_oks_iou(kpts[i], kpts[order[1:]], areas[i], areas[order[1:]], sigmas, in_vis_thre)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return keep


# ----------------------------------------------------------------------------- rescoring (src/evaluate/coco_eval.py)

def loop_rescore(maxvals: Sequence[Sequence[float]], box_scores: Sequence[float], in_vis_thre: float) -> np.ndarray:
    """Box score times the mean of the joint scores above ``in_vis_thre`` (0 when none is), one person at a time."""
    scores = []
    for joints, box_score in zip(maxvals, box_scores):
        kpt_score, valid = 0, 0
        for t_s in joints:
            if t_s > in_vis_thre:
                kpt_score += t_s
                valid += 1
        if valid != 0:
            kpt_score /= valid
        scores.append(kpt_score * box_score)
    return np.array(scores)


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


def small_pose_net_gradients(case: Dict[str, np.ndarray], eps: float) -> Tuple[float, Dict[str, np.ndarray]]:
    """One training step of 3×3 convolution (padding 1, no bias) → training-mode BatchNorm (batch statistics,
    ``eps``) → ReLU → 1×1 convolution with bias, under the joints MSE loss with target weights, in float64
    with the chain rule written out: the loss and the gradient of every parameter.

    ``case`` holds ``image`` N×K×H×W, ``target`` N×J×H×W, ``weight`` N×J×1 and the parameters
    ``conv.weight`` C×K×3×3, ``bn.gamma``, ``bn.beta`` (C), ``final.weight`` J×C×1×1, ``final.bias`` (J).
    """
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
    return float(loss), grads


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


# ----------------------------------------------------------------------------- the reference network in PyTorch (src/convert.py)

def torch_pose_resnet(torch: Any, num_layers: int, filters: int, joints: int = 17, with_head: bool = True) -> Any:
    """The reference's pose_resnet (module names as in human-pose-estimation.pytorch) with random weights and
    BatchNorm statistics, in eval mode; ``with_head`` False gives a torchvision ResNet (``fc``, no head).

    ``torch`` is the imported module (the callers skip without it).
    """
    nn = torch.nn

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU()
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU()
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + identity)

    spec = {18: (BasicBlock, [2, 2, 2, 2]), 50: (Bottleneck, [3, 4, 6, 3])}
    block, counts = spec[num_layers]

    class PoseResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(64, counts[0], 1)
            self.layer2 = self._make_layer(128, counts[1], 2)
            self.layer3 = self._make_layer(256, counts[2], 2)
            self.layer4 = self._make_layer(512, counts[3], 2)
            if with_head:
                layers = []
                for _ in range(3):
                    layers += [nn.ConvTranspose2d(self.inplanes, filters, 4, 2, 1, 0, bias=False),
                               nn.BatchNorm2d(filters), nn.ReLU()]
                    self.inplanes = filters
                self.deconv_layers = nn.Sequential(*layers)
                self.final_layer = nn.Conv2d(filters, joints, 1, 1, 0)
            else:
                self.fc = nn.Linear(512 * block.expansion, 1000)

        def _make_layer(self, planes, count, stride):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes * block.expansion))
            layers = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            layers += [block(self.inplanes, planes) for _ in range(count - 1)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.final_layer(self.deconv_layers(x))

    torch.manual_seed(num_layers)
    model = PoseResNet()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(7)
            elif isinstance(module, (nn.ConvTranspose2d, nn.Conv2d)) and with_head:
                module.weight.normal_(0, (2.0 / (module.weight[0].numel())) ** 0.5)
    return model.eval()
