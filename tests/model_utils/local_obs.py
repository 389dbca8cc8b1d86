"""Local folders standing for OBS in the ModelArts tests: a job's configuration, files written and read back."""
import os

from src.model_utils.config import get_config


def tree(root) -> dict:
    """{relative path: contents} of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


def write(path, text="x") -> str:
    """Writes ``text`` to ``path``, making its folder."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


def job_config(tmp_path, *extra):
    """A ModelArts configuration whose locations are local folders under ``tmp_path``: OBS is ``obs/``, the
    job's cache ``cache/``."""
    return get_config(["--enable_modelarts", "True", "--device_target", "CPU",
                       "--data_url", str(tmp_path / "obs" / "data"), "--train_url", str(tmp_path / "obs" / "out"),
                       "--data_path", str(tmp_path / "cache" / "data"),
                       "--output_path", str(tmp_path / "cache" / "train"),
                       "--load_path", str(tmp_path / "cache" / "ckpt"), *extra])
