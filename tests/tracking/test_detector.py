"""The ONNX person detector (src/tracking/detector.py): letterbox, YOLOX grid decoding, each output layout
on tiny ONNX models with hand-computed boxes, the preprocessing each layout gets, auto-detection, errors."""
import logging
import math
import sys

import numpy as np
import pytest

from src.errors import DetectorError, DetectorLayoutError, MissingDependencyError
from src.model_utils.config import DEFAULT_CONFIG_PATH, get_config, load_yaml
from src.tracking import detector as detector_module
from src.tracking.detector import (STRIDES, STRIDES_P6, DetectorBoxes, DetectorSettings, PersonDetector,
                                   anchor_grid, corners, decode_yolox, grid_count, input_tensor, letterbox,
                                   to_frame)
from src.tracking.video import Frame
from tests.tracking.onnx_models import write_detector

#: The tiny models' input [W, H] and its number of grid cells at strides 8, 16, 32: 12×8 + 6×4 + 3×2.
INPUT = (96, 64)
CELLS = 126
#: A 240×80 frame fits the input at scale 0.4 as 96×32: centred 16 px down, or at the top for YOLOX.
FRAME_SIZE = (240, 80)
#: Its colour (BGR). Channel means of the letterboxed input, half image and half grey 114: YOLOX's first
#: channel is blue, (10 + 114) / 2 = 62; the others' is red scaled to 0-1, (141 + 114) / 2 / 255 = 0.5.
COLOUR = (10, 20, 141)
YOLOX_MEAN, RGB_MEAN = 62.0, 0.5
ULTRALYTICS = {"task": "detect", "imgsz": "[64, 96]", "names": "{0: 'person', 1: 'bicycle'}", "stride": "32"}


def frame_image(size=FRAME_SIZE, colour=COLOUR):
    image = np.empty((size[1], size[0], 3), np.uint8)
    image[:] = colour
    return image


def detector(path, **settings):
    return PersonDetector(DetectorSettings(str(path), **settings))


# ---- pure functions ---------------------------------------------------------------------------------

def test_letterbox_centred_and_top_left():
    image = frame_image()
    canvas, box = letterbox(image, INPUT, centred=True)
    assert canvas.shape == (64, 96, 3)
    np.testing.assert_array_equal(canvas[16:48], np.broadcast_to(COLOUR, (32, 96, 3)))
    assert (canvas[:16] == 114).all() and (canvas[48:] == 114).all()
    np.testing.assert_allclose(box.scale, [0.4, 0.4])
    np.testing.assert_allclose(box.offset, [0, 16])
    canvas, box = letterbox(image, INPUT, centred=False)
    np.testing.assert_array_equal(canvas[:32], np.broadcast_to(COLOUR, (32, 96, 3)))
    assert (canvas[32:] == 114).all()
    np.testing.assert_allclose(box.offset, [0, 0])
    # An odd padding (64 - 49 = 15 rows): 7 above and 8 below, as YOLOv5's and Ultralytics' round(dh ∓ 0.1).
    canvas, box = letterbox(frame_image((96, 49)), INPUT, centred=True)
    np.testing.assert_allclose(box.offset, [0, 7])
    assert (canvas[:7] == 114).all() and (canvas[7:56] != 114).any(axis=2).all() and (canvas[56:] == 114).all()
    # Scaled up, sizes rounded (centred) or truncated (YOLOX): 50×30 → ×1.92 = 96×57.6.
    _, box = letterbox(frame_image((50, 30)), INPUT, centred=True)
    np.testing.assert_allclose(box.scale, [96 / 50, 58 / 30])
    np.testing.assert_allclose(box.offset, [0, 3])
    _, box = letterbox(frame_image((50, 30)), INPUT, centred=False)
    np.testing.assert_allclose(box.scale, [96 / 50, 57 / 30])


def test_input_tensor_channels_and_scale():
    canvas = np.empty((2, 3, 3), np.uint8)
    canvas[:] = (10, 20, 141)
    yolox = input_tensor(canvas, yolox=True)
    assert yolox.shape == (1, 3, 2, 3) and yolox.dtype == np.float32
    np.testing.assert_array_equal(yolox[0, :, 0, 0], [10, 20, 141])                  # BGR, 0-255
    np.testing.assert_allclose(input_tensor(canvas, yolox=False)[0, :, 1, 2], [141 / 255, 20 / 255, 10 / 255])
    assert input_tensor(canvas, yolox=False, dtype=np.float16).dtype == np.float16


def test_frame_boxes_undo_the_letterbox_and_are_clipped():
    _, box = letterbox(frame_image(), INPUT, centred=True)
    boxes = to_frame(np.array([[28, 24, 68, 40], [15, 10, 25, 30]]), box, FRAME_SIZE)
    np.testing.assert_allclose(boxes, [[70, 20, 100, 40], [37.5, 0, 25, 35]])      # y1 = -15 clipped to 0


def test_anchor_grid_and_yolox_decoding():
    assert grid_count(INPUT, STRIDES) == CELLS and grid_count(INPUT, STRIDES_P6) == CELLS + 2
    assert grid_count((640, 640), STRIDES) == 8400
    assert grid_count((100, 70), STRIDES) == 13 * 9 + 7 * 5 + 4 * 3                 # cells cover the borders
    cells, strides = anchor_grid(INPUT, STRIDES)
    assert cells.shape == (CELLS, 2) and strides.shape == (CELLS,)
    np.testing.assert_array_equal(cells[[0, 1, 12, 95]], [[0, 0], [1, 0], [0, 1], [11, 7]])
    # Row 104: stride 16 (rows 96-119, 6 cells a row), cell (2, 1).
    np.testing.assert_array_equal([*cells[104], strides[104]], [2, 1, 16])
    np.testing.assert_array_equal([*cells[125], strides[125]], [2, 1, 32])
    decoded = decode_yolox(np.array([[0.5, 0.25, math.log(2), 0.0]]), cells[[104]], strides[[104]])
    np.testing.assert_allclose(decoded, [[40, 20, 32, 16]])
    np.testing.assert_allclose(corners(decoded), [[24, 12, 56, 28]])


# ---- the layouts, end to end on tiny models ----------------------------------------------------------

def test_yolov8_layout_scores_thresholds_and_nms(tmp_path):
    output = np.zeros((1, 6, CELLS))                  # [4 + 2 classes, N]: cx, cy, w, h, person, bicycle
    output[0, :, 10] = [48, 32, 40, 16, 0.9, 0.1]     # a person
    output[0, :, 11] = [50, 32, 40, 16, 0.8, 0.0]     # the same person (IoU 0.90): removed by the NMS
    output[0, :, 20] = [20, 20, 10, 20, 0.0, 0.0]     # score: the red mean, below
    output[0, :, 30] = [70, 40, 20, 20, 0.2, 0.0]     # under the score threshold
    output[0, :, 40] = [70, 40, 20, 20, 0.1, 0.95]    # a bicycle
    mask = np.zeros_like(output)
    mask[0, 4, 20] = 1.0
    found = detector(write_detector(str(tmp_path / "v8.onnx"), output, mean_mask=mask))
    assert found.layout == "yolov8" and found.input_size == INPUT
    boxes, scores = found(frame_image())
    np.testing.assert_allclose(boxes, [[70, 20, 100, 40], [37.5, 0, 25, 35]])
    np.testing.assert_allclose(scores, [0.9, RGB_MEAN], rtol=1e-5)
    # Thresholds: the score's, and an NMS threshold above the pair's IoU keeps both.
    boxes, scores = detector(tmp_path / "v8.onnx", score_thre=0.6)(frame_image())
    np.testing.assert_allclose(scores, [0.9], rtol=1e-5)
    boxes, scores = detector(tmp_path / "v8.onnx", nms_thre=0.95, score_thre=0.15)(frame_image())
    np.testing.assert_allclose(scores, [0.9, 0.8, RGB_MEAN, 0.2], rtol=1e-5)
    np.testing.assert_allclose(boxes[1], [75, 20, 100, 40])


def test_yolov8_rows_first_and_few_candidates(tmp_path, monkeypatch):
    output = np.zeros((1, CELLS, 6))                  # [N, 4 + C], as some conversions leave it
    output[0, 10] = [48, 32, 40, 16, 0.9, 0.1]
    output[0, 20] = [20, 30, 10, 20, 0.7, 0.1]
    path = write_detector(str(tmp_path / "v8t.onnx"), output, metadata=ULTRALYTICS)
    found = detector(path, layout="yolov8")
    boxes, scores = found(frame_image())
    np.testing.assert_allclose(boxes, [[70, 20, 100, 40], [37.5, 10, 25, 50]])      # input (15, 20, 25, 40)
    monkeypatch.setattr(detector_module, "MAX_CANDIDATES", 1)  # only the best candidate reaches the NMS
    np.testing.assert_allclose(found(frame_image())[1], [0.9], rtol=1e-5)


def test_yolox_raw_grid_outputs(tmp_path):
    output = np.zeros((1, CELLS, 7))                  # [N, 5 + 2]: dx, dy, log w, log h, objectness, classes
    output[0, 104] = [0.5, 0.25, math.log(2), 0.0, 0.9, 0.8, 0.1]   # cell (2, 1) of stride 16
    output[0, 5] = [0.5, 0.5, math.log(4), math.log(4), 0.5, 0.0, 0.0]  # cell (5, 0) of stride 8; score 0.5 × mean
    mask = np.zeros_like(output)
    mask[0, 5, 5] = 0.01
    found = detector(write_detector(str(tmp_path / "yolox.onnx"), output, mean_mask=mask))
    assert found.layout == "yolox"
    boxes, scores = found(frame_image())
    # Input boxes (24, 12, 56, 28) and (28, -12, 60, 20) (centre (5.5 × 8, 0.5 × 8), 32 × 32): the image
    # is at the top left, so only the scale 0.4 is undone.
    np.testing.assert_allclose(boxes, [[60, 30, 80, 40], [70, 0, 80, 50]])
    np.testing.assert_allclose(scores, [0.72, 0.5 * YOLOX_MEAN * 0.01], rtol=1e-5)


def test_yolox_decoded_outputs_are_told_from_raw_ones(tmp_path):
    output = np.zeros((1, CELLS, 7))
    output[0, :, 0] = 50.0                            # decoded centres: input pixels, not offsets in a cell
    output[0, 3] = [48, 32, 40, 16, 0.9, 0.8, 0.1]
    found = detector(write_detector(str(tmp_path / "decoded.onnx"), output))
    assert found.layout == "yolox_decoded"
    boxes, scores = found(frame_image())
    np.testing.assert_allclose(boxes, [[70, 60, 100, 20]])   # input (28, 24, 68, 40) at the top left; y2 100 → 80
    np.testing.assert_allclose(scores, [0.72], rtol=1e-5)


def test_yolov5_three_anchors_a_cell_centred_rgb_input(tmp_path):
    output = np.zeros((1, 3 * CELLS, 7))
    output[0, 300] = [48, 32, 40, 16, 1.0, 0.0, 0.3]                 # objectness × person score
    mask = np.zeros_like(output)
    mask[0, 300, 5] = 1.0
    found = detector(write_detector(str(tmp_path / "v5.onnx"), output, mean_mask=mask,
                                    metadata={"stride": "32", "names": "{0: 'person'}"}))
    assert found.layout == "yolov5"
    boxes, scores = found(frame_image())
    np.testing.assert_allclose(boxes, [[70, 20, 100, 40]])
    np.testing.assert_allclose(scores, [RGB_MEAN], rtol=1e-5)


def test_end2end_rows_of_class_zero(tmp_path):
    output = np.array([[[28, 24, 68, 40, 0.6, 0], [28, 24, 68, 40, 0.95, 2], [0, 0, 10, 10, 0.1, 0],
                        [0, 0, 0, 0, 0.0, 0]]])
    path = write_detector(str(tmp_path / "e2e.onnx"), output, metadata={**ULTRALYTICS, "end2end": "True"})
    found = detector(path)
    assert found.layout == "end2end"
    boxes, scores = found(frame_image())
    np.testing.assert_allclose(boxes, [[70, 20, 100, 40]])
    np.testing.assert_allclose(scores, [0.6], rtol=1e-5)


def test_metadata_decides_between_shapes_that_fit_two_layouts(tmp_path):
    output = np.zeros((1, CELLS, 6))                  # YOLOX with one class, or end-to-end boxes
    assert detector(write_detector(str(tmp_path / "plain.onnx"), output)).layout == "yolox"
    assert detector(write_detector(str(tmp_path / "ultra.onnx"), output, metadata=ULTRALYTICS)).layout == "end2end"


def test_p6_grids_and_half_precision_input(tmp_path):
    output = np.zeros((1, CELLS + 2, 7))              # one more level, stride 64: 2 × 1 cells
    output[0, CELLS + 1] = [0.5, 0.5, 0.0, 0.0, 1.0, 0.9, 0.0]       # cell (1, 0): centre (96, 32), 64 × 64
    found = detector(write_detector(str(tmp_path / "p6.onnx"), output, half=True))
    assert found.layout == "yolox"
    boxes, _ = found(frame_image())
    np.testing.assert_allclose(boxes, [[160, 0, 80, 80]])           # input (64, 0, 128, 64), clipped


def test_dynamic_input_size_comes_from_the_settings(tmp_path):
    output = np.zeros((1, 6, CELLS))
    output[0, :, 10] = [48, 32, 40, 16, 0.9, 0.1]
    path = write_detector(str(tmp_path / "dynamic.onnx"), output, input_shape=["batch", 3, "height", "width"])
    found = detector(path, input_size=INPUT)
    assert found.input_size == INPUT
    np.testing.assert_allclose(found(frame_image())[0], [[70, 20, 100, 40]])
    with pytest.raises(DetectorLayoutError, match=r"for a 640x640 input"):   # 8400 cells, not 126
        detector(path)


# ---- errors ---------------------------------------------------------------------------------------

def test_unknown_and_wrong_layouts_are_one_line_naming_the_file_and_shapes(tmp_path):
    path = write_detector(str(tmp_path / "odd.onnx"), np.zeros((1, 5, 7)), extra_outputs=[np.zeros((1, 3))])
    with pytest.raises(DetectorLayoutError) as err:
        detector(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"detector {path}: unknown output layout")
    assert "[[1, 5, 7], [1, 3]]" in message and "for a 96x64 input" in message
    assert "yolov8 [1, 4+C, N]" in message and "N = 126" in message and "TRACK.DETECTOR_LAYOUT" in message
    path = write_detector(str(tmp_path / "v8.onnx"), np.zeros((1, 6, CELLS)))
    with pytest.raises(DetectorLayoutError, match=r"do not have the layout end2end \(TRACK.DETECTOR_LAYOUT\)"):
        detector(path, layout="end2end")
    with pytest.raises(DetectorLayoutError, match="layout yolox"):                 # raw YOLOX needs N cells
        detector(write_detector(str(tmp_path / "rows.onnx"), np.zeros((1, 50, 7))), layout="yolox")


def test_missing_file_not_onnx_and_not_an_image_input(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"detector model not found: '.*none.onnx' \(TRACK.DETECTOR"):
        detector(tmp_path / "none.onnx")
    (tmp_path / "notes.onnx").write_text("not a model")
    with pytest.raises(DetectorError, match=r"detector .*notes.onnx: not an ONNX model onnxruntime can load"):
        detector(tmp_path / "notes.onnx")
    path = write_detector(str(tmp_path / "flat.onnx"), np.zeros((1, 6, CELLS)), input_shape=[1, 1, 64, 96])
    with pytest.raises(DetectorError, match=r"expected one image input \[1, 3, height, width\]"):
        detector(path)


def test_without_onnxruntime_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    path = write_detector(str(tmp_path / "v8.onnx"), np.zeros((1, 6, CELLS)))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)       # import fails
    with pytest.raises(MissingDependencyError, match=r"person detector .*v8.onnx .*pip install onnxruntime"):
        detector(path)


def test_a_class_zero_that_is_not_a_person_is_said(tmp_path, caplog):
    metadata = {**ULTRALYTICS, "names": "{0: 'car', 1: 'person'}"}
    with caplog.at_level(logging.WARNING):
        detector(write_detector(str(tmp_path / "cars.onnx"), np.zeros((1, 6, CELLS)), metadata=metadata))
    assert "its class 0 is 'car', not 'person'" in caplog.text


# ---- boxes per frame --------------------------------------------------------------------------------

def test_detector_boxes_every_k_frames():
    calls = []

    def fake(image):
        calls.append(image.shape)
        return np.array([[1.0, 2.0, 30.0, 40.0]]), np.array([0.9])

    frames = [Frame(i, f"{i}.jpg", i, np.zeros((8, 6, 3), np.uint8)) for i in range(7)]
    boxes = DetectorBoxes(fake, every=3)
    found = [boxes(f) for f in frames]
    assert [len(b) for b, _ in found] == [1, 0, 0, 1, 0, 0, 1]
    assert boxes.runs == 3 == len(calls) and boxes.seconds >= 0
    assert found[1][0].shape == (0, 4) and found[1][1].shape == (0,)
    every = DetectorBoxes(fake)
    assert all(len(every(f)[0]) == 1 for f in frames)


def test_settings_and_layouts_are_the_configuration_s():
    assert DetectorSettings.from_config(get_config([])) == DetectorSettings("")      # the same defaults
    _, _, choices = load_yaml(DEFAULT_CONFIG_PATH)
    assert choices["TRACK"]["DETECTOR_LAYOUT"] == ["auto", *detector_module.LAYOUTS]
