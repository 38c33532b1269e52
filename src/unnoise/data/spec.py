"""Data specs: 'builtin[:N[:SEED]]', 'celeba:PATH', 'folder:PATH', or a bare PATH."""

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

DEFAULT_BUILTIN_COUNT = 4096
DEFAULT_BUILTIN_SEED = 0
PATH_KINDS = ("celeba", "folder")
SPEC_HELP = "use builtin, builtin:N, builtin:N:SEED, celeba:PATH, folder:PATH or an existing folder"


@dataclass(frozen=True)
class DataSpec:
    kind: str  # "builtin", "celeba" or "folder"
    path: Path | None = None  # absolute; None for builtin
    count: int = DEFAULT_BUILTIN_COUNT  # builtin only
    seed: int = DEFAULT_BUILTIN_SEED  # builtin only

    @property
    def source(self) -> str:
        """The canonical spec: parse_data_spec(spec.source) == spec."""
        if self.kind == "builtin":
            return f"builtin:{self.count}:{self.seed}"
        return f"{self.kind}:{self.path}"


def parse_builtin(spec: str) -> DataSpec:
    parts = spec.split(":")[1:]
    if len(parts) > 2 or not all(re.fullmatch(r"\d+", part) for part in parts) or (parts and int(parts[0]) == 0):
        raise UserError(
            f"bad built-in data spec {spec!r}; write builtin, builtin:N or builtin:N:SEED with N >= 1, SEED >= 0"
        )
    count = int(parts[0]) if parts else DEFAULT_BUILTIN_COUNT
    seed = int(parts[1]) if len(parts) > 1 else DEFAULT_BUILTIN_SEED
    return DataSpec("builtin", count=count, seed=seed)


def existing_path(text: str, spec: str) -> Path:
    if not text:
        raise UserError(f"data spec {spec!r} has no path; {SPEC_HELP}")
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise UserError(f"data path {path} does not exist; check the spelling or {SPEC_HELP}")
    return path


def parse_data_spec(spec: str) -> DataSpec:
    """Parse a data spec; a bare folder is CelebA when it holds img_align_celeba/, else a plain folder."""
    if spec == "builtin" or spec.startswith("builtin:"):
        return parse_builtin(spec)
    scheme, separator, rest = spec.partition(":")
    if separator and scheme in PATH_KINDS:
        return DataSpec(scheme, path=existing_path(rest, spec))
    if spec and Path(spec).expanduser().exists():
        path = existing_path(spec, spec)
        return DataSpec("celeba" if (path / "img_align_celeba").is_dir() else "folder", path=path)
    # Two letters at least, so a Windows drive 'C:' is reported as a missing path instead.
    if separator and re.fullmatch(r"[A-Za-z][\w+.-]+", scheme):
        raise UserError(f"unknown data kind {scheme!r} in {spec!r}; {SPEC_HELP}")
    raise UserError(f"data path {spec!r} does not exist; check the spelling or {SPEC_HELP}")
