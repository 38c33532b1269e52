import pytest

from unnoise.config import DataConfig, DiffusionConfig, ModelConfig, RunConfig, TrainConfig


@pytest.fixture(autouse=True, scope="session")
def session_data_cache(tmp_path_factory):
    """Keep every test's data cache out of the user's ~/.cache (tests/data narrows this per test)."""
    patcher = pytest.MonkeyPatch()
    patcher.setenv("UNNOISE_CACHE", str(tmp_path_factory.mktemp("unnoise-cache")))
    yield
    patcher.undo()


def tiny_config(**train_changes) -> RunConfig:
    """A run small enough to train in a second or two on a CPU: 16x16 built-in faces, a 60k-parameter U-Net."""
    train = dict(
        steps=8,
        batch_size=8,
        lr=2e-3,
        warmup_steps=2,
        ema_decay=0.9,
        log_every=2,
        sample_every=0,
        sample_count=4,
        sample_steps=5,
        checkpoint_every=4,
        device="cpu",
    )
    train.update(train_changes)
    return RunConfig(
        preset="tiny",
        data=DataConfig(source="builtin:64", image_size=16),
        model=ModelConfig(
            base_channels=8, channel_mult=(1, 2), blocks_per_level=1, attention_resolutions=(8,), dropout=0.1
        ),
        diffusion=DiffusionConfig(timesteps=100),
        train=TrainConfig(**train),
    )


@pytest.fixture
def tiny():
    return tiny_config
