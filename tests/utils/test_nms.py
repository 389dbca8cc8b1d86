"""OKS and OKS-NMS (src/utils/nms.py) against hand-computed values and a plain greedy loop."""
import math

import numpy as np
import pytest

from src.utils import nms
from src.utils.nms import oks_iou, oks_nms, oks_nms_arrays, oks_nms_per_image, pairwise_oks
from bench.reference import loop_oks_iou, loop_oks_nms


# --- crowded images ------------------------------------------------------------------------------

def crowded_image(rng, num_people):
    """A few people, each detected many times with jittered poses, tied scores and varied areas."""
    num_base = rng.integers(1, 5)
    base = rng.uniform(0, 400, size=(num_base, 17, 2))
    which = rng.integers(0, num_base, size=num_people)
    jitter = rng.normal(0, rng.choice([0.5, 2.0, 8.0], size=(num_people, 1, 1)), size=(num_people, 17, 2))
    xy = base[which] + jitter
    conf = rng.random((num_people, 17)) * (rng.random((num_people, 17)) > 0.3)  # some joints unseen
    kpts = np.concatenate([xy, conf[..., None]], axis=2).astype(np.float32)
    twins = rng.random(num_people) < 0.1  # exact copies of the first detection: OKS exactly 1
    kpts[twins] = kpts[0]
    scores = np.round(rng.random(num_people), 1)  # coarse, so many ties
    areas = rng.uniform(500, 40000, size=num_people)
    return kpts, scores, areas


def _db(kpts, scores, areas):
    return [{'keypoints': k, 'score': s, 'area': a} for k, s, a in zip(kpts, scores, areas)]


# --- tests ---------------------------------------------------------------------------------------

def test_oks_hand_computed():
    g = np.zeros((17, 3))
    g[:, 2] = 1.0
    d = g.copy()
    d[0, :2] = [3.0, 4.0]  # 5 pixels off on joint 0
    sigmas = np.full(17, 0.1)
    # e = 25 / (2·0.1)² / ((100 + 100)/2 + eps) / 2 = 3.125 on joint 0, 0 elsewhere.
    expected = (16 + math.exp(-3.125)) / 17
    np.testing.assert_allclose(oks_iou(g, d[None], 100.0, [100.0], sigmas), [expected], rtol=1e-12)
    # Default sigmas are COCO's: joint 0 has σ = 0.026.
    e0 = 25 / (2 * 0.026) ** 2 / 100 / 2
    np.testing.assert_allclose(oks_iou(g.ravel(), d.reshape(1, -1), 100.0, [100.0]),
                               [(16 + math.exp(-e0)) / 17], rtol=1e-9)


def test_oks_in_vis_thre_counts_joints_visible_in_both():
    g = np.zeros((17, 3))
    d = np.zeros((17, 3))
    d[:, 0] = 10.0
    g[:5, 2] = 0.9          # joints 0-4 confident in g
    d[3:8, 2] = 0.9         # joints 3-7 confident in d: only 3 and 4 count
    sigmas = np.full(17, 0.1)
    e = 100 / 0.04 / (400 + np.spacing(1)) / 2
    np.testing.assert_allclose(oks_iou(g, d[None], 400.0, [400.0], sigmas, in_vis_thre=0.5),
                               [math.exp(-e)], rtol=1e-12)
    # No joint confident in g: nothing counted, OKS 0 (the reference's `and` would have counted d's five).
    g[:, 2] = 0.0
    assert oks_iou(g, d[None], 400.0, [400.0], sigmas, in_vis_thre=0.5)[0] == 0.0


@pytest.mark.parametrize("in_vis_thre", [None, 0.3])
def test_oks_iou_matches_loop(in_vis_thre):
    rng = np.random.default_rng(0)
    kpts, _, areas = crowded_image(rng, 30)
    got = oks_iou(kpts[0], kpts[1:].reshape(29, -1), areas[0], areas[1:], in_vis_thre=in_vis_thre)
    ref = loop_oks_iou(kpts[0].ravel(), kpts[1:].reshape(29, -1), areas[0], areas[1:], in_vis_thre=in_vis_thre)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)


def test_pairwise_oks_rows_and_blocks(monkeypatch):
    rng = np.random.default_rng(1)
    kpts, _, areas = crowded_image(rng, 25)
    full = pairwise_oks(kpts, areas, in_vis_thre=0.2)
    for i in range(25):
        np.testing.assert_allclose(full[i], oks_iou(kpts[i], kpts, areas[i], areas, in_vis_thre=0.2), rtol=1e-12)
    monkeypatch.setattr(nms, "_BLOCK_ELEMENTS", 17 * 25 * 3)  # three rows per block
    np.testing.assert_array_equal(pairwise_oks(kpts, areas, in_vis_thre=0.2), full)


@pytest.mark.parametrize("thresh", [0.9, 0.5])
@pytest.mark.parametrize("in_vis_thre", [None, 0.2])
def test_oks_nms_matches_greedy_loop(thresh, in_vis_thre):
    rng = np.random.default_rng(int(thresh * 10) + (in_vis_thre is None))
    suppressed_any = False
    for _ in range(300):
        kpts, scores, areas = crowded_image(rng, int(rng.integers(1, 60)))
        db = _db(kpts, scores, areas)
        keep = oks_nms(db, thresh, in_vis_thre=in_vis_thre)
        assert keep == loop_oks_nms(db, thresh, in_vis_thre=in_vis_thre)
        assert all(isinstance(k, int) for k in keep)
        suppressed_any |= len(keep) < len(db)
    assert suppressed_any


def test_oks_nms_edge_cases():
    assert oks_nms([], 0.9) == []
    kpts = np.zeros((3, 17, 3), dtype=np.float32)
    kpts[1, :, 0] = 1000.0  # far from the others
    db = _db(kpts, [0.2, 0.5, 0.9], [1000.0] * 3)
    # 2 (best) suppresses its identical twin 0; 1 is elsewhere.
    assert oks_nms(db, 0.9) == [2, 1]
    # OKS is at most 1, so a threshold of 1 keeps everything.
    assert sorted(oks_nms(db, 1.0)) == [0, 1, 2]


def test_oks_nms_per_image_matches_per_image_calls():
    rng = np.random.default_rng(4)
    parts, ids = [], []
    for image_id in rng.permutation(40) + 1000:
        part = crowded_image(rng, int(rng.integers(1, 30)))
        parts.append(part)
        ids += [image_id] * len(part[0])
    kpts = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    areas = np.concatenate([p[2] for p in parts])
    ids = np.array(ids)
    shuffle = rng.permutation(len(ids))
    kpts, scores, areas, ids = kpts[shuffle], scores[shuffle], areas[shuffle], ids[shuffle]

    kept = oks_nms_per_image(kpts, scores, areas, ids, 0.9)
    expected = []
    _, first = np.unique(ids, return_index=True)
    for image_id in ids[np.sort(first)]:
        members = np.flatnonzero(ids == image_id)
        expected += members[loop_oks_nms(_db(kpts[members], scores[members], areas[members]), 0.9)].tolist()
    assert kept.tolist() == expected
    assert oks_nms_per_image(kpts[:0], scores[:0], areas[:0], ids[:0], 0.9).size == 0


def test_oks_nms_arrays_returns_the_greedy_loops_indices_in_score_order():
    rng = np.random.default_rng(2)
    kpts, scores, areas = crowded_image(rng, 20)
    keep = oks_nms_arrays(kpts, scores, areas, 0.9)
    assert keep.tolist() == loop_oks_nms(_db(kpts, scores, areas), 0.9)
    assert 0 < len(keep) < 20 and np.all(np.diff(scores[keep]) <= 0)


def test_sigmas_must_match_joints():
    with pytest.raises(ValueError, match="sigmas"):
        oks_iou(np.zeros((5, 3)), np.zeros((2, 5, 3)), 1.0, [1.0, 1.0])
