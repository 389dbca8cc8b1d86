"""Output files written whole or not at all: under a temporary name in the same folder, renamed when complete.

A process killed while writing leaves the previous file (or none) under the real name, never half of a new
one that a later step would read; the temporary file keeps the extension, for writers that choose the format
by it (OpenCV's video writer, ``np.savez``). JSON files have their own writer, :func:`src.utils.jsonio.write_json`.
"""
import os
from contextlib import contextmanager
from typing import Iterator


def partial_path(path: str) -> str:
    """The temporary name ``path`` is written under: ``.<stem>.partial<ext>`` in the same folder."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.partial{ext}")


@contextmanager
def written_whole(path: str) -> Iterator[str]:
    """Yields the path to write ``path``'s contents to; renames it over ``path`` when the block ends normally,
    removes it when the block raises."""
    temp = partial_path(path)
    try:
        yield temp
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    os.replace(temp, path)
