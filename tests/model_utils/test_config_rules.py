"""The configuration's rules (src/model_utils/config_rules.py), checked in one pass by get_config: ranges, list
shapes and keys that must fit together, every problem at once, one line each, naming the key, the value and
what is allowed."""
import pytest
import yaml

from src.model_utils import config as config_module
from src.model_utils.config import DEFAULT_CONFIG_PATH, get_config
from src.errors import ConfigError, ConfigSizeError
from src.model_utils.config_rules import CROSS_RULES, RULES, check_sizes, heatmap_size_for


#: One refused value per rule of RULES (command-line text).
BAD_VALUES = {
    "data_path": "", "output_path": "", "load_path": "", "ckpt_save_dir": "",
    "batch_size": "-1", "end_epoch": "-2",
    "POSE_RESNET.NUM_DECONV_LAYERS": "0", "POSE_RESNET.NUM_DECONV_FILTERS": "[256,0,256]",
    "POSE_RESNET.NUM_DECONV_KERNELS": "[4,5,4]", "POSE_RESNET.HEATMAP_SIZE": "[48]",
    "POSE_RESNET.SIGMA": "0", "MODEL.NUM_JOINTS": "0", "MODEL.IMAGE_SIZE": "[192,256,3]",
    "DATASET.TEST_SET": "", "DATASET.TRAIN_SET": "", "DATASET.ROT_FACTOR": "-40",
    "DATASET.SCALE_FACTOR": "1", "DATASET.SHIFT_FACTOR": "-0.1",
    "TRAIN.NUM_WORKERS": "0", "TRAIN.BATCH_SIZE": "0", "TRAIN.BEGIN_EPOCH": "-1", "TRAIN.END_EPOCH": "0",
    "TRAIN.PRINT_STEP": "0", "TRAIN.SAVE_EPOCH": "0", "TRAIN.SAVE_STEPS": "-5", "TRAIN.SINK_SIZE": "-1", "TRAIN.KEEP_CKPT_MAX": "0", "TRAIN.LR": "-1",
    "TRAIN.LR_FACTOR": "0", "TRAIN.LR_STEP": "[90,90]", "TRAIN.SEED": "-1", "TRAIN.STOP_TIMEOUT": "0",
    "TEST.BATCH_SIZE": "0", "TEST.DATALOADER_WORKERS": "0", "TEST.OKS_THRE": "1.5", "TEST.IN_VIS_THRE": "-0.2",
    "TEST.IMAGE_THRE": "2", "EXPORT.FILE_NAME": "", "INFER.PRE_RESULT_PATH": "", "TRACK.OUTPUT": "", "TRACK.SIMILARITY_THRE": "1.5", "TRACK.KEEP_FRAMES": "0",
    "TRACK.BOX_ENLARGE": "-0.1", "TRACK.NMS_THRE": "2", "TRACK.MIN_SCORE": "-1", "TRACK.FPS": "-5",
    "TRACK.DETECTOR_EVERY": "0", "TRACK.DETECTOR_SCORE_THRE": "1.5", "TRACK.DETECTOR_NMS_THRE": "-0.5",
    "TRACK.DETECTOR_INPUT_SIZE": "[640,500]", "TRACK.POSETRACK_JOINT_THRE": "1.5",
    "TRACK.UNIFY_THRE": "1.5", "TRACK.PROPAGATE_JOINT_THRE": "-0.1", "TRACK.APPEARANCE_THRE": "1.2",
    "INFER.POST_RESULT_PATH": "",
}


def _refusal(argv):
    with pytest.raises(ConfigError) as err:
        get_config(argv)
    return str(err.value)


def test_every_rule_names_a_key_of_the_defaults_and_the_defaults_pass():
    with open(DEFAULT_CONFIG_PATH) as f:
        keys = set(config_module._flatten(next(yaml.safe_load_all(f))))
    assert set(RULES) <= keys, set(RULES) - keys
    for cross in CROSS_RULES:
        assert set(cross.keys) <= keys, cross.keys
    assert set(BAD_VALUES) == set(RULES), "give each rule a refused value here"
    get_config([])


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_each_refused_value_names_the_key_the_value_and_what_is_allowed(key):
    text = BAD_VALUES[key]
    argv = [f"--{key}", text]
    if key == "TRAIN.BEGIN_EPOCH":
        argv += ["--TRAIN.END_EPOCH", "5"]
    message = _refusal(argv)
    assert message.count("\n") == 0, message
    assert message.startswith(f"--{key}: expected {RULES[key].allowed}, got "), message


@pytest.mark.parametrize("argv,words", [
    # the values the issue lists, on the command line
    (["--TRAIN.LR", "-1"], ["--TRAIN.LR", "-1.0", "> 0"]),
    (["--TRAIN.LR", "0"], ["--TRAIN.LR", "0.0", "> 0"]),
    (["--TRAIN.LR_FACTOR", "3"], ["--TRAIN.LR_FACTOR", "3.0", "(0, 1]"]),
    (["--TRAIN.LR_STEP", "[3,1]"], ["--TRAIN.LR_STEP", "[3, 1]", "increasing"]),
    (["--TRAIN.BEGIN_EPOCH", "5", "--TRAIN.END_EPOCH", "2"], ["TRAIN.BEGIN_EPOCH", "5", "TRAIN.END_EPOCH (2)"]),
    (["--TRAIN.BATCH_SIZE", "0"], ["--TRAIN.BATCH_SIZE", "0", ">= 1"]),
    (["--POSE_RESNET.NUM_DECONV_LAYERS", "2"], ["POSE_RESNET.NUM_DECONV_FILTERS", "[256, 256, 256]", "2 entries"]),
    (["--MODEL.IMAGE_SIZE", "[96,128]"], ["POSE_RESNET.HEATMAP_SIZE", "[48, 64]", "[24, 32]"]),
    (["--MODEL.IMAGE_SIZE", "[100,128]", "--POSE_RESNET.HEATMAP_SIZE", "[24,32]"],
     ["MODEL.IMAGE_SIZE", "[100, 128]", "multiples of 32"]),
    (["--POSE_RESNET.NUM_DECONV_KERNELS", "[4,4]"], ["POSE_RESNET.NUM_DECONV_KERNELS", "[4, 4]", "3 entries"]),
    (["--batch_size", "0", "--TRAIN.BATCH_SIZE", "0"], ["--TRAIN.BATCH_SIZE", "0"]),
    (["--end_epoch", "3", "--TRAIN.BEGIN_EPOCH", "3"], ["TRAIN.BEGIN_EPOCH", "TRAIN.END_EPOCH (3)"]),
    (["--MODEL.IMAGE_SIZE", "[96.5,128]"], ["--MODEL.IMAGE_SIZE", "list of integers", "96.5"]),
    (["--DATASET.DATASET", "mpii"], ["--DATASET.DATASET", "['coco', 'posetrack']", "'mpii'"]),
    (["--TRAIN.INIT_DATASET", "mpii"], ["--TRAIN.INIT_DATASET", "['coco', 'posetrack']", "'mpii'"]),
    (["--TRAIN.LR_STEP", "[1.5]"], ["--TRAIN.LR_STEP", "list of integers"]),
])
def test_refused_values_name_the_key(argv, words):
    message = _refusal(argv)
    for word in words:
        assert word in message, message


def test_a_file_is_checked_like_the_command_line(tmp_path):
    other = tmp_path / "typo.yaml"
    for text, words in (
            ("TRAIN:\n    END_EPOH: 1\n", ["unknown configuration key 'TRAIN.END_EPOH'", "TRAIN.END_EPOCH"]),
            ("END_EPOCH: 1\n", ["'END_EPOCH'", "did you mean 'TRAIN.END_EPOCH'"]),
            ("MODEL:\n    IMAGE_SIZE: 128\n", ["MODEL.IMAGE_SIZE: expected a list", "128"]),
            ("MODEL:\n    IMAGE_SIZE: [96.5, 128]\n", ["MODEL.IMAGE_SIZE", "list of integers"]),
            ("POSE_RESNET:\n    NUM_DECONV_KERNELS: [4, 5, 4]\n", ["NUM_DECONV_KERNELS", "[2, 3, 4]", "[4, 5, 4]"]),
            ("TRAIN:\n    LR: -0.001\n", ["TRAIN.LR: expected a number > 0", "-0.001"]),
            ("TRAIN: 5\n", ["TRAIN is a section"]),
            ("DATASET:\n    ROOT: [a, b]\n", ["DATASET.ROOT: expected a string"])):
        other.write_text(text)
        message = _refusal(["--config_path", str(other)])
        assert message.startswith(f"{other}: ") and "\n" not in message, message
        for word in words:
            assert word in message, message
    # A list of the right type from a file is kept; a null string is empty.
    other.write_text("MODEL:\n    IMAGE_SIZE: [96, 128]\nPOSE_RESNET:\n    HEATMAP_SIZE: [24, 32]\nresume:\n")
    cfg = get_config(["--config_path", str(other)])
    assert cfg.MODEL.IMAGE_SIZE == [96, 128] and cfg.resume == ""


def test_every_problem_is_reported_at_once_one_line_each(tmp_path):
    other = tmp_path / "two.yaml"
    other.write_text("TRAIN:\n    LR: 0\n")
    message = _refusal(["--config_path", str(other), "--TRAIN.BATCH_SIZE", "0", "--device_target", "TPU"])
    lines = message.splitlines()
    assert len(lines) == 3, lines
    assert any(line.startswith(f"{other}: TRAIN.LR: expected a number > 0") for line in lines)
    assert any(line.startswith("--TRAIN.BATCH_SIZE:") for line in lines)
    assert any(line.startswith("--device_target:") for line in lines)


def test_unreachable_lr_steps_are_a_warning_not_an_error(caplog):
    with caplog.at_level("WARNING"):
        cfg = get_config(["--end_epoch", "2"])
    assert cfg.TRAIN.END_EPOCH == 2
    assert "TRAIN.LR_STEP [90, 120]" in caplog.text and "TRAIN.END_EPOCH (2)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        get_config(["--end_epoch", "2", "--TRAIN.LR_STEP", "[1]"])
    assert "LR_STEP" not in caplog.text


def test_the_originals_unused_keys_load_and_another_value_is_said(caplog):
    with caplog.at_level("WARNING"):
        get_config([])
    assert "not used" not in caplog.text
    with caplog.at_level("WARNING"):
        get_config(["--TEST.NMS_THRE", "0.5", "--TEST.BBOX_THRE", "0.3"])
    assert ("TEST.BBOX_THRE (0.3): not used, person boxes are filtered by TEST.IMAGE_THRE; "
            "TEST.NMS_THRE (0.5): not used, OKS-NMS uses TEST.OKS_THRE") in caplog.text
    with pytest.raises(ConfigError, match="MODEL.NAME"):
        get_config(["--MODEL.NAME", "hrnet"])


def test_help_says_what_is_allowed(capsys):
    with pytest.raises(SystemExit):
        get_config(["--help"])
    out = capsys.readouterr().out
    assert "Allowed: a number in (0, 1]." in out and "Choices: ['Ascend', 'GPU', 'CPU']." in out


@pytest.mark.parametrize("image,heatmap,words", [
    ([48, 64], [12, 16], ["MODEL.IMAGE_SIZE", "[48, 64]", "multiples of 32"]),
    ([192, 256], [64, 48], ["POSE_RESNET.HEATMAP_SIZE", "[48, 64]"]),
])
def test_sizes_the_network_cannot_produce_are_named(image, heatmap, words):
    with pytest.raises(ConfigSizeError) as err:
        check_sizes(image, heatmap, 3)
    for word in words:
        assert word in str(err.value)
    check_sizes([96, 128], [24, 32], 3)
    check_sizes([192, 256], [24, 32], 2)


def test_heatmap_size_is_the_input_over_32_doubled_per_deconvolution():
    assert heatmap_size_for([192, 256], 3) == [48, 64]
    assert heatmap_size_for([288, 384], 3) == [72, 96]
    assert heatmap_size_for([96, 128], 2) == [12, 16]


def test_a_configuration_may_have_another_number_of_joints():
    """A configuration may describe another network (a converted 16-joint model to export); what reads, trains on or
    decodes a data set type's joints checks them (tests/test_dataset_types.py)."""
    assert get_config(["--MODEL.NUM_JOINTS", "16"]).MODEL.NUM_JOINTS == 16
    assert get_config(["--DATASET.DATASET", "posetrack", "--MODEL.NUM_JOINTS", "16"]).MODEL.NUM_JOINTS == 16
