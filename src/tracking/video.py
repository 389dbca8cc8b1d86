"""Frames in, boxes per frame, annotated video out.

A video is a file OpenCV can read or a folder of frames (its images, sorted by name). Each frame
has a ``name`` and an ``image_id``: for a folder, the file name and the numeric file name (COCO's
convention; else the frame's index); for a video file, the zero-padded index and the index
(from 0). Detections are matched to frames by ``file_name``, else by ``image_id``.
"""
import logging
import os
from typing import Iterator, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from src.data.detections import BoxSource
from src.errors import VideoError
from src.inference.images import image_id_of, list_images
from src.utils.files import partial_path
from src.utils.image import read_image

logger = logging.getLogger(__name__)

#: Frames per second of the output video when the input (a folder) has none.
DEFAULT_FPS = 25.0


class Frame(NamedTuple):
    """One frame: its index (from 0), name, image id and H×W×3 uint8 BGR image."""
    index: int
    name: str
    image_id: int
    image: np.ndarray


class FrameSource:
    """The frames of a video file or of a folder of images.

    Attributes:
        count: Number of frames (for a video file, as its header says; 0 when unknown).
        fps: Frame rate of a video file, else None.

    Raises:
        FileNotFoundError: nothing at ``path``.
        VideoError: a file OpenCV cannot open as a video.
        UserError: a folder without images.
    """

    def __init__(self, path: str):
        self.path = path
        self.fps: Optional[float] = None
        self._files: List[str] = []
        if os.path.isdir(path):
            self._files = list_images(path)
            self.count = len(self._files)
        elif os.path.isfile(path):
            capture = cv2.VideoCapture(path)
            ok = capture.isOpened()
            self.count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))) if ok else 0
            fps = capture.get(cv2.CAP_PROP_FPS) if ok else 0.0
            self.fps = float(fps) if fps and fps > 0 else None
            capture.release()
            if not ok:
                raise VideoError(f"cannot open '{path}' as a video (TRACK.VIDEO); give a video file OpenCV reads "
                                 f"(.mp4, .avi, ...) or a folder of frames")
        else:
            raise FileNotFoundError(f"video not found: '{path}' (TRACK.VIDEO, --video); give a video file or a "
                                    f"folder of frames")

    def __iter__(self) -> Iterator[Frame]:
        if self._files:
            for index, file in enumerate(self._files):
                yield Frame(index, os.path.basename(file), image_id_of(file, index), read_image(file))
            return
        capture = cv2.VideoCapture(self.path)
        index = 0
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                yield Frame(index, f"{index:06d}", index, image)
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise VideoError(f"no frame could be read from '{self.path}' (TRACK.VIDEO)")


class FrameBoxes:
    """Person boxes per frame from the ``TRACK.BOXES`` setting.

    ``boxes`` is empty (the first frame is one whole-image box; later frames get boxes from
    propagation only), ``'[[x,y,w,h(,score)],...]'`` (boxes of the first frame), or a COCO
    detection-results file (``file_name`` or ``image_id``, ``bbox``, ``score``) with boxes for
    any frames. Detections scoring under ``image_thre`` are dropped.
    """

    def __init__(self, boxes: str, image_thre: float):
        self.image_thre = image_thre
        source = BoxSource(boxes, "TRACK.BOXES, --boxes", image_thre)
        self._first, self._index = source.listed, source.index

    @property
    def from_file(self) -> bool:
        """Whether the boxes come from a detection file."""
        return self._index is not None

    def __call__(self, frame: Frame) -> Tuple[np.ndarray, np.ndarray]:
        """``(boxes N×4, scores N)`` of ``frame``."""
        if self._index is not None:
            return self._index.boxes(self._index.of_image(frame.name, frame.image_id), self.image_thre)
        if frame.index > 0:
            return np.zeros((0, 4)), np.zeros(0)
        if self._first is not None:
            return self._first
        height, width = frame.image.shape[:2]
        return np.array([[0.0, 0.0, width, height]]), np.ones(1)


class VideoWriter:
    """An .mp4 file (MPEG-4 part 2, OpenCV's ``mp4v``); frames of another size are resized.

    The frames go to a temporary file next to ``path`` (:func:`src.utils.files.partial_path`), renamed to
    ``path`` by :meth:`close`: a killed run leaves no half video under the real name. :meth:`discard`
    (or leaving the ``with`` block by an exception) removes it instead.
    """

    def __init__(self, path: str, fps: float):
        self.path, self.fps = path, fps
        self._writer: Optional[cv2.VideoWriter] = None
        self._size: Optional[Tuple[int, int]] = None

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            self._size = (image.shape[1], image.shape[0])
            self._writer = cv2.VideoWriter(partial_path(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                           self._size)
            if not self._writer.isOpened():
                raise OSError(f"cannot write the video {self.path} (OpenCV's mp4v writer did not open)")
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)

    def close(self) -> None:
        """Finishes the video and puts it in place."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(partial_path(self.path), self.path)

    def discard(self) -> None:
        """Drops the frames written so far; nothing appears at ``path``."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.remove(partial_path(self.path))

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
