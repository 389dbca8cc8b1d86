"""Labels of the synthetic scenes (src/synth/labels.py), read from the part-label map as an annotator would:
visible, occluded, outside; small people unlabelled; detector-like boxes."""
import numpy as np
import pytest

from src.synth.body import HEAD, TORSO
from src.synth.labels import MIN_AREA, MIN_LABELLED_AREA, annotate, annotate_people, detector_boxes
from src.synth.render import OCCLUDER_LABEL, PARTS_PER_PERSON


def scene():
    """A 100×120 label map: person 0 a 30×40 torso block with a head block and an occluder over its left
    shoulder; person 1 a 5×5 speck. Person 0's joints: 0 on its head, 5 under the occluder, 6 on its torso,
    16 outside the image, the others on the background."""
    label = np.zeros((100, 120), np.uint8)
    label[40:80, 30:60] = 1 + TORSO
    label[20:40, 35:55] = 1 + HEAD
    label[38:46, 50:58] = OCCLUDER_LABEL
    label[5:10, 100:105] = 1 + PARTS_PER_PERSON + TORSO
    joints = np.full((17, 2), 5.0)
    joints[0], joints[5], joints[6], joints[16] = [45, 30], [52, 42], [35, 45], [130, 50]
    person = {"joints": joints, "depth": np.zeros(17), "torso_depth": 0.0, "facing": np.ones(5, bool)}
    return label, [person, dict(person)]


def test_visibility_area_and_box_from_the_label_map():
    label, people = scene()
    first, speck = annotate_people(label, people)
    assert speck is None and MIN_AREA > 25                        # too small to annotate
    area = int((label == 1 + TORSO).sum() + (label == 1 + HEAD).sum())
    assert first["area"] == area and area >= MIN_LABELLED_AREA
    assert first["bbox"] == [30.0, 20.0, 30.0, 60.0]               # tight around the visible pixels
    vis = np.array(first["keypoints"]).reshape(17, 3)[:, 2]
    assert vis[0] == 2 and vis[6] == 2                              # on a part that meets there
    assert vis[5] == 1 and vis[16] == 0 and vis[1] == 1            # occluded; outside; on the background
    kpts = np.array(first["keypoints"]).reshape(17, 3)
    assert not kpts[16].any() and first["num_keypoints"] == 16
    np.testing.assert_allclose(kpts[0, :2], [45, 30])
    assert annotate(label, people) == [first]


def test_a_face_turned_away_and_a_small_person_are_labelled_as_coco_does():
    label, people = scene()
    people[0]["facing"] = np.zeros(5, bool)
    vis = np.array(annotate_people(label, people)[0]["keypoints"]).reshape(17, 3)[:, 2]
    assert vis[0] == 1                                               # the nose is there, but not seen
    small = np.zeros_like(label)
    small[40:60, 30:40] = 1 + TORSO                                  # 200 visible pixels
    ann = annotate_people(small, people[:1])[0]
    assert MIN_AREA <= ann["area"] < MIN_LABELLED_AREA
    assert ann["num_keypoints"] == 0 and not any(ann["keypoints"])


@pytest.mark.parametrize("seed", range(4))
def test_detector_boxes_stay_in_the_image(seed):
    anns = [{"bbox": [10.0, 20.0, 60.0, 150.0]}, {"bbox": [200.0, 5.0, 90.0, 200.0]}]
    dets = detector_boxes(np.random.default_rng(seed), anns, 320, 240)
    assert dets == detector_boxes(np.random.default_rng(seed), anns, 320, 240)
    for det in dets:
        x, y, w, h = det["bbox"]
        assert 0 <= x and 0 <= y and x + w <= 319 + 1e-6 and y + h <= 239 + 1e-6 and w > 1 and h > 1
        assert 0 < det["score"] <= 1
    confident = [d for d in dets if d["score"] >= 0.6]
    assert len(confident) <= len(anns)                               # at most one confident box per person
