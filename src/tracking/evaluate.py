"""Scores tracks against labelled videos: MOT metrics and per-frame keypoint AP.

    python -m src.tracking.evaluate --gt GT.json [GT2.json ...] --tracks tracks.json [tracks2.json ...]
                                    [--output DIR] [--min_oks 0.5]

The i-th tracks file (``track.py``'s ``tracks.json``) is scored against the i-th ground-truth file
(COCO keypoints with a ``track_id`` per person, as ``python -m src.synthetic_video`` writes); frames
are paired by file name, else by image id. Prints py-motmetrics' table (one row per sequence and
the overall row) and the COCO keypoint summary of all frames, and ends with the lines::

    AP: <float>
    MOTA: <float>
    IDF1: <float>
    ID switches: <int>

``--output`` (default: next to the first tracks file, ``tracking_eval/``) receives the merged
ground truth, the keypoint results and their statistics, and ``mot_summary.csv``.
"""
import logging
import os
import sys
from typing import Dict, Optional, Sequence

from src.utils.cli import run_cli, setup_logging, tool_parser
from src.errors import TrackingFilesError
from src.tracking.metrics import keypoint_ap, load_ground_truth, mot_accumulator, mot_summary, tracked_by_frame
from src.tracking.tracks_file import read_tracks

logger = logging.getLogger(__name__)


def score(gt_files: Sequence[str], tracks_files: Sequence[str], output_dir: str,
          min_oks: float = 0.5) -> Dict[str, float]:
    """Scores each tracks file against its ground truth; returns AP, MOTA, IDF1, ID switches, false
    positives, misses and labelled people over all sequences.

    Writes ``mot_summary.csv`` and the keypoint evaluation's files to ``output_dir``.
    """
    if len(gt_files) != len(tracks_files):
        raise TrackingFilesError(f"{len(gt_files)} ground-truth files but {len(tracks_files)} tracks files; "
                                 f"give one tracks file per ground-truth file, in the same order")
    docs, frames, tracked, accumulators, names = [], [], [], [], []
    settings = None
    for gt_file, tracks_file in zip(gt_files, tracks_files):
        doc, gt_frames = load_ground_truth(gt_file)
        tracks = read_tracks(tracks_file)
        settings = settings or tracks.get("settings") or {"in_vis_thre": 0.2, "oks_thre": 0.9}
        found = tracked_by_frame(tracks, gt_frames, tracks_file, gt_file)
        docs.append(doc)
        frames.append(gt_frames)
        tracked.append(found)
        accumulators.append(mot_accumulator(gt_frames, found, min_oks))
        names.append(os.path.splitext(os.path.basename(gt_file))[0])
    summary = mot_summary(accumulators, names)
    os.makedirs(output_dir, exist_ok=True)
    summary.to_csv(os.path.join(output_dir, "mot_summary.csv"))
    stats = keypoint_ap(docs, frames, tracked, settings, output_dir)
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    overall = summary.loc["OVERALL"]
    return {"AP": float(stats["AP"]), "MOTA": float(overall["mota"]), "IDF1": float(overall["idf1"]),
            "ID switches": int(overall["num_switches"]), "false positives": int(overall["num_false_positives"]),
            "misses": int(overall["num_misses"]), "people": int(overall["num_objects"])}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = tool_parser("python -m src.tracking.evaluate", __doc__)
    parser.add_argument("--gt", nargs="+", required=True, help="ground-truth files (COCO keypoints with track_id)")
    parser.add_argument("--tracks", nargs="+", required=True, help="tracks.json files, one per ground-truth file")
    parser.add_argument("--output", default="", help="folder for the evaluation files")
    parser.add_argument("--min_oks", type=float, default=0.5, help="least OKS of a match (default 0.5)")
    args = parser.parse_args(argv)
    setup_logging()
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(args.tracks[0])), "tracking_eval")
    result = score(args.gt, args.tracks, output, args.min_oks)
    print(f"AP: {result['AP']}")
    print(f"MOTA: {result['MOTA']}")
    print(f"IDF1: {result['IDF1']}")
    print(f"ID switches: {result['ID switches']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
