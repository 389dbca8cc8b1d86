"""Configuration: defaults, overrides, shortcuts, errors, help."""
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from src.errors import ConfigError
from src.model_utils import config as config_module
from src.model_utils.config import DEFAULT_CONFIG_PATH, get_config

ORIGINAL_TOP_KEYS = [
    "enable_modelarts", "data_url", "train_url", "checkpoint_url", "data_path", "output_path", "load_path",
    "device_target", "enable_profiling", "modelarts_dataset_unzip_name", "ckpt_save_dir", "batch_size",
    "run_distribute", "dataset_path", "end_epoch", "eval_model_file", "coco_bbox_file",
]
ORIGINAL_SECTIONS = {
    "POSE_RESNET": {"NUM_LAYERS": 50, "DECONV_WITH_BIAS": False, "NUM_DECONV_LAYERS": 3,
                    "NUM_DECONV_FILTERS": [256, 256, 256], "NUM_DECONV_KERNELS": [4, 4, 4],
                    "FINAL_CONV_KERNEL": 1, "TARGET_TYPE": "gaussian", "HEATMAP_SIZE": [48, 64], "SIGMA": 2},
    "MODEL": {"NAME": "pose_resnet", "INIT_WEIGHTS": True, "RESUME": False, "NUM_JOINTS": 17,
              "IMAGE_SIZE": [192, 256]},
    "DATASET": {"TEST_SET": "val2017", "TRAIN_SET": "train2017", "FLIP": True, "ROT_FACTOR": 40,
                "SCALE_FACTOR": 0.3},
    "TRAIN": {"BEGIN_EPOCH": 0, "END_EPOCH": 140, "PRINT_STEP": 100, "LR": 0.001, "LR_FACTOR": 0.1,
              "LR_STEP": [90, 120]},
    "TEST": {"BATCH_SIZE": 32, "FLIP_TEST": True, "POST_PROCESS": True, "SHIFT_HEATMAP": True,
             "USE_GT_BBOX": False, "MODEL_FILE": "", "OKS_THRE": 0.9, "IN_VIS_THRE": 0.2,
             "BBOX_THRE": 1.0, "IMAGE_THRE": 0.0, "NMS_THRE": 1.0,
             "COCO_BBOX_FILE": "experiments/COCO_val2017_detections_AP_H_56_person.json"},
    "EXPORT": {"FILE_FORMAT": "MINDIR"},
    "INFER": {"PRE_RESULT_PATH": "./preprocess_Result"},
}


def test_defaults_keep_every_original_key():
    cfg = get_config([])
    for key in ORIGINAL_TOP_KEYS:
        assert key in cfg
    for section, values in ORIGINAL_SECTIONS.items():
        for key, value in values.items():
            assert cfg[section][key] == value, f"{section}.{key}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        assert not repeated, f"keys written twice at line {node.start_mark.line + 1}: {repeated}"
        return super().construct_mapping(node, deep)


def test_every_help_and_choice_names_a_key_and_no_key_is_written_twice():
    with open(DEFAULT_CONFIG_PATH) as f:
        values, helps, choices = list(yaml.load_all(f, Loader=_UniqueKeyLoader))
    keys = set(config_module._flatten(values))
    assert set(config_module._flatten(helps)) <= keys, set(config_module._flatten(helps)) - keys
    assert set(config_module._flatten(choices)) <= keys, set(config_module._flatten(choices)) - keys


def test_three_documents_and_every_key_has_help():
    with open(DEFAULT_CONFIG_PATH) as f:
        values, helps, choices = list(yaml.safe_load_all(f))
    assert choices["device_target"] == ["Ascend", "GPU", "CPU"]
    for key, value in values.items():
        if isinstance(value, dict):
            for sub in value:
                assert sub in helps.get(key, {}), f"no help for {key}.{sub}"
        else:
            assert key in helps, f"no help for {key}"


def test_config_set_replaces_existing_keys_only():
    cfg = get_config([])
    cfg.set("DATASET.ROOT", "/data/coco")
    cfg.set("ckpt_save_dir", "/out/ckpt")
    assert cfg.DATASET.ROOT == "/data/coco" and cfg.ckpt_save_dir == "/out/ckpt"
    with pytest.raises(ConfigError, match="DATASET.ROOTS"):
        cfg.set("DATASET.ROOTS", "x")
    with pytest.raises(ConfigError, match="NOPE"):
        cfg.set("NOPE.ROOT", "x")


def test_config_set_checks_the_value_where_it_enters():
    """A value set after get_config (the ModelArts adapters set paths) meets the same type and rule."""
    cfg = get_config([])
    with pytest.raises(ConfigError, match=r"^ckpt_save_dir: expected a non-empty string, got ''$"):
        cfg.set("ckpt_save_dir", "")
    with pytest.raises(ConfigError, match=r"^TRAIN.BATCH_SIZE: expected an integer, got 'many'$"):
        cfg.set("TRAIN.BATCH_SIZE", "many")
    with pytest.raises(ConfigError, match=r"^TRAIN.BATCH_SIZE: expected an integer >= 1, got 0$"):
        cfg.set("TRAIN.BATCH_SIZE", 0)
    assert cfg.ckpt_save_dir == "checkpoints" and cfg.TRAIN.BATCH_SIZE == 64


def test_overrides_are_typed():
    cfg = get_config(["--MODEL.IMAGE_SIZE", "[96,128]", "--POSE_RESNET.HEATMAP_SIZE", "[24,32]",
                      "--TEST.FLIP_TEST", "false",
                      "--TRAIN.LR=1", "--device_target", "CPU", "--POSE_RESNET.NUM_LAYERS", "18",
                      "--MODEL.RESUME", "TRUE"])
    assert cfg.MODEL.IMAGE_SIZE == [96, 128]
    assert cfg.TEST.FLIP_TEST is False
    assert cfg.MODEL.RESUME is True
    assert cfg.TRAIN.LR == 1.0 and isinstance(cfg.TRAIN.LR, float)
    assert cfg.device_target == "CPU"
    assert cfg.POSE_RESNET.NUM_LAYERS == 18


def test_exponent_numbers():
    cfg = get_config(["--TRAIN.LR", "1e-3", "--TRAIN.LR_FACTOR", "2E-1"])
    assert cfg.TRAIN.LR == 0.001 and cfg.TRAIN.LR_FACTOR == 0.2
    with pytest.raises(ConfigError, match="integer"):
        get_config(["--TRAIN.END_EPOCH", "1e3"])


def test_string_values_stay_strings():
    assert get_config(["--TEST.MODEL_FILE", "123"]).TEST.MODEL_FILE == "123"


@pytest.mark.parametrize("short,value,section,key", [
    ("eval_model_file", "a.ckpt", "TEST", "MODEL_FILE"),
    ("coco_bbox_file", "boxes.json", "TEST", "COCO_BBOX_FILE"),
    ("batch_size", "8", "TRAIN", "BATCH_SIZE"),
    ("dataset_path", "/data/coco", "DATASET", "ROOT"),
    ("end_epoch", "3", "TRAIN", "END_EPOCH"),
])
def test_shortcuts(short, value, section, key):
    cfg = get_config([f"--{short}", value])
    assert str(cfg[section][key]) == value


def test_explicit_nested_key_wins_over_a_default_shortcut(tmp_path):
    assert get_config(["--TRAIN.BATCH_SIZE", "32"]).TRAIN.BATCH_SIZE == 32
    assert get_config(["--TRAIN.BATCH_SIZE", "32", "--batch_size", "8"]).TRAIN.BATCH_SIZE == 8
    other = tmp_path / "partial.yaml"
    other.write_text("TRAIN:\n    BATCH_SIZE: 16\n")
    assert get_config(["--config_path", str(other)]).TRAIN.BATCH_SIZE == 16
    assert get_config(["--config_path", str(other), "--batch_size", "4"]).TRAIN.BATCH_SIZE == 4


def test_unset_shortcuts_leave_sections_alone():
    cfg = get_config(["--TRAIN.END_EPOCH", "7", "--DATASET.ROOT", "/x"])
    assert cfg.TRAIN.END_EPOCH == 7 and cfg.DATASET.ROOT == "/x"


@pytest.mark.parametrize("argv,words", [
    (["--NUM_LAYERS", "18"], ["--NUM_LAYERS", "POSE_RESNET.NUM_LAYERS"]),
    (["--MODEL.IMAGE_SZE", "[1,2]"], ["MODEL.IMAGE_SZE", "MODEL.IMAGE_SIZE"]),
    (["--TRAIN.LR", "fast"], ["TRAIN.LR", "fast"]),
    (["--POSE_RESNET.NUM_LAYERS", "5.5"], ["POSE_RESNET.NUM_LAYERS", "integer"]),
    (["--MODEL.IMAGE_SIZE", "3"], ["MODEL.IMAGE_SIZE", "list"]),
    (["--TEST.FLIP_TEST", "maybe"], ["TEST.FLIP_TEST", "True or False"]),
    (["--device_target", "TPU"], ["device_target", "TPU"]),
    (["--batch_size"], ["--batch_size", "value"]),
    (["stray"], ["stray"]),
])
def test_errors_name_the_key(argv, words):
    with pytest.raises(ConfigError) as err:
        get_config(argv)
    for word in words:
        assert word in str(err.value)


def test_config_path_selects_another_file(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(textwrap.dedent("""\
        device_target: CPU
        batch_size: 0
        end_epoch: 0
        MODEL:
            IMAGE_SIZE: [96, 128]
        POSE_RESNET:
            HEATMAP_SIZE: [24, 32]
        TRAIN:
            BATCH_SIZE: 4
            END_EPOCH: 2
        ---
        device_target: "device"
        """))
    cfg = get_config(["--config_path", str(other), "--TRAIN.END_EPOCH", "5"])
    assert cfg.MODEL.IMAGE_SIZE == [96, 128]
    assert cfg.TRAIN.BATCH_SIZE == 4 and cfg.TRAIN.END_EPOCH == 5
    with pytest.raises(ConfigError, match="not found"):
        get_config(["--config_path", str(tmp_path / "missing.yaml")])


def test_missing_attribute_names_the_key():
    with pytest.raises(AttributeError, match="IMAGE_SIZE"):
        get_config([]).MODEL.IMAGE_SIZ


def test_help_lists_keys_with_text(capsys):
    with pytest.raises(SystemExit) as done:
        get_config(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--TRAIN.LR" in out and "learning rate" in out and "--eval_model_file" in out


def test_import_parses_nothing():
    code = ("import sys; sys.argv = ['x', '--not_a_key', '1']\n"
            "import src.model_utils.config as c\n"
            "assert 'config' not in vars(c)\n"
            "import src.utils.transform, src.constants\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=config_module.os.path.dirname(DEFAULT_CONFIG_PATH))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_lazy_module_config_parses_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["train.py", "--TRAIN.END_EPOCH", "9"])
    monkeypatch.delitem(vars(config_module), "config", raising=False)
    from src.model_utils.config import config
    assert config.TRAIN.END_EPOCH == 9
    monkeypatch.delitem(vars(config_module), "config", raising=False)


def test_partial_config_file_keeps_other_defaults(tmp_path):
    other = tmp_path / "partial.yaml"
    other.write_text("device_target: CPU\nPOSE_RESNET:\n    NUM_LAYERS: 18\n")
    cfg = get_config(["--config_path", str(other)])
    assert cfg.device_target == "CPU" and cfg.POSE_RESNET.NUM_LAYERS == 18
    assert cfg.POSE_RESNET.NUM_DECONV_KERNELS == [4, 4, 4] and cfg.TEST.OKS_THRE == 0.9


def test_demo_config_is_valid():
    import os
    demo = os.path.join(os.path.dirname(DEFAULT_CONFIG_PATH), "demo_config.yaml")
    cfg = get_config(["--config_path", demo])
    assert cfg.device_target == "CPU"
    width, height = cfg.MODEL.IMAGE_SIZE
    assert cfg.POSE_RESNET.HEATMAP_SIZE == [width // 4, height // 4]


def test_types_come_from_the_defaults_not_the_chosen_file(tmp_path):
    other = tmp_path / "ints.yaml"
    other.write_text("DATASET:\n    SCALE_FACTOR: 0\nTRAIN:\n    LR: 1\n")
    cfg = get_config(["--config_path", str(other)])
    assert cfg.DATASET.SCALE_FACTOR == 0.0 and isinstance(cfg.DATASET.SCALE_FACTOR, float)
    assert isinstance(cfg.TRAIN.LR, float)
    cfg = get_config(["--config_path", str(other), "--DATASET.SCALE_FACTOR", "0.1"])
    assert cfg.DATASET.SCALE_FACTOR == 0.1
    with pytest.raises(ConfigError, match="expected an integer"):
        get_config(["--config_path", str(other), "--TRAIN.END_EPOCH", "1.5"])


def test_the_chosen_file_is_checked_against_the_default_types(tmp_path):
    other = tmp_path / "typed.yaml"
    other.write_text("TRAIN:\n    LR: 1e-3\nPOSE_RESNET:\n    SIGMA: 1.5\n")
    cfg = get_config(["--config_path", str(other)])
    assert cfg.TRAIN.LR == 0.001 and cfg.POSE_RESNET.SIGMA == 1.5
    for text, message in (("TRAIN:\n    BATCH_SIZE: 16.5\n", "TRAIN.BATCH_SIZE: expected an integer, got 16.5"),
                          ("TRAIN:\n    LR: fast\n", "TRAIN.LR: expected a number, got 'fast'"),
                          ("DATASET:\n    FLIP: 1\n", "DATASET.FLIP: expected True or False, got 1")):
        other.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(f"{other}: {message}")):
            get_config(["--config_path", str(other)])
    assert get_config(["--POSE_RESNET.SIGMA", "1.5"]).POSE_RESNET.SIGMA == 1.5
