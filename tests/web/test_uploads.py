"""The page's upload strip: the run's own schedule (the CLI's `unnoise noise --run` strip, pixel for pixel), the
picture upright as a person sees it, and a refusal by pixel count before decoding."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

import unnoise
from tests.data.make_files import BLUE, RED, huge_png_bytes, write_rotated_jpeg
from tests.viz.strips import strip_columns
from tests.web.conftest import require_web
from unnoise.cli import main
from unnoise.config import override
from unnoise.web.jobs import Limits

SIZE, T = 16, 100  # the tiny runs' image size and number of timesteps
COLUMNS = [0, 5, 10, 20, 40, 70, 99]  # the classic strip's timesteps at T = 100


@pytest.fixture(scope="module")
def schedule_runs(tmp_path_factory):
    """Tiny runs whose schedules differ from the default in more than name and T."""
    from tests.conftest import tiny_config

    folder = tmp_path_factory.mktemp("schedule-runs")
    changes = {
        "beta_end": {"diffusion.beta_end": 0.004},
        "zero_snr": {"diffusion.zero_terminal_snr": True, "diffusion.prediction": "v"},
    }
    return {
        name: unnoise.train(
            override(tiny_config(steps=2, checkpoint_every=0), change), out=folder / name, progress=False
        ).path
        for name, change in changes.items()
    }


@pytest.fixture
def page_of():
    require_web()
    from fastapi.testclient import TestClient

    from unnoise.web import create_app

    return lambda run: TestClient(create_app(run, Limits(), device="cpu", start_worker=False))


def upload(client, data: bytes, name="picture.png"):
    return client.post("/api/noise", files={"image": (name, data, "application/octet-stream")})


def random_picture(path):
    pixels = np.random.default_rng(3).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def expected_columns(pixels: np.ndarray, alpha_bar: np.ndarray) -> list[np.ndarray]:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps in uint8, eps the strip's noise (seed 0)."""
    x0 = pixels.astype(np.float64) / 127.5 - 1
    noise = torch.randn((1, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(0))[0].permute(1, 2, 0).double()
    return [
        np.clip(np.rint((np.sqrt(alpha_bar[t]) * x0 + np.sqrt(1 - alpha_bar[t]) * noise.numpy() + 1) * 127.5), 0, 255)
        for t in COLUMNS
    ]


def cli_strip(tmp_path, picture, run) -> Image.Image:
    out = tmp_path / f"cli-{run.name}.png"
    assert main(["noise", str(picture), "--run", str(run), "--out", str(out)]) == 0
    return Image.open(out)


def page_strip(client, data: bytes) -> Image.Image:
    response = upload(client, data)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


@pytest.mark.parametrize("name", ["beta_end", "zero_snr"])
def test_the_page_draws_the_strip_the_cli_draws_for_the_run(schedule_runs, page_of, tmp_path, name):
    picture = tmp_path / "picture.png"
    random_picture(picture)
    page = page_strip(page_of(schedule_runs[name]), picture.read_bytes())
    cli = cli_strip(tmp_path, picture, schedule_runs[name])
    assert np.array_equal(np.asarray(page.convert("RGB")), np.asarray(cli.convert("RGB")))


def test_the_strip_keeps_what_beta_end_leaves_of_the_image(schedule_runs, page_of, tmp_path):
    """beta_end 0.004: sqrt(alpha_bar) at t = 99 is 0.90 (0.60 with the default 0.02, which the page once showed)."""
    picture = tmp_path / "picture.png"
    pixels = random_picture(picture)
    columns = strip_columns(page_strip(page_of(schedule_runs["beta_end"]), picture.read_bytes()), SIZE)
    alpha_bar = np.cumprod(1 - np.linspace(1e-4, 0.004, T))
    assert np.sqrt(alpha_bar[99]) == pytest.approx(0.9025, abs=1e-4)
    for shown, expected in zip(columns, expected_columns(pixels, alpha_bar), strict=True):
        assert np.abs(shown.astype(int) - expected).max() <= 1
    default = expected_columns(pixels, np.cumprod(1 - np.linspace(1e-4, 0.02, T)))
    assert np.abs(columns[-1].astype(int) - default[-1]).mean() > 10  # a test that the default schedule would fail


def test_zero_terminal_snr_ends_the_strip_in_pure_noise(schedule_runs, page_of, tmp_path):
    picture = tmp_path / "picture.png"
    pixels = random_picture(picture)
    last = strip_columns(page_strip(page_of(schedule_runs["zero_snr"]), picture.read_bytes()), SIZE)[-1]
    pure_noise = expected_columns(pixels, np.zeros(T))[-1]
    assert np.abs(last.astype(int) - pure_noise).max() <= 1
    with_signal = expected_columns(pixels, np.cumprod(1 - np.linspace(1e-4, 0.02, T)))[-1]
    assert np.abs(last.astype(int) - with_signal).mean() > 10  # without the rescaling, t = 99 keeps 0.60 of the image


def test_a_phone_photo_is_upright_on_the_page_as_in_the_cli(web_runs, page_of, tmp_path):
    photo = write_rotated_jpeg(tmp_path / "phone.jpg")
    response = upload(page_of(web_runs["plain"]), photo.read_bytes(), "phone.jpg")
    assert response.status_code == 200
    for strip in (Image.open(io.BytesIO(response.content)), cli_strip(tmp_path, photo, web_runs["plain"])):
        first = strip_columns(strip, SIZE)[0].astype(int)  # t = 0: the picture itself, blue left and red right
        assert np.abs(first[8, 2] - BLUE).max() < 20 and np.abs(first[8, 13] - RED).max() < 20


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL's notice on reading the header
def test_an_image_of_too_many_pixels_is_refused_before_decoding(web_runs, page_of):
    data = huge_png_bytes()  # 12000 x 12000 pixels in about 18 KB (tests/data/test_open_image.py: before decoding)
    assert len(data) < 20_000
    response = upload(page_of(web_runs["plain"]), data)
    assert response.status_code == 400
    assert response.json() == {
        "error": "the image is 12000x12000 pixels (144 megapixels), more than the limit of 40 megapixels; make it "
        "smaller first"
    }
