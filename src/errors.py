"""The base of the errors a user can fix: entry scripts print them as one line, no traceback."""
import os


class UserError(Exception):
    """Bad input (a missing file, a malformed annotation, a wrong setting) with a message saying what to do."""


class MissingDependencyError(UserError, ImportError):
    """An optional package needed for this feature is not installed."""


def import_optional(module: str, purpose: str, install: str, package: str = ""):
    """Imports ``module``, or raises MissingDependencyError saying what needs it and how to install it.

    ``package`` is the name shown to the user (default: the top-level module name).
    """
    import importlib  # pylint: disable=import-outside-toplevel
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(f"{purpose} needs {package or module.split('.')[0]} ({err}); install it with: "
                                     f"{install}") from err


def shown_path(path: str) -> str:
    """``path`` as the user wrote it and, when it is relative, the absolute path it was taken as.

    For not-found messages: ``data`` from another folder than the user thinks shows as
    ``data (= /home/me/elsewhere/data)``.
    """
    if not path or os.path.isabs(path) or "://" in path:
        return path
    return f"{path} (= {os.path.abspath(path)})"
