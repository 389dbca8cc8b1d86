"""The project's errors (src/errors.py): which are a user's to fix, the built-in types they also are, one class
under each name, and the helpers' messages."""
import importlib
import inspect
import os
import re

import pytest

from src import errors
from src.errors import MissingDependencyError, TrainingDiverged, UserError, import_optional, shown_path

CLASSES = {name: cls for name, cls in vars(errors).items() if inspect.isclass(cls) and issubclass(cls, Exception)}


def test_every_error_but_a_diverged_run_is_the_users_to_fix():
    assert set(CLASSES) - {"UserError"} and all(issubclass(cls, UserError) for name, cls in CLASSES.items()
                                                if cls is not TrainingDiverged)
    assert not issubclass(TrainingDiverged, UserError) and issubclass(TrainingDiverged, RuntimeError)


@pytest.mark.parametrize("name,builtin", [
    ("ConfigError", ValueError), ("DatasetNotFoundError", FileNotFoundError), ("DatasetFormatError", ValueError),
    ("ImageReadError", OSError), ("CheckpointMismatchError", ValueError), ("MissingDependencyError", ImportError),
    ("TorchMissingError", ImportError), ("VideoError", OSError), ("SyncTimeoutError", errors.SyncError),
    ("ConfigSizeError", errors.ConfigError),
])
def test_errors_are_also_the_builtin_type_callers_catch(name, builtin):
    assert issubclass(CLASSES[name], builtin)


def test_the_modules_that_raise_an_error_give_the_same_class():
    """Each class's docstring names the module that raises it; where that module offers the name, it is this
    class, not a second one that ``except`` would miss."""
    found = 0
    for name, cls in CLASSES.items():
        for module_name in re.findall(r"``(src(?:\.\w+)+)``", cls.__doc__ or ""):
            module = importlib.import_module(module_name)
            if hasattr(module, name):
                assert getattr(module, name) is cls, f"{module_name}.{name}"
                found += 1
    assert found >= 10, found


def test_import_optional_names_the_feature_and_the_install_command():
    assert import_optional("json", "reading", "pip install json") is importlib.import_module("json")
    with pytest.raises(MissingDependencyError) as err:
        import_optional("no_such_package.sub", "COCO keypoint evaluation", "pip install no-such-package")
    message = str(err.value)
    assert message.startswith("COCO keypoint evaluation needs no_such_package (")
    assert message.endswith("install it with: pip install no-such-package")
    with pytest.raises(MissingDependencyError, match=r"^plotting needs matplotlib \("):
        import_optional("no_such_package", "plotting", "pip install matplotlib", package="matplotlib")


def test_shown_path_adds_the_absolute_path_to_a_relative_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown_path("data") == f"data (= {os.path.join(str(tmp_path), 'data')})"
    assert shown_path("/abs/data") == "/abs/data"
    assert shown_path("obs://bucket/data") == "obs://bucket/data"
    assert shown_path("") == ""
