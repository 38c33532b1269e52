import importlib.util

import pytest

import unnoise
from tests.text.conftest import text_extra  # noqa: F401 - skips, saying why, where the text extra is absent
from unnoise.config import override, with_family

WEB_PACKAGES = ("fastapi", "uvicorn", "python_multipart", "httpx")


def require_web() -> None:
    missing = [name for name in WEB_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(
            f"the web extra is not installed ({', '.join(missing)} missing): pip install -e '.[web,test]' (make test "
            "does it)"
        )


@pytest.fixture(scope="session")
def web_runs(tmp_path_factory):
    """Two tiny trained runs: an unconditional one and one conditioned on the built-in faces' attributes."""
    from tests.conftest import tiny_config

    folder = tmp_path_factory.mktemp("web-runs")
    plain = unnoise.train(tiny_config(steps=2, checkpoint_every=0), out=folder / "plain", progress=False)
    attributes = override(tiny_config(steps=2, checkpoint_every=0), {"condition.kind": "attributes"})
    conditional = unnoise.train(attributes, out=folder / "attrs", progress=False)
    return {"plain": plain.path, "attrs": conditional.path}


@pytest.fixture(scope="session")
def unclip_runs(text_extra, tmp_path_factory):  # noqa: F811
    """A tiny CLIP run and an unCLIP run on it (a few seconds): working runs for the page, not good ones."""
    from tests.conftest import tiny_config

    folder = tmp_path_factory.mktemp("web-unclip")
    clip_config = with_family(
        tiny_config(steps=20, batch_size=16, checkpoint_every=0), "clip", {"train.steps": 20, "train.warmup_steps": 2}
    )
    clip_config.model.clip_dim = 16
    clip = unnoise.train(clip_config, out=folder / "clip", progress=False)
    decoder = override(
        tiny_config(steps=20, checkpoint_every=0),
        {"diffusion.objective": "flow", "condition.kind": "clip", "condition.clip_run": str(clip.path)},
    )
    unclip = unnoise.train(decoder, out=folder / "unclip", progress=False)
    return {"clip": clip.path, "unclip": unclip.path}
