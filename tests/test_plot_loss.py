"""src/plot_loss.py: reading loss_log.csv, tick values, the picture, errors."""
import cv2
import numpy as np
import pytest

from src.plot_loss import LossLogError, epoch_means, main, nice_ticks, plot_loss, read_loss_log

CSV = """epoch,step,global_step,loss,lr
1,1,1,0.9,0.001
1,2,2,0.7,0.001
1,3,3,0.5,0.002
2,1,4,0.4,0.002
2,2,5,0.3,
2,3,6,0.2,0.0002
"""


def test_read_and_epoch_means(tmp_path):
    path = tmp_path / "loss_log.csv"
    path.write_text(CSV)
    log = read_loss_log(str(path))
    np.testing.assert_allclose(log["loss"], [0.9, 0.7, 0.5, 0.4, 0.3, 0.2])
    assert np.isnan(log["lr"][4]) and log["lr"][2] == 0.002
    np.testing.assert_allclose(epoch_means(log["epoch"], log["global_step"], log["loss"]), [(1, 3, 0.7), (4, 6, 0.3)])


def test_nice_ticks():
    np.testing.assert_allclose(nice_ticks(0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(nice_ticks(1, 137, 8), np.arange(0, 141, 20))
    assert len(nice_ticks(0.002, 0.002)) >= 2   # a constant gets a range around it


def test_picture_written(tmp_path, capsys):
    path = tmp_path / "loss_log.csv"
    path.write_text(CSV)
    output = tmp_path / "pics" / "loss.png"
    assert main(["--csv", str(path), "--output", str(output), "--width", "640", "--height", "480"]) == 0
    picture = cv2.imread(str(output))
    assert picture.shape == (480, 640, 3)
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 20        # lines, text, antialiasing
    upper, lower = picture[:290], picture[300:]
    assert (np.abs(upper.astype(int) - (150, 70, 20)).sum(axis=2) < 30).sum() > 100    # the epoch-mean line
    assert (np.abs(lower.astype(int) - (40, 120, 230)).sum(axis=2) < 30).sum() > 100   # the learning rate
    assert np.array_equal(plot_loss(read_loss_log(str(path)), 640, 480), picture)


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


def test_cli_errors(tmp_path, capsys):
    assert main(["--csv", str(tmp_path / "none.csv"), "--output", str(tmp_path / "x.png")]) == 2
    assert "loss log not found" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert main(["--csv", str(tmp_path / "bad.csv"), "--output", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
