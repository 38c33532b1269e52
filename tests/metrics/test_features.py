"""Batched feature extraction and its content cache: the same images never go through the network twice."""

import logging

import torch

from unnoise.metrics.features import FEATURE_CACHE_FOLDER, content_key, extract_features


class CountingNetwork:
    """A stand-in for the Inception network: features from pixel sums, and a record of every batch it saw."""

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, images):
        self.batch_sizes.append(len(images))
        totals = images.float().sum(dim=(1, 2, 3), keepdim=False)[:, None]  # (B, 1)
        return totals * torch.linspace(0, 1, 2048)


def random_images(count, seed=0, size=8):
    return torch.randint(
        0, 256, (count, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def test_extraction_is_batched_and_in_order(tmp_path):
    network, images = CountingNetwork(), random_images(7)
    features = extract_features(images, network, batch_size=3, progress=False, cache_dir=tmp_path)
    assert network.batch_sizes == [3, 3, 1]
    assert torch.equal(features, CountingNetwork()(images))


def test_the_second_extraction_of_the_same_images_does_not_run_the_network(tmp_path):
    network, images = CountingNetwork(), random_images(5)
    first = extract_features(images, network, progress=False, cache_dir=tmp_path)
    assert network.batch_sizes == [5]
    again = extract_features(images.clone(), network, progress=False, cache_dir=tmp_path)
    assert network.batch_sizes == [5] and torch.equal(again, first)
    assert len(list((tmp_path / FEATURE_CACHE_FOLDER).glob("*.safetensors"))) == 1

    changed = images.clone()
    changed[4, 2, 7, 7] ^= 1  # one bit of one pixel
    extract_features(changed, network, progress=False, cache_dir=tmp_path)
    assert network.batch_sizes == [5, 5]


def test_the_key_covers_the_shape_as_well_as_the_bytes():
    images = random_images(2, size=8)
    assert content_key(images) != content_key(images.reshape(2, 3, 4, 16))
    assert content_key(images) == content_key(images.clone())


def test_a_damaged_cache_file_is_replaced(tmp_path, caplog):
    network, images = CountingNetwork(), random_images(3)
    first = extract_features(images, network, progress=False, cache_dir=tmp_path)
    (cached,) = (tmp_path / FEATURE_CACHE_FOLDER).glob("*.safetensors")
    cached.write_bytes(b"not a safetensors file")
    with caplog.at_level(logging.WARNING, logger="unnoise"):
        again = extract_features(images, network, progress=False, cache_dir=tmp_path)
    assert torch.equal(again, first) and network.batch_sizes == [3, 3]
    assert "unreadable" in caplog.text
