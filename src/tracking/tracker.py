"""The tracker loop of the paper's Section 3, one frame at a time.

For each frame:

1. **Boxes.** The detector's boxes, plus (``TRACK.PROPAGATE_BOXES``) a box around the confident
   joints (over ``TRACK.PROPAGATE_JOINT_THRE``) of each person of the previous frame moved along the
   optical flow, enlarged by ``TRACK.BOX_ENLARGE`` and scored with that person's box score; the two
   sets unified by box NMS (IoU above ``TRACK.NMS_THRE``), detector boxes first: propagated boxes
   fill in where the detector missed someone.
2. **Poses.** The pose network on every box (the evaluation's crop, flip test and decoding);
   people scoring under ``TRACK.MIN_SCORE`` are dropped. A propagated person whose pose agrees with
   a detected person's (or a higher-scored propagated one's: OKS over ``TRACK.UNIFY_THRE``, joints
   confident in both) is that person, and dropped; then the evaluation's OKS-NMS
   (``TEST.OKS_THRE``). A propagated box and a detector box on one person often overlap too little
   for the box NMS, but give the same pose; and a propagated box that drifted onto someone else
   gives that person's pose.
3. **Ids.** The people of the last ``TRACK.KEEP_FRAMES`` frames are remembered and moved to the
   current frame (``TRACK.SIMILARITY: flow_oks``; ``oks`` leaves them where they were seen): along
   the flow where their track was seen in the previous frame, by their track's own velocity where
   it was not (the flow where someone is hidden is that of whoever hides them). Each new person is
   compared with every remembered pose by OKS and ids are given greedily, best pair first, down to
   ``TRACK.SIMILARITY_THRE``. A person hidden for fewer frames than are kept gets their id back.
4. **Colours** (``TRACK.APPEARANCE_THRE`` above 0). The people left without an id are compared with the
   tracks lost in the remembered frames (not seen in the previous frame, nor matched in this one) by the
   colours of their torso (:mod:`src.tracking.appearance`): ids are given greedily down to
   ``TRACK.APPEARANCE_THRE``, between people of similar size (areas within a factor ``AREA_RATIO``).
   This gives the id back to someone who walked out of the frame and came back, or who reappears from
   behind someone where their track's velocity did not take their remembered pose. The rest start new
   tracks.

Symbols: N people of a frame, J joints. Boxes ``[x, y, w, h]``, poses ``[x, y, score]``, both in
image pixels. Poses are in the network's own joints (its data set type's keypoint set: COCO's or
PoseTrack's), and so are the OKS constants of the similarity, the unification and the OKS-NMS.
"""
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, NamedTuple, Optional, Tuple

import numpy as np

from src.constants import COCO_KEYPOINTS, KeypointSet
from src.tracking.appearance import clear_view, colour_histograms, colour_similarity, torso_indices
from src.tracking.boxes import box_nms, joint_boxes
from src.tracking.flow import FlowFn, FrameFlow, propagate
from src.tracking.matching import greedy_match, pose_similarity, unify_people
from src.utils.nms import oks_nms_arrays

#: ``TRACK.SIMILARITY`` choices: OKS of flow-propagated poses (the paper's), or of poses left in place.
SIMILARITIES = ("flow_oks", "oks")

#: The colour stage matches people whose areas differ by at most this factor.
AREA_RATIO = 2.0
#: A track's colours move this share of the way to each clear view of it.
COLOUR_UPDATE = 0.3

#: ``(image H×W×3, boxes N×4, box scores N) -> (poses N×J×3, person scores N, areas N)``.
Estimator = Callable[[np.ndarray, np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray, np.ndarray]]


class TrackSettings(NamedTuple):
    """The tracker's parameters (``TRACK.*`` and the evaluation's ``TEST.IN_VIS_THRE``, ``OKS_THRE``);
    the defaults are default_config.yaml's."""
    similarity: str = "flow_oks"
    similarity_thre: float = 0.3
    keep_frames: int = 20
    propagate_boxes: bool = True
    box_enlarge: float = 0.15
    nms_thre: float = 0.5
    min_score: float = 0.3
    in_vis_thre: float = 0.2
    oks_thre: float = 0.9
    unify_thre: float = 0.5
    propagate_joint_thre: float = 0.4
    appearance_thre: float = 0.6

    @classmethod
    def from_config(cls, cfg: Any) -> "TrackSettings":
        track = cfg.TRACK
        return cls(str(track.SIMILARITY), float(track.SIMILARITY_THRE), int(track.KEEP_FRAMES),
                   bool(track.PROPAGATE_BOXES), float(track.BOX_ENLARGE), float(track.NMS_THRE),
                   float(track.MIN_SCORE), float(cfg.TEST.IN_VIS_THRE), float(cfg.TEST.OKS_THRE),
                   float(track.UNIFY_THRE), float(track.PROPAGATE_JOINT_THRE), float(track.APPEARANCE_THRE))

    @property
    def uses_flow(self) -> bool:
        return self.propagate_boxes or self.similarity == "flow_oks"


class People(NamedTuple):
    """The tracked people of one frame, by increasing track id.

    ``track_ids`` N; ``boxes`` N×4 the boxes their poses were estimated in; ``box_scores`` N;
    ``scores`` N person scores (box score × mean confident joint score); ``poses`` N×J×3;
    ``areas`` N (pixels², as the evaluation's); ``propagated`` N: the box came from the flow.
    """
    track_ids: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray
    scores: np.ndarray
    poses: np.ndarray
    areas: np.ndarray
    propagated: np.ndarray

    @classmethod
    def empty(cls, num_joints: int = 17) -> "People":
        return cls(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0), np.zeros(0),
                   np.zeros((0, num_joints, 3)), np.zeros(0), np.zeros(0, bool))

    def take(self, index: np.ndarray) -> "People":
        return People(*(np.asarray(field)[index] for field in self))


class PoseTracker:
    """Tracks people through the frames given to :meth:`step`, in order.

    Args:
        settings: The tracker's parameters.
        estimate: The pose estimator (the network behind the evaluation's pipeline).
        flow: Optical flow of two grey frames (``src.tracking.flow.make_flow``); needed when
            ``settings.uses_flow``.
        keypoints: The network's joints (its data set type's): their OKS constants and number.
    """

    def __init__(self, settings: TrackSettings, estimate: Estimator, flow: Optional[FlowFn] = None,
                 keypoints: KeypointSet = COCO_KEYPOINTS):
        if settings.similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity '{settings.similarity}'; expected one of {SIMILARITIES}")
        if settings.uses_flow and flow is None:
            raise ValueError("flow propagation is on but no flow function was given")
        self.settings = settings
        self.keypoints = keypoints
        self._sigmas = np.asarray(keypoints.sigmas, np.float64)
        self._torso = torso_indices(keypoints.keypoint_names)
        self.estimate = estimate
        self.flow = flow if settings.uses_flow else None
        #: People whose box came from propagation, and seconds spent in flow, poses and matching (the flow's:
        #: computing it in :meth:`step`; :func:`src.tracking.pipeline.track_frames` adds its own, or its waits).
        self.num_propagated = 0
        self.seconds = {"flow": 0.0, "poses": 0.0, "matching": 0.0}
        self._frame_flow = FrameFlow(self.flow) if self.flow is not None else None
        self._previous: Optional[People] = None
        #: Per remembered frame: track ids M, poses M×J×3 (moved to the current frame), areas M.
        self._memory: Deque[Tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=max(1, settings.keep_frames))
        #: Per remembered track: the frame it was last seen in and its pose there; its velocity [dx, dy] a frame.
        self._last_seen: Dict[int, Tuple[int, np.ndarray]] = {}
        self._velocity: Dict[int, np.ndarray] = {}
        #: Per remembered track: its torso colours (a histogram) and its area when last seen.
        self._colours: Dict[int, np.ndarray] = {}
        self._areas: Dict[int, float] = {}
        self._frame = 0
        self._next_id = 0

    def step(self, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> People:
        """Tracks the people of the next frame.

        Args:
            image: H×W×3 uint8 BGR frame.
            boxes: N×4 detector boxes of this frame (N may be 0).
            scores: N detector scores.

        Returns:
            The frame's people with their track ids.
        """
        start = time.perf_counter()
        flow = self._frame_flow(image) if self._frame_flow is not None else None
        self.seconds["flow"] += time.perf_counter() - start
        return self.track(image, boxes, scores, flow)

    def track(self, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray, flow: Optional[np.ndarray]) -> People:
        """:meth:`step` with the frame's flow computed elsewhere: from the previous frame given to this one, as
        :class:`src.tracking.flow.FrameFlow` of :attr:`flow` computes it over the frames in order (None for the
        first frame, or when the tracker uses no flow). A video is tracked either by :meth:`step` or by this
        alone, not by both."""
        s = self.settings
        if flow is not None and s.similarity == "flow_oks":
            self._move_memory(flow)
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        propagated = np.zeros(len(boxes), bool)
        if s.propagate_boxes and flow is not None and self._previous is not None and len(self._previous.poses):
            moved = propagate(self._previous.poses, flow)
            extra, kept = joint_boxes(moved, s.propagate_joint_thre, s.box_enlarge, image.shape[1::-1])
            boxes = np.concatenate([boxes, extra])
            scores = np.concatenate([scores, self._previous.box_scores[kept]])
            propagated = np.concatenate([propagated, np.ones(len(extra), bool)])
        keep = box_nms(boxes, scores, s.nms_thre, secondary=propagated)
        start = time.perf_counter()
        people = self._estimate(image, boxes[keep], scores[keep], propagated[keep])
        self.seconds["poses"] += time.perf_counter() - start
        start = time.perf_counter()
        people = self._unify(people)
        colours = colour_histograms(image, people.poses, self._torso, s.in_vis_thre) if s.appearance_thre > 0 else None
        people = people._replace(track_ids=self._assign(people, colours))
        self._remember(people, colours)
        self.seconds["matching"] += time.perf_counter() - start
        self._previous = people
        self._frame += 1
        self.num_propagated += int(people.propagated.sum())
        return people.take(np.argsort(people.track_ids, kind="stable"))

    def _move_memory(self, flow: np.ndarray) -> None:
        """Moves the remembered poses to the current frame.

        The poses of tracks seen in the previous frame move along the flow (the paper's). Those of
        tracks not seen there (hidden, or missed) move by their track's own velocity: where a person
        is hidden, the flow at their joints is that of whoever hides them, which in a crossing walks
        the other way.
        """
        seen = set() if self._previous is None else set(self._previous.track_ids.tolist())
        moved: Deque[Tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=self._memory.maxlen)
        for ids, poses, areas in self._memory:
            visible = np.array([track_id in seen for track_id in ids.tolist()], bool)
            poses = np.array(poses)
            if visible.any():
                poses[visible] = propagate(poses[visible], flow)
            for k in np.flatnonzero(~visible):
                poses[k, :, :2] += self._velocity.get(int(ids[k]), 0.0)
            moved.append((ids, poses, areas))
        self._memory = moved

    def _estimate(self, image: np.ndarray, boxes: np.ndarray, box_scores: np.ndarray,
                  propagated: np.ndarray) -> People:
        """Poses in the boxes; people scoring under ``min_score`` dropped."""
        if len(boxes) == 0:
            return People.empty(len(self.keypoints.keypoint_names))
        poses, scores, areas = self.estimate(image, boxes, box_scores)
        good = np.flatnonzero(np.asarray(scores) >= self.settings.min_score)
        return People(np.full(len(good), -1, np.int64), boxes[good], box_scores[good],
                      np.asarray(scores, np.float64)[good], np.asarray(poses, np.float64)[good],
                      np.asarray(areas, np.float64)[good], propagated[good])

    def _unify(self, people: People) -> People:
        """One person per pose: propagated people whose poses agree with a detected (or higher-scored
        propagated) person's (OKS over ``unify_thre``) dropped; then the evaluation's OKS-NMS."""
        s = self.settings
        kept = unify_people(people.poses, people.scores, people.areas, people.propagated, s.unify_thre, s.in_vis_thre,
                            self._sigmas)
        people = people.take(np.sort(kept))
        kept = oks_nms_arrays(people.poses, people.scores, people.areas, s.oks_thre, self._sigmas)
        return people.take(np.sort(kept))

    def _assign(self, people: People, colours: Optional[np.ndarray]) -> np.ndarray:
        """Track ids: greedy matching against the remembered poses, then (``colours``: the people's N×B torso
        histograms) against the lost tracks' colours; new ids for the rest."""
        if self._memory:
            ids = np.concatenate([entry[0] for entry in self._memory])
            poses = np.concatenate([entry[1] for entry in self._memory])
            areas = np.concatenate([entry[2] for entry in self._memory])
        else:
            ids, poses, areas = np.zeros(0, np.int64), np.zeros((0,) + people.poses.shape[1:]), np.zeros(0)
        similarity = pose_similarity(people.poses, people.areas, poses, areas, self.settings.in_vis_thre,
                                     self._sigmas)
        track_ids = greedy_match(similarity, ids, self.settings.similarity_thre)
        if colours is not None:
            self._match_colours(people, colours, track_ids)
        for i in np.flatnonzero(track_ids < 0):
            track_ids[i] = self._next_id
            self._next_id += 1
        return track_ids

    def _match_colours(self, people: People, colours: np.ndarray, track_ids: np.ndarray) -> None:
        """The second stage: people without an id (``track_ids`` -1, filled in place) against the lost tracks'
        colours, greedily down to ``appearance_thre``, between people of similar areas."""
        unmatched = np.flatnonzero(track_ids < 0)
        seen = set(track_ids.tolist()) | (set() if self._previous is None else set(self._previous.track_ids.tolist()))
        lost = np.array([k for k in self._colours if k not in seen], np.int64)
        if not len(unmatched) or not len(lost):
            return
        similarity = colour_similarity(colours[unmatched], np.stack([self._colours[k] for k in lost]))
        ratio = people.areas[unmatched, None] / np.array([self._areas[k] for k in lost])[None, :]
        similarity[(ratio > AREA_RATIO) | (ratio < 1 / AREA_RATIO)] = 0.0
        track_ids[unmatched] = greedy_match(similarity, lost, self.settings.appearance_thre)

    def _remember(self, people: People, colours: Optional[np.ndarray] = None) -> None:
        """Adds the frame's people to the memory and updates the velocities of the tracks seen again.

        A track's velocity is the mean displacement a frame of the joints confident in both its last
        and its new pose, averaged half and half with the velocity before. Tracks that fell out of
        the memory (not seen for ``keep_frames`` frames) are forgotten.
        """
        thre = self.settings.in_vis_thre
        for track_id, pose in zip(people.track_ids.tolist(), people.poses):
            if track_id in self._last_seen:
                frame, before = self._last_seen[track_id]
                both = (pose[:, 2] > thre) & (before[:, 2] > thre)
                if both.any():
                    step = (pose[both, :2] - before[both, :2]).mean(axis=0) / (self._frame - frame)
                    previous = self._velocity.get(track_id)
                    self._velocity[track_id] = step if previous is None else (previous + step) / 2
            self._last_seen[track_id] = (self._frame, pose)
        if colours is not None:
            clear = clear_view(people.boxes) & ~people.propagated & ~np.isnan(colours).any(axis=1)
            for i in np.flatnonzero(clear):
                track_id = int(people.track_ids[i])
                before = self._colours.get(track_id)
                self._colours[track_id] = colours[i] if before is None else before + COLOUR_UPDATE * (
                    colours[i] - before)
            for track_id, area in zip(people.track_ids.tolist(), people.areas):
                self._areas[track_id] = float(area)
        self._memory.append((people.track_ids, people.poses, people.areas))
        remembered = {int(track_id) for ids, _, _ in self._memory for track_id in ids}
        for track_id in [k for k in self._last_seen if k not in remembered]:
            del self._last_seen[track_id]
            self._velocity.pop(track_id, None)
            self._colours.pop(track_id, None)
            self._areas.pop(track_id, None)
