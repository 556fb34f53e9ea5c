"""write_png: what it writes, MXNet's own decoder reads back pixel for pixel."""
import mxnet as mx
import numpy as np

from pipeline.measure.png import write_png


def test_mxnet_decodes_the_written_pixels_exactly(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (7, 11, 3), dtype=np.uint8)
    path = write_png(tmp_path / "x.png", pixels)
    decoded = mx.image.imdecode(path.read_bytes()).asnumpy()  # RGB, (height, width, 3)
    np.testing.assert_array_equal(decoded, pixels)
