"""PoseTrack's file formats: ground truth and predictions of PoseTrack 2017 and 2018, one video per file.

**PoseTrack 2018** (one JSON per video, COCO-like): ``images`` with ``id``, ``file_name``, ``frame_id``,
``vid_id``, ``is_labeled``, ``nframes`` and ignore regions as polygons ``ignore_regions_x`` and
``ignore_regions_y``; ``annotations`` with ``image_id``, ``track_id``, ``keypoints`` (17 × ``[x, y, v]`` in
:data:`src.data.posetrack_joints.POSETRACK_KEYPOINT_NAMES` order; a joint ``[0, 0, 0]`` is not labelled),
``bbox`` and ``bbox_head`` (``[x, y, w, h]``), and, in predictions, the per-joint ``scores``; ``categories``
names the keypoints.

**PoseTrack 2017**: ``annolist``, one entry per frame, with ``image: [{name}]``, ``is_labeled``,
``ignore_regions: [{point: [{x, y}]}]`` and ``annorect``: per person ``track_id``, the head box as
``x1, y1, x2, y2`` and ``annopoints: [{point: [{id, x, y, score}]}]``, the point ids being those of
:data:`EVAL_JOINT_NAMES` (0-14). Most values are wrapped in one-element lists; both forms are read.

In memory a video is a :class:`PoseVideo` of :class:`PoseFrame` s, people's joints in the 17-joint
2018 order whichever file they came from. This module is the one reader and writer of these files, and
the one place that tells which ``.json`` files of a folder are videos (:func:`video_files`). The benchmark
scores 15 of the 17 joints (:data:`EVAL_JOINT_NAMES`, the ears are never labelled) and nothing inside a
frame's ignore regions (:func:`remove_ignored`): the records and the evaluation both drop those joints.
"""
import glob
import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from src.constants import POSETRACK_METRICS_FILE, TRACKS_FILE
from src.data.posetrack_joints import NUM_POSETRACK_JOINTS, POSETRACK_KEYPOINTS, POSETRACK_KEYPOINT_NAMES
from src.errors import PoseTrackFormatError
from src.utils.jsonio import read_json, write_json

#: The 15 joints the benchmark scores, in its order: PoseTrack 2017's point ids 0-14 and the evaluation's
#: order (``head_bottom`` is the evaluation's "neck").
EVAL_JOINT_NAMES: Tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "head_bottom", "nose", "head_top",
)
#: Index into the 17 keypoints of each of the 15 evaluated joints.
EVAL_JOINTS: Tuple[int, ...] = tuple(POSETRACK_KEYPOINT_NAMES.index(name) for name in EVAL_JOINT_NAMES)
#: Track ids a prediction file may hold (the benchmark's rule).
MAX_PREDICTED_TRACK_ID: int = 999
#: Files this project writes beside PoseTrack files (``track.py``'s tracks, the figures): never videos.
NOT_VIDEOS: Tuple[str, ...] = (TRACKS_FILE, POSETRACK_METRICS_FILE)


class PoseFrame(NamedTuple):
    """One frame of a PoseTrack file. Symbols: P people, J = 17 joints in :data:`POSETRACK_KEYPOINT_NAMES`
    order.

    Attributes:
        name: The frame's file name as the file writes it (2018 ``file_name``, 2017 ``image.name``).
        image_id: The 2018 image ``id``; for 2017 the frame's index.
        labelled: The frame is labelled (``is_labeled``; absent: it has people).
        track_ids: P int64.
        poses: P×J×3 ``[x, y, score]`` (where a file has no scores, as ground truth: 1, and 0 for a
            joint that is not there).
        present: P×J bool: the joint is labelled (ground truth) or predicted.
        head_boxes: P×4 ``[x1, y1, x2, y2]``, NaN where the person has none.
        boxes: P×4 person boxes ``[x, y, w, h]``, NaN where none.
        scores: P person scores, NaN where none.
        ignore_regions: Polygons (K×2 ``[x, y]``) where nothing is scored.
        extra: The file's other keys of the image (2018) or frame (2017), written back unchanged.
    """
    name: str
    image_id: int
    labelled: bool
    track_ids: np.ndarray
    poses: np.ndarray
    present: np.ndarray
    head_boxes: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    ignore_regions: Tuple[np.ndarray, ...] = ()
    extra: Dict[str, Any] = {}

    @classmethod
    def empty(cls, name: str, image_id: int, labelled: bool = True, **extra: Any) -> "PoseFrame":
        """A frame without people."""
        return cls(name, image_id, labelled, np.zeros(0, np.int64), np.zeros((0, NUM_POSETRACK_JOINTS, 3)),
                   np.zeros((0, NUM_POSETRACK_JOINTS), bool), np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(0),
                   (), dict(extra))

    def take(self, index: np.ndarray) -> "PoseFrame":
        """The frame with only the people ``index`` (indices or a P-long mask)."""
        return self._replace(track_ids=self.track_ids[index], poses=self.poses[index], present=self.present[index],
                             head_boxes=self.head_boxes[index], boxes=self.boxes[index], scores=self.scores[index])


class PoseVideo(NamedTuple):
    """One PoseTrack file: its ``path``, format ``version`` (2017 or 2018) and frames in file order."""
    path: str
    version: int
    frames: List[PoseFrame]

    @property
    def name(self) -> str:
        """The file's name: a prediction file is named as the ground truth of its video."""
        return os.path.basename(self.path)


# ---------------------------------------------------------------------------------------------- ignore regions

def inside_polygons(points: np.ndarray, polygons: Sequence[np.ndarray]) -> np.ndarray:
    """N bool: the N×2 points inside any of the polygons (K×2 each), by the even-odd rule."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(len(points), bool)
    x, y = points[:, :1], points[:, 1:]
    for polygon in polygons:
        start, end = polygon, np.roll(polygon, -1, axis=0)
        spans = (start[None, :, 1] > y) != (end[None, :, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_x = start[None, :, 0] + (y - start[None, :, 1]) * (end[None, :, 0] - start[None, :, 0]) / \
                (end[None, :, 1] - start[None, :, 1])
        inside |= (np.sum(spans & (x < cross_x), axis=1) % 2).astype(bool)
    return inside


def remove_ignored(frame: PoseFrame, regions: Sequence[np.ndarray]) -> PoseFrame:
    """``frame`` without the joints inside the ignore ``regions`` and the people left with none of the
    :data:`EVAL_JOINTS`."""
    if not regions or len(frame.track_ids) == 0:
        return frame
    inside = inside_polygons(frame.poses[:, :, :2].reshape(-1, 2), regions).reshape(frame.present.shape)
    frame = frame._replace(present=frame.present & ~inside)
    return frame.take(frame.present[:, list(EVAL_JOINTS)].any(axis=1))


# ---------------------------------------------------------------------------------------------- folders

def video_files(folder: str) -> List[str]:
    """The ``.json`` files of ``folder`` in name order but :data:`NOT_VIDEOS` (one video each, unread)."""
    return sorted(f for f in glob.glob(os.path.join(folder, "*.json")) if os.path.basename(f) not in NOT_VIDEOS)


# ---------------------------------------------------------------------------------------------- reading

def _one(value: Any) -> Any:
    """PoseTrack 2017 wraps most values in one-element lists; the value either way."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return value


def _require(entry: Any, keys: Sequence[str], where: str, path: str) -> None:
    if not isinstance(entry, dict):
        raise PoseTrackFormatError(f"{path}: {where} is not a JSON object")
    missing = [key for key in keys if key not in entry]
    if missing:
        raise PoseTrackFormatError(f"{path}: {where} has no {', '.join(repr(k) for k in missing)}")


def _track_id(value: Any, where: str, path: str, predictions: bool) -> int:
    value = _one(value)
    limit = MAX_PREDICTED_TRACK_ID if predictions else 10 ** 9
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not 0 <= value <= limit:
        rule = f"integers 0-{MAX_PREDICTED_TRACK_ID}" if predictions else "integers >= 0"
        raise PoseTrackFormatError(f"{path}: {where} has track_id {value!r}; PoseTrack's track ids are {rule}")
    return int(value)


def read_video(path: str, predictions: bool = False) -> PoseVideo:
    """A PoseTrack 2017 or 2018 file (the format is told by its keys).

    Ground truth needs a head box for every person with labelled joints (PCKh is measured with it);
    predictions need per-joint scores and track ids 0-999.

    Raises:
        PoseTrackFormatError: one line naming the file and the missing key or bad value.
    """
    what = "prediction file" if predictions else "ground-truth file"
    doc = read_json(path, what, PoseTrackFormatError, f"give a PoseTrack {what}")
    if isinstance(doc, dict) and "annolist" in doc:
        frames = _read_2017(doc, path, predictions)
        version = 2017
    elif isinstance(doc, dict) and "images" in doc and "annotations" in doc:
        frames = _read_2018(doc, path, predictions)
        version = 2018
    else:
        raise PoseTrackFormatError(f"{path}: not a PoseTrack file (neither 'annolist' of 2017 nor 'images' and "
                                   f"'annotations' of 2018)")
    names = [frame.name for frame in frames]
    if len(set(names)) != len(names):
        raise PoseTrackFormatError(f"{path}: two frames have the same file name")
    for frame in frames:
        if len(set(frame.track_ids.tolist())) != len(frame.track_ids):
            raise PoseTrackFormatError(f"{path}: frame {frame.name} has a track id twice; a track is one person")
    return PoseVideo(path, version, frames)


def _keypoint_order(doc: Dict[str, Any], path: str) -> np.ndarray:
    """Index into the 17 joints of each keypoint of the file (``categories[0].keypoints``, default 2018's)."""
    categories = doc.get("categories")
    if not categories:
        return np.arange(NUM_POSETRACK_JOINTS)
    names = categories[0].get("keypoints", POSETRACK_KEYPOINT_NAMES) if isinstance(categories[0], dict) else []
    unknown = [str(n) for n in names if n not in POSETRACK_KEYPOINT_NAMES]
    missing = [n for n in EVAL_JOINT_NAMES if n not in names]
    if unknown or missing:
        problem = f"unknown: {', '.join(unknown)}" if unknown else f"missing: {', '.join(missing)}"
        raise PoseTrackFormatError(f"{path}: categories[0].keypoints must name PoseTrack's joints ({problem})")
    return np.array([POSETRACK_KEYPOINT_NAMES.index(n) for n in names])


def _read_2018(doc: Dict[str, Any], path: str, predictions: bool) -> List[PoseFrame]:
    order = _keypoint_order(doc, path)
    if not isinstance(doc["images"], list) or not isinstance(doc["annotations"], list):
        raise PoseTrackFormatError(f"{path}: 'images' and 'annotations' must be lists")
    by_image: Dict[Any, List[Dict[str, Any]]] = {}
    for k, ann in enumerate(doc["annotations"]):
        where = f"annotation {ann.get('id', k) if isinstance(ann, dict) else k}"
        _require(ann, ("image_id", "track_id", "keypoints") + (("scores",) if predictions else ()), where, path)
        by_image.setdefault(ann["image_id"], []).append(ann)
    known = set()
    frames = []
    for k, image in enumerate(doc["images"]):
        _require(image, ("id", "file_name"), f"image {k}", path)
        known.add(image["id"])
        anns = by_image.get(image["id"], [])
        people = [_person_2018(ann, order, path, predictions) for ann in anns]
        regions = tuple(np.column_stack([np.asarray(xs, np.float64), np.asarray(ys, np.float64)])
                        for xs, ys in zip(image.get("ignore_regions_x") or [], image.get("ignore_regions_y") or [])
                        if len(xs) >= 3 and len(xs) == len(ys))
        extra = {key: value for key, value in image.items()
                 if key not in ("id", "file_name", "is_labeled", "ignore_regions_x", "ignore_regions_y")}
        frames.append(_frame(str(image["file_name"]), int(image["id"]), bool(image.get("is_labeled", bool(anns))),
                             people, regions, extra))
    strays = [image_id for image_id in by_image if image_id not in known]
    if strays:
        raise PoseTrackFormatError(f"{path}: annotations of image_id {strays[0]!r}, which is not in 'images'")
    return frames


def _person_2018(ann: Dict[str, Any], order: np.ndarray, path: str, predictions: bool) -> Dict[str, Any]:
    where = f"annotation {ann.get('id', '?')}"
    try:
        kpts = np.asarray(ann["keypoints"], dtype=np.float64).reshape(len(order), 3)
        scores = np.asarray(ann["scores"], dtype=np.float64).reshape(len(order)) if predictions else None
    except (TypeError, ValueError) as err:
        scores_rule = f" and 'scores' {len(order)} numbers" if predictions else ""
        raise PoseTrackFormatError(f"{path}: {where}: 'keypoints' must be {len(order)} × [x, y, v]{scores_rule} "
                                   f"({err})") from err
    poses = np.zeros((NUM_POSETRACK_JOINTS, 3))
    present = np.zeros(NUM_POSETRACK_JOINTS, bool)
    # The benchmark's rule: a joint written [0, 0, 0] is not there; any other is.
    present[order] = ~np.all(kpts == 0, axis=1)
    poses[order, :2] = kpts[:, :2]
    poses[order, 2] = present[order] if scores is None else scores
    head = _box_corners(ann.get("bbox_head"), where, "bbox_head", path)
    if not predictions and present.any() and np.isnan(head).any():
        raise PoseTrackFormatError(f"{path}: {where} has labelled joints but no 'bbox_head' [x, y, w, h] (PCKh "
                                   f"measures distances in head sizes)")
    box = ann.get("bbox")
    box = np.asarray(box, np.float64).reshape(4) if isinstance(box, list) and len(box) == 4 else np.full(4, np.nan)
    score = ann.get("score")
    return {"track_id": _track_id(ann["track_id"], where, path, predictions), "pose": poses, "present": present,
            "head": head, "box": box, "score": float(score) if isinstance(score, (int, float)) else np.nan}


def _box_corners(box: Any, where: str, key: str, path: str) -> np.ndarray:
    """``[x, y, w, h]`` as ``[x1, y1, x2, y2]``; NaN when absent."""
    if box is None:
        return np.full(4, np.nan)
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError) as err:
        raise PoseTrackFormatError(f"{path}: {where}: '{key}' must be [x, y, w, h]") from err
    return np.array([x, y, x + w, y + h])


def _read_2017(doc: Dict[str, Any], path: str, predictions: bool) -> List[PoseFrame]:
    if not isinstance(doc["annolist"], list):
        raise PoseTrackFormatError(f"{path}: 'annolist' must be a list of frames")
    frames = []
    for k, entry in enumerate(doc["annolist"]):
        _require(entry, ("image",), f"annolist[{k}]", path)
        image = _one(entry["image"])
        if not isinstance(image, dict) or "name" not in image:
            raise PoseTrackFormatError(f"{path}: annolist[{k}] has no image name ('image': [{{'name': ...}}])")
        rects = entry.get("annorect") or []
        people = [_person_2017(rect, f"annolist[{k}].annorect[{r}]", path, predictions)
                  for r, rect in enumerate(rects)]
        regions = []
        for region in entry.get("ignore_regions") or []:
            points = region.get("point") or [] if isinstance(region, dict) else []
            polygon = np.array([[_one(p.get("x")), _one(p.get("y"))] for p in points], dtype=np.float64)
            if len(polygon) >= 3:
                regions.append(polygon.reshape(-1, 2))
        labelled = entry.get("is_labeled")
        extra = {key: value for key, value in entry.items()
                 if key not in ("image", "annorect", "ignore_regions", "is_labeled")}
        frames.append(_frame(str(_one(image["name"])), k, bool(_one(labelled)) if labelled is not None else bool(rects),
                             people, tuple(regions), extra))
    return frames


def _person_2017(rect: Dict[str, Any], where: str, path: str, predictions: bool) -> Dict[str, Any]:
    _require(rect, ("track_id",), where, path)
    poses = np.zeros((NUM_POSETRACK_JOINTS, 3))
    present = np.zeros(NUM_POSETRACK_JOINTS, bool)
    annopoints = rect.get("annopoints") or []
    points = (_one(annopoints) or {}).get("point") or [] if annopoints else []
    for p, point in enumerate(points):
        _require(point, ("id", "x", "y") + (("score",) if predictions else ()), f"{where} point {p}", path)
        joint = _one(point["id"])
        if not isinstance(joint, int) or not 0 <= joint < len(EVAL_JOINTS):
            raise PoseTrackFormatError(f"{path}: {where} point {p} has id {joint!r}; PoseTrack 2017's are 0-14")
        j = EVAL_JOINTS[joint]
        poses[j] = [float(_one(point["x"])), float(_one(point["y"])),
                    float(_one(point["score"])) if "score" in point else 1.0]
        present[j] = True
    if all(key in rect for key in ("x1", "y1", "x2", "y2")):
        head = np.array([float(_one(rect[key])) for key in ("x1", "y1", "x2", "y2")])
    else:
        head = np.full(4, np.nan)
        if not predictions and present.any():
            raise PoseTrackFormatError(f"{path}: {where} has labelled joints but no head box x1, y1, x2, y2 (PCKh "
                                       f"measures distances in head sizes)")
    score = _one(rect.get("score"))
    return {"track_id": _track_id(rect["track_id"], where, path, predictions), "pose": poses, "present": present,
            "head": head, "box": np.full(4, np.nan),
            "score": float(score) if isinstance(score, (int, float)) else np.nan}


def _frame(name: str, image_id: int, labelled: bool, people: List[Dict[str, Any]],
           regions: Tuple[np.ndarray, ...], extra: Dict[str, Any]) -> PoseFrame:
    if not people:
        return PoseFrame.empty(name, image_id, labelled, **extra)._replace(ignore_regions=regions)
    return PoseFrame(name, image_id, labelled, np.array([p["track_id"] for p in people], np.int64),
                     np.stack([p["pose"] for p in people]), np.stack([p["present"] for p in people]),
                     np.stack([p["head"] for p in people]), np.stack([p["box"] for p in people]),
                     np.array([p["score"] for p in people]), regions, extra)


# ---------------------------------------------------------------------------------------------- writing

def _number(value: float) -> float:
    return round(float(value), 3)


def _score(value: float) -> float:
    """Scores keep 6 decimals: the benchmark's AP ranks joints by them, and 3 would tie joints a network tells
    apart."""
    return round(float(value), 6)


def video_document(video: PoseVideo, version: Optional[int] = None, predictions: bool = False) -> Dict[str, Any]:
    """The JSON document of ``video`` in PoseTrack's 2017 or 2018 format (default: ``video.version``).

    Predictions carry per-joint scores; ground truth does not. Unset boxes and scores are left out.
    """
    version = version or video.version
    if version == 2017:
        return {"annolist": [_frame_2017(frame, predictions) for frame in video.frames]}
    if version != 2018:
        raise ValueError(f"PoseTrack format {version}: expected 2017 or 2018")
    images, annotations = [], []
    for frame in video.frames:
        image = {**frame.extra, "id": frame.image_id, "file_name": frame.name, "is_labeled": frame.labelled}
        if frame.ignore_regions:
            image["ignore_regions_x"] = [[_number(v) for v in region[:, 0]] for region in frame.ignore_regions]
            image["ignore_regions_y"] = [[_number(v) for v in region[:, 1]] for region in frame.ignore_regions]
        images.append(image)
        for p, track_id in enumerate(frame.track_ids):
            # [x, y, 1] for a joint that is there, [0, 0, 0] for one that is not.
            kpts = [value for xy, there in zip(frame.poses[p, :, :2], frame.present[p])
                    for value in ((_number(xy[0]), _number(xy[1]), 1) if there else (0, 0, 0))]
            ann = {"id": len(annotations) + 1, "image_id": frame.image_id, "track_id": int(track_id),
                   "category_id": 1, "keypoints": kpts}
            if predictions:
                ann["scores"] = [_score(v) for v in np.where(frame.present[p], frame.poses[p, :, 2], 0.0)]
            for key, box in (("bbox", frame.boxes[p]), ("bbox_head", _corners_to_box(frame.head_boxes[p]))):
                if not np.isnan(box).any():
                    ann[key] = [_number(v) for v in box]
            if not np.isnan(frame.scores[p]):
                ann["score"] = _score(frame.scores[p])
            annotations.append(ann)
    return {"images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "supercategory": "person",
                            "keypoints": list(POSETRACK_KEYPOINT_NAMES),
                            "skeleton": [[a + 1, b + 1] for a, b in POSETRACK_KEYPOINTS.skeleton]}]}


def _corners_to_box(corners: np.ndarray) -> np.ndarray:
    return np.concatenate([corners[:2], corners[2:] - corners[:2]])


def _frame_2017(frame: PoseFrame, predictions: bool) -> Dict[str, Any]:
    entry: Dict[str, Any] = {**frame.extra, "image": [{"name": frame.name}], "is_labeled": [int(frame.labelled)]}
    if frame.ignore_regions:
        entry["ignore_regions"] = [{"point": [{"x": [_number(x)], "y": [_number(y)]} for x, y in region]}
                                   for region in frame.ignore_regions]
    rects = []
    for p, track_id in enumerate(frame.track_ids):
        points = []
        for joint_id, j in enumerate(EVAL_JOINTS):
            if frame.present[p, j]:
                point = {"id": [joint_id], "x": [_number(frame.poses[p, j, 0])], "y": [_number(frame.poses[p, j, 1])]}
                if predictions:
                    point["score"] = [_score(frame.poses[p, j, 2])]
                points.append(point)
        rect: Dict[str, Any] = {"track_id": [int(track_id)], "annopoints": [{"point": points}]}
        if not np.isnan(frame.head_boxes[p]).any():
            rect.update({key: [_number(v)] for key, v in zip(("x1", "y1", "x2", "y2"), frame.head_boxes[p])})
        if not np.isnan(frame.scores[p]):
            rect["score"] = [_score(frame.scores[p])]
        rects.append(rect)
    entry["annorect"] = rects
    return entry


def write_video(path: str, video: PoseVideo, version: Optional[int] = None, predictions: bool = False) -> str:
    """Writes ``video`` to ``path`` (creating its folder) in PoseTrack's ``version`` format; returns ``path``."""
    doc = video_document(video, version, predictions)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_json(path, doc, compact=True)
    return path
