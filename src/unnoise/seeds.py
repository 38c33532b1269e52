"""Seeds derived from a run's seed, so that each stream of randomness (a training step, an image) has its own."""

from __future__ import annotations

import hashlib


def derived_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, e.g. (seed, "image", 7): independent across parts, the same on every machine."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
