"""preprocess.py → an inference backend → postprocess.py (the Ascend 310 path, through scripts/run_infer_310.sh
or step by step) gives eval.py's results: the same people, keypoints and scores to rounding, and the same AP.

Both halves are here: preprocess.py's batches only mean something through postprocess.py. The backend is the
MindSpore runner (src/deploy/mindir.py) on the exported tiny network, or the C++ app (ascend310_infer/, built
against a stub MindSpore Lite: only the wiring) on a copy of the runner's inputs. The launcher's own checks:
test_launchers.py; the app's: test_ascend310_infer.py.
"""
import json
import os
import shutil

import numpy as np
import pytest

from src.deploy import bin_files
from src.deploy.mindir import main as runner_main
from src.predict import merge_flip
from tests.helpers import INFER_BATCH, TINY_CONFIG, run_launcher, run_script

TINY = ["--config_path", TINY_CONFIG]
#: eval.py runs with EVAL_BATCH and the exported model with INFER_BATCH: the two split the boxes
#: differently and both end with a partial batch. Another batch shape rounds the network's sums differently (so may
#: another CPU), so the two agree to rounding, not bit for bit.
EVAL_BATCH = 4
#: Tolerances of that agreement. Spread measured between eval.py (stock operators at batches 1, 3 and 4, the CPU
#: path at 4) and the exported MindIR at batch 3, on AVX2 (Zen 3) natively and under ONEDNN_MAX_CPU_ISA=SSE41:
#: joint maxima 7.6e-7 apart at most relative to the largest (MindIR against eval.py: 3.0e-7), person scores 3.8e-7,
#: keypoint positions and COCO's statistics 0 (decoding takes whole quarter steps of a heatmap pixel, and the
#: positions decide the statistics). A heatmap pixel is about 10 image pixels here, so a wrong flip or a shifted
#: box moves keypoints by pixels.
XY_TOL = 1e-3           # image pixels
SCORE_TOL = 1e-5        # relative to the largest: joint maxima, person scores
STATS_TOL = 1e-6        # absolute: each of COCO's ten statistics (0.0 with random weights), the AP line
#: A joint whose decoding turns on a heatmap difference below AMBIGUOUS (relative to the largest heatmap value:
#: which pixel is the maximum, which way the quarter step goes) may land a quarter pixel elsewhere under other
#: rounding; such joints (here 1 of 289 with the flip test, at 2.8e-6; none of 170 without) are left out of the
#: position check, and must stay few.
AMBIGUOUS = 1e-5
#: The heatmaps of tests/tiny_config.yaml: J×H×W.
HEATMAP_SHAPE = (17, 16, 8)
BBOX_FILE = os.path.join("person_detection_results", "COCO_val2017_detections_AP_H_56_person.json")


def ap_line(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("AP: ")]
    assert lines, stdout[-2000:]
    return lines[-1]


def read_results(folder):
    """The people of a results folder and its COCO statistics: ``(entries, {name: value})``."""
    with open(os.path.join(folder, "keypoints_results.json")) as f:
        people = json.load(f)
    with open(os.path.join(folder, "keypoints_stats.json")) as f:
        return people, json.load(f)


def ambiguous_joints(pre_dir, post_dir):
    """``{(image id, centre x, y, scale x, y): J booleans}``: the joints of each box of the chain whose decoding
    turns on a heatmap difference below AMBIGUOUS, read from its heatmaps (flip-merged as postprocess.py does)."""
    info = bin_files.read_info(pre_dir)
    batch = info["batch_size"]
    maps, keys = [], []
    for index in range(info["num_batches"]):
        meta = bin_files.read_meta(pre_dir, batch, index)
        real = slice(0, meta.count)
        out = bin_files.read_result(bin_files.result_path(post_dir, batch, index), (batch, *HEATMAP_SHAPE))[real]
        if info["flip_test"]:
            out = merge_flip(out, bin_files.read_result(bin_files.result_path(post_dir, batch, index, True),
                                                        (batch, *HEATMAP_SHAPE))[real], shift_heatmap=True)
        maps.append(out)
        keys += [(int(i), *map(float, c), *map(float, s))
                 for i, c, s in zip(meta.image_id[real], meta.center[real], meta.scale[real])]
    height, width = HEATMAP_SHAPE[1:]
    flat = np.concatenate(maps).astype(np.float64).reshape(len(keys), HEATMAP_SHAPE[0], -1)
    flat /= np.abs(flat).max()
    top = np.sort(flat, axis=2)
    margin = np.minimum(top[..., -1] - top[..., -2], np.abs(top[..., -1]))   # which maximum; above 0 or not
    peak = flat.argmax(2)
    y, x = np.divmod(peak, width)
    inside = (x > 1) & (x < width - 1) & (y > 1) & (y < height - 1)          # refined: the quarter steps

    def value(offset):
        return np.take_along_axis(flat, np.clip(peak + offset, 0, height * width - 1)[..., None], 2)[..., 0]
    steps = np.minimum(np.abs(value(1) - value(-1)), np.abs(value(width) - value(-width)))
    margin = np.where(inside, np.minimum(margin, steps), margin)
    return dict(zip(keys, margin < AMBIGUOUS))


def assert_same_results(ours, theirs, ambiguous):
    """The same people in the same order, from the same boxes (bit for bit: the same code on the same
    boxes); their keypoints within XY_TOL but for the few ``ambiguous`` joints (:func:`ambiguous_joints`), joint
    maxima and scores within SCORE_TOL, COCO's statistics within STATS_TOL: the exported graph computes the
    heatmaps eval.py's stock-operator network computes, to rounding, and both decode them with the same code."""
    (people, stats), (expected, expected_stats) = ours, theirs
    assert len(people) == len(expected) > 0
    for key in ("image_id", "category_id", "center", "scale"):
        assert [p[key] for p in people] == [p[key] for p in expected], key
    keypoints, want = (np.array([p["keypoints"] for p in group]).reshape(len(group), -1, 3)
                       for group in (people, expected))
    near_tie = np.array([ambiguous[(p["image_id"], *p["center"], *p["scale"])] for p in expected])
    assert near_tie.mean() < 0.02, f"{near_tie.sum()} of {near_tie.size} joints too near a tie to compare"
    apart = np.abs(keypoints[..., :2] - want[..., :2]).max(2)
    assert ((apart <= XY_TOL) | near_tie).all(), f"keypoints apart by up to {apart[~near_tie].max()} px"
    np.testing.assert_allclose(keypoints[..., 2], want[..., 2], rtol=0, atol=SCORE_TOL * np.abs(want[..., 2]).max())
    scores, want_scores = (np.array([p["score"] for p in group]) for group in (people, expected))
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=SCORE_TOL * np.abs(want_scores).max())
    assert sorted(stats) == sorted(expected_stats)
    np.testing.assert_allclose([stats[k] for k in sorted(stats)], [expected_stats[k] for k in sorted(stats)],
                               rtol=0, atol=STATS_TOL)


def assert_same_ap(line, expected_line):
    """Two ``AP: <float>`` lines within STATS_TOL."""
    assert float(line[len("AP: "):]) == pytest.approx(float(expected_line[len("AP: "):]), abs=STATS_TOL), \
        (line, expected_line)


def run_eval(ckpt, root, *extra):
    """eval.py with the stock operators (the exported graph's); the CPU fast path rounds differently."""
    out = run_script("eval.py", TINY + ["--eval_model_file", ckpt, "--dataset_path", root,
                                        "--coco_bbox_file", os.path.join(root, BBOX_FILE),
                                        "--TEST.BATCH_SIZE", str(EVAL_BATCH), "--MODEL.FAST_CPU", "False",
                                        *extra])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return ap_line(out.stdout), read_results(os.path.join(os.path.splitext(ckpt)[0], "results"))


@pytest.fixture(scope="module")
def chain_dir(tiny_mindir, synthetic_root, tmp_path_factory):
    """run_infer_310.sh with the MindSpore runner (detections, flip test) in a fresh folder."""
    work = tmp_path_factory.mktemp("chain")
    out = run_launcher("run_infer_310.sh", [tiny_mindir, "y", "0", *TINY, "--dataset_path", synthetic_root,
                                            "--coco_bbox_file", os.path.join(synthetic_root, BBOX_FILE)],
                       cwd=str(work), env={"INFER_BACKEND": "mindspore"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return str(work), out.stdout


@pytest.mark.slow
@pytest.mark.numerics
def test_chain_gives_the_ap_of_eval_py(tiny_ckpt, synthetic_root, chain_dir):
    work, stdout = chain_dir
    info = bin_files.read_info(os.path.join(work, "preprocess_Result"))
    assert info["batch_size"] == INFER_BATCH and info["flip_test"]
    assert info["num_samples"] % INFER_BATCH and info["num_samples"] % EVAL_BATCH, "both need a partial batch"
    with open(os.path.join(work, "acc.log")) as f:
        acc_ap = ap_line(f.read())
    assert ap_line(stdout) == acc_ap
    eval_ap, eval_results = run_eval(tiny_ckpt, synthetic_root)
    print(f"eval.py {eval_ap} | chain {acc_ap}")
    assert_same_ap(acc_ap, eval_ap)
    assert_same_results(read_results(os.path.join(work, "results")), eval_results,
                        ambiguous_joints(os.path.join(work, "preprocess_Result"), os.path.join(work, "result_Files")))
    assert os.path.isfile(os.path.join(work, "time_Result", "test_perform_static.txt"))


@pytest.mark.slow
@pytest.mark.numerics
def test_chain_by_hand_on_ground_truth_boxes_without_flip(tiny_ckpt, tiny_mindir, synthetic_root, tmp_path):
    data = ["--dataset_path", synthetic_root, "--TEST.USE_GT_BBOX", "True", "--TEST.FLIP_TEST", "False",
            "--INFER.PRE_RESULT_PATH", str(tmp_path / "pre"), "--INFER.POST_RESULT_PATH", str(tmp_path / "result_Files")]
    out = run_script("preprocess.py", TINY + data + ["--TEST.BATCH_SIZE", str(INFER_BATCH)])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert not list((tmp_path / "pre" / "00_data").glob("sp_flip_*"))
    assert runner_main(["--mindir_path", tiny_mindir, "--input0_path", str(tmp_path / "pre" / "00_data"),
                        "--output_dir", str(tmp_path)]) == 0
    out = run_script("postprocess.py", TINY + data)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    eval_ap, eval_results = run_eval(tiny_ckpt, synthetic_root, "--TEST.USE_GT_BBOX", "True", "--TEST.FLIP_TEST",
                                     "False")
    assert_same_ap(ap_line(out.stdout), eval_ap)
    assert_same_results(read_results(str(tmp_path / "results")), eval_results,
                        ambiguous_joints(str(tmp_path / "pre"), str(tmp_path / "result_Files")))


# ---- the C++ app in the chain -----------------------------------------------------------------

def run_chain_with_app(mindir, synthetic_root, chain_dir, work, env):
    """run_infer_310.sh with the C++ app on CPU in `work`, on a copy of chain_dir's input batches."""
    shutil.copytree(os.path.join(chain_dir[0], "preprocess_Result"), work / "preprocess_Result")
    return run_launcher("run_infer_310.sh", [mindir, "n", "0", *TINY, "--dataset_path", synthetic_root,
                                             "--coco_bbox_file", os.path.join(synthetic_root, BBOX_FILE)],
                        cwd=str(work), env={"INFER_DEVICE": "CPU", **env})


@pytest.mark.slow
def test_chain_runs_the_app_on_a_stub_lite_cpu(tiny_mindir, synthetic_root, chain_dir, stub_runtimes, tmp_path,
                                               no_runtime):
    """The wiring: the app is built against Lite, runs on the CPU and postprocess.py scores its results."""
    out = run_chain_with_app(tiny_mindir, synthetic_root, chain_dir, tmp_path,
                             {"MS_LITE_HOME": stub_runtimes["lite"], "STUB_SHAPES": "3,3,64,32 3,17,16,8"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "runtime: MindSpore Lite at" in out.stdout and ap_line(out.stdout)
    with open(tmp_path / "infer.log") as f:
        assert f"Model::Build({tiny_mindir}, kMindIR) on CPU\n" in f.read()
    batch = np.fromfile(tmp_path / "preprocess_Result" / "00_data" / "sp_bs3_0.bin", np.float32)
    result = np.fromfile(tmp_path / "result_Files" / "sp_bs3_0_0.bin", np.float32)
    np.testing.assert_array_equal(result, 2 * np.resize(batch, 3 * 17 * 16 * 8))


@pytest.mark.slow
@pytest.mark.numerics
def test_chain_on_a_real_lite_cpu_matches_the_mindspore_runner(tiny_mindir, synthetic_root, chain_dir, tmp_path):
    """Runs only where MS_LITE_HOME names a real MindSpore Lite package that reads MindSpore 2.10's MindIR."""
    if not os.environ.get("MS_LITE_HOME"):
        pytest.skip("MS_LITE_HOME is unset: no MindSpore Lite package to run the real app with")
    out = run_chain_with_app(tiny_mindir, synthetic_root, chain_dir, tmp_path, {})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for name in sorted(os.listdir(os.path.join(chain_dir[0], "result_Files"))):
        np.testing.assert_allclose(np.fromfile(tmp_path / "result_Files" / name, np.float32),
                                   np.fromfile(os.path.join(chain_dir[0], "result_Files", name), np.float32),
                                   rtol=1e-4, atol=1e-5)
    assert ap_line(out.stdout)
