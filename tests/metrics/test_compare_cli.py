"""unnoise compare: runs of the three families measured on one reference, as a table, JSON and a figure."""

import json

from PIL import Image

from unnoise.cli import main


def train_tiny(tmp_path, name, *flags):
    common = [
        "--data",
        "builtin:64",
        "--image-size",
        "32",
        "--base-channels",
        "8",
        "--channel-mult",
        "1,2",
        "--batch-size",
        "8",
        "--steps",
        "4",
        "--sample-every",
        "0",
        "--device",
        "cpu",
        "--quiet",
    ]
    assert main(["train", *common, *flags, "--out", str(tmp_path / name)]) == 0
    return str(tmp_path / name)


def test_compare_writes_one_row_and_one_grid_per_run(tmp_path, inception, capsys):
    reference = tmp_path / "ref.npz"
    assert (
        main(
            [
                "fid-stats",
                "builtin:32",
                "--size",
                "32",
                "--out",
                str(reference),
                "--n",
                "12",
                "--device",
                "cpu",
                "--quiet",
            ]
        )
        == 0
    )
    runs = [
        train_tiny(tmp_path, "vae", "--model", "vae", "--latent-dim", "16"),
        train_tiny(tmp_path, "gan", "--model", "gan", "--latent-dim", "16"),
        train_tiny(tmp_path, "diffusion", "--timesteps", "50", "--attention-resolutions", "none"),
    ]
    capsys.readouterr()
    out = tmp_path / "cmp" / "trilemma"
    assert (
        main(["compare", *runs, "--ref", str(reference), "--n", "6", "--steps", "3", "--out", str(out), "--quiet"]) == 0
    )
    printed = capsys.readouterr().out
    assert sum(line.startswith("| ") for line in printed.splitlines()) == 4  # header and three rows
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [row["model"] for row in rows] == ["vae", "gan", "diffusion"]
    assert [row["nfe"] for row in rows] == [1, 1, 3]
    for row in rows:
        assert row["fid"] > 0 and 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1
        assert row["train_steps"] == 4 and row["train_minutes"] is not None and row["sampling_images_per_s"] > 0
        assert (row["n"], row["ref_n"]) == (6, 12)
    vae, gan, diffusion = rows
    assert vae["sampling_parameters_m"] < vae["parameters_m"] and gan["sampling_parameters_m"] < gan["parameters_m"]
    assert diffusion["sampling_parameters_m"] == diffusion["parameters_m"]
    assert "| vae |" in out.with_suffix(".md").read_text()
    figure = Image.open(out.with_suffix(".png"))
    assert figure.width > 3 * 4 * 32  # three grids of 4 columns side by side


def test_compare_refuses_a_run_at_another_size(tmp_path, inception, capsys):
    reference = tmp_path / "ref16.npz"
    assert main(["fid-stats", "builtin:8", "--size", "16", "--out", str(reference), "--device", "cpu", "--quiet"]) == 0
    run = train_tiny(tmp_path, "vae", "--model", "vae", "--latent-dim", "16")
    capsys.readouterr()
    assert main(["compare", run, "--ref", str(reference), "--n", "4"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "compare runs at the reference's size" in error
