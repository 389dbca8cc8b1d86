"""Matching people to tracks (src/tracking/matching.py): greedy, best pair first; OKS similarity."""
import numpy as np
import pytest

from src.constants import COCO_SIGMAS
from src.tracking.matching import greedy_match, pose_similarity, unify_people
from tests.tracking.poses import person


def test_greedy_match_takes_the_best_pair_first():
    similarity = np.array([[0.9, 0.8, 0.0],
                           [0.85, 0.1, 0.7],
                           [0.0, 0.2, 0.25]])
    # Greedy: (0, track 5) first; person 1's best remaining is track 9 at 0.7 (its 0.85 is taken);
    # person 2's 0.25 is under the threshold: a new track. Track 5's second pose is never reused.
    ids = greedy_match(similarity, np.array([5, 7, 9]), 0.3)
    np.testing.assert_array_equal(ids, [5, 9, -1])
    np.testing.assert_array_equal(greedy_match(similarity, np.array([5, 5, 9]), 0.3), [5, 9, -1])
    assert greedy_match(np.zeros((2, 0)), np.zeros(0, np.int64), 0.3).tolist() == [-1, -1]


def test_pose_similarity_is_oks_over_joints_confident_in_both():
    a, b = person(50, 100, 80), person(54, 100, 80)
    b[0, 2] = 0.1                      # the nose is not confident in b: not counted
    sim = pose_similarity(np.stack([a, b]), np.array([4000.0, 4000.0]), np.stack([a]), np.array([4000.0]), 0.2)
    assert sim.shape == (2, 1) and sim[0, 0] == pytest.approx(1.0)
    # Every joint 4 px off: OKS = mean over the counted joints of exp(-d² / (2 · area · (2σ)²)).
    sigmas = np.array(COCO_SIGMAS[1:])
    expected = np.mean(np.exp(-16.0 / (2 * 4000.0 * (2 * sigmas) ** 2)))
    assert sim[1, 0] == pytest.approx(expected, rel=1e-9) and 0.3 < expected < 0.99
    assert pose_similarity(np.stack([a]), np.array([4000.0]), np.zeros((0, 17, 3)), np.zeros(0), 0.2).shape == (1, 0)


def test_unify_people_drops_propagated_copies_of_detected_or_higher_scored_people():
    a = person(50, 100, 80)
    near = a + [[3.0, 0.0, 0.0]]                # 3 px off: the same person (OKS about 0.9)
    apart = person(120, 100, 80)               # someone else (OKS 0)
    poses = np.stack([near, a, apart, a])
    scores = np.array([0.5, 0.9, 0.4, 0.95])
    propagated = np.array([False, True, False, True])
    areas = np.full(4, 4000.0)
    # Detected first: person 0 (detected, though scored lower) drops both propagated copies of itself.
    np.testing.assert_array_equal(unify_people(poses, scores, areas, propagated, 0.5, 0.2), [0, 2])
    # Among the propagated, the higher-scored is kept; at a threshold over their OKS nothing is dropped.
    np.testing.assert_array_equal(unify_people(poses[[1, 3]], scores[[1, 3]], areas[:2], [True, True], 0.5, 0.2), [1])
    np.testing.assert_array_equal(unify_people(poses, scores, areas, propagated, 1.0, 0.2), [0, 2, 3, 1])
    # Two detected people are left alone, however alike (the evaluation's OKS-NMS is the tracker's next step).
    np.testing.assert_array_equal(unify_people(poses[:2], scores[:2], areas[:2], [False, False], 0.5, 0.2), [1, 0])
    # Unsure joints do not count: with every joint of the copy under in_vis_thre they share none (OKS 0).
    unsure = near.copy()
    unsure[:, 2] = 0.1
    np.testing.assert_array_equal(unify_people(np.stack([a, unsure]), [0.9, 0.5], areas[:2], [False, True], 0.5,
                                               0.2), [0, 1])
    assert unify_people(np.zeros((0, 17, 3)), [], [], [], 0.5, 0.2).tolist() == []
