"""Drawing the synthetic scenes: backgrounds, clutter, figures with faces and clothes, occluders.

Each person is drawn on the image and, with one label per body part, on a part-label map
(:data:`PARTS_PER_PERSON` labels per person, from ``1 + index * PARTS_PER_PERSON``; occluders from
:data:`OCCLUDER_LABEL`): :mod:`src.synth.labels` reads the labels back the way an annotator would.
Faces (eyes, nose) are drawn only on the side turned to the camera, hair covers the back of the
head, and the far-side limbs are drawn darker and behind the torso. Limb colours are deliberately
*not* tied to the body side: flip augmentation and the flip test assume a mirrored person is a
plausible person with left and right swapped, which a fixed left-colour would contradict.
"""
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from src.synth.body import (HAIR, HEAD, L_FARM, L_FOOT, L_HAND, L_SHIN, L_THIGH, L_UARM, NECK, R_FARM, R_FOOT,
                            R_HAND, R_SHIN, R_THIGH, R_UARM, TORSO, rotation, sample_body)

_SHIFT = 4  # cv2 drawing: coordinates in 1/16 pixel
_ONE = 1 << _SHIFT
#: Labels of the part-label map per person (person i's parts from 1 + i * PARTS_PER_PERSON).
PARTS_PER_PERSON = 16
#: Occluder k's label in the part-label map.
OCCLUDER_LABEL = 200

#: A face point is turned to the camera when its direction from the head centre has at least this
#: depth component (nose, eyes, ears): ears stay visible from the front, eyes need a frontal view.
FACING_MIN = np.array([0.05, 0.05, 0.05, -0.45, -0.45])

_SKIN_TONES = np.array([[170, 190, 240], [140, 170, 230], [110, 150, 210], [80, 120, 180],
                        [60, 90, 140], [40, 60, 100]], dtype=np.float64)  # BGR


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


def render_person(rng: np.random.Generator, img: np.ndarray, label: np.ndarray, index: int,
                   size_px: float, origin: np.ndarray) -> Dict[str, np.ndarray]:
    """Draws one random figure; returns what :func:`draw_person` returns."""
    body = sample_body(rng)
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
        ``torso_depth``, ``facing`` (5 face points turned to the camera), ``head_ends`` 2×2 (the
        head's bottom and top) and ``head_box`` ``[x1, y1, x2, y2]`` (the head's circle).
    """
    yaw_rot = rotation("y", yaw)
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

    base = 1 + index * PARTS_PER_PERSON
    head2, head_depth = proj(body["head"][None])
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
            _draw_face(img, joints2[:5], face_cam[:, 2] > FACING_MIN, head_r, colour)
    return {"joints": joints2, "depth": jdepth, "torso_depth": torso_depth[0],
            "facing": face_cam[:, 2] > FACING_MIN, "head_ends": proj(body["head_ends"])[0],
            "head_box": np.concatenate([head2[0] - head_r, head2[0] + head_r])}


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
        label[sel] = OCCLUDER_LABEL + k
