"""src/synthetic_video.py: files, persistent identities, detector boxes with misses, determinism."""
import json
import os

import cv2
import numpy as np
import pytest

from src.utils.cli import run_cli
from src.synthetic_video import (CROSSING_FALSE_SCORE, CROSSING_HIDDEN_JOINTS, FAMILY_KINDS, family_kind, main,
                                 render_sequence, sequence_name)


@pytest.fixture(name="videos")
def fixture_videos(synthetic_videos) -> str:
    return synthetic_videos


def test_command_line(tmp_path, capsys):
    assert main(["--output", str(tmp_path), "--num_sequences", "1", "--num_frames", "2", "--width", "96",
                 "--height", "80"]) == 0
    assert sorted(os.listdir(tmp_path / "frames" / "seq000")) == ["000001.jpg", "000002.jpg"]
    assert main(["--output", str(tmp_path / "cross"), "--num_sequences", "1", "--num_frames", "1", "--scenario",
                 "crossing", "--posetrack"]) == 0
    assert os.listdir(tmp_path / "cross" / "frames") == ["cross000"]
    assert os.path.isfile(tmp_path / "cross" / "posetrack18" / "cross000.json")
    crossing = _load(str(tmp_path / "cross"), "detections", "cross000")
    merged = _load(str(tmp_path / "cross"), ".", "posetrack18_detections")       # the crossing's, not seq000's
    assert [d["bbox"] for d in merged] == [d["bbox"] for d in crossing] and len(crossing) >= 2
    assert {d["image_id"] for d in merged} == {10 ** 10}
    assert run_cli(main, ["--output", str(tmp_path / "none"), "--num_frames", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --num_sequences and --num_frames must be >= 1 (see ")
    assert not (tmp_path / "none").exists()


def _load(root: str, folder: str, name: str):
    with open(os.path.join(root, folder, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def test_files_and_coco_format(videos):
    for name in ("seq000", "seq001"):
        gt = _load(videos, "annotations", name)
        assert [im["file_name"] for im in gt["images"]] == [f"{i:06d}.jpg" for i in range(1, 13)]
        assert [im["frame_index"] for im in gt["images"]] == list(range(12))
        for im in gt["images"]:
            assert cv2.imread(os.path.join(videos, "frames", name, im["file_name"])).shape == (180, 240, 3)
        assert gt["categories"][0]["keypoints"][0] == "nose"
        ids = [ann["id"] for ann in gt["annotations"]]
        assert len(set(ids)) == len(ids) and min(ids) >= 1
        for ann in gt["annotations"]:
            assert len(ann["keypoints"]) == 51 and ann["category_id"] == 1 and isinstance(ann["track_id"], int)
        dets = _load(videos, "detections", name)
        assert dets and all(set(d) == {"image_id", "file_name", "category_id", "bbox", "score"} for d in dets)


def test_identity_persists_and_figures_move_smoothly(videos):
    """A track's labelled joints move a few pixels per frame; different tracks are far apart."""
    gt = _load(videos, "annotations", "seq000")
    by_track = {}
    for ann in gt["annotations"]:
        by_track.setdefault(ann["track_id"], {})[ann["image_id"]] = np.array(ann["keypoints"]).reshape(17, 3)
    assert len(by_track) >= 2
    steps = []
    for frames in by_track.values():
        for image_id, kpts in frames.items():
            following = frames.get(image_id + 1)
            if following is not None:
                both = (kpts[:, 2] > 0) & (following[:, 2] > 0)
                steps.append(np.abs(following[both, :2] - kpts[both, :2]).max(initial=0))
    assert steps and max(steps) < 15 and np.mean(steps) > 0.5


def test_detections_jitter_miss_and_add(videos):
    """Detector boxes follow the labels with jitter; some labelled people are missed, and the
    boxes include false alarms of low score."""
    missed = people = alarms = 0
    for name in ("seq000", "seq001"):
        gt, dets = _load(videos, "annotations", name), _load(videos, "detections", name)
        for im in gt["images"]:
            boxes = np.array([d["bbox"] for d in dets if d["image_id"] == im["id"]]).reshape(-1, 4)
            for ann in (a for a in gt["annotations"] if a["image_id"] == im["id"]):
                people += 1
                x, y, w, h = ann["bbox"]
                centres = boxes[:, :2] + boxes[:, 2:] / 2
                centre_gap = np.hypot(centres[:, 0] - x - w / 2, centres[:, 1] - y - h / 2)
                missed += not (centre_gap < 0.2 * max(w, h)).any()
            alarms += sum(1 for d in dets if d["image_id"] == im["id"] and d["score"] < 0.55)
    assert 0 < missed < 0.5 * people and alarms > 0


def test_same_seed_same_frames():
    first = [f.image for f in render_sequence(2, 0, 3, 160, 120)]
    again = [f.image for f in render_sequence(2, 0, 3, 160, 120)]
    other = [f.image for f in render_sequence(2, 1, 3, 160, 120)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0]) and not np.array_equal(first[0], first[1])


def test_crossing_scenario():
    """Two people cross: they start on either side and end on the other, overlapping half-way; the detector boxes
    everyone with at least CROSSING_HIDDEN_JOINTS joints seen (so misses the farther one for a few frames of the
    crossing) and adds one false box per frame; walking sequences are unchanged by the option."""
    frames = list(render_sequence(0, 0, 60, scenario="crossing"))
    centre = {k: [] for k in (0, 1)}
    hidden = []
    for frame in frames:
        assert sorted(ann["track_id"] for ann in frame.annotations) == [0, 1]
        seen = {ann["track_id"]: sum(v == 2 for v in ann["keypoints"][2::3]) for ann in frame.annotations}
        for ann in frame.annotations:
            x, _, w, _ = ann["bbox"]
            centre[ann["track_id"]].append(x + w / 2)
        found = [k for k in (0, 1) if seen[k] >= CROSSING_HIDDEN_JOINTS]
        hidden.append([k for k in (0, 1) if k not in found])
        assert len(frame.detections) == len(found) + 1
        false_boxes = [d for d in frame.detections
                       if CROSSING_FALSE_SCORE[0] <= d["score"] <= CROSSING_FALSE_SCORE[1]]
        assert len(false_boxes) >= 1
    gap = np.array(centre[0]) - np.array(centre[1])
    assert gap[0] < -100 and gap[-1] > 100 and np.abs(gap).min() < 10
    missed = [t for t, k in enumerate(hidden) if k]
    assert all(hidden[t] == [1] for t in missed)                     # only the farther one, near the middle
    assert 2 <= len(missed) < 10 and all(20 < t < 40 for t in missed)
    walk = next(render_sequence(0, 0, 1, 160, 120))
    assert not np.array_equal(walk.image, next(render_sequence(0, 0, 1, 160, 120, scenario="crossing")).image)
    with pytest.raises(ValueError, match="unknown scenario 'run'"):
        next(render_sequence(0, 0, 1, scenario="run"))


def _centres(frames):
    """Per labelled track, its box centres x by frame (None where it is not labelled)."""
    tracks = {a["track_id"] for f in frames for a in f.annotations}
    return {k: [next((a["bbox"][0] + a["bbox"][2] / 2 for a in f.annotations if a["track_id"] == k), None)
                for f in frames] for k in tracks}


def test_the_family_of_scenes():
    """The kinds in turn, named famNNN_<kind>; each kind as its name says; a pure function of the seed."""
    assert [family_kind(k) for k in range(8)] == list(FAMILY_KINDS) + ["cross_slow"]
    assert sequence_name(12, "family") == "fam012_group"
    size = (320, 240)
    scenes = {family_kind(k): list(render_sequence(0, k, 40, *size, scenario="family")) for k in range(7)}
    for kind in ("cross_slow", "cross_fast", "cross_small", "missed"):       # two people swap sides
        centres = _centres(scenes[kind])
        assert sorted(centres) == [0, 1]
        gap = [a - b for a, b in zip(centres[0], centres[1]) if a is not None and b is not None]
        assert gap[0] < 0 < gap[-1], kind
    overtake = _centres(scenes["overtake"])                                  # both the same way, the nearer faster
    steps = {k: np.diff([x for x in xs if x is not None]).mean() for k, xs in overtake.items()}
    assert np.sign(steps[0]) == np.sign(steps[1]) and abs(steps[0]) > abs(steps[1])
    assert len({a["track_id"] for f in scenes["group"] for a in f.annotations}) in (3, 4)
    reenter = _centres(scenes["reenter"])[0]                                 # out of the frame and back in
    absent = [t for t, x in enumerate(reenter) if x is None]
    assert absent and 0 < absent[0] and absent[-1] < 39 and absent == list(range(absent[0], absent[-1] + 1))
    # runs of misses: the missed kind's detector leaves out people it could see
    seen = lambda f: sum(sum(v == 2 for v in a["keypoints"][2::3]) >= CROSSING_HIDDEN_JOINTS for a in f.annotations)
    missing = {kind: sum(seen(f) + 1 - len(f.detections) for f in frames) for kind, frames in scenes.items()}
    assert missing["missed"] >= 4 and missing["cross_slow"] == 0
    again = next(render_sequence(0, 5, 40, *size, scenario="family"))
    assert np.array_equal(again.image, scenes["group"][0].image)


@pytest.fixture(name="posetrack_videos", scope="module")
def fixture_posetrack_videos(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("posetrack_videos")
    assert main(["--output", str(root), "--num_sequences", "2", "--num_frames", "6", "--width", "240", "--height",
                 "180", "--seed", "4", "--posetrack"]) == 0
    return str(root)


def test_posetrack_ground_truth_follows_the_coco_labels(posetrack_videos):
    """The PoseTrack 2018 file has every frame, the COCO labels' people and joints (ears unlabelled), and head
    joints and boxes from the body model; unlabelled people are ignore regions."""
    from src.data.posetrack_files import read_video  # pylint: disable=import-outside-toplevel
    for sequence, name in enumerate(("seq000", "seq001")):
        coco = _load(posetrack_videos, "annotations", name)
        video = read_video(os.path.join(posetrack_videos, "posetrack18", name + ".json"))
        assert video.version == 2018 and len(video.frames) == len(coco["images"]) == 6
        for t, (frame, image) in enumerate(zip(video.frames, coco["images"])):
            assert frame.name == f"frames/{name}/{image['file_name']}" and frame.labelled
            assert frame.image_id == 10 ** 10 + sequence * 10 ** 4 + t == frame.extra["frame_id"]
            assert frame.extra["vid_id"] == f"{sequence:06d}" and frame.extra["nframes"] == 6
            anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
            labelled = [a for a in anns if a["num_keypoints"] > 0]
            assert frame.track_ids.tolist() == [a["track_id"] for a in labelled]
            assert len(frame.ignore_regions) == len(anns) - len(labelled)
            for a, pose, present, head_box in zip(labelled, frame.poses, frame.present, frame.head_boxes):
                kpts = np.array(a["keypoints"]).reshape(17, 3)
                body = [0] + list(range(5, 17))
                np.testing.assert_array_equal(present[body], kpts[body, 2] > 0)
                np.testing.assert_allclose(pose[body][present[body], :2], kpts[body][kpts[body, 2] > 0, :2], atol=1e-3)
                assert not present[[3, 4]].any()
                bottom, top = pose[1, :2], pose[2, :2]
                centre, radius = (head_box[:2] + head_box[2:]) / 2, (head_box[2] - head_box[0]) / 2
                assert head_box[3] - head_box[1] == pytest.approx(2 * radius, abs=2e-3)
                np.testing.assert_allclose((bottom + top) / 2, centre, atol=2e-3)      # ends of the head's circle
                # Projected, the head's axis is at most its diameter long (shorter when the head nods).
                assert 1.6 * radius < np.linalg.norm(top - bottom) < 2 * radius + 5e-3
                assert top[1] < bottom[1] < max(kpts[5, 1], kpts[6, 1])                 # upright walkers


def test_posetrack_detections_are_the_sequences_by_posetrack_image_id(posetrack_videos):
    """DIR/posetrack18_detections.json holds every sequence's detections, each naming its frame by the image id of
    the PoseTrack file (that file's frame of the same file name)."""
    from src.data.posetrack_files import read_video  # pylint: disable=import-outside-toplevel
    with open(os.path.join(posetrack_videos, "posetrack18_detections.json"), encoding="utf-8") as f:
        merged = json.load(f)
    expected = []
    for name in ("seq000", "seq001"):
        video = read_video(os.path.join(posetrack_videos, "posetrack18", name + ".json"))
        by_file = {os.path.basename(frame.name): frame.image_id for frame in video.frames}
        expected += [{"image_id": by_file[d["file_name"]], "category_id": 1, "bbox": d["bbox"], "score": d["score"]}
                     for d in _load(posetrack_videos, "detections", name)]
    assert merged == expected and len(expected) > 10
