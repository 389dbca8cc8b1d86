"""Synthetic videos with ground truth for pose tracking.

``python -m src.synthetic_video --output DIR [--num_sequences 4] [--num_frames 60] [--seed 0]
[--scenario walk|crossing|family]`` writes::

    DIR/frames/seq000/000001.jpg ...          (file name: the frame's image id, from 1)
    DIR/annotations/seq000.json               (COCO keypoints; each person has a ``track_id``)
    DIR/detections/seq000.json                (COCO detection results, as the still set's)
    DIR/posetrack18/seq000.json               (with --posetrack: PoseTrack 2018 ground truth)
    DIR/posetrack18_detections.json           (with --posetrack: all detections, by PoseTrack image id)

Each sequence shows 2-4 figures of :mod:`src.synthetic` (its body model, colours, renderer and
annotator, animated here) walking across a static cluttered background at different depths: they
swing their arms and legs, some stop and turn round to walk back, they cross, and the nearer one
hides the farther; a pole or box in the foreground may hide them too. Labels are those of the
still set (visibility from the rendered part map, ``area`` the visible pixels); a figure keeps its
``track_id`` in every frame it is annotated in. Frames have the still set's sensor noise and JPEG
compression (the noise drawn anew per frame).

The detections are the still set's jittered boxes (with its misses, duplicates and false alarms)
with extra misses of the kind a video detector has: runs of a few frames in which a person is not
found, and people mostly hidden (fewer than ``HIDDEN_JOINTS`` joints seen) usually missed.

``--scenario crossing`` makes a harder test of identities instead (sequences ``crossNNN``): two
people of nearly the same size walk towards each other and cross half-way through the sequence,
the nearer hiding the farther; the detector finds everyone it can see (jittered boxes, no random
misses or duplicates) but misses anyone with fewer than ``CROSSING_HIDDEN_JOINTS`` joints seen
(the farther one for 0-5 frames of the crossing: 3 in ``cross000`` of seed 0), and adds one false
box per frame.

``--scenario family`` writes a family of seeded scenes that test identities through occlusion
(sequences ``famNNN_<kind>``, sequence ``k`` of the kind ``FAMILY_KINDS[k mod 7]``), each drawn
afresh from the seed: crossings slow (``cross_slow``, long occlusions), fast (``cross_fast``) and of
small people (``cross_small``); a near person overtaking a slower far one walking the same way
(``overtake``, the longest occlusions); a crossing whose detector also misses people in runs of 2-6
frames (``missed``); groups of 3-4 people crossing at different depths and times (``group``); and a
person who walks out of the frame and comes back 2-8 frames later while another walks past
(``reenter``). Speeds, sizes and look are drawn within each kind's ranges (:data:`FAMILY_KINDS`).
The detector is the crossing scenario's (people with fewer than ``CROSSING_HIDDEN_JOINTS`` joints
seen missed, one false box a frame) plus each kind's runs of misses.

With ``--posetrack`` the labels are also written in PoseTrack 2018's format
(:mod:`src.data.posetrack_files`): the nose and body joints are the COCO labels' (the ears left
unlabelled, as PoseTrack's), ``head_bottom`` and ``head_top`` the bottom and top of the figure's head
along its axis and ``bbox_head`` the box of its head's circle (both from the body model); a joint is
labelled when it is in the frame, hidden or not, as PoseTrack labels them. People left without
keypoint labels (too small) become ignore regions (their boxes). The detections of all sequences are also
written in one file whose ``image_id`` are the PoseTrack files' (:func:`posetrack_image_id`), the form in
which PoseTrack's evaluation takes person boxes (``DATASET.DATASET posetrack``, ``TEST.COCO_BBOX_FILE``):
``DATASET.ROOT DIR`` with the split ``posetrack18`` is then a PoseTrack data set (docs/posetrack.md).

Everything is a pure function of ``(seed, sequence, frame)``.
"""
import logging
import os
import sys
import time
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from src.constants import PERSON_CATEGORY
from src.data.annotations import write_annotations
from src.data.detections import read_detections, write_detections
from src.data.posetrack_files import PoseFrame, PoseVideo, write_video
from src.data.posetrack_joints import POSETRACK_KEYPOINT_NAMES, UNLABELLED_JOINTS, posetrack_from_coco
from src.synth.body import build_body, sample_body_params
from src.synth.labels import annotate_people, categories, detector_boxes
from src.synth.render import clutter, draw_occluder, draw_person, sample_look, texture
from src.utils.cli import run_cli, setup_logging, tool_parser

logger = logging.getLogger(__name__)

FRAMES_DIR, ANNOTATIONS_DIR, DETECTIONS_DIR, POSETRACK_DIR = "frames", "annotations", "detections", "posetrack18"
POSETRACK_DETECTIONS = "posetrack18_detections.json"
JPEG_QUALITY = 90
#: A detector miss run starts with this probability per person and frame and lasts 2-6 frames.
MISS_RUN_START = 0.03
MISS_RUN_FRAMES = (2, 6)
#: People with fewer joints seen (visibility 2) than this are missed with probability HIDDEN_MISS.
HIDDEN_JOINTS, HIDDEN_MISS = 4, 0.7
#: A turn round takes this many frames: the figure slows to a stop, faces the camera, walks back.
TURN_FRAMES = 14
#: ``--scenario`` choices: people walking at random, two people crossing (a test of identities), or the family
#: of crossing and group scenes.
SCENARIOS = ("walk", "crossing", "family")
#: Crossing scenario: the nearer figure's height (share of the frame height), the farther one's
#: height relative to it, the walking speed (figure heights per frame), the score range of the false
#: box added to every frame and its height (share of the frame height).
CROSSING_NEAR_SIZE, CROSSING_FAR_SIZE = (0.55, 0.6), (0.85, 0.92)
CROSSING_SPEED = 0.022
#: The crossing scenario's detector misses people with fewer joints seen than this.
CROSSING_HIDDEN_JOINTS = 6
CROSSING_FALSE_SCORE, CROSSING_FALSE_HEIGHT = (0.3, 0.6), (0.3, 0.6)
#: The family's kinds of scene: walking speed range (figure heights per frame), the nearer figure's height
#: range (share of the frame height) and the probability a frame starts a run of detector misses per person.
FAMILY_KINDS: Dict[str, Dict[str, Tuple[float, float]]] = {
    "cross_slow": {"speed": (0.008, 0.014), "size": (0.45, 0.6), "miss": (0.0, 0.0)},
    "cross_fast": {"speed": (0.03, 0.045), "size": (0.45, 0.6), "miss": (0.0, 0.0)},
    "cross_small": {"speed": (0.015, 0.03), "size": (0.22, 0.32), "miss": (0.0, 0.0)},
    "overtake": {"speed": (0.012, 0.02), "size": (0.45, 0.6), "miss": (0.0, 0.0)},
    "missed": {"speed": (0.015, 0.03), "size": (0.4, 0.6), "miss": (0.08, 0.15)},
    "group": {"speed": (0.012, 0.03), "size": (0.3, 0.6), "miss": (0.0, 0.04)},
    "reenter": {"speed": (0.05, 0.07), "size": (0.35, 0.55), "miss": (0.0, 0.04)},
}
#: How far (share of the figure's height) the re-entering figure walks beyond the frame's edge before turning, and
#: where it starts (share of the frame's width from the edge it walks to).
REENTER_BEYOND, REENTER_START = 0.4, (0.15, 0.3)
#: Gait amplitudes in degrees: hip flexion, extra knee bend in the swing, arm swing, arm abduction.
HIP_SWING, KNEE_SWING, ARM_SWING, ARM_ABDUCTION = 24.0, 40.0, 22.0, 9.0


class Walker(NamedTuple):
    """One figure of a sequence: its look, its path and its walk.

    ``x`` T pelvis x (image pixels) per frame; ``yaw`` T body turns (degrees); ``phase`` T gait
    phases (radians); ``pace`` T in [0, 1] (0 standing, 1 walking); ``feet_y`` the ground line;
    ``size_px`` the figure's height in pixels.
    """
    proportions: Dict[str, object]
    colours: Dict[int, np.ndarray]
    size_px: float
    feet_y: float
    tilt: float
    x: np.ndarray
    yaw: np.ndarray
    phase: np.ndarray
    pace: np.ndarray


def walking_pose(proportions: Dict[str, object], phase: float, pace: float) -> Dict[str, object]:
    """Body numbers (as :func:`src.synth.body.sample_body_params`) of a walk at gait ``phase``.

    The legs swing in opposition (hip flexion ``±HIP_SWING sin(phase)``, the knee bent while the
    leg swings forward), the arms against the legs; ``pace`` scales the swing (0: standing still).
    """
    s, c = np.sin(phase), np.cos(phase)
    legs, arms = [], []
    for side in (1.0, -1.0):   # left, right
        legs.append((side * HIP_SWING * pace * s, 4.0 + KNEE_SWING * pace * max(0.0, side * c), 3.0))
        swing = -side * ARM_SWING * pace * s   # forward positive
        elev = float(np.hypot(swing, ARM_ABDUCTION))
        azim = float(np.degrees(np.arctan2(swing, ARM_ABDUCTION)))
        arms.append((elev, azim, 15.0 + 25.0 * pace * max(0.0, swing) / ARM_SWING, np.zeros(3)))
    return {**proportions, "lean_z": 0.0, "lean_x": 4.0 + 4.0 * pace, "head_yaw": 0.0, "head_pitch": 0.0,
            "arms": arms, "legs": legs}


def _plan_walker(rng: np.random.Generator, num_frames: int, width: int, height: int,
                 direction: float) -> Walker:
    """A figure's look and path: it walks in ``direction`` (+1: right) and passes the middle
    part of the frame about half-way through."""
    params = sample_body_params(rng)
    proportions = {k: params[k] for k in ("length", "girth", "head_r")}
    colours = sample_look(rng)
    size_frac = rng.uniform(0.35, 0.7)
    size_px = size_frac * height
    # A camera at eye level: the heads line up, nearer (larger) figures stand lower.
    feet_y = height * (0.12 + size_frac + rng.normal(0, 0.03))
    speed = size_px * rng.uniform(0.015, 0.03)   # walking pace at 25 frames/s
    walk_yaw = rng.uniform(35, 60)
    turn_at = int(rng.integers(num_frames // 4, num_frames // 2)) if rng.random() < 0.4 else num_frames
    pace = np.ones(num_frames)
    heading = np.full(num_frames, direction)
    yaw = np.full(num_frames, direction * walk_yaw)
    for t in range(turn_at, min(num_frames, turn_at + TURN_FRAMES)):
        u = (t - turn_at + 1) / TURN_FRAMES   # (0, 1]: slow down, face the camera, turn on
        pace[t] = abs(1.0 - 2.0 * u)
        heading[t] = direction if u < 0.5 else -direction
        yaw[t] = direction * walk_yaw * np.cos(np.pi * u)
    after = turn_at + TURN_FRAMES
    heading[after:], yaw[after:] = -direction, -direction * walk_yaw
    steps = heading * pace * speed
    x_mid = width * rng.uniform(0.3, 0.7)
    x = x_mid + np.cumsum(steps) - np.sum(steps[:num_frames // 2])
    # A stride (two steps) is about 0.8 body heights.
    phase = rng.uniform(0, 2 * np.pi) + np.cumsum(np.abs(steps)) * (2 * np.pi / (0.8 * size_px))
    return Walker(proportions, colours, size_px, feet_y, rng.normal(0, 2), x, yaw, phase, pace)


def _plan_crossing(rng: np.random.Generator, num_frames: int, width: int, height: int) -> List[Walker]:
    """Two figures of nearly the same size walking towards each other at the same pace, straight on,
    level at the middle of the frame half-way through the sequence: the first (nearer) from the
    left, the second from the right."""
    near = rng.uniform(*CROSSING_NEAR_SIZE)
    walkers = []
    for direction, size_frac in ((1.0, near), (-1.0, near * rng.uniform(*CROSSING_FAR_SIZE))):
        params = sample_body_params(rng)
        proportions = {k: params[k] for k in ("length", "girth", "head_r")}
        colours = sample_look(rng)
        size_px = size_frac * height
        steps = np.arange(num_frames) - num_frames // 2
        x = width / 2 + direction * CROSSING_SPEED * size_px * steps
        phase = rng.uniform(0, 2 * np.pi) + np.abs(x - x[0]) * (2 * np.pi / (0.8 * size_px))
        walkers.append(Walker(proportions, colours, size_px, height * (0.12 + size_frac), rng.normal(0, 2), x,
                              np.full(num_frames, direction * rng.uniform(35, 60)), phase, np.ones(num_frames)))
    return walkers


def _figure(rng: np.random.Generator, size_frac: float, height: int, x: np.ndarray,
            heading: np.ndarray) -> Walker:
    """A figure of height ``size_frac`` (share of the frame) at ``x`` (T pelvis x) facing ``heading`` (T, ±1),
    its gait phase following the distance walked."""
    params = sample_body_params(rng)
    proportions = {k: params[k] for k in ("length", "girth", "head_r")}
    colours = sample_look(rng)
    size_px = size_frac * height
    walked = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(x)))])
    phase = rng.uniform(0, 2 * np.pi) + walked * (2 * np.pi / (0.8 * size_px))
    pace = np.concatenate([[1.0], (np.abs(np.diff(x)) > 0).astype(np.float64)])
    return Walker(proportions, colours, size_px, height * (0.12 + size_frac), rng.normal(0, 2), x,
                  heading * rng.uniform(35, 60), phase, pace)


def _plan_family(rng: np.random.Generator, kind: str, num_frames: int, width: int, height: int) -> List[Walker]:
    """The figures of one family scene of ``kind`` (:data:`FAMILY_KINDS`; see the module docstring)."""
    ranges = FAMILY_KINDS[kind]
    t = np.arange(num_frames, dtype=np.float64)
    middle = num_frames // 2
    near = rng.uniform(*ranges["size"])
    speed = rng.uniform(*ranges["speed"])
    if kind == "overtake":      # both walk the same way; the nearer, faster one draws level half-way
        first = rng.choice([-1.0, 1.0])
        far = near * rng.uniform(0.8, 0.92)
        fast, slow = speed * near * height * 2.0, speed * far * height * 0.7
        return [_figure(rng, size, height, width / 2 + first * v * (t - middle), np.full(num_frames, first))
                for size, v in ((near, fast), (far, slow))]
    if kind == "group":         # 3-4 people at different depths, each pair crossing at its own time
        walkers = []
        first = rng.choice([-1.0, 1.0])
        for k in range(int(rng.integers(3, 5))):
            size = rng.uniform(*ranges["size"])
            direction = first * (-1) ** k
            level = rng.uniform(0.35, 0.65) * num_frames
            v = rng.uniform(*ranges["speed"]) * size * height
            walkers.append(_figure(rng, size, height, width * rng.uniform(0.4, 0.6) + direction * v * (t - level),
                                   np.full(num_frames, direction)))
        return walkers
    if kind == "reenter":       # one walks out of the frame, turns beyond its edge, walks back in; one walks past
        direction = rng.choice([-1.0, 1.0])
        v = speed * near * height
        edge = width + REENTER_BEYOND * near * height if direction > 0 else -REENTER_BEYOND * near * height
        start = (width if direction > 0 else 0.0) - direction * width * rng.uniform(*REENTER_START)
        out_at = int(abs(edge - start) / v)
        gap = int(rng.integers(0, 5))
        x = np.where(t <= out_at, start + direction * v * t,
                     np.where(t <= out_at + gap, edge, edge - direction * v * (t - out_at - gap)))
        heading = np.where(t <= out_at, direction, -direction)
        other = near * rng.uniform(0.6, 0.9)
        passer = _figure(rng, other, height, width / 2 - direction * speed * other * height * (t - middle),
                         np.full(num_frames, -direction))
        return [_figure(rng, near, height, x, heading), passer]
    # crossings: two people walking towards each other, level at the middle half-way
    far = near * rng.uniform(*CROSSING_FAR_SIZE)
    return [_figure(rng, size, height, width / 2 + direction * speed * size * height * (t - middle),
                    np.full(num_frames, direction)) for direction, size in ((1.0, near), (-1.0, far))]


def family_kind(sequence: int) -> str:
    """The kind of scene of the family's sequence ``sequence``: the kinds in turn."""
    return tuple(FAMILY_KINDS)[sequence % len(FAMILY_KINDS)]


def _walk_detections(rng: np.random.Generator, anns: Sequence[Dict[str, object]], miss_left: np.ndarray,
                     width: int, height: int) -> List[Dict[str, object]]:
    """The walking scenario's detector: the still set's boxes (:func:`src.synth.labels.detector_boxes`)
    of the people not missed; a miss run starts with ``MISS_RUN_START`` a frame, and people with fewer
    than ``HIDDEN_JOINTS`` joints seen are missed with ``HIDDEN_MISS``. ``miss_left`` (per track: frames
    of the current miss run left) is updated in place."""
    found = []
    for ann in anns:
        k = ann["track_id"]
        if miss_left[k] == 0 and rng.random() < MISS_RUN_START:
            miss_left[k] = rng.integers(MISS_RUN_FRAMES[0], MISS_RUN_FRAMES[1] + 1)
        seen = sum(1 for v in ann["keypoints"][2::3] if v == 2)
        hidden_miss = seen < HIDDEN_JOINTS and rng.random() < HIDDEN_MISS
        if miss_left[k] == 0 and not hidden_miss:
            found.append(ann)
    miss_left[:] = np.maximum(miss_left - 1, 0)
    return detector_boxes(rng, found, width, height)


def _crossing_detections(rng: np.random.Generator, anns: Sequence[Dict[str, object]], width: int,
                         height: int, missed: Sequence[int] = ()) -> List[Dict[str, object]]:
    """The crossing scenario's detector: a jittered box of everyone with at least
    ``CROSSING_HIDDEN_JOINTS`` joints seen (but the tracks ``missed``), and one false box somewhere in the frame."""
    dets = []
    for ann in anns:
        if ann["track_id"] in missed:
            continue
        if sum(1 for v in ann["keypoints"][2::3] if v == 2) >= CROSSING_HIDDEN_JOINTS:
            x, y, w, h = ann["bbox"]
            cx, cy = x + w / 2 + rng.normal(0, 0.04 * w), y + h / 2 + rng.normal(0, 0.04 * h)
            w, h = w * np.exp(rng.normal(0, 0.07)), h * np.exp(rng.normal(0, 0.07))
            dets.append(([cx - w / 2, cy - h / 2, w, h], float(np.clip(rng.normal(0.9, 0.05), 0.6, 1.0))))
    h = rng.uniform(*CROSSING_FALSE_HEIGHT) * height
    w = h * rng.uniform(0.3, 0.5)
    dets.append(([rng.uniform(0, width - w), rng.uniform(0, height - h), w, h], rng.uniform(*CROSSING_FALSE_SCORE)))
    out = []
    for (x, y, w, h), score in dets:
        x0, y0 = np.clip([x, y], 0, [width - 1, height - 1])
        x1, y1 = np.clip([x + w, y + h], 0, [width - 1, height - 1])
        out.append({"bbox": [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)], "score": round(score, 4)})
    return out


class Frame(NamedTuple):
    """One rendered frame: the image, its annotations (with ``track_id``), its detections, and per
    annotation its head (``head_ends`` 2×2 bottom and top, ``head_box`` ``[x1, y1, x2, y2]``)."""
    image: np.ndarray
    annotations: List[Dict[str, object]]
    detections: List[Dict[str, object]]
    heads: List[Dict[str, np.ndarray]] = []


def render_sequence(seed: int, sequence: int, num_frames: int, width: int = 480,
                    height: int = 360, scenario: str = "walk") -> Iterator[Frame]:
    """The frames of one sequence of ``scenario`` (:data:`SCENARIOS`); annotations and detections
    lack ``id``/``image_id``."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario '{scenario}'; expected one of {SCENARIOS}")
    crossing = scenario != "walk"
    rng = np.random.default_rng([seed, sequence] + ([SCENARIOS.index(scenario)] if crossing else []))
    background = np.clip(texture(rng, width, height), 0, 255).astype(np.uint8)
    clutter(rng, background)
    occluder_at = None
    miss_start = 0.0
    if scenario == "family":
        kind = family_kind(sequence)
        walkers = _plan_family(rng, kind, num_frames, width, height)
        miss_start = rng.uniform(*FAMILY_KINDS[kind]["miss"])
    elif crossing:
        walkers = _plan_crossing(rng, num_frames, width, height)
    else:
        # Directions alternate, so that figures cross.
        first = rng.choice([-1.0, 1.0])
        walkers = [_plan_walker(rng, num_frames, width, height, first * (-1) ** k)
                   for k in range(int(rng.integers(2, 5)))]
        if rng.random() < 0.5:
            occluder_at = np.array([width * rng.uniform(0.3, 0.7), height * rng.uniform(0.4, 0.6)])
    depth_order = np.argsort([w.size_px for w in walkers], kind="stable")   # far (small) first
    occluder_seed = int(rng.integers(2 ** 31))
    gain, bias, noise_sigma = rng.uniform(0.8, 1.15), rng.uniform(-20, 20), rng.uniform(1, 4)
    miss_left = np.zeros(len(walkers), dtype=np.int64)

    for t in range(num_frames):
        frame_rng = np.random.default_rng([seed, sequence, t])
        img = background.copy()
        label = np.zeros((height, width), np.uint8)
        people, track_ids = [], []
        for k in depth_order:
            w = walkers[k]
            if not -0.5 * w.size_px < w.x[t] < width + 0.5 * w.size_px:
                continue
            body = build_body(walking_pose(w.proportions, w.phase[t], w.pace[t]))
            origin = np.array([w.x[t], w.feet_y - 0.5 * w.size_px])
            people.append(draw_person(img, label, len(people), body, w.colours, w.yaw[t], w.tilt, w.size_px,
                                      origin))
            track_ids.append(int(k))
        if occluder_at is not None:
            # The same generator state every frame: the same occluder, standing still.
            draw_occluder(np.random.default_rng(occluder_seed), img, label, 0, occluder_at)

        anns, heads = [], []
        for ann, track_id, person in zip(annotate_people(label, people), track_ids, people):
            if ann is not None:
                anns.append({**ann, "track_id": track_id})
                heads.append({"head_ends": person["head_ends"], "head_box": person["head_box"]})
        if crossing:
            missed = []
            for k in range(len(walkers)):      # runs of misses (the family's kinds): 2-6 frames each
                if miss_left[k] == 0 and frame_rng.random() < miss_start:
                    miss_left[k] = frame_rng.integers(MISS_RUN_FRAMES[0], MISS_RUN_FRAMES[1] + 1)
                if miss_left[k]:
                    missed.append(k)
            miss_left[:] = np.maximum(miss_left - 1, 0)
            dets = _crossing_detections(frame_rng, anns, width, height, missed)
        else:
            dets = _walk_detections(frame_rng, anns, miss_left, width, height)

        noise = np.empty((height, width, 3), np.float32)
        cv2.setRNGSeed(int(frame_rng.integers(2 ** 31)))
        cv2.randn(noise, (0.0, 0.0, 0.0), (noise_sigma,) * 3)
        image = np.clip(img.astype(np.float32) * gain + bias + noise, 0, 255).astype(np.uint8)
        yield Frame(image, anns, dets, heads)


def sequence_name(sequence: int, scenario: str = "walk") -> str:
    """``seqNNN`` (walking), ``crossNNN`` (crossing) or ``famNNN_<kind>`` (the family)."""
    if scenario == "family":
        return f"fam{sequence:03d}_{family_kind(sequence)}"
    return f"{'cross' if scenario == 'crossing' else 'seq'}{sequence:03d}"


def posetrack_image_id(sequence: int, frame_index: int) -> int:
    """The image id of a frame (from 0) in the PoseTrack files, as PoseTrack's: 1, the sequence in 6 digits,
    the frame in 4."""
    return 10 ** 10 + sequence * 10 ** 4 + frame_index


def posetrack_frame(frame: Frame, file_name: str, image_id: int, width: int, height: int,
                    **extra: object) -> PoseFrame:
    """A frame's labels as PoseTrack 2018 ground truth (see the module docstring)."""
    regions = tuple(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)
                    for x, y, w, h in (ann["bbox"] for ann in frame.annotations if ann["num_keypoints"] == 0))
    labelled = [k for k, ann in enumerate(frame.annotations) if ann["num_keypoints"] > 0]
    if not labelled:
        return PoseFrame.empty(file_name, image_id, True, **extra)._replace(ignore_regions=regions)
    poses = posetrack_from_coco(np.array([frame.annotations[k]["keypoints"] for k in labelled]), head=False)
    ends = np.stack([frame.heads[k]["head_ends"] for k in labelled])   # P×2×2: head bottom, head top
    poses[:, 1:3, :2] = ends
    present = poses[:, :, 2] > 0
    present[:, 1:3] = np.all((ends >= 0) & (ends <= [width - 1, height - 1]), axis=2)
    present[:, [POSETRACK_KEYPOINT_NAMES.index(name) for name in UNLABELLED_JOINTS]] = False
    poses[:, :, 2] = 1.0
    return PoseFrame(file_name, image_id, True, np.array([frame.annotations[k]["track_id"] for k in labelled]),
                     poses, present, np.stack([frame.heads[k]["head_box"] for k in labelled]),
                     np.array([frame.annotations[k]["bbox"] for k in labelled], np.float64),
                     np.full(len(labelled), np.nan), regions, dict(extra))


def write_sequence(output: str, seed: int, sequence: int, num_frames: int, width: int = 480,
                   height: int = 360, posetrack: bool = False, scenario: str = "walk") -> Tuple[str, int]:
    """Writes one sequence's frames, annotation file and detection file, and with ``posetrack`` its
    PoseTrack 2018 ground truth (image ids as PoseTrack's: 1, the sequence in 6 digits, the frame in 4).

    Returns:
        ``(frame folder, number of person annotations)``.
    """
    name = sequence_name(sequence, scenario)
    folder = os.path.join(output, FRAMES_DIR, name)
    os.makedirs(folder, exist_ok=True)
    images, annotations, detections, posetrack_frames = [], [], [], []
    for t, frame in enumerate(render_sequence(seed, sequence, num_frames, width, height, scenario)):
        image_id = t + 1
        file_name = f"{image_id:06d}.jpg"
        if not cv2.imwrite(os.path.join(folder, file_name), frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"cannot write {os.path.join(folder, file_name)}")
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                       "frame_index": t})
        for ann in frame.annotations:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
        detections.extend({"image_id": image_id, "file_name": file_name, "category_id": PERSON_CATEGORY, **d}
                          for d in frame.detections)
        if posetrack:
            posetrack_frames.append(posetrack_frame(
                frame, f"{FRAMES_DIR}/{name}/{file_name}", posetrack_image_id(sequence, t), width, height,
                frame_id=posetrack_image_id(sequence, t), vid_id=f"{sequence:06d}", nframes=num_frames))
    doc = {"info": {"description": "Synthetic person keypoint video (src/synthetic_video.py)", "seed": seed,
                    "sequence": name, "scenario": scenario},
           "licenses": [], "images": images, "annotations": annotations, "categories": categories()}
    for kind in (ANNOTATIONS_DIR, DETECTIONS_DIR):
        os.makedirs(os.path.join(output, kind), exist_ok=True)
    write_annotations(os.path.join(output, ANNOTATIONS_DIR, name + ".json"), doc)
    write_detections(os.path.join(output, DETECTIONS_DIR, name + ".json"), detections)
    if posetrack:
        write_video(os.path.join(output, POSETRACK_DIR, name + ".json"),
                    PoseVideo(name + ".json", 2018, posetrack_frames))
    return folder, len(annotations)


def generate_videos(output: str, num_sequences: int = 4, num_frames: int = 60, seed: int = 0,
                    width: int = 480, height: int = 360, posetrack: bool = False,
                    scenario: str = "walk") -> List[str]:
    """Writes ``num_sequences`` sequences of ``scenario`` under ``output`` (with ``posetrack``, also in
    PoseTrack 2018's format); returns their frame folders."""
    folders = []
    for sequence in range(num_sequences):
        start = time.time()
        folder, count = write_sequence(output, seed, sequence, num_frames, width, height, posetrack, scenario)
        logger.info("%s: %d frames, %d person annotations (%.1f s)", folder, num_frames, count,
                    time.time() - start)
        folders.append(folder)
    if posetrack:
        write_posetrack_detections(output, num_sequences, scenario)
    return folders


def write_posetrack_detections(output: str, num_sequences: int, scenario: str = "walk") -> str:
    """Writes the detections of the ``scenario``'s sequence files (``image_id`` the frame's number from 1)
    to one file with the PoseTrack files' image ids; returns its path."""
    dets = []
    for sequence in range(num_sequences):
        path = os.path.join(output, DETECTIONS_DIR, sequence_name(sequence, scenario) + ".json")
        for det in read_detections(path):
            dets.append({"image_id": posetrack_image_id(sequence, int(det["image_id"]) - 1),
                         "category_id": PERSON_CATEGORY,
                         "bbox": det["bbox"], "score": det["score"]})
    path = os.path.join(output, POSETRACK_DETECTIONS)
    write_detections(path, dets)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.synthetic_video", __doc__)
    parser.add_argument("--output", required=True, help="folder to write frames/, annotations/, detections/ to")
    parser.add_argument("--num_sequences", type=int, default=4, help="sequences (default 4)")
    parser.add_argument("--num_frames", type=int, default=60, help="frames per sequence (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files")
    parser.add_argument("--width", type=int, default=480, help="frame width (default 480)")
    parser.add_argument("--height", type=int, default=360, help="frame height (default 360)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="walk",
                        help="walk: 2-4 people walking at random (default); crossing: two people crossing, one "
                             "hidden for a few frames, one false detector box per frame (sequences crossNNN); "
                             "family: crossings, overtakings, groups, missed detections, people leaving and "
                             "re-entering, the kinds in turn (sequences famNNN_<kind>)")
    parser.add_argument("--posetrack", action="store_true",
                        help="also write the labels as PoseTrack 2018 ground truth to DIR/posetrack18/ and the "
                             f"detections by PoseTrack image id to DIR/{POSETRACK_DETECTIONS}")
    args = parser.parse_args(argv)
    setup_logging()
    if args.num_sequences < 1 or args.num_frames < 1:
        parser.error("--num_sequences and --num_frames must be >= 1")
    if args.width < 64 or args.height < 64:
        parser.error("--width and --height must be >= 64")
    generate_videos(args.output, args.num_sequences, args.num_frames, args.seed, args.width, args.height,
                    args.posetrack, args.scenario)
    logger.info("videos written to %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
