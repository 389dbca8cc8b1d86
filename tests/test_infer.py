"""infer.py: the same keypoints as eval.py for a box, the whole image without one, pictures, one-line errors.
Its boxes and image lists (src/inference/images.py): tests/inference/test_images.py."""
import json
import os

import cv2
import mindspore as ms
import numpy as np
import pytest

import infer
from src.dataset import keypoint_dataset
from src.evaluate.coco_eval import rescore
from src.inference.estimator import PoseEstimator
from src.inference.runner import run_inference
from src.model import get_pose_net
from src.utils.cli import run_cli
from src.model_utils.config import get_config
from tests.helpers import TINY_CONFIG, run_script
from tests.tracking.onnx_models import write_detector

IMAGE = "000001000001.jpg"   # the first synthetic val image (id 1000001)


def _val_image(root: str) -> str:
    return os.path.join(root, "val2017", IMAGE)


def test_cli_errors(tmp_path, tiny_ckpt, capsys):
    common = ["--config_path", TINY_CONFIG]
    for args, words in ((["--eval_model_file", str(tmp_path / "no.ckpt"), "--img_path", "x"],
                         f"checkpoint not found: {tmp_path / 'no.ckpt'}"),
                        (["--eval_model_file", tiny_ckpt], "no image: pass --img_path IMAGE_OR_FOLDER"),
                        (["--eval_model_file", tiny_ckpt, "--img_path", str(tmp_path / "no.jpg")],
                         "image not found")):
        assert run_cli(infer.main, common + args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


# ----------------------------------------------------------------------------- end to end

def _eval_keypoints(root: str, ckpt: str, box, score: float, tmp_path) -> np.ndarray:
    """Keypoints of one detection by the evaluation pipeline (dataset, runner, decoding)."""
    det_file = tmp_path / "one_detection.json"
    det_file.write_text(json.dumps([{"image_id": 1000001, "category_id": 1, "bbox": box, "score": score}]))
    cfg = get_config(["--config_path", TINY_CONFIG, "--dataset_path", root, "--TEST.USE_GT_BBOX", "False",
                      "--TEST.FLIP_TEST", "True"])
    ms.set_context(mode=ms.GRAPH_MODE)
    net = get_pose_net(cfg, is_train=False, ckpt_path=ckpt)
    net.set_train(False)
    dataset, generator = keypoint_dataset(cfg, bbox_file=str(det_file), train_mode=False, num_parallel_workers=1)
    found = run_inference(PoseEstimator.from_config(cfg, net), dataset, len(generator))
    ms.set_context(mode=ms.PYNATIVE_MODE)
    return found.preds, rescore(found.preds[:, :, 2], np.array([score]), float(cfg.TEST.IN_VIS_THRE))


@pytest.mark.slow
@pytest.mark.numerics
def test_infer_matches_eval_for_a_box(synthetic_root, tiny_ckpt, tmp_path):
    box, score = [40.5, 30.0, 60.0, 120.0], 0.9
    out = tmp_path / "out"
    proc = run_script("infer.py", ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt,
                                   "--img_path", _val_image(synthetic_root), "--boxes", json.dumps([box + [score]]),
                                   "--TEST.FLIP_TEST", "True", "--output", str(out)])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads((out / "keypoints_results.json").read_text())
    assert len(results) == 1 and results[0]["image_id"] == 1000001 and results[0]["category_id"] == 1
    keypoints = np.asarray(results[0]["keypoints"]).reshape(17, 3)

    preds, scores = _eval_keypoints(synthetic_root, tiny_ckpt, box, score, tmp_path)
    assert preds[0, :, 2].max() > 0   # peaked heatmaps: the comparison is not of zeros
    # infer.py against the evaluation pipeline (in graph mode), one box each: equal on AVX2 (Zen 3), natively and
    # under ONEDNN_MAX_CPU_ISA=SSE41; the tolerances allow the two modes to round the maxima differently
    np.testing.assert_allclose(keypoints[:, :2], preds[0, :, :2], atol=1e-3)
    np.testing.assert_allclose(keypoints[:, 2], preds[0, :, 2], rtol=1e-4, atol=1e-7)
    assert results[0]["score"] == pytest.approx(float(scores[0]), rel=1e-5)

    picture = cv2.imread(str(out / IMAGE.replace(".jpg", "_pose.jpg")))
    original = cv2.imread(_val_image(synthetic_root))
    assert picture is not None and picture.shape == original.shape
    assert np.abs(picture.astype(int) - original.astype(int)).sum() > 0   # box and skeleton drawn


@pytest.mark.slow
def test_infer_whole_image_and_folder(synthetic_root, tiny_ckpt, tmp_path):
    """Without boxes each image of the folder is one person box, the whole image."""
    folder = tmp_path / "images"
    folder.mkdir()
    image = cv2.imread(_val_image(synthetic_root))
    images = {"person.png": image, "000000000007.jpg": np.ascontiguousarray(image[:, ::-1])}
    for name, picture in images.items():
        cv2.imwrite(str(folder / name), picture)
    proc = run_script("infer.py", ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt,
                                   "--img_path", str(folder), "--output", str(tmp_path / "out")])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads((tmp_path / "out" / "keypoints_results.json").read_text())
    assert sorted(r["image_id"] for r in results) == [1, 7]   # index of person.png; numeric name
    assert sorted(os.listdir(tmp_path / "out")) == ["000000000007_pose.jpg", "keypoints_results.json",
                                                    "person_pose.jpg"]
    # The keypoints of a box covering each image, as read back from the files infer.py read.
    cfg = get_config(["--config_path", TINY_CONFIG])
    net = get_pose_net(cfg, is_train=False, ckpt_path=tiny_ckpt)
    net.set_train(False)
    estimator = PoseEstimator.from_config(cfg, net)
    for entry in results:
        picture = cv2.imread(str(folder / entry["file_name"]))
        height, width = picture.shape[:2]
        preds, scores, _ = estimator.estimate(picture, np.array([[0.0, 0.0, width, height]]), np.ones(1))
        keypoints = np.asarray(entry["keypoints"]).reshape(17, 3)
        np.testing.assert_allclose(keypoints[:, :2], preds[0, :, :2], atol=1e-3)
        np.testing.assert_allclose(keypoints[:, 2], preds[0, :, 2], rtol=1e-4, atol=1e-7)
        assert entry["score"] == pytest.approx(float(scores[0]), rel=1e-5)


@pytest.mark.slow
def test_infer_with_a_detector(synthetic_root, tiny_ckpt, tmp_path):
    """Without --boxes, --detector finds the people (the detector track.py runs); people with no joint above
    TEST.IN_VIS_THRE are named in one warning line that says what to do."""
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "street.png"), cv2.resize(cv2.imread(_val_image(synthetic_root)), (240, 180)))
    cv2.imwrite(str(folder / "empty.png"), np.full((180, 240, 3), 250, np.uint8))
    # A tiny Ultralytics-layout detector with a 96×72 input (the 240×180 images fit it at scale 0.4): one person
    # box, centre (48, 36), 40 × 60 input pixels, [70, 15, 100, 150] in the image; its person score falls with the
    # mean of the input's red channel, under the threshold 0.3 on the white image only.
    output = np.zeros((1, 6, 147))
    output[0, :, 7] = [48, 36, 40, 60, 0.9, 0.05]
    mask = np.zeros_like(output)
    mask[0, 4, 7] = -0.7
    detector = write_detector(str(tmp_path / "person.onnx"), output, input_shape=[1, 3, 72, 96], mean_mask=mask)
    out = tmp_path / "out"
    proc = run_script("infer.py", ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt,
                                   "--img_path", str(folder), "--detector", detector, "--TEST.IN_VIS_THRE", "1000",
                                   "--output", str(out)])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads((out / "keypoints_results.json").read_text())
    assert [r["file_name"] for r in results] == ["street.png"]
    assert "empty.png: the detector found no person; skipped" in proc.stdout
    assert sorted(os.listdir(out)) == ["keypoints_results.json", "street_pose.jpg"]

    cfg = get_config(["--config_path", TINY_CONFIG])
    net = get_pose_net(cfg, is_train=False, ckpt_path=tiny_ckpt)
    net.set_train(False)
    image = cv2.imread(str(folder / "street.png"))
    box = np.array([[70.0, 15.0, 100.0, 150.0]])
    preds, _, _ = PoseEstimator.from_config(cfg, net).estimate(image, box, np.array([0.9]))
    keypoints = np.asarray(results[0]["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(keypoints[:, :2], preds[0, :, :2], atol=1e-3)
    assert keypoints[:, 2].max() < 1000      # the premise: no joint of the tiny network scores above 1000
    warnings = [line for line in proc.stdout.splitlines() if "no joint scoring above TEST.IN_VIS_THRE 1000" in line]
    assert len(warnings) == 1 and "1 of 1 people" in warnings[0] and "python -m src.convert" in warnings[0]


def test_detector_errors_are_one_line(tmp_path, tiny_ckpt, capsys):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((20, 20, 3), np.uint8))
    assert run_cli(infer.main, ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt, "--img_path",
                                str(image), "--detector", str(tmp_path / "none.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert f"detector model not found: '{tmp_path / 'none.onnx'}'" in err
