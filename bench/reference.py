"""The reference's post-processing as plain loops, and its network in PyTorch.

What the project's vectorized code is checked against (by the tests) and timed against (by the
benches): the loops are the reference algorithms written the slow, obvious way, one sample, one joint
at a time, as in the original human-pose-estimation code; :func:`torch_pose_resnet` is the reference's
``pose_resnet`` with its module names (the layout of its checkpoints, which ``src/convert.py`` reads).

Symbols: N people, J joints, H×W heatmap size.
"""
import math
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from src.constants import COCO_SIGMAS, RESNET_LAYERS
from src.utils.transform import affine_transform, get_affine_transform


# ----------------------------------------------------------------------------- decoding (src/data/codec.py)

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


# ----------------------------------------------------------------------------- the reference network in PyTorch

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
            self.relu = nn.ReLU(inplace=True)
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
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + identity)

    bottleneck, counts = RESNET_LAYERS[num_layers]
    block = Bottleneck if bottleneck else BasicBlock

    class PoseResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(64, counts[0], 1)
            self.layer2 = self._make_layer(128, counts[1], 2)
            self.layer3 = self._make_layer(256, counts[2], 2)
            self.layer4 = self._make_layer(512, counts[3], 2)
            if with_head:
                layers = []
                for _ in range(3):
                    layers += [nn.ConvTranspose2d(self.inplanes, filters, 4, 2, 1, 0, bias=False),
                               nn.BatchNorm2d(filters), nn.ReLU(inplace=True)]
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
