"""The CPU path of the convolutions, one value decided once per network: which formulation runs
(:class:`CpuPath`) and, on the oneDNN path, the layout activations take between layers (:class:`Layout`).

``MODEL.FAST_CPU`` is turned into a :class:`CpuPath` by :func:`cpu_path` (which logs, once per process, the one
line saying what runs and on which instruction set); :class:`src.model.PoseResNet` does it once and hands the value
to its layers, each of which builds its formulation as a child Cell (:mod:`src.network.fast_ops`).
"""
import enum
import logging
import os
from typing import Optional, Union

from src.errors import ConfigError
from src.network import onednn
from src.network.onednn.isa import describe_cpu_isa

logger = logging.getLogger(__name__)

#: Environment variable: ``0`` keeps oneDNN's direct kernels for every convolution on the oneDNN path, in inference
#: and training (else Winograd F(2×2, 3×3) runs where :meth:`CpuPath.inference_winograd` and
#: :meth:`CpuPath.training_winograd` say).
WINOGRAD_ENV = "POSE_ONEDNN_WINOGRAD"
#: Environment variable: ``0`` keeps oneDNN's direct kernels for training only (inference as ``WINOGRAD_ENV`` says).
WINOGRAD_TRAINING_ENV = "POSE_ONEDNN_WINOGRAD_TRAINING"
#: Environment variable: the fewest 2×2 output tiles (N·⌈H/2⌉·⌈W/2⌉) with which training's forward pass and
#: backward-data of a Winograd layer run Winograd (default 256, ``winograd.cc``'s kMinTrainingTiles; below it, the
#: direct kernel: those passes transform the weights on every call). Read by the operators on each call.
WINOGRAD_MIN_TILES_ENV = "POSE_WINOGRAD_MIN_TILES"
#: Environment variable: ``1`` runs inference's transposed convolutions without residual as one ordinary convolution
#: per output phase (``phases.h``), ``0`` as oneDNN's; unset, by phases where oneDNN dispatches AVX-512 kernels
#: (faster there), oneDNN's on AVX2 (faster on Zen 3). Read by the operators on each call.
DECONV_PHASES_ENV = "POSE_ONEDNN_DECONV_PHASES"


def _switched_off(name: str) -> bool:
    return os.environ.get(name, "1").strip() == "0"


class CpuPath(str, enum.Enum):
    """The formulation of the convolutions on the CPU (a ``str``: ``CpuPath.ONEDNN == "onednn"``)."""

    STOCK = "stock"    # MindSpore's operators (what export uses)
    IM2COL = "im2col"  # im2col + matrix products, the transposed convolutions by their sub-pixel decomposition
    ONEDNN = "onednn"  # oneDNN primitives in custom operators (src/network/onednn)

    def inference_winograd(self, kernel: int, stride: int, padding: int) -> bool:
        """Whether a convolution's float32 inference on this path runs Winograd F(2×2, 3×3)
        (``src/network/onednn/winograd.cc``) instead of oneDNN's direct kernel: on the oneDNN path, every 3×3
        stride-1 convolution with padding 1, unless ``POSE_ONEDNN_WINOGRAD=0``. On two AVX2 cores (Zen 3) each of
        ResNet-50's and the demo network's such layers ran 1.2–1.7× faster so (docs/cpu_performance.md). The int8
        network keeps the direct convolution."""
        if self is not CpuPath.ONEDNN or _switched_off(WINOGRAD_ENV):
            return False
        return (kernel, stride, padding) == (3, 1, 1)

    def training_winograd(self, kernel: int, stride: int, padding: int) -> bool:
        """Whether a convolution's training forward pass, backward-data and backward-weights run Winograd
        F(2×2, 3×3) (``src/network/onednn/winograd.cc``) instead of oneDNN's direct kernels: where
        :meth:`inference_winograd` says, unless ``POSE_ONEDNN_WINOGRAD_TRAINING=0``. On two AVX2 cores (Zen 3)
        backward-weights of each of ResNet-50's and the demo network's such layers ran 1.5–2.8× faster so
        (docs/cpu_performance.md)."""
        return self.inference_winograd(kernel, stride, padding) and not _switched_off(WINOGRAD_TRAINING_ENV)


class Layout(str, enum.Enum):
    """How activations pass between the layers of a network on the oneDNN path (elsewhere always NCHW); the
    network's own input and output are N×C×H×W in every layout."""

    NCHW = "nchw"                      # every layer takes and returns N×C×H×W
    NHWC = "nhwc"                      # N×H×W×C between layers, in inference and training (the default)
    NHWC_INFERENCE = "nhwc-inference"  # N×H×W×C in inference, N×C×H×W in training (MindSpore's BatchNorm)

    @property
    def inference_nhwc(self) -> bool:
        return self is not Layout.NCHW

    @property
    def training_nhwc(self) -> bool:
        return self is Layout.NHWC


#: What a value of MODEL.FAST_CPU may be: True/False, a path's name, or the path itself.
FastCpu = Union[bool, str, CpuPath]
_ANNOUNCED = set()


def _announce(level: int, message: str) -> None:
    """Logs ``message`` once per process."""
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        logger.log(level, message)


def _isa_phrase() -> str:
    """What the CPU path's log line says of the instruction set (figures depend on it)."""
    return f"oneDNN dispatches {describe_cpu_isa()}"


def cpu_path(fast: FastCpu) -> CpuPath:
    """The path ``MODEL.FAST_CPU = fast`` runs.

    ``True`` (or ``"true"``) takes the oneDNN operators where they build and im2col elsewhere; ``"onednn"``
    asks for them (im2col, with a warning, where they do not build). The first decision logs one line. A
    :class:`CpuPath` is returned as it is (decided already).

    Raises:
        ConfigError: ``fast`` is none of True, False, "stock", "im2col", "onednn".
    """
    if isinstance(fast, CpuPath):
        return fast
    value = str(fast).strip().lower()
    if value in ("false", CpuPath.STOCK.value):
        return CpuPath.STOCK
    if value == CpuPath.IM2COL.value:
        if not _ANNOUNCED:  # (after a fallback to im2col, the layers are built with "im2col": said already)
            _announce(logging.INFO, f"CPU convolutions: the im2col path (MODEL.FAST_CPU im2col); {_isa_phrase()}")
        return CpuPath.IM2COL
    if value not in ("true", CpuPath.ONEDNN.value):
        raise ConfigError(f"MODEL.FAST_CPU must be True, False, onednn or im2col, got {fast!r}")
    path, description = onednn.library_status()
    if path is None:
        _announce(logging.WARNING, f"CPU convolutions: the im2col path, the oneDNN operators are unavailable: "
                                   f"{description}; {_isa_phrase()}")
        return CpuPath.IM2COL
    _announce(logging.INFO, f"CPU convolutions: {description}; {_isa_phrase()}")
    return CpuPath.ONEDNN


def network_layout(path: CpuPath, layout: Optional[Union[str, Layout]] = None) -> Layout:
    """The layout of a network on ``path``: ``layout`` where given, else N×H×W×C between layers on the oneDNN path
    and N×C×H×W on the others (the only layout they have).

    Raises:
        ValueError: a layout other than NCHW off the oneDNN path, or an unknown one.
    """
    if layout is None:
        return Layout.NHWC if path is CpuPath.ONEDNN else Layout.NCHW
    try:
        layout = Layout(layout)
    except ValueError as err:
        raise ValueError(f"layout must be one of {[v.value for v in Layout]}, got {layout!r}") from err
    if layout is not Layout.NCHW and path is not CpuPath.ONEDNN:
        raise ValueError(f"the {path.value} path runs N×C×H×W only, got layout {layout.value!r}")
    return layout
