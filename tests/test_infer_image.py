"""infer.py and src/infer_image.py: boxes, the same keypoints as eval.py, pictures, errors."""
import json
import os

import cv2
import mindspore as ms
import numpy as np
import pytest

import infer
from src.dataset import ImageReadError, keypoint_dataset
from src.evaluate.coco_eval import rescore
from src.evaluate.runner import run_inference
from src.infer_image import BoxesError, boxes_for_images, image_id_of, list_images
from src.utils.image import read_image
from src.model import get_pose_net
from src.model_utils.cli import run_cli
from src.model_utils.config import get_config
from tests.helpers import TINY_CONFIG, run_script

IMAGE = "000001000001.jpg"   # the first synthetic val image (id 1000001)


def _val_image(root: str) -> str:
    return os.path.join(root, "val2017", IMAGE)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> str:
    """A random tiny network with a head strong enough to give peaked, distinct heatmaps."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = get_pose_net(get_config(["--config_path", TINY_CONFIG]), is_train=False, fast_cpu=False)
    rng = np.random.default_rng(0)
    for param in net.get_parameters():
        if param.name.startswith(("deconv_layers", "final_layer")) and param.name.endswith("weight"):
            param.set_data(ms.Tensor(rng.normal(0, 0.05, param.shape).astype(np.float32)))
    path = str(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")
    ms.save_checkpoint(net, path)
    return path


# ----------------------------------------------------------------------------- boxes

def test_boxes_from_command_line_single_image(tmp_path):
    image = str(tmp_path / "a.jpg")
    found = boxes_for_images([image], "[[10, 20, 30, 40], [1, 2, 3, 4, 0.05]]", image_thre=0.1)
    np.testing.assert_allclose(found[image].boxes, [[10, 20, 30, 40]])
    np.testing.assert_allclose(found[image].scores, [1.0])
    assert boxes_for_images([image], "[5, 6, 7, 8]", 0.0)[image].boxes.shape == (1, 4)


def test_whole_image_when_no_boxes():
    assert boxes_for_images(["x/1.jpg", "x/b.png"], "", 0.0) == {"x/1.jpg": None, "x/b.png": None}


def test_boxes_from_detection_file_by_name_and_id(tmp_path):
    dets = [{"file_name": "dir/a.jpg", "bbox": [0, 0, 10, 20], "score": 0.9, "category_id": 1},
            {"image_id": 785, "bbox": [1, 1, 5, 5], "score": 0.8, "category_id": 1},
            {"image_id": 785, "bbox": [1, 1, 5, 5], "score": 0.01, "category_id": 1},
            {"image_id": 785, "bbox": [2, 2, 5, 5], "score": 0.99, "category_id": 2}]
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    images = ["i/a.jpg", "i/000000000785.jpg", "i/c.jpg"]
    found = boxes_for_images(images, str(path), image_thre=0.1)
    assert set(found) == {"i/a.jpg", "i/000000000785.jpg"}
    np.testing.assert_allclose(found["i/a.jpg"].scores, [0.9])
    assert found["i/000000000785.jpg"].image_id == 785
    np.testing.assert_allclose(found["i/000000000785.jpg"].boxes, [[1, 1, 5, 5]])


@pytest.mark.parametrize("boxes, message", [
    ("[[1, 2, 3]]", "4 numbers"),
    ("[[1, 2, 3", "not a JSON list"),
    ("[[1, 2, 0, 4]]", "positive"),
    ("[]", "non-empty"),
    ("[['a', 2, 3, 4]]", "not a JSON list"),
])
def test_bad_boxes(boxes, message):
    with pytest.raises(BoxesError, match=message):
        boxes_for_images(["a.jpg"], boxes, 0.0)


def test_bad_detection_file(tmp_path):
    path = tmp_path / "dets.json"
    path.write_text('{"not": "a list"}')
    with pytest.raises(BoxesError, match="JSON list"):
        boxes_for_images(["a.jpg"], str(path), 0.0)
    path.write_text("[{")
    with pytest.raises(BoxesError, match="not valid JSON"):
        boxes_for_images(["a.jpg"], str(path), 0.0)
    with pytest.raises(BoxesError, match="single image"):
        boxes_for_images(["a.jpg", "b.jpg"], "[[1, 2, 3, 4]]", 0.0)


def test_images_and_ids(tmp_path):
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [os.path.basename(p) for p in list_images(str(tmp_path))] == ["a.jpg", "b.png"]
    assert image_id_of("d/000000000785.jpg", 3) == 785 and image_id_of("d/a.jpg", 3) == 3
    with pytest.raises(ImageReadError, match="cannot read image"):
        read_image(str(tmp_path / "a.jpg"))
    with pytest.raises(FileNotFoundError, match="img_path"):
        list_images(str(tmp_path / "missing.jpg"))


def test_cli_errors(tmp_path, tiny_ckpt, capsys):
    common = ["--config_path", TINY_CONFIG]
    assert run_cli(infer.main, common + ["--eval_model_file", str(tmp_path / "no.ckpt"), "--img_path", "x"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert run_cli(infer.main, common + ["--eval_model_file", tiny_ckpt]) == 2
    assert "--img_path" in capsys.readouterr().err
    assert run_cli(infer.main, common + ["--eval_model_file", tiny_ckpt, "--img_path", str(tmp_path / "no.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: image not found") and err.count("\n") == 1


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
    found = run_inference(cfg, net, dataset, len(generator))
    ms.set_context(mode=ms.PYNATIVE_MODE)
    return found.preds, rescore(found.preds[:, :, 2], np.array([score]), float(cfg.TEST.IN_VIS_THRE))


@pytest.mark.slow
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
    np.testing.assert_allclose(keypoints[:, :2], preds[0, :, :2], atol=1e-3)
    np.testing.assert_allclose(keypoints[:, 2], preds[0, :, 2], rtol=1e-4, atol=1e-7)
    assert results[0]["score"] == pytest.approx(float(scores[0]), rel=1e-5)

    picture = cv2.imread(str(out / IMAGE.replace(".jpg", "_pose.jpg")))
    original = cv2.imread(_val_image(synthetic_root))
    assert picture is not None and picture.shape == original.shape
    assert np.abs(picture.astype(int) - original.astype(int)).sum() > 0   # box and skeleton drawn


@pytest.mark.slow
def test_infer_whole_image_and_folder(synthetic_root, tiny_ckpt, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    image = cv2.imread(_val_image(synthetic_root))
    cv2.imwrite(str(folder / "person.png"), image)
    cv2.imwrite(str(folder / "000000000007.jpg"), image[:, ::-1])
    proc = run_script("infer.py", ["--config_path", TINY_CONFIG, "--eval_model_file", tiny_ckpt,
                                   "--img_path", str(folder), "--output", str(tmp_path / "out")])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads((tmp_path / "out" / "keypoints_results.json").read_text())
    assert sorted(r["image_id"] for r in results) == [1, 7]   # index of person.png; numeric name
    for entry in results:
        keypoints = np.asarray(entry["keypoints"]).reshape(17, 3)
        assert np.isfinite(keypoints).all() and entry["score"] >= 0
    assert sorted(os.listdir(tmp_path / "out")) == ["000000000007_pose.jpg", "keypoints_results.json",
                                                    "person_pose.jpg"]
