"""bench/tracking_speed.py: the per-shape table and the warm-up split worked out by hand, and the whole run on a
tiny video with the tiny random network."""
import pytest

from tests.helpers import TINY_CONFIG


@pytest.fixture(name="bench")
def fixture_bench():
    from bench import tracking_speed  # pylint: disable=import-outside-toplevel
    return tracking_speed


def _record(seconds: float, batch: int, boxes: int, network: float) -> dict:
    parts = {part: 0.0 for part in ("flow", "crops", "network", "decoding", "matching", "other")}
    parts.update(network=network, other=seconds - network)
    return {"seconds": seconds, "parts": parts, "batch": batch, "boxes": boxes}


def test_each_shapes_first_frame_is_warm_up(bench):
    # Batch 2 compiles on frame 0 (10 s), batch 4 on frame 2 (12 s); the other frames are steady.
    records = [_record(10.0, 2, 2, 9.9), _record(0.2, 2, 2, 0.1), _record(12.0, 4, 3, 11.9), _record(0.4, 4, 4, 0.3),
               _record(0.2, 2, 1, 0.1)]
    lines = bench.summarise(records)
    assert lines[1].split() == ["2", "3", "10000", "200", "200"]
    assert lines[2].split() == ["4", "2", "12000", "400", "400"]
    assert lines[3] == f"frames/s over all 5 frames: {5 / 22.8:.2f}"
    assert lines[4] == "after warm-up (3 frames, 2.3 boxes a frame): 267 ms a frame, 71.4 ms of network a box"
    assert lines[5].startswith("time: flow 0.0 ms (0 %), crops 0.0 ms (0 %), network 166.7 ms (62 %)")
    assert lines[-1] == f"frames/s: {3 / 0.8:.2f}"


@pytest.mark.slow
def test_tracks_a_video_and_ends_with_the_rate(bench, synthetic_videos, capsys):
    args = ["--videos", synthetic_videos, "--config_path", TINY_CONFIG, "--TRACK.MIN_SCORE", "0",
            "--TEST.BATCH_SIZE", "2"]
    assert bench.main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("seq000: 12 frames; ResNet-18 32x64"))
    assert "random weights" in lines[start] and lines[start + 1].split()[0] == "batch"
    rows = [line.split() for line in lines[start + 2:] if line.split()[0].isdigit()]
    assert {row[0] for row in rows} <= {"0", "1", "2"} and sum(int(row[1]) for row in rows) == 12
    assert lines[-1].startswith("frames/s: ") and float(lines[-1].split()[-1]) > 0
