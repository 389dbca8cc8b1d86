"""Person boxes from an object detector exported to ONNX, run with onnxruntime (``TRACK.DETECTOR``).

The frame is fitted into the detector's input by a letterbox (scaled to fit, the rest filled with
grey 114), the network runs, and its candidate boxes are decoded, scored for class 0 (COCO's
person), thresholded (``TRACK.DETECTOR_SCORE_THRE``), mapped back to the frame and unified by box
NMS (``TRACK.DETECTOR_NMS_THRE``). The detectors differ in what they expect and emit:

=================  ===========================  ==========================================================
layout             input                        output (first output of the model)
=================  ===========================  ==========================================================
``yolox``          BGR, 0-255, image at the     ``[1, N, 5+C]`` raw: per anchor of the stride 8, 16, 32
                   top left (YOLOX's            grids (row by row, finest grid first) ``[dx, dy, log w,
                   ``preproc``)                 log h]`` in grid cells, objectness, C class scores
                                                (both after the sigmoid); centre ``(d + cell) × stride``,
                                                size ``exp(log) × stride``. YOLOX's default export.
``yolox_decoded``  as ``yolox``                 ``[1, N, 5+C]``: centre x, y, width, height in input
                                                pixels, objectness, class scores (``--decode_in_inference``)
``yolov5``         RGB, 0-1, image centred      ``[1, 3N, 5+C]`` (3 anchors per cell) as ``yolox_decoded``
``yolov8``         as ``yolov5``                ``[1, 4+C, N]``: centre x, y, width, height in input
                                                pixels, C class scores, no objectness (Ultralytics
                                                YOLOv8/11; ``[1, N, 4+C]`` is read too)
``end2end``        as ``yolov5``                ``[1, K, 6]``: ``x1, y1, x2, y2, score, class`` after the
                                                model's own NMS (Ultralytics ``nms=True``, YOLOv10, YOLO26)
=================  ===========================  ==========================================================

``N`` is the number of grid cells, ``Σ ⌈H/s⌉·⌈W/s⌉`` over the strides (8400 for 640×640; with a
stride-64 level, P6 models, the sum runs over 8, 16, 32, 64). The person score is objectness ×
the person class score (``yolox``, ``yolov5``), the person class score (``yolov8``) or the score of
the rows of class 0 (``end2end``); a candidate counts as a person by its person score alone, as in
class-aware NMS, whatever its best class.

``TRACK.DETECTOR_LAYOUT auto`` reads the layout from the first output's shape and the model's
metadata: Ultralytics' exports store ``task``, ``imgsz``, ``names`` and (end-to-end models)
``end2end``, YOLOv5's export ``stride`` and ``names``, YOLOX's nothing. A ``[1, N, 5+C]`` output
with N grid cells is YOLOX's; raw or decoded is told by one run on a grey image: decoded box
centres are input pixels spread over the image (median over 8), raw ones offsets within a cell.

Symbols: N candidate boxes, C classes, K kept boxes. Frame boxes are ``[x, y, w, h]`` in frame
pixels; boxes in the detector input ``[x1, y1, x2, y2]`` in input pixels; sizes ``[W, H]``.
"""
import ast
import logging
import math
import os
import time
from typing import Any, Callable, Dict, List, NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from src.errors import DetectorError, DetectorLayoutError, import_optional
from src.tracking.boxes import MIN_BOX_SIDE, box_nms
from src.tracking.video import Frame

logger = logging.getLogger(__name__)

#: ``TRACK.DETECTOR_LAYOUT`` choices besides ``auto``.
LAYOUTS = ("yolox", "yolox_decoded", "yolov5", "yolov8", "end2end")
#: Layouts whose input is YOLOX's: BGR, 0-255, image at the top left.
YOLOX_INPUT = ("yolox", "yolox_decoded")
#: Grey of the letterbox padding (YOLOX, YOLOv5 and Ultralytics all use it).
PAD_VALUE = 114
#: Strides of the detection grids: P5 models, and P6 models with a stride-64 level.
STRIDES = (8, 16, 32)
STRIDES_P6 = (8, 16, 32, 64)
#: Anchor boxes per grid cell of YOLOv5.
YOLOV5_ANCHORS = 3
#: COCO's class index of a person.
PERSON = 0
#: Most candidates (highest person scores) kept for the box NMS: its IoU matrix is quadratic.
MAX_CANDIDATES = 1000
#: Median |box centre x| (input pixels) from which a ``[1, N, 5+C]`` YOLOX output counts as decoded.
DECODED_CENTRE_MEDIAN = 8.0
#: onnxruntime's input element types and their NumPy types.
INPUT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}
INSTALL_HINT = "pip install onnxruntime"


class DetectorSettings(NamedTuple):
    """The detector's parameters (``TRACK.DETECTOR*``); the defaults are default_config.yaml's.

    ``input_size`` ``[W, H]`` is used only where the model's input size is dynamic.
    """
    model: str
    every: int = 1
    score_thre: float = 0.3
    nms_thre: float = 0.45
    layout: str = "auto"
    input_size: Tuple[int, int] = (640, 640)

    @classmethod
    def from_config(cls, cfg: Any) -> "DetectorSettings":
        track = cfg.TRACK
        return cls(str(track.DETECTOR), int(track.DETECTOR_EVERY), float(track.DETECTOR_SCORE_THRE),
                   float(track.DETECTOR_NMS_THRE), str(track.DETECTOR_LAYOUT),
                   (int(track.DETECTOR_INPUT_SIZE[0]), int(track.DETECTOR_INPUT_SIZE[1])))


class Letterbox(NamedTuple):
    """Where a frame went in the detector input: ``input = frame × scale + offset``, per axis ``[x, y]``."""
    scale: np.ndarray
    offset: np.ndarray


# ---- pure functions --------------------------------------------------------------------------------

def letterbox(image: np.ndarray, input_size: Sequence[int], centred: bool) -> Tuple[np.ndarray, Letterbox]:
    """Fits ``image`` into the detector input, keeping its aspect ratio, the rest grey ``PAD_VALUE``.

    Scaled by ``r = min(W_in / W, H_in / H)`` (up or down) with bilinear interpolation.
    ``centred`` (YOLOv5, Ultralytics): size ``round(W r) × round(H r)``, the padding split evenly,
    the odd pixel at the bottom and right. Otherwise (YOLOX): size ``int(W r) × int(H r)`` at the
    top left.

    Args:
        image: H×W×3 uint8 frame.
        input_size: ``[W_in, H_in]``.
        centred: Centre the image (else top left).

    Returns:
        ``(H_in×W_in×3 uint8 input image, the letterbox)``.
    """
    height, width = image.shape[:2]
    in_width, in_height = int(input_size[0]), int(input_size[1])
    ratio = min(in_width / width, in_height / height)
    if centred:
        new_width, new_height = max(1, int(round(width * ratio))), max(1, int(round(height * ratio)))
        left = int(round((in_width - new_width) / 2 - 0.1))
        top = int(round((in_height - new_height) / 2 - 0.1))
    else:
        new_width, new_height = max(1, int(width * ratio)), max(1, int(height * ratio))
        left = top = 0
    canvas = np.full((in_height, in_width, 3), PAD_VALUE, dtype=np.uint8)
    resized = image if (new_width, new_height) == (width, height) else cv2.resize(
        image, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    canvas[top:top + new_height, left:left + new_width] = resized
    return canvas, Letterbox(np.array([new_width / width, new_height / height]), np.array([left, top], float))


def input_tensor(canvas: np.ndarray, yolox: bool, dtype: Any = np.float32) -> np.ndarray:
    """The letterboxed BGR image as a 1×3×H×W tensor: BGR 0-255 for YOLOX, else RGB 0-1."""
    pixels = canvas if yolox else canvas[:, :, ::-1]
    tensor = pixels.transpose(2, 0, 1)[None].astype(np.float32)
    if not yolox:
        tensor /= 255.0
    return np.ascontiguousarray(tensor, dtype=dtype)


def grid_count(input_size: Sequence[int], strides: Sequence[int]) -> int:
    """Number of grid cells of the detection levels: ``Σ ⌈H/s⌉·⌈W/s⌉`` for an input ``[W, H]``."""
    return sum(math.ceil(input_size[0] / s) * math.ceil(input_size[1] / s) for s in strides)


def anchor_grid(input_size: Sequence[int], strides: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """The cell ``[x, y]`` (N×2) and stride (N) of each YOLOX output row.

    The levels in the order of ``strides``; in each, the cells row by row (x fastest).
    """
    cells, cell_strides = [], []
    for stride in strides:
        xs, ys = np.meshgrid(np.arange(math.ceil(input_size[0] / stride)),
                             np.arange(math.ceil(input_size[1] / stride)))
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        cell_strides.append(np.full(xs.size, stride))
    return np.concatenate(cells).astype(np.float64), np.concatenate(cell_strides).astype(np.float64)


def decode_yolox(raw: np.ndarray, cells: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """YOLOX's raw box outputs to centre boxes in input pixels.

    Args:
        raw: N×4 ``[dx, dy, log w, log h]`` in grid cells.
        cells: N×2 ``[x, y]`` cell of each row; strides: N.

    Returns:
        N×4 ``[cx, cy, w, h]``: ``(d + cell) × stride`` and ``exp(log) × stride``.
    """
    raw = np.asarray(raw, dtype=np.float64)
    return np.concatenate([(raw[:, :2] + cells) * strides[:, None], np.exp(raw[:, 2:4]) * strides[:, None]], axis=1)


def corners(centre_boxes: np.ndarray) -> np.ndarray:
    """N×4 ``[cx, cy, w, h]`` to ``[x1, y1, x2, y2]``."""
    centre_boxes = np.asarray(centre_boxes, dtype=np.float64)
    half = centre_boxes[:, 2:4] / 2
    return np.concatenate([centre_boxes[:, :2] - half, centre_boxes[:, :2] + half], axis=1)


def person_scores(rows: np.ndarray, layout: str) -> np.ndarray:
    """N person scores of N×D output rows (see the module's table)."""
    if layout == "yolov8":
        return rows[:, 4 + PERSON]
    if layout == "end2end":
        return np.where(np.rint(rows[:, 5]) == PERSON, rows[:, 4], 0.0)
    return rows[:, 4] * rows[:, 5 + PERSON]


def to_frame(boxes: np.ndarray, box: Letterbox, frame_size: Sequence[int]) -> np.ndarray:
    """N×4 ``[x1, y1, x2, y2]`` input boxes to ``[x, y, w, h]`` frame boxes clipped to ``[W, H]``."""
    xyxy = (np.asarray(boxes, dtype=np.float64) - np.tile(box.offset, 2)) / np.tile(box.scale, 2)
    xyxy = np.clip(xyxy, 0, np.tile(np.asarray(frame_size, dtype=np.float64), 2))
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def shape_layouts(shape: Sequence[int], input_size: Sequence[int]) -> List[str]:
    """The layouts whose output shape rule a ``[rows, columns]`` output satisfies exactly."""
    rows, columns = shape
    cells = {grid_count(input_size, STRIDES), grid_count(input_size, STRIDES_P6)}
    found = []
    if columns in cells and rows >= 5:
        found.append("yolov8")
    if rows in cells and columns >= 6:
        found += ["yolox", "yolox_decoded"]
    if rows in {YOLOV5_ANCHORS * n for n in cells} and columns >= 6:
        found.append("yolov5")
    if columns == 6:
        found.append("end2end")
    return found


def layout_fits(layout: str, shape: Sequence[int], input_size: Sequence[int]) -> bool:
    """Whether a ``[rows, columns]`` output can be read as ``layout`` (forced layouts are checked with this)."""
    rows, columns = shape
    if layout == "yolox":
        return columns >= 6 and rows in {grid_count(input_size, STRIDES), grid_count(input_size, STRIDES_P6)}
    if layout in ("yolox_decoded", "yolov5"):
        return columns >= 6
    if layout == "yolov8":
        return min(rows, columns) >= 5
    return columns == 6


def preferred_layouts(metadata: Dict[str, str]) -> List[str]:
    """The layouts ``auto`` tries, in order, for a model with these metadata properties."""
    generic = ["yolov8", "yolox", "yolov5", "end2end"]
    if "task" in metadata or "imgsz" in metadata:        # the Ultralytics package's exports
        first = ["end2end", "yolov8"] if metadata.get("end2end") == "True" else ["yolov8", "end2end"]
    elif "stride" in metadata:                             # YOLOv5's export.py
        first = ["yolov5"]
    else:
        first = []
    return first + [name for name in generic if name not in first]


def class_zero_name(metadata: Dict[str, str]) -> str:
    """Name of class 0 in the ``names`` metadata (a dict or list literal), or '' when there is none."""
    try:
        names = ast.literal_eval(metadata.get("names", ""))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return ""
    if isinstance(names, dict):
        return str(names.get(PERSON, ""))
    if isinstance(names, (list, tuple)) and names:
        return str(names[PERSON])
    return ""


def rows_of(output: np.ndarray) -> np.ndarray:
    """The first output without its batch dimension of 1, as float32 rows (None when it is not 2-D)."""
    output = np.asarray(output)
    while output.ndim > 2 and output.shape[0] == 1:
        output = output[0]
    return output.astype(np.float32, copy=False) if output.ndim == 2 else None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# ---- the detector ----------------------------------------------------------------------------------

class PersonDetector:
    """An ONNX detector run with onnxruntime; built once, then called per frame.

    Args:
        settings: The model file and the detector's parameters.

    Raises:
        FileNotFoundError: no file at ``settings.model``.
        MissingDependencyError: onnxruntime is not installed.
        DetectorError: a file onnxruntime cannot load or run, or an input that is not one image.
        DetectorLayoutError: outputs of none of the known layouts, or not of the one asked for.
    """

    def __init__(self, settings: DetectorSettings):
        self.settings = settings
        path = settings.model
        if not os.path.isfile(path):
            raise FileNotFoundError(f"detector model not found: '{path}' (TRACK.DETECTOR, --detector); give an ONNX "
                                    f"file exported from YOLOX or Ultralytics (see docs/tracking.md)")
        ort = import_optional("onnxruntime", f"the person detector {path} (TRACK.DETECTOR)", INSTALL_HINT)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        try:
            self.session = ort.InferenceSession(path, options, providers=providers)
        except Exception as err:  # pylint: disable=broad-except  # onnxruntime's own classes vary by version
            raise DetectorError(f"detector {path}: not an ONNX model onnxruntime can load "
                                f"({_first_line(err)})") from err
        self._input, self.input_size, self._dtype = self._check_input()
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        outputs = self._run(np.full((1, 3, self.input_size[1], self.input_size[0]), PAD_VALUE, self._dtype))
        self.layout = self._layout(outputs)
        rows = rows_of(outputs[0])
        self._transposed = self.layout == "yolov8" and rows.shape[0] < rows.shape[1]
        self._cells = self._strides = None
        if self.layout == "yolox":
            levels = STRIDES if rows.shape[0] == grid_count(self.input_size, STRIDES) else STRIDES_P6
            self._cells, self._strides = anchor_grid(self.input_size, levels)
        name = class_zero_name(self.metadata)
        if name and name != "person":
            logger.warning("detector %s: its class 0 is '%s', not 'person'; its class-0 boxes are taken as people",
                           path, name)
        logger.info("detector %s: layout %s, input %dx%d, person score >= %g, NMS IoU %g", path, self.layout,
                    self.input_size[0], self.input_size[1], settings.score_thre, settings.nms_thre)

    def _check_input(self) -> Tuple[str, Tuple[int, int], Any]:
        """The input's name, size ``[W, H]`` (the model's, else ``settings.input_size``) and NumPy type."""
        inputs = self.session.get_inputs()
        node = inputs[0]
        shape = list(node.shape)
        fixed = [d if isinstance(d, int) and d > 0 else None for d in shape]
        if len(inputs) != 1 or len(shape) != 4 or fixed[1] not in (3, None) or fixed[0] not in (1, None):
            raise DetectorError(f"detector {self.settings.model}: inputs {[(i.name, i.shape) for i in inputs]}; "
                                f"expected one image input [1, 3, height, width]")
        if node.type not in INPUT_TYPES:
            raise DetectorError(f"detector {self.settings.model}: input '{node.name}' is {node.type}; expected "
                                f"{' or '.join(INPUT_TYPES)}")
        width = fixed[3] or int(self.settings.input_size[0])
        height = fixed[2] or int(self.settings.input_size[1])
        return node.name, (width, height), INPUT_TYPES[node.type]

    def _run(self, tensor: np.ndarray) -> List[np.ndarray]:
        try:
            return self.session.run(None, {self._input: tensor})
        except Exception as err:  # pylint: disable=broad-except
            raise DetectorError(f"detector {self.settings.model}: onnxruntime could not run it on a "
                                f"{tensor.shape[3]}x{tensor.shape[2]} image ({_first_line(err)}); "
                                f"for a model with a dynamic input size set TRACK.DETECTOR_INPUT_SIZE") from err

    def _layout(self, outputs: List[np.ndarray]) -> str:
        """The settings' layout, checked against the outputs, or the one ``auto`` finds."""
        path, wanted = self.settings.model, self.settings.layout
        rows = rows_of(outputs[0])
        shapes = [list(np.shape(o)) for o in outputs]
        size = f"{self.input_size[0]}x{self.input_size[1]}"
        if rows is not None and wanted != "auto":
            if layout_fits(wanted, rows.shape, self.input_size):
                return wanted
            raise DetectorLayoutError(f"detector {path}: outputs {shapes} for a {size} input do not have the "
                                      f"layout {wanted} (TRACK.DETECTOR_LAYOUT); try auto")
        fitting = shape_layouts(rows.shape, self.input_size) if rows is not None else []
        for layout in preferred_layouts(self.metadata):
            if layout in fitting:
                if layout == "yolox" and np.median(np.abs(rows[:, 0])) >= DECODED_CENTRE_MEDIAN:
                    return "yolox_decoded"
                return layout
        raise DetectorLayoutError(
            f"detector {path}: unknown output layout: outputs {shapes} for a {size} input; known are yolox and "
            f"yolov5 [1, N, 5+C] (N = {grid_count(self.input_size, STRIDES)} cells of strides 8/16/32 at this size, "
            f"3N for yolov5), yolov8 [1, 4+C, N] and end2end [1, K, 6]; set TRACK.DETECTOR_LAYOUT if it is one of "
            f"these, else export the model without extra outputs or post-processing")

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The person boxes of one frame.

        Args:
            image: H×W×3 uint8 BGR frame.

        Returns:
            ``(boxes K×4 [x, y, w, h] in frame pixels, scores K)``, by decreasing score.
        """
        yolox = self.layout in YOLOX_INPUT
        canvas, box = letterbox(image, self.input_size, centred=not yolox)
        rows = rows_of(self._run(input_tensor(canvas, yolox, self._dtype))[0])
        if self._transposed:
            rows = rows.T
        scores = person_scores(rows, self.layout)
        keep = np.flatnonzero(scores >= self.settings.score_thre)
        if len(keep) > MAX_CANDIDATES:
            keep = keep[np.argpartition(-scores[keep], MAX_CANDIDATES - 1)[:MAX_CANDIDATES]]
        found = rows[keep].astype(np.float64)
        if self.layout == "end2end":
            xyxy = found[:, :4]
        elif self.layout == "yolox":
            xyxy = corners(decode_yolox(found[:, :4], self._cells[keep], self._strides[keep]))
        else:
            xyxy = corners(found[:, :4])
        boxes = to_frame(xyxy, box, image.shape[1::-1])
        scores = scores[keep].astype(np.float64)
        big_enough = np.flatnonzero((boxes[:, 2] >= MIN_BOX_SIDE) & (boxes[:, 3] >= MIN_BOX_SIDE))
        kept = big_enough[box_nms(boxes[big_enough], scores[big_enough], self.settings.nms_thre)]
        return boxes[kept], scores[kept]


class DetectorBoxes:
    """Person boxes per frame from the detector (``FrameBoxes``' interface): on every ``every``-th frame
    from the first; none on the frames between, where the tracker's propagated boxes carry people.

    Args:
        detector: A :class:`PersonDetector` (image → ``(boxes K×4, scores K)``).
        every: Run it on every this many frames.

    Attributes:
        runs: Frames the detector ran on; seconds: their time.
    """

    def __init__(self, detector: Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]], every: int = 1):
        self.detector, self.every = detector, max(1, int(every))
        self.runs, self.seconds = 0, 0.0

    def __call__(self, frame: Frame) -> Tuple[np.ndarray, np.ndarray]:
        """``(boxes N×4, scores N)`` of ``frame``."""
        if frame.index % self.every:
            return np.zeros((0, 4)), np.zeros(0)
        start = time.perf_counter()
        found = self.detector(frame.image)
        self.seconds += time.perf_counter() - start
        self.runs += 1
        return found
