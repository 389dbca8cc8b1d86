"""What every entry script shares: logging set-up and one-line errors."""
import logging
import sys
from typing import Callable, Optional, Sequence

from src.errors import UserError
from src.model_utils.config import ConfigError

__all__ = ["UserError", "USER_ERRORS", "setup_logging", "run_cli"]


#: Exceptions that mean "bad input" rather than a bug; shown without a traceback.
USER_ERRORS = (UserError, ConfigError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
               PermissionError)


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


def run_cli(main: Callable[[Optional[Sequence[str]]], int], argv: Optional[Sequence[str]] = None,
            extra_errors: tuple = ()) -> int:
    """Runs ``main(argv)``; user errors become one ``error: ...`` line and exit code 2."""
    try:
        return int(main(argv) or 0)
    except USER_ERRORS + tuple(extra_errors) as err:
        message = str(err) if not isinstance(err, OSError) or not err.filename else \
            f"{err.strerror or err}: {err.filename}"
        for line in message.splitlines() or [""]:   # a ConfigError holds one line per problem
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
