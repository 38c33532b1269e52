"""The web page's API on tiny runs: generation with intermediate pictures, the queue, limits, uploads, errors."""

import io
import time

import numpy as np
import pytest
from PIL import Image

import unnoise
from tests.web.conftest import require_web
from unnoise.web.jobs import GenerationRequest, JobQueue, Limits, QueueFull


@pytest.fixture
def client_for(web_runs):
    require_web()
    from fastapi.testclient import TestClient

    from unnoise.web import create_app

    def make(name="plain", limits=None, start_worker=True):
        limits = limits or Limits(max_images=4, max_steps=20, queue_size=2)
        return TestClient(create_app(web_runs[name], limits, device="cpu", start_worker=start_worker))

    return make


def wait_for(client, job_id, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job_id}").json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def png(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    assert image.format == "PNG"
    return image


def test_page_and_info(client_for):
    client = client_for()
    page = client.get("/")
    assert page.status_code == 200 and "Generate" in page.text and "/api/generate" in page.text
    info = client.get("/api/info").json()
    assert info["family"] == "diffusion" and info["condition"] == "none" and "dpmpp_2m" in info["samplers"]
    # The page starts from the run's own sampling: DDPM's 50 ancestral steps, cut to the server's 20.
    assert (info["default_sampler"], info["default_steps"]) == ("ddpm", 20)
    assert info["limits"] == {"max_images": 4, "max_steps": 20, "queue_size": 2, "max_guidance": 20.0}


def test_generation_shows_intermediate_pictures_and_gives_a_png_to_download(client_for):
    client = client_for()
    job = client.post("/api/generate", json={"n": 3, "steps": 6, "sampler": "ddim", "seed": 5, "preview": "x0"}).json()
    state = wait_for(client, job["id"])
    assert state["status"] == "done" and (state["step"], state["total"]) == (6, 6)
    assert state["previews"] >= 1  # the first step's picture at least
    download = client.get(state["image_url"])
    assert download.headers["content-disposition"].startswith("attachment")
    grid = png(download.content)
    # Three 16x16 images upscaled 8x in a 2x2 grid, 2-pixel padding.
    assert grid.size == (2 * 128 + 3 * 2, 2 * 128 + 3 * 2)
    # The same request draws the same images: the page's seed is the API's seed.
    again = wait_for(
        client, client.post("/api/generate", json={"n": 3, "steps": 6, "sampler": "ddim", "seed": 5}).json()["id"]
    )
    assert client.get(again["image_url"]).content == download.content


@pytest.mark.parametrize(
    "request_body, message",
    [
        ({"n": 5}, "n must be between 1 and 4"),
        ({"steps": 21}, "steps must be between 1 and 20"),
        ({"steps": "many"}, "steps must be an integer"),
        ({"sampler": "magic"}, "sampler must be one of"),
        ({"guidance": 1e9}, "guidance must be between 0 and 20"),
        ({"seed": -1}, "seed must be an integer in [0, 2^63)"),
        ({"prompt": "a cat"}, "trained without a condition"),
        ({"guidance": 5}, "guidance 5 steers samples towards a request"),
        ({"colour": "red"}, "unknown fields: colour"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_values_get_a_message_not_a_crash(client_for, request_body, message):
    response = client_for().post("/api/generate", json=request_body)
    assert response.status_code == 400 and message in response.json()["error"]


def test_attribute_requests_are_checked_before_they_queue(client_for):
    client = client_for("attrs")
    info = client.get("/api/info").json()
    assert info["condition"] == "attributes" and "Smiling" in info["attributes"]
    refused = client.post("/api/generate", json={"attrs": "Smiling,Wings"})
    assert refused.status_code == 400 and "Wings" in refused.json()["error"]
    unasked = client.post("/api/generate", json={"guidance": 5})
    assert unasked.status_code == 400 and "needs attrs or a prompt" in unasked.json()["error"]
    done = wait_for(
        client, client.post("/api/generate", json={"attrs": "Smiling,-Eyeglasses", "n": 2, "steps": 3}).json()["id"]
    )
    assert done["status"] == "done"


def test_one_generation_at_a_time_in_order_and_a_full_queue_says_so(web_runs):
    run = unnoise.load_run(web_runs["plain"], device="cpu")
    limits = Limits(max_images=4, max_steps=20, queue_size=2)
    jobs = JobQueue(run, limits, start=False)  # nothing runs until start(): the queue can be filled deterministically
    first = jobs.submit(GenerationRequest(n=1, steps=3))
    second = jobs.submit(GenerationRequest(n=1, steps=3))
    assert (jobs.position(first), jobs.position(second)) == (0, 1)
    assert (second.status, second.step, second.total) == ("queued", 0, 3)  # a waiting job's progress reads 0 of 3
    with pytest.raises(QueueFull, match="2 requests are already waiting"):
        jobs.submit(GenerationRequest(n=1, steps=3))
    jobs.start()
    deadline = time.monotonic() + 60
    while second.status != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.status == second.status == "done"


def test_a_full_queue_is_http_429(client_for):
    # No worker: the first request waits for good, filling the one-place queue.
    client = client_for(limits=Limits(max_images=4, max_steps=20, queue_size=1), start_worker=False)
    assert client.post("/api/generate", json={"n": 1, "steps": 2}).status_code == 200
    response = client.post("/api/generate", json={"n": 1, "steps": 2})
    assert response.status_code == 429 and "try again" in response.json()["error"]


def test_noising_strip_of_an_upload(client_for):
    client = client_for()
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="JPEG")
    strip = client.post("/api/noise", files={"image": ("red.jpg", buffer.getvalue(), "image/jpeg")})
    assert strip.status_code == 200
    picture = png(strip.content).convert("RGB")
    # The first column is the image itself (t = 0), red; the last is nearly pure noise, grey on average.
    first = picture.getpixel((10, 10))
    assert first[0] > 150 and first[1] < 80
    bad = client.post("/api/noise", files={"image": ("notes.txt", b"not an image", "text/plain")})
    assert bad.status_code == 400 and "not an image" in bad.json()["error"]
    empty = client.post("/api/noise", files={"image": ("empty.png", b"", "image/png")})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]


def test_the_page_draws_the_images_the_api_draws_for_the_same_seed(client_for, web_runs):
    """Seeds per image: the page (all images in one batch) gives what Run.sample gives at any other batch size."""
    from unnoise.web.jobs import png_bytes

    client = client_for()
    request = {"n": 4, "steps": 5, "sampler": "ddpm", "seed": 11}
    state = wait_for(client, client.post("/api/generate", json=request).json()["id"])
    page = png(client.get(state["image_url"]).content)
    run = unnoise.load_run(web_runs["plain"], device="cpu")
    for batch_size in (1, 3):
        images = run.sample(unnoise.SampleSettings(n=4, steps=5, sampler="ddpm", seed=11, batch_size=batch_size))
        api = Image.open(io.BytesIO(png_bytes(images, run.config.data.image_size)))
        difference = np.abs(np.asarray(api, dtype=int) - np.asarray(page, dtype=int))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01  # equal up to a rounding flip


def test_errors_on_the_page_name_fields_never_flags(client_for):
    refused = client_for("attrs").post("/api/generate", json={"negative_prompt": "a hat"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "negative_prompt needs a prompt" and "--" not in refused.json()["error"]
