"""src/plot_loss.py: reading loss_log.csv, what the figure shows, the PNG, errors."""
import cv2
import numpy as np
import pytest

from src.errors import LossLogError
from src.utils.cli import run_cli
from src.plot_loss import epoch_means, main, plot_loss, read_loss_log

CSV = """epoch,step,global_step,loss,lr
1,1,1,0.9,0.001
1,2,2,0.7,0.001
1,3,3,0.5,0.002
2,1,4,0.4,0.002
2,2,5,0.3,
2,3,6,0.2,0.0002
"""


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "loss_log.csv"
    path.write_text(CSV)
    return str(path)


def test_read_and_epoch_means(log_file):
    log = read_loss_log(log_file)
    np.testing.assert_allclose(log["loss"], [0.9, 0.7, 0.5, 0.4, 0.3, 0.2])
    assert np.isnan(log["lr"][4]) and log["lr"][2] == 0.002
    np.testing.assert_allclose(epoch_means(log["epoch"], log["global_step"], log["loss"]), [(1, 3, 0.7), (4, 6, 0.3)])


def test_rows_are_ordered_by_global_step(tmp_path):
    path = tmp_path / "loss_log.csv"
    path.write_text("epoch,step,global_step,loss,lr\n2,1,4,0.4,0.1\n1,1,1,0.9,0.1\n")
    np.testing.assert_array_equal(read_loss_log(str(path))["global_step"], [1, 4])


def test_figure_shows_losses_epoch_means_and_learning_rate(log_file):
    fig = plot_loss(read_loss_log(log_file), 640, 480)
    top, bottom = fig.axes
    step_loss, epoch_mean = top.get_lines()
    np.testing.assert_array_equal(step_loss.get_xdata(), [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(step_loss.get_ydata(), [0.9, 0.7, 0.5, 0.4, 0.3, 0.2])
    # a step line: each epoch's mean over its steps, half a step either side
    np.testing.assert_allclose(epoch_mean.get_xdata(), [0.5, 3.5, 3.5, 6.5])
    np.testing.assert_allclose(epoch_mean.get_ydata(), [0.7, 0.7, 0.3, 0.3])
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["loss per step", "epoch mean"]
    assert top.get_title() == "training loss (6 steps, 2 epochs)"
    (lr,) = bottom.get_lines()
    np.testing.assert_array_equal(lr.get_xdata(), [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(lr.get_ydata(), [0.001, 0.001, 0.002, 0.002, np.nan, 0.0002])   # NaN: a gap
    assert (top.get_ylabel(), bottom.get_ylabel()) == ("loss", "learning rate")
    assert top.get_xlabel() == bottom.get_xlabel() == "global step"
    assert top.get_xlim() == bottom.get_xlim()


# 402 / 100 * 100 and 427 / 100 * 100 fall short of the integer: matplotlib 3.7 truncates them a pixel smaller.
@pytest.mark.parametrize("width, height", [(640, 480), (402, 427)])
def test_png_has_the_requested_size(log_file, tmp_path, width, height):
    output = tmp_path / "pics" / "loss.png"
    assert run_cli(main, ["--csv", log_file, "--output", str(output), "--width", str(width), "--height", str(height)]) == 0
    picture = cv2.imread(str(output))
    assert picture.shape == (height, width, 3)
    assert (picture.min(axis=2) < 128).any() and (picture == 255).all(axis=2).mean() > 0.5   # ink on white


@pytest.mark.parametrize("text, message", [
    ("epoch,step,loss\n1,1,0.5\n", "missing column(s) global_step, lr"),
    ("epoch,step,global_step,loss,lr\n1,1,1,nan?,0.1\n", "line 2: a value is not a number"),
    ("epoch,step,global_step,loss,lr\n", "no steps"),
])
def test_malformed_csv(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(LossLogError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        read_loss_log(str(path))


def test_picture_too_small(log_file):
    with pytest.raises(LossLogError, match="at least 300×300 pixels, got 200×480"):
        plot_loss(read_loss_log(log_file), 200, 480)


def test_cli_errors(tmp_path, log_file, capsys):
    assert run_cli(main, ["--csv", str(tmp_path / "none.csv"), "--output", str(tmp_path / "x.png")]) == 2
    assert "loss log not found" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert run_cli(main, ["--csv", str(tmp_path / "bad.csv"), "--output", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'bad.csv'} is not a loss log: missing column(s) epoch, "
                                       "step, global_step, loss, lr (expected the header epoch,step,global_step,loss,lr)\n")
    assert not (tmp_path / "x.png").exists()
    (tmp_path / "taken").mkdir()
    assert run_cli(main, ["--csv", log_file, "--output", str(tmp_path / "taken")]) == 2   # a folder, not a file
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "taken" in err and len(err.splitlines()) == 1
