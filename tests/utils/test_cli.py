"""What every command shares (src/utils/cli.py): one ``error:`` line per problem and exit code 2 for bad
input, 130 for Ctrl-C, tracebacks only for bugs, and one ``--help`` shape for the scripts and the tools."""
import sys
import types

import pytest

from src import plot_loss
from src.errors import ConfigError, UsageError, UserError
from src.utils.cli import program_name, run_cli, summary, tool_parser
from src.model_utils.config import get_config

TOOL_DOC = """Draw something from a file.

    python -m src.drawing --input FILE

More words that --help leaves out.
"""


def test_user_errors_are_error_lines_and_exit_code_2(capsys):
    def fails(error):
        def main(argv):
            raise error
        return main

    assert run_cli(fails(UserError("no image: pass --img_path")), []) == 2
    assert capsys.readouterr().err == "error: no image: pass --img_path\n"
    assert run_cli(fails(ConfigError("--TRAIN.LR: expected a number > 0\n--TRAIN.BATCH_SIZE: expected")), []) == 2
    assert capsys.readouterr().err == "error: --TRAIN.LR: expected a number > 0\nerror: --TRAIN.BATCH_SIZE: expected\n"
    missing = FileNotFoundError(2, "No such file or directory", "/data/x.json")
    assert run_cli(fails(missing), []) == 2
    assert capsys.readouterr().err == "error: No such file or directory: /data/x.json\n"
    assert run_cli(fails(FileNotFoundError("checkpoint not found: a.ckpt")), []) == 2
    assert capsys.readouterr().err == "error: checkpoint not found: a.ckpt\n"
    assert run_cli(fails(KeyboardInterrupt()), []) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_results_pass_through_and_bugs_keep_their_traceback(capsys):
    assert run_cli(lambda argv: None, []) == 0
    assert run_cli(lambda argv: 3, []) == 3
    seen = []
    assert run_cli(lambda argv: seen.append(argv), ["--a", "1"]) == 0 and seen == [["--a", "1"]]
    with pytest.raises(ZeroDivisionError):
        run_cli(lambda argv: 1 / 0, [])
    assert capsys.readouterr().err == ""


def test_a_tools_usage_mistake_is_one_line(capsys):
    def main(argv):
        parser = tool_parser("python -m src.drawing", TOOL_DOC)
        parser.add_argument("--input", required=True)
        parser.parse_args(argv)
        return 0

    assert run_cli(main, ["--input", "a.json"]) == 0
    assert run_cli(main, ["--inptu", "a.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.endswith("(see python -m src.drawing --help)\n") and err.count("\n") == 1
    with pytest.raises(UsageError, match="required: --input"):
        main([])


def test_summary_and_program_name(monkeypatch):
    assert summary(TOOL_DOC) == "Draw something from a file."
    assert summary("Evaluate a ``checkpoint``\nwith COCO AP.\n\nDetails.") == "Evaluate a checkpoint with COCO AP."
    assert summary(None) == ""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    assert program_name("/repo/eval.py") == "python eval.py"
    spec = types.SimpleNamespace(name="src.visualize")
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", spec, raising=False)
    assert program_name("/repo/src/visualize.py") == "python -m src.visualize"


def help_shape(text: str):
    """``(usage line, description, the first option line)`` of a --help text; asserts the layout
    ``usage: ...``, blank line, description, blank line, ``options:``."""
    lines = text.splitlines()
    assert lines[0].startswith("usage: python "), text[:300]
    blank = lines.index("")
    after = lines[blank + 1:]
    options = after.index("options:")
    assert after[options - 1] == "" and options >= 1, text[:600]
    return " ".join(lines[:blank]), " ".join(after[:options - 1]), after[options + 1]


def test_help_has_one_shape_for_the_scripts_and_the_tools(monkeypatch, capsys):
    script = types.ModuleType("__main__", "Train SimplePoseNet on COCO keypoints.\n\nUsage and details.")
    monkeypatch.setitem(sys.modules, "__main__", script)
    monkeypatch.setattr(sys, "argv", ["/repo/train.py", "--help"])
    with pytest.raises(SystemExit) as done:
        get_config(["--help"])
    assert done.value.code == 0
    usage, description, first = help_shape(capsys.readouterr().out)
    assert usage == "usage: python train.py [--config_path FILE] [--key value ...] [--SECTION.KEY value ...]"
    assert description == "Train SimplePoseNet on COCO keypoints."
    assert first.startswith("  --enable_modelarts (default: False)")

    monkeypatch.setattr(sys.modules["__main__"], "__spec__", types.SimpleNamespace(name="src.plot_loss"),
                        raising=False)
    with pytest.raises(SystemExit) as done:
        plot_loss.main(["--help"])
    assert done.value.code == 0
    usage, description, first = help_shape(capsys.readouterr().out)
    assert usage.startswith("usage: python -m src.plot_loss ") and "--csv CSV" in usage
    assert description == summary(plot_loss.__doc__)
    assert first.startswith("  -h, --help")
