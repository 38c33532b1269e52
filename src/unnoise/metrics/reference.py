"""Reference statistics files (.npz): the features of a real image set, their mean and covariance, and how they were
made.

Keys: mu (d,) and sigma (d, d) float64 (the names pytorch-fid reads), features (n, d) float32
(KID needs them), n, image_size, source, and protocol (inception.PROTOCOL). Loaded without pickle.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..storage.atomic import atomic_path
from .fid import feature_statistics
from .inception import FEATURE_DIM, PROTOCOL

REMAKE_HINT = "make one with unnoise fid-stats (unnoise.metrics.fid_stats) at the image size you evaluate"


@dataclass
class ReferenceStatistics:
    mu: np.ndarray  # (d,) float64
    sigma: np.ndarray  # (d, d) float64
    features: np.ndarray  # (n, d) float32
    image_size: int  # the images were this many pixels square before the resize to 299
    source: str  # where they came from, e.g. "celeba:/data/celeba split=train"
    protocol: str = PROTOCOL

    @property
    def n(self) -> int:
        return self.features.shape[0]

    @classmethod
    def from_features(cls, features, image_size: int, source: str) -> "ReferenceStatistics":
        features = np.asarray(features, dtype=np.float32)
        mu, sigma = feature_statistics(features)
        return cls(mu, sigma, features, image_size, source)

    def save(self, path: str | Path) -> Path:
        """Write atomically to exactly `path` (np.savez would append .npz to a bare name)."""
        path = Path(path)
        with atomic_path(path, suffix=".npz") as temporary, open(temporary, "wb") as file:
            np.savez(
                file,
                mu=self.mu,
                sigma=self.sigma,
                features=self.features,
                n=np.int64(self.n),
                image_size=np.int64(self.image_size),
                source=np.str_(self.source),
                protocol=np.str_(self.protocol),
            )
        return path


def load_reference(path: str | Path) -> ReferenceStatistics:
    """Read a stats file; a missing, malformed or other-protocol file is a UserError."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a reference statistics file (.npz); {REMAKE_HINT}")
    if not path.is_file():
        raise UserError(f"reference statistics file {path} does not exist; {REMAKE_HINT}")
    if not zipfile.is_zipfile(path):  # np.load would read other files as pickles, and say so
        raise UserError(f"{path} is not an unnoise FID statistics file (an .npz archive); {REMAKE_HINT}")
    try:
        with np.load(path, allow_pickle=False) as file:
            protocol = str(file["protocol"])
            if protocol != PROTOCOL:
                raise UserError(
                    f"{path} was made with protocol {protocol!r}, but this unnoise computes {PROTOCOL!r}; "
                    f"their FIDs are not comparable, {REMAKE_HINT}"
                )
            fields = {name: file[name] for name in ("mu", "sigma", "features", "n", "image_size", "source")}
        reference = ReferenceStatistics(
            mu=fields["mu"].astype(np.float64),
            sigma=fields["sigma"].astype(np.float64),
            features=fields["features"].astype(np.float32),
            image_size=int(fields["image_size"]),
            source=str(fields["source"]),
            protocol=protocol,
        )
        check_shapes(reference, int(fields["n"]))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise UserError(
            f"{path} is not an unnoise FID statistics file ({type(error).__name__}: {error}); {REMAKE_HINT}"
        ) from None
    return reference


def check_shapes(reference: ReferenceStatistics, n: int) -> None:
    d = FEATURE_DIM
    if reference.features.shape != (n, d) or n < 2:
        raise ValueError(f"features have shape {reference.features.shape}, expected ({n}, {d}) with n >= 2")
    if reference.mu.shape != (d,) or reference.sigma.shape != (d, d):
        raise ValueError(f"mu {reference.mu.shape} and sigma {reference.sigma.shape} do not match {d}-d features")
    if reference.image_size < 1:
        raise ValueError(f"image size {reference.image_size}")
