"""The page's editing tools through its API: uploads in, the API's own results out, every bad value a message."""

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

import unnoise
from tests.web.conftest import require_web
from unnoise.web.jobs import Limits

SIZE, SCALE, PADDING = 16, 8, 2  # the tiny runs' size, and how the page's grids show it


@pytest.fixture
def client_for(web_runs):
    require_web()
    from fastapi.testclient import TestClient

    from unnoise.web import create_app

    def make(name="plain"):
        return TestClient(create_app(web_runs[name], Limits(max_images=4, max_steps=20, queue_size=4), device="cpu"))

    return make


def png_file(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


PICTURE = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
OTHER = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
MASK = np.zeros((SIZE, SIZE), np.uint8)
MASK[4:12, 4:12] = 255


def submit(client, fields, files=("image",)):
    uploads = {"image": PICTURE, "image2": OTHER, "mask": MASK}
    attached = {name: (f"{name}.png", png_file(uploads[name]), "image/png") for name in files}
    return client.post("/api/edit", data={key: str(value) for key, value in fields.items()}, files=attached)


def finished(client, response, timeout_s=60):
    assert response.status_code == 200, response.json()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{response.json()['id']}").json()
        if state["status"] in ("done", "failed"):
            assert state["status"] == "done", state
            return state, tiles(client.get(state["image_url"]).content)
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def tiles(content: bytes) -> list[torch.Tensor]:
    """The pictures of a one-row result grid, back at the run's size as uint8 (3, H, W)."""
    grid = np.array(Image.open(io.BytesIO(content)))
    count = (grid.shape[1] - PADDING) // (SIZE * SCALE + PADDING)
    left = [PADDING + k * (SIZE * SCALE + PADDING) for k in range(count)]
    return [torch.from_numpy(grid[PADDING::SCALE, x : x + SIZE * SCALE : SCALE][:SIZE]).permute(2, 0, 1) for x in left]


def test_edit_draws_what_the_api_draws_and_strength_0_keeps_the_picture(client_for, web_runs):
    client = client_for()
    info = client.get("/api/info").json()
    assert info["tools"] == ["edit", "inpaint", "invert", "interpolate"]
    state, shown = finished(client, submit(client, {"tool": "edit", "strength": 0.6, "n": 2, "seed": 3, "steps": 8}))
    assert (state["step"], state["total"]) == (8, 8) and state["previews"] >= 1
    run = unnoise.load_run(web_runs["plain"], device="cpu")
    expected = run.edit(torch.from_numpy(PICTURE).permute(2, 0, 1), 0.6, n=2, seed=3, steps=8, batch_size=2)
    assert len(shown) == 3 and torch.equal(shown[0], torch.from_numpy(PICTURE).permute(2, 0, 1))
    assert torch.equal(torch.stack(shown[1:]), expected)
    _, kept = finished(client, submit(client, {"tool": "edit", "strength": 0, "steps": 8, "n": 1}))
    assert torch.equal(kept[1], kept[0])


def test_inpainting_with_an_uploaded_mask_keeps_the_known_pixels(client_for):
    client = client_for()
    fields = {"tool": "inpaint", "jump_length": 2, "resample": 2, "steps": 6, "n": 1}
    state, shown = finished(client, submit(client, fields, files=("image", "mask")))
    redraw = torch.from_numpy(MASK > 127)
    picture, hole, filled = shown
    assert torch.equal(filled[:, ~redraw], picture[:, ~redraw]) and (hole[:, redraw] == 128).all()
    assert state["total"] == 6 + 2 * 1 * 2  # jumps back from indices 5 and 3, once each (r - 1 = 1), of 2 steps


def test_inversion_reports_its_reconstruction_error(client_for):
    client = client_for()
    state, shown = finished(client, submit(client, {"tool": "invert", "steps": 6}))
    assert len(shown) == 3 and "reconstruction error: RMSE" in state["note"] and state["total"] == 12


def test_interpolation_between_seeds_and_between_pictures(client_for, web_runs):
    client = client_for()
    _, frames = finished(
        client, submit(client, {"tool": "interpolate", "n": 4, "seed": 2, "to_seed": 5, "steps": 6}, ())
    )
    run = unnoise.load_run(web_runs["plain"], device="cpu")
    assert len(frames) == 4 and torch.equal(frames[0], run.sample(1, seed=2, sampler="ddim", steps=6)[0])
    state, shown = finished(client, submit(client, {"tool": "interpolate", "n": 3, "steps": 6}, ("image", "image2")))
    assert len(shown) == 5 and state["total"] == state["step"] == 12  # A, 3 frames, B; inverted, then reconstructed


@pytest.mark.parametrize(
    "fields, files, message",
    [
        ({"tool": "edit"}, (), "choose a picture to edit"),
        ({"tool": "edit", "strength": 1.5}, ("image",), "strength must be a number in [0, 1]"),
        ({"tool": "edit", "strength": "lots"}, ("image",), "strength must be a number"),
        ({"tool": "inpaint"}, ("image",), "draw or upload a mask"),
        ({"tool": "inpaint", "resample": 0}, ("image", "mask"), "resample must be between 1 and 20"),
        ({"tool": "edit", "colour": "red"}, ("image",), "unknown fields: colour"),
        ({"tool": "interpolate", "n": 1, "to_seed": 3}, (), "n must be at least 2"),
        ({"tool": "interpolate"}, ("image",), "interpolate between two pictures"),
        ({"tool": "invert", "sampler": "dpmpp_2m_sde"}, ("image",), "deterministic sampler"),
        ({"tool": "sketch"}, ("image",), "tool must be one of"),
        ({"tool": "edit", "n": 9}, ("image",), "n must be between 1 and 4"),
        ({"tool": "edit", "attrs": "Smiling"}, ("image",), "trained without a condition"),
    ],
)
def test_bad_values_get_a_message_naming_the_field(client_for, fields, files, message):
    response = submit(client_for(), fields, files)
    assert response.status_code == 400 and message in response.json()["error"], response.json()


def test_a_picture_that_is_not_one_and_a_colour_mask_get_messages(client_for):
    client = client_for()
    broken = client.post("/api/edit", data={"tool": "edit"}, files={"image": ("x.png", b"no", "image/png")})
    assert broken.status_code == 400 and "not an image" in broken.json()["error"]
    colour = {"image": ("a.png", png_file(PICTURE), "image/png"), "mask": ("m.png", png_file(OTHER), "image/png")}
    refused = client.post("/api/edit", data={"tool": "inpaint"}, files=colour)
    assert refused.status_code == 400 and "mask must be black and white" in refused.json()["error"]


def test_a_conditional_run_edits_towards_a_request(client_for):
    client = client_for("attrs")
    fields = {"tool": "edit", "strength": 0.8, "attrs": "Smiling,-Eyeglasses", "guidance": 3, "steps": 6, "n": 1}
    state, shown = finished(client, submit(client, fields))
    assert len(shown) == 2


def test_a_sampler_that_draws_noise_is_refused_for_invert_and_interpolate_when_chosen(client_for):
    client = client_for()  # a DDPM run: its own sampler, ddpm, draws noise
    for fields, files in (({"tool": "invert"}, ("image",)), ({"tool": "interpolate", "to_seed": 3}, ())):
        refused = submit(client, {**fields, "sampler": "ddpm", "steps": 4}, files)
        assert refused.status_code == 400 and "deterministic sampler" in refused.json()["error"], refused.json()
    state, _ = finished(client, submit(client, {"tool": "invert", "steps": 4}))  # left out: DDIM, and said so
    assert state["note"].startswith("inverted with ddim")


def test_the_form_itself_gets_error_messages_the_page_can_show(client_for):
    client = client_for()
    as_json = client.post("/api/edit", json={"tool": "edit"})
    assert as_json.status_code == 400 and "takes a multipart form" in as_json.json()["error"]
    broken = client.post("/api/edit", content=b"x", headers={"content-type": "multipart/form-data"})
    assert broken.status_code == 400 and broken.json()["error"].startswith("the multipart form could not be read")
    mask = client.post(
        "/api/edit",
        data={"tool": "inpaint"},
        files={"image": ("a.png", png_file(PICTURE), "image/png"), "mask": ("m.png", b"no", "image/png")},
    )
    assert mask.status_code == 400 and mask.json()["error"].startswith("mask upload is not an image"), mask.json()
    second = client.post("/api/edit", data={"tool": "edit"}, files={"image2": ("b.png", b"no", "image/png")})
    assert second.status_code == 400 and second.json()["error"].startswith("image2 is interpolate's second picture")
    picture = client.post("/api/edit", data={"tool": "edit"}, files={"image": ("x.png", b"no", "image/png")})
    assert picture.json()["error"].startswith("image: the file is not an image")
