"""What every command shares: logging, one-line errors and exit codes, the shape of ``--help``.

Every command of the project (``train.py``, ``eval.py``, ``export.py``, ``infer.py``,
``preprocess.py``, ``postprocess.py``, ``track.py`` and the ``python -m src.<tool>`` tools) ends in
``sys.exit(run_cli(main))``:

* a :class:`src.errors.UserError`, or a missing or unreadable file, is one ``error: ...`` line on
  stderr (one per problem) and exit code 2;
* Ctrl-C prints ``interrupted`` and exits with 130;
* ``--help`` prints ``usage: ...``, the command's description and its options, and exits with 0.

The scripts that take the configuration get their options from ``default_config.yaml``
(:mod:`src.model_utils.config`); the tools parse their few options with :func:`tool_parser`.
"""
import argparse
import logging
import os
import sys
from typing import Callable, Optional, Sequence

from src.errors import UsageError, UserError

__all__ = ["USER_ERRORS", "setup_logging", "run_cli", "tool_parser", "summary", "program_name"]

#: Exceptions that mean "bad input" rather than a bug; shown without a traceback.
USER_ERRORS = (UserError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


class _CurrentStdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record is emitted, not when the handler was made
    (callers such as test runners and notebooks replace and close it)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def setup_logging(rank: int = 0, level: int = logging.INFO) -> None:
    """Plain log lines on stdout (the launchers redirect it to their log files)."""
    fmt = "%(message)s" if rank == 0 else f"[rank {rank}] %(message)s"
    handler = _CurrentStdout()
    handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def summary(doc: Optional[str]) -> str:
    """The first paragraph of a docstring, on one line: a command's description for ``--help``."""
    first = (doc or "").strip().split("\n\n")[0]
    return " ".join(first.replace("``", "").split())


def program_name(path: Optional[str] = None) -> str:
    """How the running command was called: ``python train.py`` or ``python -m src.plot_loss``."""
    path = path or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    module = getattr(sys.modules.get("__main__"), "__spec__", None)
    if module is not None and module.name and module.name != "__main__":
        return f"python -m {module.name}"
    return f"python {os.path.basename(path) or '<script>.py'}"


class _ToolParser(argparse.ArgumentParser):
    """argparse whose mistakes are a :class:`UsageError` (one ``error:`` line through :func:`run_cli`)."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def tool_parser(prog: str, doc: Optional[str]) -> argparse.ArgumentParser:
    """The option parser of a ``python -m src.<tool>`` command: ``prog`` in the usage line, the first
    paragraph of the tool's docstring ``doc`` as its description."""
    return _ToolParser(prog=prog, description=summary(doc))


def run_cli(main: Callable[[Optional[Sequence[str]]], int], argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``main(argv)``; user errors become ``error: ...`` lines and exit code 2."""
    try:
        return int(main(argv) or 0)
    except USER_ERRORS as err:
        message = str(err) if not isinstance(err, OSError) or not err.filename else \
            f"{err.strerror or err}: {err.filename}"
        for line in message.splitlines() or [""]:   # a ConfigError holds one line per problem
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
