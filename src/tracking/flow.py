"""Dense optical flow between frames, and points moved along it.

Symbols: H×W frame, M people, J joints. A flow field is H×W×2 float32 ``[dx, dy]`` in pixels:
the pixel at ``(x, y)`` of the earlier frame is at ``(x + dx, y + dy)`` in the later one. Poses
are M×J×3 ``[x, y, score]`` in image pixels.
"""
from typing import Callable, Optional

import cv2
import numpy as np

#: ``TRACK.FLOW`` choices.
FLOW_METHODS = ("dis", "farneback")
#: The finest level of DIS's image pyramid (level k: the frame at 2^-k of its size), where its flow is computed
#: before it is upsampled to the frame: level 2, a quarter of the size, the FAST preset's own. On the synthetic
#: videos level 1 costs three times as much for joints a few tenths of a pixel closer, level 3 puts a tenth fewer
#: within 3 px (docs/tracking.md, Optical flow).
DIS_FINEST_SCALE = 2

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def make_flow(method: str) -> FlowFn:
    """A function ``(previous, current) -> H×W×2 flow`` of two H×W uint8 grey frames.

    ``dis``: OpenCV's DIS flow at its FAST preset, which computes it at a quarter of the frame's size
    (:data:`DIS_FINEST_SCALE`, set here so that the resolution is ours). ``farneback``: Farnebäck's polynomial-expansion
    flow (pyramid scale 0.5, 4 levels, window 15, 3 iterations, polynomial of 5 px, σ 1.1). On the
    synthetic videos (``bench/flow_methods.py``) DIS FAST puts 94 % of the joints within 3 px of
    their next place at 8 ms per 480×360 frame, Farnebäck 94 % at 78 ms (DIS MEDIUM: 97 %, 44 ms);
    joint displacements well under the OKS scale of a person make the difference immaterial.
    """
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        dis.setFinestScale(DIS_FINEST_SCALE)
        return lambda previous, current: dis.calc(previous, current, None)
    if method == "farneback":
        return lambda previous, current: cv2.calcOpticalFlowFarneback(previous, current, None, 0.5, 4, 15, 3,
                                                                      5, 1.1, 0)
    raise ValueError(f"unknown flow method '{method}'; expected one of {FLOW_METHODS}")


class FrameFlow:
    """The flow from each frame to the next, for the frames of one video given in order.

    Holds the previous frame (grey) between calls. The tracker computes it before each frame's poses;
    :func:`src.tracking.pipeline.track_frames` computes it one frame ahead, in a background thread, while
    the network runs on the frame before: the same flows either way.
    """

    def __init__(self, flow: FlowFn):
        self.flow = flow
        self._grey: Optional[np.ndarray] = None

    def __call__(self, image: np.ndarray) -> Optional[np.ndarray]:
        """The H×W×2 flow from the frame given last to ``image`` (H×W×3 uint8 BGR); None for the first
        frame, or when the frame size changed."""
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        previous, self._grey = self._grey, grey
        if previous is None or previous.shape != grey.shape:
            return None
        return self.flow(previous, grey)


def sample_flow(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The flow at sub-pixel ``points``, bilinearly interpolated.

    Args:
        flow: H×W×2 flow field.
        points: ...×2 ``[x, y]`` in pixels; points outside the frame take the flow of the
            nearest border pixel.

    Returns:
        ...×2 float64 displacements ``[dx, dy]``.
    """
    height, width = flow.shape[:2]
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x = np.clip(pts[:, 0], 0, width - 1)
    y = np.clip(pts[:, 1], 0, height - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2) if width > 1 else np.zeros(len(x), np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2) if height > 1 else np.zeros(len(y), np.int64)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    field = flow.astype(np.float64)
    top = field[y0, x0] * (1 - fx) + field[y0, x1] * fx
    bottom = field[y1, x0] * (1 - fx) + field[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).reshape(np.shape(points))


def propagate(poses: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Poses of the earlier frame moved to the later one: each joint by the flow at its place.

    Args:
        poses: M×J×3 ``[x, y, score]`` in the earlier frame.
        flow: H×W×2 flow from the earlier frame to the later one.

    Returns:
        A new M×J×3 float64 array; scores unchanged.
    """
    moved = np.array(poses, dtype=np.float64)
    if moved.size:
        moved[..., :2] += sample_flow(flow, moved[..., :2])
    return moved
