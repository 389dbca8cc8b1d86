"""Reading images (src/utils/image.py): the stored pixel grid in BGR order, EXIF rotation ignored, clear errors."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from src.errors import ImageReadError, UserError
from src.utils.image import imread_bgr, read_image


def test_exif_rotation_is_ignored_and_channels_are_bgr(tmp_path):
    """A camera's orientation tag would turn the picture (OpenCV's default does); the keypoints are
    labelled in the stored grid, so the reader must not."""
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :10] = (255, 0, 0)   # red on the left, in RGB
    picture = Image.fromarray(rgb)
    exif = picture.getexif()
    exif[0x0112] = 6            # "rotate 90° clockwise to display"
    path = str(tmp_path / "camera.jpg")
    picture.save(path, exif=exif.tobytes(), quality=95)
    assert cv2.imread(path).shape == (40, 20, 3)          # what the default flags would give
    image = read_image(path)
    assert image.shape == (20, 40, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(image[10, 2], (0, 0, 255), atol=4)      # red is the last channel
    np.testing.assert_allclose(image[10, 30], (0, 0, 0), atol=4)
    np.testing.assert_array_equal(imread_bgr(path), image)


def test_png_round_trip_is_exact(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = str(tmp_path / "a.png")
    cv2.imwrite(path, image)
    np.testing.assert_array_equal(read_image(path), image)


def test_missing_or_broken_files(tmp_path, monkeypatch):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 this is not a JPEG file")
    assert imread_bgr(str(broken)) is None and imread_bgr(str(tmp_path / "none.jpg")) is None
    with pytest.raises(ImageReadError, match=r"cannot read image .*broken.jpg \(missing, unreadable or not an image\)"):
        read_image(str(broken))
    # A relative path is shown with the absolute path it was taken as.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImageReadError) as err:
        read_image("none.jpg")
    assert f"none.jpg (= {os.path.join(str(tmp_path), 'none.jpg')})" in str(err.value)
    assert isinstance(err.value, UserError) and isinstance(err.value, OSError)
