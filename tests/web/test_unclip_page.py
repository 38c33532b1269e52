"""The page for unCLIP runs: prompts through the prior, variations of an upload and a walk between two, as queued jobs
with the API's own results; a CLIP run refused at startup in one line; every bad value a message naming its field."""

import pytest
import torch

import unnoise
from tests.web.conftest import require_web
from tests.web.test_editing_page import OTHER, PICTURE, SIZE, finished, png_file
from unnoise.cli import main
from unnoise.errors import UserError
from unnoise.families.unclip import PRIOR_GUIDANCE
from unnoise.web.jobs import Limits
from unnoise.web.variations import VariationRequest

LIMITS = Limits(max_images=4, max_steps=20, queue_size=4)
A, B = (torch.from_numpy(picture).permute(2, 0, 1) for picture in (PICTURE, OTHER))  # uint8 (3, 16, 16)


@pytest.fixture
def client_for(request):
    """A TestClient of the page serving plain (diffusion, no condition), attrs or unclip; the unCLIP run skips without
    the text extra, the others do not."""
    require_web()
    from fastapi.testclient import TestClient

    from unnoise.web import create_app

    def make(name="unclip", limits=LIMITS):
        runs = request.getfixturevalue("unclip_runs" if name == "unclip" else "web_runs")
        return TestClient(create_app(runs[name], limits, device="cpu"))

    return make


def submit(client, fields, files=("image",), route="/api/variations"):
    uploads = {"image": PICTURE, "image2": OTHER, "mask": PICTURE[..., 0]}
    attached = {name: (f"{name}.png", png_file(uploads[name]), "image/png") for name in files}
    return client.post(route, data={key: str(value) for key, value in fields.items()}, files=attached)


def test_the_page_offers_prompts_and_variations_for_unclip_runs_only(client_for):
    client = client_for()
    info = client.get("/api/info").json()
    assert (info["condition"], info["variations"]) == ("clip", ["variations", "walk"])
    page = client.get("/").text
    assert 'id="variations-section"' in page and "/api/variations" in page
    # The page shows the prompt for text and clip runs, the negative prompt for text runs only.
    assert 'info.condition === "text" || info.condition === "clip"' in page
    assert 'show($("negative-box"), info.condition === "text")' in page
    for name in ("plain", "attrs"):
        assert client_for(name).get("/api/info").json()["variations"] == []


def test_variations_are_the_apis_n_images_of_the_runs_size(client_for, unclip_runs):
    client = client_for()
    fields = {"tool": "variations", "n": 3, "seed": 2, "steps": 4, "guidance": 2, "preview": "x0"}
    state, shown = finished(client, submit(client, fields))
    assert (state["step"], state["total"]) == (4, 4) and state["previews"] >= 1
    assert len(shown) == 1 + 3 and all(tile.shape == (3, SIZE, SIZE) for tile in shown)
    assert torch.equal(shown[0], A)  # the picture, then its variations
    run = unnoise.load_run(unclip_runs["unclip"], device="cpu")
    expected = run.variations(A, n=3, seed=2, steps=4, guidance=2, batch_size=1)
    assert torch.equal(torch.stack(shown[1:]), expected)
    assert client.get(state["image_url"]).headers["content-disposition"].startswith("attachment")


def test_a_walk_between_two_pictures_counts_every_frames_steps(client_for, unclip_runs):
    client = client_for()
    fields = {"tool": "walk", "n": 3, "seed": 4, "steps": 4}
    state, shown = finished(client, submit(client, fields, ("image", "image2")))
    assert state["total"] == state["step"] == 3 * 4 and len(shown) == 3 + 2
    run = unnoise.load_run(unclip_runs["unclip"], device="cpu")
    expected = run.embedding_walk(torch.stack([A, B]), n=3, seed=4, steps=4)
    assert torch.equal(shown[0], A) and torch.equal(torch.stack(shown[1:4]), expected) and torch.equal(shown[4], B)
    # The progress bar's steps run on across the frames and end at the total.
    uploads = {"image": png_file(PICTURE), "image2": png_file(OTHER)}
    for tool in ("variations", "walk"):
        form = {"tool": tool, "n": "2", "steps": "3"}
        request = VariationRequest.parse(
            form, uploads if tool == "walk" else uploads | {"image2": b""}, run, LIMITS, 10**6
        )
        seen = []
        request.draw(run, lambda i, *_: seen.append(i))
        assert seen == list(range(request.total(run))) and request.total(run) == (3 if tool == "variations" else 6)


def test_prompts_go_through_the_prior_and_a_negative_prompt_is_refused(client_for, unclip_runs):
    client = client_for()
    asked = {"prompt": "a photo of a smiling person", "n": 2, "steps": 4, "guidance": 3, "seed": 1}
    _, shown = finished(client, client.post("/api/generate", json=asked))
    run = unnoise.load_run(unclip_runs["unclip"], device="cpu")
    expected = run.sample(2, prompt=asked["prompt"], steps=4, guidance=3, seed=1, batch_size=2)
    assert torch.equal(torch.stack(shown), expected)
    refused = client.post("/api/generate", json={"prompt": "a smiling person", "negative_prompt": "a hat"})
    assert refused.status_code == 400 and "takes no negative_prompt" in refused.json()["error"]
    # The editing tools take prompts too, through the prior (the run's own request).
    edit = submit(client, {"tool": "edit", "prompt": "a smiling person"}, route="/api/edit")
    assert edit.status_code == 200, edit.json()
    _, edited = finished(client, submit(client, {"tool": "edit", "n": 1, "steps": 4}, route="/api/edit"))
    assert len(edited) == 2


def test_the_prior_guidance_field_is_the_apis_and_is_refused_where_no_prior_runs(client_for, unclip_runs):
    client = client_for()
    assert client.get("/api/info").json()["default_prior_guidance"] == PRIOR_GUIDANCE
    assert 'id="prior-guidance"' in client.get("/").text
    asked = {"prompt": "a photo of a smiling person", "n": 2, "steps": 4, "seed": 1}
    run = unnoise.load_run(unclip_runs["unclip"], device="cpu")
    _, default = finished(client, client.post("/api/generate", json=asked))
    _, strong = finished(client, client.post("/api/generate", json=asked | {"prior_guidance": "6"}))
    assert torch.equal(torch.stack(strong), run.sample(2, prompt=asked["prompt"], steps=4, seed=1, prior_guidance=6))
    assert not torch.equal(torch.stack(strong), torch.stack(default))
    for fields, message in [
        ({"prior_guidance": 2}, "prior_guidance guides the prior of a prompt: give a prompt too"),
        (asked | {"prior_guidance": 99}, "prior_guidance must be between 0 and 20"),
        (asked | {"prior_guidance": "strong"}, "prior_guidance must be a number"),
        (asked | {"prior_guidance": True}, "prior_guidance must be a number"),
    ]:
        refused = client.post("/api/generate", json=fields)
        assert refused.status_code == 400 and message in refused.json()["error"], refused.json()
    # A run without a prior is told so first, whatever the value (not to bring it into range, then to drop it).
    plain = client_for("plain").post("/api/generate", json={"prior_guidance": 99})
    assert plain.status_code == 400 and "prior_guidance is for unCLIP runs" in plain.json()["error"]


def test_the_pages_default_guidances_stay_within_the_servers_limit(client_for):
    info = client_for(limits=Limits(max_guidance=1.5)).get("/api/info").json()
    assert info["default_guidance"] == info["default_prior_guidance"] == 1.5


@pytest.mark.parametrize(
    "fields, files, message",
    [
        ({"tool": "variations"}, (), "choose a picture (image)"),
        ({"tool": "walk"}, ("image2",), "choose a picture (image)"),
        ({"tool": "walk"}, ("image",), "upload image2 too"),
        ({"tool": "walk", "n": 1}, ("image", "image2"), "n must be at least 2"),
        ({"tool": "variations"}, ("image", "image2"), "leave out image2"),
        ({"tool": "variations"}, ("image", "mask"), "take no mask"),
        ({"tool": "variations", "n": 5}, ("image",), "n must be between 1 and 4"),
        ({"tool": "variations", "n": "many"}, ("image",), "n must be an integer"),
        ({"tool": "variations", "steps": 21}, ("image",), "steps must be between 1 and 20"),
        ({"tool": "variations", "guidance": 1e9}, ("image",), "guidance must be between 0 and 20"),
        ({"tool": "variations", "seed": -1}, ("image",), "seed must be an integer in [0, 2^63)"),
        ({"tool": "variations", "sampler": "magic"}, ("image",), "sampler must be one of"),
        ({"tool": "variations", "preview": "both"}, ("image",), "preview must be x_t or x0"),
        ({"tool": "variations", "prompt": "a cat"}, ("image",), "leave out prompt"),
        ({"tool": "walk", "attrs": "Smiling"}, ("image", "image2"), "leave out attrs"),
        ({"tool": "variations", "prior_guidance": 2}, ("image",), "leave out prior_guidance"),
        ({"tool": "sketch"}, ("image",), "tool must be one of variations, walk"),
        ({"tool": "variations", "strength": 0.5}, ("image",), "unknown fields: strength"),
    ],
)
def test_bad_values_get_a_message_naming_the_field(client_for, fields, files, message):
    response = submit(client_for(), fields, files)
    assert response.status_code == 400 and message in response.json()["error"], response.json()


def test_uploads_that_are_not_pictures_and_json_get_messages(client_for):
    client = client_for()
    broken = client.post("/api/variations", data={"tool": "variations"}, files={"image": ("x.png", b"no", "image/png")})
    assert broken.status_code == 400 and broken.json()["error"].startswith("image: the file is not an image")
    as_json = client.post("/api/variations", json={"tool": "variations"})
    assert as_json.status_code == 400 and "POST /api/variations takes a multipart form" in as_json.json()["error"]


def test_a_run_without_clip_embeddings_has_no_variations(client_for):
    for name in ("plain", "attrs"):
        refused = submit(client_for(name), {"tool": "variations"})
        assert refused.status_code == 400 and "condition.kind" in refused.json()["error"], refused.json()
        assert "need an unCLIP run" in refused.json()["error"]


def test_serving_a_clip_run_is_a_one_line_error(unclip_runs, capsys):
    require_web()
    from unnoise.web import create_app

    with pytest.raises(UserError, match="CLIP run: it draws no images"):
        create_app(unclip_runs["clip"], LIMITS, device="cpu", start_worker=False)
    assert main(["serve", str(unclip_runs["clip"]), "--device", "cpu"]) == 2
    error = capsys.readouterr().err.strip()
    assert "draws no images" in error and "clip-eval" in error and len(error.splitlines()) == 1, error
