import os
from pathlib import Path

import pytest

import unnoise.data.decoding
import unnoise.data.transforms

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Each test gets its own empty data cache, so none reads or writes the user's ~/.cache."""
    cache = tmp_path / "unnoise-cache"
    monkeypatch.setenv("UNNOISE_CACHE", str(cache))
    return cache


@pytest.fixture
def count_decodes(monkeypatch):
    """Counts files decoded from now on."""
    calls = []
    real_load_rgb = unnoise.data.transforms.load_rgb

    def counting_load_rgb(path, *arguments):
        calls.append(path.name)
        return real_load_rgb(path, *arguments)

    monkeypatch.setattr(unnoise.data.decoding, "load_rgb", counting_load_rgb)
    return calls


def real_data_folder(environment_variable: str, folder_name: str) -> Path:
    path = Path(os.environ.get(environment_variable) or REPO_ROOT.parent / "shared" / "data" / folder_name)
    if not (path / "img_align_celeba").is_dir():
        pytest.skip(f"real CelebA not found at {path}; set {environment_variable} to the folder to run this test")
    return path


@pytest.fixture(scope="session")
def celeba_root() -> Path:
    return real_data_folder("UNNOISE_CELEBA", "celeba")


@pytest.fixture(scope="session")
def celeba_halfres_root() -> Path:
    return real_data_folder("UNNOISE_CELEBA_HALFRES", "celeba-halfres")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One cache for the real-data tests, so each real set is decoded once per session."""
    return tmp_path_factory.mktemp("real-data-cache")
