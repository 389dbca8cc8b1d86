"""JSON files: one reader with one error policy, and an atomic writer.

Every JSON file the project reads (annotations, detections, results, tracks, settings of the C++
app's files) goes through :func:`read_json`: a missing file is a ``FileNotFoundError`` naming it
and what it should be, an unreadable one the caller's own typed error naming the file and the
parser's complaint, so every entry point reports either as one line. Every JSON file it writes goes
through :func:`write_json`: to a temporary file in the same folder, then renamed over the target, so
a process killed mid-write leaves the old file or none, never half of one.
"""
import functools
import json
import os
import tempfile
from typing import Any, Optional, Type

from src.errors import UserError, shown_path


def read_json(path: str, what: str, error: Type[Exception] = UserError, hint: str = "",
              not_found: Type[FileNotFoundError] = FileNotFoundError) -> Any:
    """The contents of the JSON file ``path``.

    Args:
        path: The file.
        what: What the file is, for the messages ("annotation file", "boxes file (TRACK.BOXES)").
        error: The exception raised for a file that is not valid JSON (a :class:`src.errors.UserError`
            subclass of the caller's concern).
        hint: What to do, appended to either message.
        not_found: The exception raised for a missing file (a ``FileNotFoundError`` subclass).

    Raises:
        not_found: nothing (or a folder) at ``path``.
        error: not UTF-8 text or not valid JSON.
    """
    tail = f"; {hint}" if hint else ""
    if not os.path.isfile(path):
        raise not_found(f"{what} not found: '{shown_path(path)}'{tail}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise error(f"{what} {path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
                    f"{tail}") from err
    except UnicodeDecodeError as err:
        raise error(f"{what} {path} is not UTF-8 text ({err}){tail}") from err


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process's umask, read once (reading it means setting it, which other threads must not see twice)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _file_mode(path: str) -> int:
    """The permissions a new file at ``path`` gets from ``open`` (the umask applied), or those of the file there."""
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o7777
    return 0o666 & ~_umask()


def write_json(path: str, obj: Any, indent: Optional[int] = None, compact: bool = False, fast: bool = False) -> None:
    """Writes ``obj`` to ``path`` atomically (a temporary file in the same folder, then a rename).

    Args:
        path: The file; its folder must exist.
        obj: Anything ``json.dump`` takes.
        indent: Pretty-printing indent (None: one line).
        compact: No spaces after separators (the smallest file).
        fast: Encode the whole text at once (``json.dumps``: about twice as fast as ``json.dump``'s chunked
            encoder on large lists, for twice the memory); the text is the same.
    """
    path = os.path.realpath(path)   # a link is written through, not replaced
    folder = os.path.dirname(path)
    separators = (",", ":") if compact else None
    handle, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            if fast:
                f.write(json.dumps(obj, indent=indent, separators=separators))
            else:
                json.dump(obj, f, indent=indent, separators=separators)
        os.chmod(temp, _file_mode(path))
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
