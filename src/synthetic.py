"""A synthetic person-keypoint dataset in COCO format.

``python -m src.synthetic --output DIR [--num_train N] [--num_val M] [--seed S]`` writes::

    DIR/train2017/*.jpg, DIR/val2017/*.jpg                 (file name: 12-digit image id)
    DIR/annotations/person_keypoints_{train,val}2017.json
    DIR/person_detection_results/COCO_val2017_detections_AP_H_56_person.json

Each image shows 1-4 articulated figures drawn from a small 3-D body model
(torso box, head sphere, limbs as thick segments, random joint angles, body
turn, in-plane tilt, size and position) over a textured, cluttered background,
with occluding objects, sensor noise and JPEG compression. People overlap and
leave the frame.

Labels are made the way an annotator would, from what was rendered:

* visibility 2: the pixel under the joint belongs to a body part that meets at
  that joint (and, for face points and for shoulders/hips seen on the far side
  of the torso, the point faces the camera); 1: labelled but occluded, by
  another person, an occluder or the figure itself; 0: outside the image
  (written as ``0, 0, 0`` like COCO).
* ``area``: the person's visible pixel count (what COCO's segmentation area is);
  ``bbox``: the tight box around those pixels. People with fewer than
  ``MIN_AREA`` visible pixels are not annotated; those under ``MIN_LABELLED_AREA``,
  and those with every joint outside the image, are annotated with no keypoint
  labels (``num_keypoints`` 0), as COCO does for small people.

Left and right are told apart the way they are in photographs: by which way the
figure faces. Faces (eyes, nose) are drawn only on the side turned to the camera,
hair covers the back of the head, and the far-side limbs are drawn darker and
behind the torso. Limb colours are deliberately *not* tied to the body side:
flip augmentation and the flip test assume a mirrored person is a plausible
person with left and right swapped, which a fixed left-colour would contradict.

Everything is a pure function of ``(seed, split, index)``, so the output is
identical for a given seed whatever the number of worker processes.
"""
import json
import logging
import os
import sys
import time
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from src.constants import COCO_KEYPOINT_NAMES, COCO_SKELETON, NUM_COCO_JOINTS
from src.model_utils.cli import run_cli, setup_logging, tool_parser

logger = logging.getLogger(__name__)

SPLITS: Dict[str, str] = {"train": "train2017", "val": "val2017"}
DETECTION_FILE = "COCO_val2017_detections_AP_H_56_person.json"
#: People with fewer visible pixels are left unannotated (COCO skips tiny, hidden people too).
MIN_AREA = 100
#: People with fewer visible pixels keep their box but no keypoint labels (``num_keypoints`` 0),
#: as COCO left small people unlabelled.
MIN_LABELLED_AREA = 600
#: Image ids: train images count from 1, val images from this offset, so ids never clash.
VAL_ID_OFFSET = 1_000_000

_SHIFT = 4  # cv2 drawing: coordinates in 1/16 pixel
_ONE = 1 << _SHIFT

# Body parts (one label each in the part map). Limbs are segments, torso a convex polygon,
# head/hands circles.
HEAD, NECK, TORSO, L_UARM, L_FARM, R_UARM, R_FARM, L_THIGH, L_SHIN, R_THIGH, R_SHIN, \
    L_FOOT, R_FOOT, L_HAND, R_HAND = range(15)
HAIR = 15  # a colour key of sample_look only: hair is drawn with the head's label
_PARTS_PER_PERSON = 16
_OCCLUDER_LABEL = 200

#: Parts that meet at each COCO joint: the joint is visible when one of them is on top there.
JOINT_PARTS: Tuple[Tuple[int, ...], ...] = (
    (HEAD,), (HEAD,), (HEAD,), (HEAD,), (HEAD,),
    (TORSO, L_UARM), (TORSO, R_UARM), (L_UARM, L_FARM), (R_UARM, R_FARM),
    (L_FARM, L_HAND), (R_FARM, R_HAND), (TORSO, L_THIGH), (TORSO, R_THIGH),
    (L_THIGH, L_SHIN), (R_THIGH, R_SHIN), (L_SHIN, L_FOOT), (R_SHIN, R_FOOT),
)

#: A face point is turned to the camera when its direction from the head centre has at least this
#: depth component (nose, eyes, ears): ears stay visible from the front, eyes need a frontal view.
_FACING_MIN = np.array([0.05, 0.05, 0.05, -0.45, -0.45])

_SKIN_TONES = np.array([[170, 190, 240], [140, 170, 230], [110, 150, 210], [80, 120, 180],
                        [60, 90, 140], [40, 60, 100]], dtype=np.float64)  # BGR


# ----------------------------------------------------------------------------- body model

def _rot(axis: str, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-9)


def _bend(d: np.ndarray, toward: np.ndarray, deg: float) -> np.ndarray:
    """Turns unit vector ``d`` by ``deg`` degrees toward ``toward`` (in their common plane)."""
    n = toward - np.dot(toward, d) * d
    if np.linalg.norm(n) < 1e-6:
        n = np.cross(d, [1.0, 0.0, 0.0])
    n = _unit(n)
    a = np.deg2rad(deg)
    return np.cos(a) * d + np.sin(a) * n


def sample_body_params(rng: np.random.Generator) -> Dict[str, object]:
    """A random pose and build: the numbers :func:`build_body` turns into a figure.

    Returns:
        ``length``, ``girth`` (proportions, about 1), ``lean_z``, ``lean_x`` (trunk roll and
        forward lean), ``head_yaw``, ``head_pitch`` (degrees), ``head_r`` (head radius),
        ``arms``: per side (left, right) ``(elevation from hanging, azimuth from sideways to
        forward, forearm bend, all in degrees; forearm direction noise, 3)``, and ``legs``:
        per side ``(hip flexion, knee bend, splay)`` in degrees.
    """
    length = rng.uniform(0.92, 1.08)
    girth = rng.uniform(0.8, 1.25)
    sitting = rng.random() < 0.15
    lean_z = rng.normal(0, 6)
    lean_x = float(np.clip(rng.normal(5, 12), -25, 60))
    head_yaw = float(np.clip(rng.normal(0, 25), -75, 75))
    head_pitch = rng.normal(0, 12)
    head_r = 0.062 * rng.uniform(0.9, 1.1)
    arms = []
    for _ in range(2):
        elev = rng.uniform(5, 45) if rng.random() < 0.8 else rng.uniform(5, 170)
        azim = rng.uniform(-40, 110)
        noise = rng.normal(0, 0.5, 3)
        arms.append((elev, azim, rng.uniform(0, 100), noise))
    legs = []
    for _ in range(2):
        if sitting:
            flex, knee = rng.uniform(60, 100), rng.uniform(60, 110)
        else:
            flex, knee = float(np.clip(rng.normal(0, 18), -35, 70)), rng.uniform(0, 40)
        legs.append((flex, knee, rng.uniform(-5, 25)))
    return {"length": length, "girth": girth, "lean_z": lean_z, "lean_x": lean_x, "head_yaw": head_yaw,
            "head_pitch": head_pitch, "head_r": head_r, "arms": arms, "legs": legs}


def build_body(params: Dict[str, object]) -> Dict[str, object]:
    """The figure of :func:`sample_body_params`' numbers, in the body frame (x: the person's left,
    y: up, z: forward; height ≈ 1).

    Returns:
        ``joints`` 17×3 (COCO order), ``prims``: list of ``(part, kind, points N×3, size)``
        where kind is ``seg`` (size: thickness), ``poly`` (convex hull) or ``circle``
        (size: radius), ``face``: face-point directions 5×3 (for the facing test), and
        ``head``/``hair`` centres.
    """
    length, girth = params["length"], params["girth"]
    pelvis = np.array([0.0, 0.5, 0.0])
    lean = _rot("z", params["lean_z"]) @ _rot("x", params["lean_x"])
    neck = pelvis + lean @ np.array([0.0, 0.29 * length, 0.0])
    joints = np.zeros((NUM_COCO_JOINTS, 3))
    joints[5] = neck + lean @ np.array([0.13 * girth, -0.02, 0.0])
    joints[6] = neck + lean @ np.array([-0.13 * girth, -0.02, 0.0])
    joints[11] = pelvis + np.array([0.085 * girth, -0.03, 0.0])
    joints[12] = pelvis + np.array([-0.085 * girth, -0.03, 0.0])

    prims: List[Tuple[int, str, np.ndarray, float]] = []
    sx, sz, hx, hz = 0.155 * girth, 0.065 * girth, 0.125 * girth, 0.075 * girth
    corners = [neck + lean @ np.array([x, -0.03, z]) for x in (-sx, sx) for z in (-sz, sz)]
    corners += [pelvis + np.array([x, -0.07, z]) for x in (-hx, hx) for z in (-hz, hz)]
    prims.append((TORSO, "poly", np.array(corners), 0.0))

    head_rot = lean @ _rot("y", params["head_yaw"]) @ _rot("x", params["head_pitch"])
    head_r = params["head_r"]
    head = neck + lean @ np.array([0.0, 0.035, 0.0]) + head_rot @ np.array([0.0, 0.075, 0.012])
    prims.append((NECK, "seg", np.array([neck - lean @ np.array([0, 0.03, 0]), head]), 0.05 * girth))
    prims.append((HEAD, "circle", head[None], head_r))
    # Face points on the head sphere: nose, eyes, ears (left = +x).
    face = np.array([[0.0, -0.2, 1.1], [0.36, 0.18, 0.92], [-0.36, 0.18, 0.92],
                     [1.0, 0.0, -0.12], [-1.0, 0.0, -0.12]]) @ head_rot.T
    joints[:5] = head + head_r * face
    hair = head + head_r * (head_rot @ np.array([0.0, 0.32, -0.45]))

    forward = lean @ _unit(np.array([0.0, 0.25, 1.0]))
    for (side, (sh, el, wr, ua, fa, hand)), (elev, azim, bend, noise) in zip(
            ((1, (5, 7, 9, L_UARM, L_FARM, L_HAND)), (-1, (6, 8, 10, R_UARM, R_FARM, R_HAND))), params["arms"]):
        azim = np.deg2rad(azim)
        e = np.deg2rad(elev)
        upper = lean @ np.array([side * np.cos(azim) * np.sin(e), -np.cos(e), np.sin(azim) * np.sin(e)])
        joints[el] = joints[sh] + 0.175 * length * upper
        fore = _bend(upper, forward + noise, bend)
        joints[wr] = joints[el] + 0.15 * length * fore
        prims.append((ua, "seg", joints[[sh, el]], 0.055 * girth))
        prims.append((fa, "seg", joints[[el, wr]], 0.045 * girth))
        prims.append((hand, "circle", (joints[wr] + 0.03 * fore)[None], 0.028 * girth))

    for (side, (hp, kn, an, th, sn, ft)), (flex, knee, splay) in zip(
            ((1, (11, 13, 15, L_THIGH, L_SHIN, L_FOOT)), (-1, (12, 14, 16, R_THIGH, R_SHIN, R_FOOT))),
            params["legs"]):
        thigh = _rot("z", side * splay) @ _rot("x", -flex) @ np.array([0.0, -1.0, 0.0])
        joints[kn] = joints[hp] + 0.245 * length * thigh
        shin = _bend(thigh, np.array([0.0, 0.0, -1.0]), knee)
        joints[an] = joints[kn] + 0.245 * length * shin
        toe = joints[an] + 0.075 * _bend(shin, np.array([0.0, 0.0, 1.0]), 80)
        prims.append((th, "seg", joints[[hp, kn]], 0.08 * girth))
        prims.append((sn, "seg", joints[[kn, an]], 0.06 * girth))
        prims.append((ft, "seg", np.array([joints[an], toe]), 0.04 * girth))
    return {"joints": joints, "prims": prims, "face": face, "head": head, "head_r": head_r, "hair": hair}


def _sample_body(rng: np.random.Generator) -> Dict[str, object]:
    """One random figure: :func:`build_body` of :func:`sample_body_params`."""
    return build_body(sample_body_params(rng))


# ----------------------------------------------------------------------------- drawing helpers

def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(pts * _ONE).astype(np.int32)


def _draw(img: np.ndarray, label: np.ndarray, kind: str, pts2: np.ndarray, size: float,
          colour: Tuple[float, ...], outline: Tuple[float, ...], lab: int) -> None:
    """Draws one primitive on the colour image (anti-aliased, outlined) and the label map."""
    if kind == "seg":
        p, q = [tuple(int(v) for v in pt) for pt in _fixed(pts2)]
        t = max(1, int(round(size)))
        cv2.line(img, p, q, outline, t + 2, cv2.LINE_AA, _SHIFT)
        cv2.line(img, p, q, colour, t, cv2.LINE_AA, _SHIFT)
        cv2.line(label, p, q, lab, t + 2, cv2.LINE_8, _SHIFT)
    elif kind == "circle":
        c = tuple(int(v) for v in _fixed(pts2[0]))
        r = max(1, int(round(size * _ONE)))
        cv2.circle(img, c, r + _ONE, outline, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, c, r, colour, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(label, c, r + _ONE, lab, -1, cv2.LINE_8, _SHIFT)
    else:
        hull = cv2.convexHull(_fixed(pts2))
        cv2.fillConvexPoly(img, hull, colour, cv2.LINE_AA, _SHIFT)
        cv2.polylines(img, [hull], True, outline, 2, cv2.LINE_AA, _SHIFT)
        cv2.fillConvexPoly(label, hull, lab, cv2.LINE_8, _SHIFT)
        cv2.polylines(label, [hull], True, lab, 2, cv2.LINE_8, _SHIFT)


def _random_colour(rng: np.random.Generator, sat: Tuple[float, float] = (60, 255),
                   val: Tuple[float, float] = (50, 255)) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*sat), rng.uniform(*val)]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64)


def texture(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A w×h×3 float32 texture: colour gradient, blotches, and maybe stripes."""
    grid = rng.uniform(0, 255, (2, 2, 3)).astype(np.float32)
    img = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
    cell = int(rng.integers(8, 64))
    blotch = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2, 3)).astype(np.float32)
    img += rng.uniform(10, 70) * cv2.resize(blotch, (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.4:
        period = rng.uniform(4, 40)
        ang = rng.uniform(0, np.pi)
        xs = (np.arange(w, dtype=np.float32) * np.cos(ang))[None, :]
        ys = (np.arange(h, dtype=np.float32) * np.sin(ang))[:, None]
        img += (rng.uniform(10, 50) * np.sin((xs + ys) * (2 * np.pi / period)))[..., None]
    return img


def clutter(rng: np.random.Generator, img: np.ndarray) -> None:
    """Background distractors: limb-like sticks, blobs and boxes."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(2, 9))):
        colour = tuple(float(c) for c in (_SKIN_TONES[rng.integers(len(_SKIN_TONES))]
                                          if rng.random() < 0.2 else _random_colour(rng)))
        kind = rng.random()
        if kind < 0.15:
            p = _fixed(rng.uniform(0, 1, 2) * (w, h))
            q = _fixed(rng.uniform(0, 1, 2) * (w, h) * 0.3 + p / _ONE * 0.7)
            cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q), colour,
                     int(rng.integers(2, 18)), cv2.LINE_AA, _SHIFT)
        elif kind < 0.75:
            c = tuple(int(v) for v in _fixed(rng.uniform(0, 1, 2) * (w, h)))
            cv2.circle(img, c, int(rng.uniform(3, 40) * _ONE), colour, -1, cv2.LINE_AA, _SHIFT)
        else:
            x, y = rng.uniform(0, 1, 2) * (w, h)
            bw, bh = rng.uniform(5, 0.3 * w), rng.uniform(5, 0.3 * h)
            cv2.rectangle(img, (int(x), int(y)), (int(x + bw), int(y + bh)), colour, -1)


# ----------------------------------------------------------------------------- scene

def _project(points: np.ndarray, yaw_rot: np.ndarray, roll: np.ndarray, size_px: float,
             origin: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Body-frame points → (image points N×2, depth N: larger is nearer the camera)."""
    cam = points @ yaw_rot.T
    flat = np.stack([cam[:, 0], -cam[:, 1]], axis=1) * size_px
    return flat @ roll.T + origin, cam[:, 2]


def sample_look(rng: np.random.Generator) -> Dict[int, np.ndarray]:
    """Random clothes, skin and hair: the BGR colour of each body part."""
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.1)
    shirt, trousers = _random_colour(rng), _random_colour(rng, val=(30, 220))
    hair = _random_colour(rng, sat=(0, 150), val=(10, 110))
    shoes = _random_colour(rng, val=(10, 90))
    long_sleeves, long_legs = rng.random() < 0.5, rng.random() < 0.7
    return {HEAD: skin, NECK: skin, TORSO: shirt, L_UARM: shirt, R_UARM: shirt,
            L_FARM: shirt if long_sleeves else skin, R_FARM: shirt if long_sleeves else skin,
            L_HAND: skin, R_HAND: skin, L_THIGH: trousers, R_THIGH: trousers,
            L_SHIN: trousers if long_legs else skin, R_SHIN: trousers if long_legs else skin,
            L_FOOT: shoes, R_FOOT: shoes, HAIR: hair}


def _render_person(rng: np.random.Generator, img: np.ndarray, label: np.ndarray, index: int,
                   size_px: float, origin: np.ndarray) -> Dict[str, np.ndarray]:
    """Draws one random figure; returns what :func:`draw_person` returns."""
    body = _sample_body(rng)
    r = rng.random()
    yaw = rng.normal(0, 25) if r < 0.65 else rng.normal(180, 25) if r < 0.9 else rng.uniform(0, 360)
    tilt = rng.uniform(-180, 180) if rng.random() < 0.01 else rng.normal(0, 6)
    return draw_person(img, label, index, body, sample_look(rng), yaw, tilt, size_px, origin)


def draw_person(img: np.ndarray, label: np.ndarray, index: int, body: Dict[str, object],
                colours: Dict[int, np.ndarray], yaw: float, tilt: float, size_px: float,
                origin: np.ndarray) -> Dict[str, np.ndarray]:
    """Draws one figure on the image and (as person ``index``) on the part-label map.

    Args:
        img, label: H×W×3 uint8 image and H×W uint8 part labels, drawn on in place.
        index: The figure's number in the image (its labels are ``1 + index * 16 + part``).
        body: A figure of :func:`build_body`; colours: of :func:`sample_look`.
        yaw: Body turn in degrees (0: facing the camera, 90: facing image right).
        tilt: In-plane tilt in degrees.
        size_px: Figure height in pixels; origin: ``[x, y]`` of the pelvis in image pixels.

    Returns:
        ``joints`` 17×2 in image pixels, ``depth`` 17 (larger is nearer the camera),
        ``torso_depth`` and ``facing`` (5 face points turned to the camera).
    """
    yaw_rot = _rot("y", yaw)
    c, s = np.cos(np.deg2rad(tilt)), np.sin(np.deg2rad(tilt))
    roll = np.array([[c, -s], [s, c]])
    # Pelvis height above the feet, so ``origin`` is the pelvis.
    centre = np.array([0.0, 0.5, 0.0])

    def proj(p):
        return _project(p - centre, yaw_rot, roll, size_px, origin)

    joints2, jdepth = proj(body["joints"])
    _, torso_depth = proj(body["prims"][0][2].mean(axis=0, keepdims=True))
    items = []
    for part, kind, pts, size in body["prims"]:
        pts2, depth = proj(pts)
        key = depth.mean()
        if part == TORSO:
            key -= 0.03  # limbs level with the torso (arms at the sides) stay in front of it
        elif part == NECK:
            key = torso_depth[0] - 0.02
        items.append((key, part, kind, pts2, size * size_px))
    items.sort(key=lambda it: it[0])

    base = 1 + index * _PARTS_PER_PERSON
    _, head_depth = proj(body["head"][None])
    hair2, hair_depth = proj(body["hair"][None])
    hair_front = hair_depth[0] > head_depth[0]  # seen from behind: hair covers the head
    hair_col = tuple(float(v) for v in colours[HAIR])
    head_r = body["head_r"] * size_px
    face_cam = body["face"] @ yaw_rot.T
    for key, part, kind, pts2, size in items:
        # Far-side parts darker: a depth cue that, unlike a left/right colour, survives mirroring.
        shade = 1.0 + 0.15 * np.clip((key - torso_depth[0]) / 0.12, -1, 1)
        colour = tuple(float(v) for v in np.clip(colours[part] * shade, 0, 255))
        outline = tuple(0.45 * v for v in colour)
        if part == HEAD and not hair_front:
            _draw(img, label, "circle", hair2, 0.95 * head_r, hair_col, hair_col, base + HEAD)
        _draw(img, label, kind, pts2, size, colour, outline, base + part)
        if part == HEAD:
            if hair_front:
                _draw(img, label, "circle", hair2, 0.9 * head_r, hair_col, hair_col, base + HEAD)
            _draw_face(img, joints2[:5], face_cam[:, 2] > _FACING_MIN, head_r, colour)
    return {"joints": joints2, "depth": jdepth, "torso_depth": torso_depth[0],
            "facing": face_cam[:, 2] > _FACING_MIN}


def _draw_face(img: np.ndarray, pts: np.ndarray, facing: np.ndarray, head_r: float,
               skin: Tuple[float, ...]) -> None:
    """Eyes (white with a dark pupil), nose (a reddish dot) and ears, where they face the camera."""
    if head_r < 3:
        return
    ear = tuple(0.7 * v for v in skin)
    for j in (3, 4):
        if facing[j]:
            cv2.circle(img, tuple(int(v) for v in _fixed(pts[j])), int(0.28 * head_r * _ONE), ear, -1,
                       cv2.LINE_AA, _SHIFT)
    for j in (1, 2):
        if facing[j]:
            c = tuple(int(v) for v in _fixed(pts[j]))
            cv2.circle(img, c, int(0.22 * head_r * _ONE), (245, 245, 245), -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(img, c, int(0.11 * head_r * _ONE), (30, 20, 10), -1, cv2.LINE_AA, _SHIFT)
    if facing[0]:
        cv2.circle(img, tuple(int(v) for v in _fixed(pts[0])), int(0.17 * head_r * _ONE),
                   (60, 60, 150), -1, cv2.LINE_AA, _SHIFT)


def draw_occluder(rng: np.random.Generator, img: np.ndarray, label: np.ndarray, k: int,
                   near: Optional[np.ndarray]) -> None:
    """A textured box, disc or pole, often placed over a person."""
    h, w = img.shape[:2]
    centre = near + rng.normal(0, 20, 2) if near is not None else rng.uniform(0, 1, 2) * (w, h)
    mask = np.zeros((h, w), np.uint8)
    kind = rng.random()
    if kind < 0.5:
        half = rng.uniform(0.05, 0.2, 2) * (w, h)
        ang = rng.normal(0, 15)
        box = cv2.boxPoints(((float(centre[0]), float(centre[1])), tuple(float(v) for v in 2 * half), ang))
        cv2.fillConvexPoly(mask, _fixed(box), 1, cv2.LINE_8, _SHIFT)
    elif kind < 0.8:
        axes = tuple(int(v) for v in rng.uniform(0.04, 0.2, 2) * (w, h))
        cv2.ellipse(mask, tuple(int(v) for v in centre), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    else:
        ang = rng.uniform(-0.4, 0.4)
        d = np.array([np.sin(ang), np.cos(ang)]) * h
        cv2.line(mask, tuple(int(v) for v in centre - d), tuple(int(v) for v in centre + d), 1,
                 int(rng.uniform(0.03, 0.1) * w))
    sel = mask.astype(bool)
    if sel.any():
        tex = texture(rng, w, h) * rng.uniform(0.4, 1.0) + _random_colour(rng) * 0.5
        img[sel] = np.clip(tex[sel], 0, 255)
        label[sel] = _OCCLUDER_LABEL + k


def _annotate(label: np.ndarray, people: List[Dict[str, np.ndarray]]) -> List[Dict[str, object]]:
    """COCO annotations (without ids) of the rendered people, from the label map."""
    return [ann for ann in annotate_people(label, people) if ann is not None]


def annotate_people(label: np.ndarray, people: List[Dict[str, np.ndarray]]) -> List[Optional[Dict[str, object]]]:
    """The COCO annotation (without ids) of each rendered person, None for one left unannotated
    (fewer than ``MIN_AREA`` visible pixels); ``people[i]`` was drawn as person ``i``."""
    h, w = label.shape
    counts = np.bincount(label.ravel(), minlength=256)
    anns: List[Optional[Dict[str, object]]] = []
    for i, person in enumerate(people):
        base = 1 + i * _PARTS_PER_PERSON
        area = int(counts[base:base + _PARTS_PER_PERSON].sum())
        if area < MIN_AREA:
            anns.append(None)
            continue
        ys, xs = np.nonzero((label >= base) & (label < base + _PARTS_PER_PERSON))
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()

        pts = person["joints"]
        inside = (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)
        xi = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
        on_top = label[yi, xi] - base
        seen = np.array([on_top[j] in JOINT_PARTS[j] for j in range(NUM_COCO_JOINTS)])
        seen[:5] &= person["facing"]
        # A shoulder or hip on the far side of the torso is hidden by it.
        far = person["depth"][[5, 6, 11, 12]] < person["torso_depth"] - 0.07
        seen[[5, 6, 11, 12]] &= ~(far & (on_top[[5, 6, 11, 12]] == TORSO))
        vis = np.where(inside, np.where(seen, 2, 1), 0)
        if area < MIN_LABELLED_AREA:
            vis[:] = 0
        kpts = np.zeros((NUM_COCO_JOINTS, 3))
        kpts[vis > 0, :2] = np.round(pts[vis > 0], 2)
        kpts[:, 2] = vis
        anns.append({
            "area": float(area),
            "bbox": [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)],
            "num_keypoints": int((vis > 0).sum()),
            "keypoints": [float(v) if k % 3 < 2 else int(v) for k, v in enumerate(kpts.ravel())],
            "iscrowd": 0,
            "category_id": 1,
        })
    return anns


def detector_boxes(rng: np.random.Generator, anns: Sequence[Dict[str, object]], w: int, h: int
                ) -> List[Dict[str, object]]:
    """Detector-like boxes: jittered ground truth (a few missed, a few duplicated) and false alarms."""
    dets = []

    def box(x, y, bw, bh):
        x0, y0 = np.clip([x, y], 0, [w - 1, h - 1])
        x1, y1 = np.clip([x + bw, y + bh], 0, [w - 1, h - 1])
        return [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)]

    for ann in anns:
        if rng.random() < 0.03:
            continue
        x, y, bw, bh = ann["bbox"]
        for score in ([float(np.clip(rng.normal(0.9, 0.08), 0.6, 1.0))]
                      + ([rng.uniform(0.1, 0.5)] if rng.random() < 0.1 else [])):
            cx, cy = x + bw / 2 + rng.normal(0, 0.04 * bw), y + bh / 2 + rng.normal(0, 0.04 * bh)
            nw, nh = bw * np.exp(rng.normal(0, 0.07)), bh * np.exp(rng.normal(0, 0.07))
            dets.append({"bbox": box(cx - nw / 2, cy - nh / 2, nw, nh), "score": round(score, 4)})
    for _ in range(rng.poisson(1.0)):
        bh = rng.uniform(0.1, 0.6) * h
        bw = bh * rng.uniform(0.3, 1.0)
        dets.append({"bbox": box(rng.uniform(-0.1, 1) * w, rng.uniform(-0.1, 1) * h, bw, bh),
                     "score": round(rng.uniform(0.02, 0.5), 4)})
    return [d for d in dets if d["bbox"][2] > 1 and d["bbox"][3] > 1]


def render_image(seed: int, split: str, index: int) -> Tuple[np.ndarray, List[Dict[str, object]],
                                                               List[Dict[str, object]]]:
    """Renders image ``index`` of ``split`` ('train' or 'val').

    Returns:
        ``(image H×W×3 uint8 BGR, annotations, detections)``; annotations and detections
        lack ids (the caller numbers them).
    """
    rng = np.random.default_rng([seed, list(SPLITS).index(split), index])
    w, h = (int(v) for v in rng.integers(320, 641, 2))
    img = texture(rng, w, h)
    img = np.clip(img, 0, 255).astype(np.uint8)
    clutter(rng, img)
    label = np.zeros((h, w), np.uint8)

    num_people = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
    num_occluders = int(rng.choice([0, 1, 2], p=[0.6, 0.3, 0.1]))
    # Draw order: people (back to front) with the occluders slotted in between.
    order = ["p"] * num_people + ["o"] * num_occluders
    rng.shuffle(order)
    people: List[Dict[str, np.ndarray]] = []
    occluders = 0
    for what in order:
        if what == "p":
            size_px = h * float(np.exp(rng.uniform(np.log(0.4), np.log(0.9))))
            if people and rng.random() < 0.25:
                prev = people[-1]["joints"][11:13].mean(axis=0)
                origin = prev + [rng.choice([-1, 1]) * rng.uniform(0.2, 0.45) * size_px,
                                 rng.normal(0, 0.1) * size_px]
            else:
                origin = np.array([rng.uniform(-0.05, 1.05) * w, rng.uniform(0.2, 0.95) * h])
            people.append(_render_person(rng, img, label, len(people), size_px, origin))
        else:
            near = None
            if people and rng.random() < 0.6:
                near = people[int(rng.integers(len(people)))]["joints"][int(rng.integers(NUM_COCO_JOINTS))]
            draw_occluder(rng, img, label, occluders, near)
            occluders += 1
    anns = _annotate(label, people)

    out = img.astype(np.float32)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.2))
    out = out * rng.uniform(0.7, 1.2) + rng.uniform(-25, 25)
    noise = np.empty_like(out)
    cv2.setRNGSeed(int(rng.integers(2 ** 31)))  # OpenCV's generator is ~5x faster than NumPy's here
    sigma = float(rng.uniform(1, 5))
    cv2.randn(noise, (0.0, 0.0, 0.0), (sigma, sigma, sigma))  # per channel: a bare float sets channel 0 only
    out += noise
    image = np.clip(out, 0, 255).astype(np.uint8)
    dets = detector_boxes(rng, anns, w, h) if split == "val" else []
    return image, anns, dets


# ----------------------------------------------------------------------------- files

def _write_one(job: Tuple[int, str, int, str, int]) -> Tuple[Dict[str, object], List, List]:
    seed, split, index, folder, image_id = job
    rng_q = np.random.default_rng([seed, 7, list(SPLITS).index(split), index])
    image, anns, dets = render_image(seed, split, index)
    name = f"{image_id:012d}.jpg"
    quality = int(rng_q.integers(60, 96))
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {name}")
    buf.tofile(os.path.join(folder, name))
    info = {"id": image_id, "file_name": name, "width": int(image.shape[1]), "height": int(image.shape[0])}
    return info, anns, dets


def categories() -> List[Dict[str, object]]:
    """The COCO person category with its 17 keypoint names and 1-based skeleton."""
    return [{"supercategory": "person", "id": 1, "name": "person",
             "keypoints": list(COCO_KEYPOINT_NAMES),
             "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}]


def write_split(output: str, split: str, num_images: int, seed: int, workers: int = 1
                ) -> Tuple[int, int]:
    """Writes the images and annotation file of one split (and the detections for val).

    Returns:
        ``(number of images, number of annotations)``.
    """
    folder = os.path.join(output, SPLITS[split])
    os.makedirs(folder, exist_ok=True)
    os.makedirs(os.path.join(output, "annotations"), exist_ok=True)
    first_id = VAL_ID_OFFSET + 1 if split == "val" else 1
    jobs = [(seed, split, i, folder, first_id + i) for i in range(num_images)]
    images, annotations, detections = [], [], []
    step = max(1, num_images // 10)
    start = time.time()

    def collect(results):
        for k, (info, anns, dets) in enumerate(results, 1):
            images.append(info)
            for ann in anns:
                annotations.append({"id": len(annotations) + 1 + (VAL_ID_OFFSET if split == "val" else 0),
                                    "image_id": info["id"], **ann})
            detections.extend({"image_id": info["id"], "category_id": 1, **d} for d in dets)
            if k % step == 0 or k == num_images:
                logger.info("%s: %d/%d images (%.1f s)", SPLITS[split], k, num_images, time.time() - start)

    if workers > 1 and num_images > 1:
        with Pool(workers) as pool:
            collect(pool.imap(_write_one, jobs, chunksize=4))
    else:
        collect(map(_write_one, jobs))

    doc = {"info": {"description": "Synthetic person keypoints (src/synthetic.py)", "version": "1.0",
                    "seed": seed},
           "licenses": [], "images": images, "annotations": annotations, "categories": categories()}
    _dump(doc, os.path.join(output, "annotations", f"person_keypoints_{SPLITS[split]}.json"))
    if split == "val":
        _dump(detections, os.path.join(output, "person_detection_results", DETECTION_FILE))
    return len(images), len(annotations)


def _dump(obj: object, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"))


def generate(output: str, num_train: int = 1000, num_val: int = 200, seed: int = 0,
             workers: Optional[int] = None) -> None:
    """Writes the whole dataset under ``output`` (see the module docstring)."""
    workers = workers or min(4, os.cpu_count() or 1)
    for split, n in (("train", num_train), ("val", num_val)):
        n_img, n_ann = write_split(output, split, n, seed, workers)
        logger.info("%s: wrote %d images, %d person annotations", SPLITS[split], n_img, n_ann)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.synthetic", __doc__)
    parser.add_argument("--output", required=True, help="dataset root to write (DATASET.ROOT)")
    parser.add_argument("--num_train", type=int, default=1000, help="training images (default 1000)")
    parser.add_argument("--num_val", type=int, default=200, help="validation images (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes (default: up to 4); the output does not depend on it")
    args = parser.parse_args(argv)
    setup_logging()
    if args.num_train < 0 or args.num_val < 0:
        parser.error("--num_train and --num_val must be >= 0")
    start = time.time()
    generate(args.output, args.num_train, args.num_val, args.seed, args.workers or None)
    logger.info("synthetic dataset written to %s in %.1f s", args.output, time.time() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
