"""CPU convolutions, transposed convolutions and max-pooling as oneDNN primitives in MindSpore custom operators.

The C++ operators (``runtime.cc``, ``conv.cc``, ``pool.cc``, ``batchnorm.cc``, and the int8 ones of
``int8.cc`` that :mod:`src.quantize.ops` wraps) are compiled on first use
(:mod:`.build`); :func:`library_path` says whether that worked, once per process, and :mod:`.ops` wraps the compiled kernels as MindSpore operators. Setting the
environment variable ``SIMPLEPOSE_ONEDNN=0`` turns the operators off (the im2col path runs).
"""
import functools
import os
from typing import Optional, Tuple

#: Environment variable that turns the oneDNN operators off when "0".
SWITCH = "SIMPLEPOSE_ONEDNN"


@functools.lru_cache(maxsize=None)
def library_status() -> Tuple[Optional[str], str]:
    """``(path of the compiled kernels, description)``, or ``(None, why they are unavailable)``; built once."""
    if os.environ.get(SWITCH, "1") == "0":
        return None, f"turned off by {SWITCH}=0"
    from src.network.onednn import build  # pylint: disable=import-outside-toplevel
    return build.library()


def library_path() -> Optional[str]:
    """Path of the compiled kernels, or None where they cannot be built or loaded."""
    return library_status()[0]
