"""Named constants shared by the data pipeline, the network, the decoder and the evaluation.

Coordinates follow the reference implementation: ``[x, y]`` in pixels, boxes as
``[x, y, w, h]``, and a person's *scale* is the box size divided by ``PIXEL_STD``.
"""
from typing import Dict, NamedTuple, Tuple

#: Pixels per unit of "scale"; a box of scale 1.0 spans 200 pixels.
PIXEL_STD: float = 200.0

#: Enlargement applied to a person box before cropping (context around the person).
BOX_PADDING: float = 1.25

NUM_COCO_JOINTS: int = 17
#: COCO's category id of a person (annotations, detections, results).
PERSON_CATEGORY: int = 1

COCO_KEYPOINT_NAMES: Tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

#: Left/right joint index pairs swapped by a horizontal flip.
FLIP_PAIRS: Tuple[Tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)

#: Limbs (0-based joint index pairs), the COCO skeleton, used for drawing.
COCO_SKELETON: Tuple[Tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
    (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
    (1, 3), (2, 4), (3, 5), (4, 6),
)

#: Per-keypoint OKS constants of the COCO keypoint benchmark.
COCO_SIGMAS: Tuple[float, ...] = tuple(
    s / 10.0 for s in (.26, .25, .25, .35, .35, .79, .79, .72, .72,
                       .62, .62, 1.07, 1.07, .87, .87, .89, .89))


class KeypointSet(NamedTuple):
    """The keypoints of a data set type (``DATASET.DATASET``): what flipping, OKS, drawing and evaluation need.

    Attributes:
        name: The ``DATASET.DATASET`` value.
        keypoint_names: J names in the order of the heatmap channels.
        flip_pairs: Left/right index pairs swapped by a horizontal flip.
        sigmas: J OKS constants.
        skeleton: Limbs as 0-based joint index pairs.
        labelled: Indices of the joints the data set labels (the others never get a target).
    """
    name: str
    keypoint_names: Tuple[str, ...]
    flip_pairs: Tuple[Tuple[int, int], ...]
    sigmas: Tuple[float, ...]
    skeleton: Tuple[Tuple[int, int], ...]
    labelled: Tuple[int, ...]


#: COCO's 17 person keypoints, every one labelled: the joints of the ``coco`` data set type.
COCO_KEYPOINTS = KeypointSet("coco", COCO_KEYPOINT_NAMES, FLIP_PAIRS, COCO_SIGMAS, COCO_SKELETON,
                             tuple(range(NUM_COCO_JOINTS)))

#: ImageNet statistics, applied to OpenCV's BGR channel order as the reference
#: and the original port did (their checkpoints depend on it).
IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Column names of the keypoint dataset, in order.
DATASET_COLUMNS: Tuple[str, ...] = ("image", "target", "weight", "scale", "center", "score", "id")

#: The tracks ``track.py`` writes (:mod:`src.tracking.tracks_file`) and the PoseTrack figures written beside
#: prediction files (:mod:`src.evaluate.posetrack_eval`): named here because the PoseTrack folder readers below
#: them pass both over.
TRACKS_FILE: str = "tracks.json"
POSETRACK_METRICS_FILE: str = "posetrack_metrics.json"

#: The ResNet backbone divides the input size by this.
BACKBONE_STRIDE: int = 32
#: Deconvolution kernel -> (padding, output_padding) giving an output of exactly twice the input.
DECONV_PADDING: Dict[int, Tuple[int, int]] = {4: (1, 0), 3: (1, 1), 2: (0, 0)}
#: ResNet depth -> (bottleneck blocks?, blocks in layer1..layer4) (He et al., Table 1).
RESNET_LAYERS: Dict[int, Tuple[bool, Tuple[int, int, int, int]]] = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}
