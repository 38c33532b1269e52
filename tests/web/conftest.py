import importlib.util

import pytest

import unnoise
from unnoise.config import override

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
