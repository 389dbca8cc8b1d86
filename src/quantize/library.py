"""The int8 operators' view of the oneDNN operators' library: their kernels (``src/network/onednn/int8.cc``) are
units of the library :mod:`src.network.onednn.build` compiles, so their path and status are its, and the
instruction set that decides their weight grid is :mod:`src.network.onednn.isa`'s.
"""
from typing import Optional, Tuple

from src.network import onednn
from src.network.onednn import isa
from src.network.onednn.isa import has_vnni, isa_name  # noqa: F401  (the int8 callers' names)


def library_status() -> Tuple[Optional[str], str]:
    """``(path of the compiled operators, description)``, or ``(None, why they are unavailable)``."""
    return onednn.library_status()


def library_path() -> Optional[str]:
    """Path of the compiled operators (the int8 ones among them), or None."""
    return onednn.library_path()


def cpu_isa() -> int:
    """oneDNN's effective instruction set (:func:`src.network.onednn.isa.effective_isa`), or 0 where the operators
    are unavailable."""
    value = isa.effective_isa() if library_path() else None
    return value or 0
