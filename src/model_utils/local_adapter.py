"""Device and rank numbers of a local run, read from the launchers' environment."""
import os


def _env_int(name: str, default: int) -> int:
    value = os.getenv(name, "")
    return int(value) if value.strip().lstrip("-").isdigit() else default


def get_device_id() -> int:
    """Device of this process (``DEVICE_ID``, default 0)."""
    return _env_int("DEVICE_ID", 0)


def get_device_num() -> int:
    """Number of processes in the job (``RANK_SIZE``, default 1)."""
    return _env_int("RANK_SIZE", 1)


def get_rank_id() -> int:
    """Rank of this process (``RANK_ID``, default 0)."""
    return _env_int("RANK_ID", 0)


def get_job_id() -> str:
    """The job id (``JOB_ID``, which ModelArts sets); ``'default'`` where it is not set."""
    return os.getenv("JOB_ID", "").strip() or "default"
