"""The training and evaluation data (src/dataset.py): its settings, crops, augmentation, sharding, bad input, the
MindSpore pipeline, the model zoo's entry points. The targets are src/data/codec.py's (test_codec.py), the records
those of src/data/coco_records.py and src/data/posetrack_records.py (tests/data/)."""
import os
import shutil
from collections import Counter

import cv2
import numpy as np
import pytest

from src.errors import BoxesError, ConfigError, DatasetFormatError, DatasetNotFoundError, ImageReadError
from src.data.coco_records import detection_records, ground_truth_records
from src.data.posetrack_records import ground_truth_records as posetrack_records, read_split
from src.data.records import PersonRecords
from src.constants import FLIP_PAIRS, IMAGENET_MEAN, IMAGENET_STD, PIXEL_STD
from src.data.posetrack_joints import POSETRACK_FLIP_PAIRS
from src.dataset import DataSettings, KeypointDatasetGenerator, PersonSamples, keypoint_dataset
from src.data.sampler import encode_index
from src.model_utils.config import get_config
from src.utils.transform import affine_transform, box_to_center_scale, get_affine_transform

J = 17


def make_cfg(root, *extra):
    return get_config(["--dataset_path", str(root), "--batch_size", "4", "--TEST.BATCH_SIZE", "4", *extra])


def paths(root, split):
    return os.path.join(root, split), os.path.join(root, "annotations", f"person_keypoints_{split}.json")


# ----------------------------------------------------------------------------- records (loading itself: test_coco_records.py)

@pytest.mark.parametrize("split", ["train2017", "val2017"])
def test_each_record_is_cropped_around_its_padded_box(synthetic_root, split):
    gen = KeypointDatasetGenerator(make_cfg(synthetic_root), is_train=True)
    gen.load_gt_dataset(*paths(synthetic_root, split))
    records = ground_truth_records(*paths(synthetic_root, split), J)
    assert len(gen) == len(records.image_files) > 0
    assert gen.image_files == records.image_files and gen.image_ids.tolist() == records.image_ids.tolist()
    center, scale = box_to_center_scale(records.boxes, 192 / 256)
    np.testing.assert_allclose(gen.centers, center)
    np.testing.assert_allclose(gen.scales, scale)
    np.testing.assert_array_equal(gen.joints, records.joints)
    np.testing.assert_array_equal(gen.joints_vis, records.joints_vis)
    assert gen.joints.dtype == gen.joints_vis.dtype == np.float32


@pytest.mark.parametrize("thre", [0.0, 0.5])
def test_detections_follow_test_image_thre(synthetic_root, thre):
    cfg = make_cfg(synthetic_root, "--TEST.IMAGE_THRE", str(thre))
    bbox_file = os.path.join(synthetic_root, "person_detection_results",
                             "COCO_val2017_detections_AP_H_56_person.json")
    gen = KeypointDatasetGenerator(cfg, is_train=False)
    gen.load_detect_dataset(*paths(synthetic_root, "val2017"), bbox_file)
    records = detection_records(*paths(synthetic_root, "val2017"), bbox_file, J, min_score=thre)
    assert len(gen) == len(records.image_files) > 0
    np.testing.assert_array_equal(gen.scores, records.scores)
    assert gen.scores.min() >= thre


# ----------------------------------------------------------------------------- the MindSpore dataset

def collect(dataset, *columns):
    rows = []
    for batch in dataset.create_dict_iterator(output_numpy=True, num_epochs=1):
        rows.extend(zip(*(batch[c].tolist() for c in columns)))
    return rows


def test_columns_shapes_and_normalisation(synthetic_root):
    cfg = make_cfg(synthetic_root, "--TEST.USE_GT_BBOX", "True")
    dataset, gen = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=1)
    batch = next(dataset.create_dict_iterator(output_numpy=True, num_epochs=1))
    assert list(batch) == ["image", "target", "weight", "scale", "center", "score", "id"]
    shapes = {k: (v.shape, v.dtype) for k, v in batch.items()}
    assert shapes == {"image": ((4, 3, 256, 192), np.float32), "target": ((4, J, 64, 48), np.float32),
                      "weight": ((4, J, 1), np.float32), "scale": ((4, 2), np.float32),
                      "center": ((4, 2), np.float32), "score": ((4,), np.float32), "id": ((4,), np.int32)}
    crop = gen[0][0].astype(np.float32) / 255.0  # BGR, as OpenCV reads it
    want = ((crop - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)).transpose(2, 0, 1)
    np.testing.assert_allclose(batch["image"][0], want, atol=1e-5)


def test_eval_mode_has_no_augmentation(synthetic_root):
    gen = KeypointDatasetGenerator(make_cfg(synthetic_root), is_train=False)
    gen.load_gt_dataset(*paths(synthetic_root, "val2017"))
    np.random.seed(1)
    first = gen[2]
    np.random.seed(2)
    second = gen[2]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first[3], gen.scales[2])
    np.testing.assert_array_equal(first[4], gen.centers[2])
    image = cv2.imread(gen.image_files[2])
    trans = get_affine_transform(gen.centers[2], gen.scales[2], 0, (192, 256))
    np.testing.assert_array_equal(first[0], cv2.warpAffine(image, trans, (192, 256), flags=cv2.INTER_LINEAR))


def test_training_augments_and_targets_follow_joints(synthetic_root):
    gen = KeypointDatasetGenerator(make_cfg(synthetic_root), is_train=True)
    gen.load_gt_dataset(*paths(synthetic_root, "train2017"))
    image = gen.read_image(0)
    np.random.seed(0)
    scales, flipped = set(), 0
    for _ in range(20):
        crop, joints, joints_vis, scale, center = gen.warp_sample(0, image)
        target, weight = gen.generate_heatmap(joints, joints_vis)
        scales.add(round(float(scale[0] / gen.scales[0][0]), 5))
        flipped += abs(center[0] - gen.centers[0][0]) > 1e-3
        assert crop.shape == (256, 192, 3) and not target[weight[:, 0] == 0].any()
        mu = (joints[:, :2] / 4 + 0.5).astype(int)
        on_map = (joints_vis[:, 0] > 0) & np.all((mu >= 0) & (mu < (48, 64)), axis=1)
        assert on_map.sum() > 0
        for j in np.flatnonzero(on_map):
            assert target[j, mu[j, 1], mu[j, 0]] == 1.0 == target[j].max()
    assert len(scales) > 10 and 0 < flipped < 20
    assert all(0.7 - 1e-6 <= s <= 1.3 + 1e-6 for s in scales)


@pytest.mark.parametrize("group_size", [2, 3])
def test_eval_shards_cover_every_record_once(synthetic_root, group_size):
    cfg = make_cfg(synthetic_root)  # detections
    everything = collect(keypoint_dataset(cfg, train_mode=False, num_parallel_workers=1)[0], "id", "center")
    parts = [collect(keypoint_dataset(cfg, train_mode=False, rank=r, group_size=group_size,
                                      num_parallel_workers=1)[0], "id", "center") for r in range(group_size)]
    key = lambda row: (row[0], tuple(row[1]))  # noqa: E731
    assert Counter(key(r) for part in parts for r in part) == Counter(key(r) for r in everything)
    assert len(everything) > 2 * group_size


def test_train_shards_are_equal_and_cover_everything(synthetic_root):
    cfg = make_cfg(synthetic_root, "--batch_size", "1", "--DATASET.FLIP", "False")
    gen = KeypointDatasetGenerator(cfg, True)
    gen.load_gt_dataset(*paths(synthetic_root, "train2017"))
    all_keys = {(int(i), tuple(c)) for i, c in zip(gen.image_ids, gen.centers.tolist())}
    parts = [collect(keypoint_dataset(cfg, train_mode=True, rank=r, group_size=3, shuffle=False,
                                      num_parallel_workers=1)[0], "id", "center") for r in range(3)]
    assert len({len(p) for p in parts}) == 1  # every rank runs the same number of steps
    assert {(i, tuple(c)) for p in parts for i, c in p} == all_keys


def test_augmentation_depends_on_seed_epoch_rank_and_record_only(synthetic_root):
    """Two worker processes, samples repeated: the draws follow (seed, epoch, rank, record), not the worker."""
    import mindspore.dataset as ds  # pylint: disable=import-outside-toplevel
    gen = KeypointDatasetGenerator(make_cfg(synthetic_root), is_train=True)
    gen.load_gt_dataset(*paths(synthetic_root, "train2017"))
    n = len(gen)
    indices = [encode_index(epoch, 0, n) for epoch in (0, 0, 1, 1, 0, 1, 0, 1)]

    class Fixed(ds.Sampler):   # the built-in samplers refuse indices beyond the record count
        def __init__(self):
            super().__init__(num_samples=len(indices))

        def __iter__(self):
            return iter(indices)

    dataset = ds.GeneratorDataset(gen, ["image", "target", "weight", "scale", "center", "score", "id"],
                                  sampler=Fixed(), num_parallel_workers=2,
                                  python_multiprocessing=True)
    rows = [(tuple(row[3]), tuple(row[4])) for row in dataset.create_tuple_iterator(output_numpy=True, num_epochs=1)]
    # Samples alternate between the workers, yet each epoch's draws are one and the same.
    assert len({rows[k] for k in (0, 1, 4, 6)}) == 1 and len({rows[k] for k in (2, 3, 5, 7)}) == 1
    assert rows[0] != rows[2]
    other_rank = PersonSamples(DataSettings.from_config(make_cfg(synthetic_root), train=True, rank=1),
                               ground_truth_records(*paths(synthetic_root, "train2017"), J))
    assert (tuple(other_rank[indices[0]][3]), tuple(other_rank[indices[0]][4])) != rows[0]
    other_seed = KeypointDatasetGenerator(make_cfg(synthetic_root, "--TRAIN.SEED", "2"), is_train=True)
    other_seed.load_gt_dataset(*paths(synthetic_root, "train2017"))
    assert (tuple(other_seed[indices[0]][3]), tuple(other_seed[indices[0]][4])) != rows[0]


# ----------------------------------------------------------------------------- bad input

@pytest.fixture
def dataset_copy(synthetic_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(synthetic_root, root)
    return root


def test_missing_root_names_path_and_remedy(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as err:
        keypoint_dataset(make_cfg(missing), train_mode=True)
    assert str(missing) in str(err.value) and "python -m src.synthetic" in str(err.value)
    assert "cocodataset.org" in str(err.value) and isinstance(err.value, FileNotFoundError)


def test_missing_annotation_file_and_image_folder(dataset_copy):
    os.remove(dataset_copy / "annotations" / "person_keypoints_train2017.json")
    with pytest.raises(DatasetNotFoundError, match="person_keypoints_train2017.json"):
        keypoint_dataset(make_cfg(dataset_copy), train_mode=True)
    shutil.rmtree(dataset_copy / "val2017")
    with pytest.raises(DatasetNotFoundError, match="val2017"):
        keypoint_dataset(make_cfg(dataset_copy, "--TEST.USE_GT_BBOX", "True"), train_mode=False)


def test_missing_detection_file(dataset_copy):
    shutil.rmtree(dataset_copy / "person_detection_results")
    with pytest.raises(DatasetNotFoundError, match="COCO_BBOX_FILE") as err:
        keypoint_dataset(make_cfg(dataset_copy), train_mode=False)
    assert "USE_GT_BBOX" in str(err.value)


@pytest.mark.parametrize("name,error", [
    ("annotations/person_keypoints_val2017.json", DatasetFormatError),
    ("person_detection_results/COCO_val2017_detections_AP_H_56_person.json", BoxesError)])
def test_malformed_json_names_the_file(dataset_copy, name, error):
    path = dataset_copy / name
    path.write_text(path.read_text()[:-40])
    with pytest.raises(error) as err:
        keypoint_dataset(make_cfg(dataset_copy), train_mode=False)
    assert str(path) in str(err.value) and "not valid JSON" in str(err.value)


def write_junk(root, split, gen):
    bad = gen.image_files[0]
    with open(bad, "wb") as f:
        f.write(b"\xff\xd8 this is not a JPEG file")
    return bad, sum(f == bad for f in gen.image_files)


def test_corrupt_image_is_skipped_and_counted_in_training(dataset_copy, caplog):
    cfg = make_cfg(dataset_copy, "--batch_size", "2")
    gen = KeypointDatasetGenerator(cfg, is_train=True)
    gen.load_gt_dataset(*paths(str(dataset_copy), "train2017"))
    bad, n_bad = write_junk(dataset_copy, "train2017", gen)
    np.random.seed(0)
    for i in range(len(gen)):
        assert gen[i][0].shape == (256, 192, 3)
    assert gen.report_skipped_images() == [bad] * n_bad
    assert gen.report_skipped_images() == []

    # Through the pipeline, in two worker processes: one count across workers, reported once.
    dataset, gen = keypoint_dataset(cfg, train_mode=True, num_parallel_workers=2)
    rows = sum(len(b[0]) for b in dataset.create_tuple_iterator(output_numpy=True, num_epochs=1))
    assert rows == len(gen) // 2 * 2
    with caplog.at_level("WARNING", logger="src.data.skipped_images"):
        skipped = gen.report_skipped_images()
    assert len(skipped) >= n_bad and set(skipped) == {bad}
    assert f"{len(skipped)} unreadable training images" in caplog.text and bad in caplog.text


def test_corrupt_image_fails_evaluation_naming_the_file(dataset_copy):
    cfg = make_cfg(dataset_copy, "--TEST.USE_GT_BBOX", "True")
    gen = KeypointDatasetGenerator(cfg, is_train=False)
    gen.load_gt_dataset(*paths(str(dataset_copy), "val2017"))
    bad, _ = write_junk(dataset_copy, "val2017", gen)
    with pytest.raises(ImageReadError, match=os.path.basename(bad)):
        gen[0]
    dataset, _ = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=1)
    with pytest.raises(Exception, match=os.path.basename(bad)):
        collect(dataset, "id")


def test_training_pipeline_is_reproducible_without_a_dataset_seed(synthetic_root):
    cfg = make_cfg(synthetic_root, "--batch_size", "2")
    runs = [collect(keypoint_dataset(cfg, train_mode=True, num_parallel_workers=2)[0], "id", "scale")
            for _ in range(2)]
    assert runs[0] == runs[1] and len({tuple(s) for _, s in runs[0]}) > 1


def test_missing_evaluation_image_fails_early(dataset_copy):
    cfg = make_cfg(dataset_copy, "--TEST.USE_GT_BBOX", "True")
    gone = sorted(os.listdir(dataset_copy / "val2017"))[0]
    os.remove(dataset_copy / "val2017" / gone)
    with pytest.raises(ImageReadError, match=gone):
        keypoint_dataset(cfg, train_mode=False)


def test_shift_augmentation_moves_the_centre_within_twice_the_factor(synthetic_root):
    cfg = make_cfg(synthetic_root, "--DATASET.FLIP", "False", "--DATASET.SCALE_FACTOR", "0",
                   "--DATASET.ROT_FACTOR", "0", "--DATASET.SHIFT_FACTOR", "0.05")
    gen = KeypointDatasetGenerator(cfg, is_train=True)
    gen.load_gt_dataset(*paths(synthetic_root, "train2017"))
    image = gen.read_image(0)
    np.random.seed(0)
    shifts = []
    for _ in range(200):
        crop, joints, _, scale, center = gen.warp_sample(0, image)
        np.testing.assert_array_equal(scale, gen.scales[0])
        shifts.append((center - gen.centers[0]) / (scale * PIXEL_STD))
        # the joints stay where the shifted crop puts them
        trans = get_affine_transform(center, scale, 0, (192, 256))
        labelled = gen.joints_vis[0][:, 0] > 0
        np.testing.assert_allclose(joints[labelled, :2], affine_transform(gen.joints[0][labelled, :2], trans),
                                   atol=1e-3)
    shifts = np.array(shifts)
    assert np.abs(shifts).max() <= 0.1 + 1e-6
    assert 0.03 < shifts.std(axis=0).min() and shifts.std(axis=0).max() < 0.06
    assert np.abs(shifts).max() > 0.08  # the tails reach the clip


def test_zero_shift_draws_nothing(synthetic_root):
    """SHIFT_FACTOR 0 (the default) leaves the reference's random stream untouched."""
    gen = KeypointDatasetGenerator(make_cfg(synthetic_root), is_train=True)
    gen.load_gt_dataset(*paths(synthetic_root, "train2017"))
    image = gen.read_image(0)
    np.random.seed(3)
    gen.warp_sample(0, image)
    after_one = np.random.random()
    np.random.seed(3)
    np.random.randn()  # scale
    if np.random.random() <= 0.6:  # rotate?
        np.random.randn()  # angle
    np.random.random()  # flip?
    assert after_one == np.random.random()


class _AlwaysFlip:
    """The draws of an augmentation with no scale, rotation or shift, and a flip."""

    @staticmethod
    def randn(*shape):
        return np.zeros(shape) if shape else 0.0

    @staticmethod
    def random():
        return 0.0


@pytest.mark.parametrize("dataset,head_source", [("coco", [2, 1]), ("posetrack", [1, 2])])
def test_a_training_flip_swaps_the_pairs_of_the_data_set_type(tmp_path, dataset, head_source):
    """A flipped sample mirrors every joint; COCO swaps slots 1 and 2 (its eyes), PoseTrack keeps its head bottom
    and head top in theirs."""
    width = 200
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((160, width, 3), np.uint8))
    joints = np.zeros((1, J, 3), np.float32)
    joints[0, :, 0] = 40 + 5 * np.arange(J)
    joints[0, :, 1] = 30 + 4 * np.arange(J)
    records = PersonRecords([str(tmp_path / "a.jpg")], np.array([[20.0, 20.0, 140.0, 120.0]]), joints,
                            np.ones((1, J, 3), np.float32), np.ones(1, np.float32), np.ones(1, np.int64))
    gen = PersonSamples(DataSettings.from_config(make_cfg(tmp_path, "--DATASET.DATASET", dataset), train=True), records)
    _, flipped, _, scale, center = gen.warp_sample(0, gen.read_image(0), _AlwaysFlip())
    assert center[0] == pytest.approx(width - 1 - gen.centers[0][0])
    back = affine_transform(flipped[:, :2], get_affine_transform(center, scale, 0, (192, 256), inv=1))
    source = list(range(J))
    for left, right in gen.flip_pairs:
        source[left], source[right] = right, left
    assert source[1:3] == head_source
    np.testing.assert_allclose(back[:, 0], width - 1 - joints[0, source, 0], atol=1e-3)
    np.testing.assert_allclose(back[:, 1], joints[0, source, 1], atol=1e-3)


def test_the_settings_are_read_once_for_training_or_evaluation(synthetic_root):
    cfg = make_cfg(synthetic_root, "--TEST.BATCH_SIZE", "3", "--TRAIN.NUM_WORKERS", "2", "--TEST.DATALOADER_WORKERS",
                   "1", "--DATASET.SHIFT_FACTOR", "0.05", "--TRAIN.SEED", "7")
    train = DataSettings.from_config(cfg, train=True, rank=1, group_size=2)
    assert (train.batch_size, train.workers, train.shuffle, train.rank, train.group_size) == (4, 2, True, 1, 2)
    assert (train.scale_factor, train.rotation_factor, train.shift_factor, train.flip, train.seed) == \
        (0.3, 40.0, 0.05, True, 7)
    assert train.codec.image_size == (192, 256) and train.codec.heatmap_size == (48, 64)
    evaluation = DataSettings.from_config(cfg, train=False)
    assert (evaluation.batch_size, evaluation.workers, evaluation.shuffle) == (3, 1, False)
    assert train.flip_pairs == FLIP_PAIRS
    posetrack = DataSettings.from_config(make_cfg(synthetic_root, "--DATASET.DATASET", "posetrack"), train=True)
    assert posetrack.flip_pairs == POSETRACK_FLIP_PAIRS


def test_the_dataset_of_a_posetrack_configuration_has_posetracks_records(synthetic_posetrack):
    """The model zoo's keypoint_dataset asks the data set type for the records: PoseTrack's labelled frames here;
    COCO's annotation file and image folder do not apply to them."""
    cfg = make_cfg(synthetic_posetrack, "--DATASET.DATASET", "posetrack", "--DATASET.TEST_SET", "posetrack18",
                   "--TEST.USE_GT_BBOX", "True")
    dataset, samples = keypoint_dataset(cfg, train_mode=False, num_parallel_workers=1)
    records = posetrack_records(read_split(synthetic_posetrack, "posetrack18"))
    assert samples.image_files == records.image_files and samples.flip_pairs == POSETRACK_FLIP_PAIRS
    assert collect(dataset, "id") and {i for i, in collect(dataset, "id")} == set(records.image_ids.tolist())
    with pytest.raises(ConfigError, match="COCO's files"):
        keypoint_dataset(cfg, ann_file="a.json", image_path="images", train_mode=False)
