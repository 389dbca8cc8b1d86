"""The synthetic people's 3-D body model: random poses and builds, and the figure they make.

A figure is a torso box, a head sphere, limbs as thick segments, hands and feet, in the body frame
(x: the person's left, y: up, z: forward; height about 1), with the 17 COCO joints where the parts
meet. Everything is drawn from a NumPy generator, so a figure is a pure function of its seed.
"""
from typing import Dict, List, Tuple

import numpy as np

from src.constants import NUM_COCO_JOINTS

# Body parts (one label each in the part map). Limbs are segments, torso a convex polygon,
# head/hands circles.
HEAD, NECK, TORSO, L_UARM, L_FARM, R_UARM, R_FARM, L_THIGH, L_SHIN, R_THIGH, R_SHIN, \
    L_FOOT, R_FOOT, L_HAND, R_HAND = range(15)
HAIR = 15  # a colour key of sample_look only: hair is drawn with the head's label

#: Parts that meet at each COCO joint: the joint is visible when one of them is on top there.
JOINT_PARTS: Tuple[Tuple[int, ...], ...] = (
    (HEAD,), (HEAD,), (HEAD,), (HEAD,), (HEAD,),
    (TORSO, L_UARM), (TORSO, R_UARM), (L_UARM, L_FARM), (R_UARM, R_FARM),
    (L_FARM, L_HAND), (R_FARM, R_HAND), (TORSO, L_THIGH), (TORSO, R_THIGH),
    (L_THIGH, L_SHIN), (R_THIGH, R_SHIN), (L_SHIN, L_FOOT), (R_SHIN, R_FOOT),
)


def rotation(axis: str, deg: float) -> np.ndarray:
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
        ``head``/``hair`` centres, and ``head_ends`` 2×3: the bottom and top of the head.
    """
    length, girth = params["length"], params["girth"]
    pelvis = np.array([0.0, 0.5, 0.0])
    lean = rotation("z", params["lean_z"]) @ rotation("x", params["lean_x"])
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

    head_rot = lean @ rotation("y", params["head_yaw"]) @ rotation("x", params["head_pitch"])
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
        thigh = rotation("z", side * splay) @ rotation("x", -flex) @ np.array([0.0, -1.0, 0.0])
        joints[kn] = joints[hp] + 0.245 * length * thigh
        shin = _bend(thigh, np.array([0.0, 0.0, -1.0]), knee)
        joints[an] = joints[kn] + 0.245 * length * shin
        toe = joints[an] + 0.075 * _bend(shin, np.array([0.0, 0.0, 1.0]), 80)
        prims.append((th, "seg", joints[[hp, kn]], 0.08 * girth))
        prims.append((sn, "seg", joints[[kn, an]], 0.06 * girth))
        prims.append((ft, "seg", np.array([joints[an], toe]), 0.04 * girth))
    # The head's bottom (where the neck meets it) and top along its own up axis: PoseTrack's head joints.
    head_ends = head + np.outer([-1.0, 1.0], head_rot @ np.array([0.0, head_r, 0.0]))
    return {"joints": joints, "prims": prims, "face": face, "head": head, "head_r": head_r, "hair": hair,
            "head_ends": head_ends}


def sample_body(rng: np.random.Generator) -> Dict[str, object]:
    """One random figure: :func:`build_body` of :func:`sample_body_params`."""
    return build_body(sample_body_params(rng))
