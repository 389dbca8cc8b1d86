"""The allowed values of the configuration keys, checked once when the configuration is built.

A value's type comes from its default in ``default_config.yaml`` and its choices (where a key has
a fixed set) from that file's third document; :data:`RULES` holds everything else a single key
must satisfy, :data:`CROSS_RULES` what keys must satisfy together. Adding a rule is one line:

    "TRAIN.PRINT_STEP": integer_from(1),

Keys without a rule are free text or flags (paths, URLs, names, booleans). ``TEST.BBOX_THRE`` and
``TEST.NMS_THRE`` are the original's and, as in the reference, read by nothing: they stay so that its
configuration files load, and a value other than the default is warned about (:func:`unused_values`).
"""
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from src.constants import BACKBONE_STRIDE, DECONV_PADDING
from src.errors import ConfigSizeError


class Rule(NamedTuple):
    """``test(value)`` is True for an allowed value; ``allowed`` says which values are."""
    allowed: str
    test: Callable[[Any], bool]


def integer_from(low: int) -> Rule:
    return Rule(f"an integer >= {low}", lambda v: v >= low)


def number_from(low: float) -> Rule:
    return Rule(f"a number >= {low}", lambda v: v >= low)


def number_above(low: float) -> Rule:
    return Rule(f"a number > {low}", lambda v: v > low)


def number_in(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Rule:
    """A number between ``low`` and ``high``, each end included unless ``*_open``."""
    text = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    return Rule(text, lambda v: (v > low if low_open else v >= low) and (v < high if high_open else v <= high))


def size_pair(low: int) -> Rule:
    """``[width, height]``, two integers >= ``low``."""
    return Rule(f"[width, height], two integers >= {low}", lambda v: len(v) == 2 and min(v) >= low)


def size_pair_of_multiples(step: int) -> Rule:
    """``[width, height]``, two positive multiples of ``step``."""
    return Rule(f"[width, height], two positive multiples of {step}",
                lambda v: len(v) == 2 and all(x >= step and x % step == 0 for x in v))


def integers_from(low: int) -> Rule:
    return Rule(f"a list of integers >= {low}", lambda v: all(x >= low for x in v))


def integers_of(allowed: Sequence[int]) -> Rule:
    return Rule(f"a list of values from {sorted(allowed)}", lambda v: all(x in allowed for x in v))


NON_EMPTY = Rule("a non-empty string", lambda v: v != "")
INCREASING_EPOCHS = Rule("a list of strictly increasing epochs >= 0, e.g. [90, 120] or []",
                         lambda v: all(x >= 0 for x in v) and all(a < b for a, b in zip(v, v[1:])))

#: Key -> the rule its value must satisfy (types are checked before, against the defaults).
RULES: Dict[str, Rule] = {
    "data_path": NON_EMPTY,
    "output_path": NON_EMPTY,
    "load_path": NON_EMPTY,
    "ckpt_save_dir": NON_EMPTY,
    "batch_size": integer_from(0),                  # 0: leave TRAIN.BATCH_SIZE as it is
    "end_epoch": integer_from(0),                   # 0: leave TRAIN.END_EPOCH as it is
    "POSE_RESNET.NUM_DECONV_LAYERS": integer_from(1),
    "POSE_RESNET.NUM_DECONV_FILTERS": integers_from(1),
    "POSE_RESNET.NUM_DECONV_KERNELS": integers_of(DECONV_PADDING),
    "POSE_RESNET.HEATMAP_SIZE": size_pair(1),
    "POSE_RESNET.SIGMA": number_above(0),
    "MODEL.NUM_JOINTS": integer_from(1),
    "MODEL.IMAGE_SIZE": size_pair(32),
    "DATASET.TEST_SET": NON_EMPTY,
    "DATASET.TRAIN_SET": NON_EMPTY,
    "DATASET.ROT_FACTOR": integer_from(0),
    "DATASET.SCALE_FACTOR": number_in(0, 1, high_open=True),   # the scale 1 - SCALE_FACTOR stays positive
    "DATASET.SHIFT_FACTOR": number_from(0),
    "TRAIN.NUM_WORKERS": integer_from(1),
    "TRAIN.BATCH_SIZE": integer_from(1),
    "TRAIN.BEGIN_EPOCH": integer_from(0),
    "TRAIN.END_EPOCH": integer_from(1),
    "TRAIN.PRINT_STEP": integer_from(1),
    "TRAIN.SAVE_EPOCH": integer_from(1),
    "TRAIN.SAVE_STEPS": integer_from(0),               # 0: checkpoints at epoch ends only
    "TRAIN.SINK_SIZE": integer_from(0),                # 0: one sink per epoch
    "TRAIN.KEEP_CKPT_MAX": integer_from(1),
    "TRAIN.LR": number_above(0),
    "TRAIN.LR_FACTOR": number_in(0, 1, low_open=True),
    "TRAIN.LR_STEP": INCREASING_EPOCHS,
    "TRAIN.SEED": integer_from(0),
    "TRAIN.STOP_TIMEOUT": integer_from(1),
    "TEST.BATCH_SIZE": integer_from(1),
    "TEST.DATALOADER_WORKERS": integer_from(1),
    "TEST.OKS_THRE": number_in(0, 1),
    "TEST.IN_VIS_THRE": number_from(0),
    "TEST.IMAGE_THRE": number_in(0, 1),
    "EXPORT.FILE_NAME": NON_EMPTY,
    "INFER.PRE_RESULT_PATH": NON_EMPTY,
    "INFER.POST_RESULT_PATH": NON_EMPTY,
    "TRACK.OUTPUT": NON_EMPTY,
    "TRACK.SIMILARITY_THRE": number_in(0, 1),
    "TRACK.KEEP_FRAMES": integer_from(1),              # 1: the previous frame only
    "TRACK.APPEARANCE_THRE": number_in(0, 1),
    "TRACK.BOX_ENLARGE": number_from(0),
    "TRACK.NMS_THRE": number_in(0, 1),
    "TRACK.MIN_SCORE": number_in(0, 1),
    "TRACK.UNIFY_THRE": number_in(0, 1),
    "TRACK.PROPAGATE_JOINT_THRE": number_from(0),
    "TRACK.FPS": number_from(0),                       # 0: the input video's rate
    "TRACK.DETECTOR_EVERY": integer_from(1),           # 1: every frame
    "TRACK.DETECTOR_SCORE_THRE": number_in(0, 1),
    "TRACK.DETECTOR_NMS_THRE": number_in(0, 1),
    "TRACK.DETECTOR_INPUT_SIZE": size_pair_of_multiples(32),   # the detectors' largest stride
    "TRACK.POSETRACK_JOINT_THRE": number_in(0, 1),
}


# ---- rules between keys: each returns the problem (one line) or None --------------------------

def heatmap_size_for(image_size: Sequence[int], num_deconv: int) -> list:
    """The heatmap size ``[w, h]`` the network produces for ``image_size`` ``[w, h]``."""
    return [int(v) // BACKBONE_STRIDE * 2 ** num_deconv for v in image_size]


def check_sizes(image_size: Sequence[int], heatmap_size: Sequence[int], num_deconv: int) -> None:
    """Checks that the network maps ``image_size`` [w, h] to ``heatmap_size`` [w, h].

    The backbone divides by 32 (so the input must be a multiple of 32) and each
    deconvolution doubles: the heatmap is ``image / 32 * 2**num_deconv``.

    Raises:
        ConfigSizeError: naming the keys and the sizes that would fit.
    """
    if len(image_size) != 2 or any(int(v) <= 0 or int(v) % BACKBONE_STRIDE for v in image_size):
        raise ConfigSizeError(f"MODEL.IMAGE_SIZE {list(image_size)} must be [width, height] with both multiples "
                              f"of 32 (the ResNet backbone divides by 32), e.g. [192, 256] or [96, 128]")
    expected = heatmap_size_for(image_size, num_deconv)
    if list(map(int, heatmap_size)) != expected:
        raise ConfigSizeError(f"POSE_RESNET.HEATMAP_SIZE {list(heatmap_size)} does not match the network: "
                              f"MODEL.IMAGE_SIZE {list(image_size)} with {num_deconv} deconvolution layers gives "
                              f"{expected}; set --POSE_RESNET.HEATMAP_SIZE {expected}")


def _deconv_lists(cfg: Mapping[str, Any]) -> Optional[str]:
    layers = cfg["POSE_RESNET.NUM_DECONV_LAYERS"]
    for key in ("POSE_RESNET.NUM_DECONV_FILTERS", "POSE_RESNET.NUM_DECONV_KERNELS"):
        if len(cfg[key]) != layers:
            return (f"{key}: expected {layers} entries, one per deconvolution layer "
                    f"(POSE_RESNET.NUM_DECONV_LAYERS is {layers}), got {cfg[key]}")
    return None


def _sizes(cfg: Mapping[str, Any]) -> Optional[str]:
    try:
        check_sizes(cfg["MODEL.IMAGE_SIZE"], cfg["POSE_RESNET.HEATMAP_SIZE"], cfg["POSE_RESNET.NUM_DECONV_LAYERS"])
    except ConfigSizeError as err:
        return str(err)
    return None


def _epochs(cfg: Mapping[str, Any]) -> Optional[str]:
    begin, end = cfg["TRAIN.BEGIN_EPOCH"], cfg["TRAIN.END_EPOCH"]
    if begin >= end:
        return f"TRAIN.BEGIN_EPOCH: expected an epoch below TRAIN.END_EPOCH ({end}), got {begin}"
    return None


def _lr_steps(cfg: Mapping[str, Any]) -> Optional[str]:
    late = [s for s in cfg["TRAIN.LR_STEP"] if s >= cfg["TRAIN.END_EPOCH"]]
    if late:
        return (f"TRAIN.LR_STEP {cfg['TRAIN.LR_STEP']}: the steps {late} are at or after TRAIN.END_EPOCH "
                f"({cfg['TRAIN.END_EPOCH']}) and never lower the learning rate")
    return None


def _precision(cfg: Mapping[str, Any]) -> Optional[str]:
    if cfg["MODEL.PRECISION"] in ("int8", "bf16") and str(cfg["device_target"]) != "CPU":
        return (f"MODEL.PRECISION {cfg['MODEL.PRECISION']}: reduced precision runs on device_target CPU only "
                f"(got {cfg['device_target']}); use fp32")
    return None


#: Keys of the original's configuration that nothing reads (as in the reference), and what does their work.
UNUSED: Dict[str, str] = {
    "TEST.BBOX_THRE": "person boxes are filtered by TEST.IMAGE_THRE",
    "TEST.NMS_THRE": "OKS-NMS uses TEST.OKS_THRE",
}


def unused_values(flat: Mapping[str, Any], defaults: Mapping[str, Any]) -> Optional[str]:
    """One line naming the :data:`UNUSED` keys set to something else than their defaults, or None."""
    changed = [f"{key} ({flat[key]}): not used, {why}" for key, why in UNUSED.items()
               if key in flat and flat[key] != defaults.get(key)]
    return "; ".join(changed) or None


class CrossRule(NamedTuple):
    """``check`` over ``keys``; the problem it finds is refused, or only shown when ``warning``."""
    keys: tuple
    check: Callable[[Mapping[str, Any]], Optional[str]]
    warning: bool = False


_DECONV = ("POSE_RESNET.NUM_DECONV_LAYERS", "POSE_RESNET.NUM_DECONV_FILTERS", "POSE_RESNET.NUM_DECONV_KERNELS")
CROSS_RULES = (
    CrossRule(_DECONV, _deconv_lists),
    CrossRule(_DECONV + ("MODEL.IMAGE_SIZE", "POSE_RESNET.HEATMAP_SIZE"), _sizes),
    CrossRule(("TRAIN.BEGIN_EPOCH", "TRAIN.END_EPOCH"), _epochs),
    CrossRule(("MODEL.PRECISION", "device_target"), _precision),
    # A shortened run (--end_epoch 2 with the default [90, 120]) is common and harmless: said, not refused.
    CrossRule(("TRAIN.LR_STEP", "TRAIN.END_EPOCH"), _lr_steps, warning=True),
)


def check_rules(flat: Mapping[str, Any], labels: Mapping[str, str]) -> Tuple[List[str], List[str]]:
    """The problems and the warnings of the flat configuration ``flat`` (``"TRAIN.LR" -> value``).

    ``labels`` names where a key's value came from (``--TRAIN.LR``, ``my.yaml: TRAIN.LR``); keys
    not in it are named as they are. Rules between keys are skipped where one of their keys already
    failed (their message would only repeat it). Each problem and warning is one line.
    """
    problems, warnings, failed = [], [], set()
    for key, rule in RULES.items():
        if key in flat and not rule.test(flat[key]):
            problems.append(f"{labels.get(key, key)}: expected {rule.allowed}, got {flat[key]!r}")
            failed.add(key)
    for cross in CROSS_RULES:
        if failed.intersection(cross.keys) or not all(k in flat for k in cross.keys):
            continue
        problem = cross.check(flat)
        if problem and cross.warning:
            warnings.append(problem)
        elif problem:
            problems.append(problem)
            failed.update(cross.keys)
    return problems, warnings
