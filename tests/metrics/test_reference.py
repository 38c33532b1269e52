"""Reference statistics files: a lossless round trip, and every bad file as a UserError."""

import numpy as np
import pytest

from tests.storage.limits import file_size_limit
from unnoise.errors import UserError
from unnoise.metrics.inception import PROTOCOL
from unnoise.metrics.reference import ReferenceStatistics, load_reference
from unnoise.storage.atomic import WriteError


def reference(n=6, seed=0):
    features = np.random.default_rng(seed).random((n, 2048), dtype=np.float32)
    return ReferenceStatistics.from_features(features, image_size=32, source="builtin:6:0 split=train")


def fields(path):
    with np.load(path) as file:
        return dict(file)


def test_round_trip_keeps_everything(tmp_path):
    original = reference()
    path = original.save(tmp_path / "ref.stats")  # written at exactly this name, no .npz added
    assert path == tmp_path / "ref.stats" and path.is_file() and list(tmp_path.iterdir()) == [path]
    loaded = load_reference(path)
    assert loaded.mu.dtype == np.float64 and loaded.sigma.dtype == np.float64 and loaded.features.dtype == np.float32
    assert np.array_equal(loaded.mu, original.mu) and np.array_equal(loaded.sigma, original.sigma)
    assert np.array_equal(loaded.features, original.features)
    assert (loaded.n, loaded.image_size, loaded.source, loaded.protocol) == (6, 32, "builtin:6:0 split=train", PROTOCOL)
    assert np.allclose(loaded.mu, original.features.astype(np.float64).mean(axis=0))
    assert int(fields(path)["n"]) == 6


def test_another_protocol_is_a_user_error(tmp_path):
    path = reference().save(tmp_path / "ref.npz")
    values = fields(path)
    values["protocol"] = np.str_("tf-inception-2015-12-05/bicubic-299/fp32/v1")
    np.savez(path, **values)
    with pytest.raises(UserError, match="protocol"):
        load_reference(path)


@pytest.mark.parametrize("damage", ["text", "missing key", "wrong shape", "pickled", "n=1"])
def test_malformed_files_are_user_errors(tmp_path, damage):
    path = tmp_path / "ref.npz"
    values = fields(reference().save(path))
    if damage == "text":
        path.write_text("mu,sigma\n1,2\n")
    else:
        if damage == "missing key":
            del values["features"]
        elif damage == "wrong shape":
            values["sigma"] = values["sigma"][:10, :10]
        elif damage == "pickled":
            values["source"] = np.array([{"a": 1}], dtype=object)
        elif damage == "n=1":
            values["features"], values["n"] = values["features"][:1], np.int64(1)
        np.savez(path, **values)
    with pytest.raises(UserError, match="not an unnoise FID statistics file"):
        load_reference(path)


def test_a_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="fid-stats"):
        load_reference(tmp_path / "nothing.npz")


def test_statistics_that_cannot_be_written_keep_the_old_file_and_say_why(tmp_path):
    path = reference(seed=1).save(tmp_path / "ref.npz")
    before = path.read_bytes()
    with file_size_limit(4096):  # a real failure, root or not: 6 x 2048 features need about 100 KB
        with pytest.raises(WriteError, match=f"^cannot write {path}: File too large$"):
            reference(seed=2).save(path)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
