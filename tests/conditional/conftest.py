import pytest
import torch

from unnoise.data import open_dataset
from unnoise.metrics.classifier import train_classifier


@pytest.fixture(scope="session")
def builtin_classifier():
    """An attribute classifier for the built-in faces at 16x16, trained once per session (~30 s)."""
    torch.manual_seed(0)
    return train_classifier(
        open_dataset("builtin:1024", 16, progress=False), steps=150, batch_size=32, width=8, progress=False
    )
