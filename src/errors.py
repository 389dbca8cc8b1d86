"""Every error of the project, in one place.

A :class:`UserError` is bad input a user can fix (a missing file, a malformed annotation, a wrong
setting), with a message that says what to do: every entry point prints it as one ``error: ...``
line and exits with code 2, without a traceback (:func:`src.utils.cli.run_cli`). The other
classes here are the typed cases, each raised by the module named in its docstring; those modules
import them from here, so both ``src.errors.X`` and the module's ``X`` name the same class.
"""
import os


class UserError(Exception):
    """Bad input (a missing file, a malformed annotation, a wrong setting) with a message saying what to do."""


# ---- configuration and command line -------------------------------------------------------------------

class ConfigError(UserError, ValueError):
    """A configuration file or command-line override is invalid (``src.model_utils.config``); one line
    per problem."""


class ConfigSizeError(ConfigError):
    """The configured input and heatmap sizes do not fit the network (``src.model_utils.config_rules``)."""


class UsageError(UserError):
    """Command-line words a ``python -m src.<tool>`` command does not take (``src.utils.cli``)."""


class MissingDependencyError(UserError, ImportError):
    """An optional package needed for this feature is not installed (:func:`import_optional`)."""


class DeviceUnavailableError(UserError):
    """``device_target`` names a device this MindSpore cannot use on this machine
    (``src.model_utils.device_adapter``)."""


# ---- data, checkpoints, networks -----------------------------------------------------------------------

class DatasetNotFoundError(UserError, FileNotFoundError):
    """A dataset folder or file is missing (``src.dataset``)."""


class DatasetFormatError(UserError, ValueError):
    """An annotation or detection file cannot be parsed or has the wrong structure (``src.dataset``)."""


class ImageReadError(UserError, OSError):
    """An image file is missing, unreadable or not an image (``src.dataset``)."""


class CheckpointMismatchError(UserError, ValueError):
    """A checkpoint lacks parameters the network needs, or holds them with other shapes (``src.model``,
    ``src.training.checkpoint``)."""


class CheckpointDamagedError(UserError, ValueError):
    """A checkpoint file that was cut short, whose bytes changed after it was written, or that does not parse
    (``src.network.weights``)."""


class CheckpointWriteError(UserError):
    """A checkpoint that cannot be written: a full disk, a read-only folder, the file size limit
    (``src.network.weights``, ``src.training.checkpoint``)."""


class CalibrationError(UserError, ValueError):
    """An int8 calibration file that is missing, unreadable, of another format or version, or made for another
    network, input size or checkpoint (``src.quantize.calibration``)."""


class PrecisionError(UserError):
    """An inference precision (``MODEL.PRECISION``) this CPU, device or command cannot run (``src.quantize.precision``)."""


class EvaluationError(UserError, ValueError):
    """Predictions that cannot be evaluated against the annotation file (``src.evaluate``)."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite (``src.training.callbacks``; ``train.py`` exits with code 3)."""


# ---- tools ---------------------------------------------------------------------------------------------

class BoxesError(UserError, ValueError):
    """A detection file or a list of person boxes cannot be read (``src.data.detections``)."""


class InferFilesError(UserError, ValueError):
    """The ``.bin`` files of preprocess.py or of the inference app are missing or inconsistent
    (``src.deploy.bin_files``)."""


class OnnxFixError(UserError, ValueError):
    """The exported ONNX graph is not one the repair understands (``src.deploy.onnx_fix``)."""


class ConversionError(UserError, ValueError):
    """PyTorch weights that do not fit the configured network (``src.convert``)."""


class TorchMissingError(MissingDependencyError):
    """PyTorch is needed to read a ``.pth`` file and is not installed (``src.convert``)."""


class LossLogError(UserError, ValueError):
    """A ``loss_log.csv`` that is not a loss log, or a picture that cannot be drawn (``src.plot_loss``)."""


class DrawingError(UserError, ValueError):
    """Results that cannot be drawn (``src.visualize``)."""


class VideoError(UserError, OSError):
    """A video file that OpenCV cannot open or read (``src.tracking.video``)."""


class TrackingFilesError(UserError, ValueError):
    """A ground-truth or tracks file that cannot be read or does not fit the other (``src.tracking.tracks_file``,
    ``src.tracking.mot_eval``)."""


class DetectorError(UserError, ValueError):
    """A person detector file that is not an ONNX model onnxruntime runs on an image (``src.tracking.detector``)."""


class DetectorLayoutError(DetectorError):
    """A detector whose outputs have none of the known layouts, or not the one asked for
    (``src.tracking.detector``)."""


class PoseTrackFormatError(UserError, ValueError):
    """A PoseTrack ground-truth or prediction file that cannot be read, or predictions that do not fit the
    ground truth (``src.data.posetrack_files``, ``src.evaluate.posetrack_eval``, ``src.tracking.posetrack``)."""


# ---- ModelArts -----------------------------------------------------------------------------------------

class MoxingUnavailableError(UserError):
    """An ``obs://`` or ``s3://`` location where ``moxing`` is not installed (outside ModelArts)."""


class SyncError(UserError):
    """Another process failed to copy data this process needs (``src.model_utils.moxing_adapter``)."""


class SyncTimeoutError(SyncError):
    """Waited too long for another process's copy or unzip (``src.model_utils.moxing_adapter``)."""


# ---- helpers -------------------------------------------------------------------------------------------

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
