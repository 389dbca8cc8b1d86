"""The table of data set types (src/dataset_types.py): its names are the configuration's, each type's keypoint set
holds together, the network's joints are checked against the type's, and each type reads its own records."""
import os

import numpy as np
import pytest

from src.data.coco_records import ground_truth_records
from src.data.posetrack_records import ground_truth_records as posetrack_ground_truth, read_split
from src.dataset_types import DATASET_TYPES, dataset_type, read_records
from src.errors import ConfigError
from src.evaluate import coco_eval, posetrack_eval
from src.model_utils.config import DEFAULT_CONFIG_PATH, get_config, load_yaml


def test_the_types_are_the_configurations_choices():
    _, _, choices = load_yaml(DEFAULT_CONFIG_PATH)
    assert choices["DATASET"]["DATASET"] == choices["TRAIN"]["INIT_DATASET"] == list(DATASET_TYPES)
    assert all(kind.keypoints.name == name for name, kind in DATASET_TYPES.items())


@pytest.mark.parametrize("name", sorted(DATASET_TYPES))
def test_each_types_flip_pairs_are_exactly_its_left_right_twins(name):
    """Every joint named left_X is paired with right_X, and nothing else is paired: a joint on the body's axis
    (COCO's nose; PoseTrack's nose, head bottom and head top) maps to itself. Mirror joints are as hard to place
    (same sigma); the skeleton and the labelled joints name joints of the set."""
    keypoints = DATASET_TYPES[name].keypoints
    names = keypoints.keypoint_names
    assert len(names) == len(set(names)) == len(keypoints.sigmas)
    twins = {(i, names.index(n.replace("left_", "right_"))) for i, n in enumerate(names) if n.startswith("left_")}
    assert set(keypoints.flip_pairs) == twins
    for left, right in keypoints.flip_pairs:
        assert keypoints.sigmas[left] == keypoints.sigmas[right]
    assert set(keypoints.labelled) <= set(range(len(names))) and keypoints.labelled
    assert {j for limb in keypoints.skeleton for j in limb} <= set(range(len(names)))


def test_what_each_type_labels_and_how_it_is_evaluated():
    assert DATASET_TYPES["coco"].keypoints.labelled == tuple(range(17))
    posetrack = DATASET_TYPES["posetrack"].keypoints
    assert [posetrack.keypoint_names[j] for j in range(17) if j not in posetrack.labelled] == ["left_ear", "right_ear"]
    assert DATASET_TYPES["coco"].evaluate is coco_eval.evaluate_and_report
    assert DATASET_TYPES["posetrack"].evaluate is posetrack_eval.evaluate_and_report


@pytest.mark.parametrize("name", sorted(DATASET_TYPES))
def test_the_network_has_one_heatmap_per_keypoint_of_its_type(name):
    """The configuration accepts any number of joints (a converted network to export); whatever reads, trains on
    or decodes the type's joints refuses another number, with one line saying what to set."""
    assert dataset_type(get_config(["--DATASET.DATASET", name])) is DATASET_TYPES[name]
    cfg = get_config(["--DATASET.DATASET", name, "--MODEL.NUM_JOINTS", "16"])
    with pytest.raises(ConfigError) as err:
        dataset_type(cfg)
    assert str(err.value) == (f"MODEL.NUM_JOINTS 16: DATASET.DATASET {name} has 17 keypoints (one heatmap each); "
                              f"set --MODEL.NUM_JOINTS 17")


def test_each_type_reads_its_own_records(synthetic_root, synthetic_posetrack):
    coco = read_records(get_config(["--dataset_path", synthetic_root]), train=True)
    want = ground_truth_records(os.path.join(synthetic_root, "train2017"),
                                os.path.join(synthetic_root, "annotations", "person_keypoints_train2017.json"), 17)
    assert coco.image_files == want.image_files and coco.origin == want.origin
    np.testing.assert_array_equal(coco.joints, want.joints)
    posetrack = read_records(get_config(["--DATASET.DATASET", "posetrack", "--dataset_path", synthetic_posetrack,
                                         "--DATASET.TRAIN_SET", "posetrack18"]), train=True)
    want = posetrack_ground_truth(read_split(synthetic_posetrack, "posetrack18"))
    assert posetrack.image_files == want.image_files
    np.testing.assert_array_equal(posetrack.joints, want.joints)
