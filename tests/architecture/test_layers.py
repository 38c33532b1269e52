"""The layer order (docs/architecture.md): imports point down only, and no layer below the CLI knows a flag."""

import ast
import re
from pathlib import Path

import pytest

import unnoise
from unnoise.cli.parser import build_parser

PACKAGE = Path(unnoise.__file__).parent

# Rank of each top-level module or package of unnoise: a module may import only from ranks at or below its own,
# and within one rank only the pairs ALLOWED_SIDEWAYS names. The package's __init__ and __main__ are its front door.
LAYERS = {
    "errors": 0,
    "seeds": 0,
    "devices": 1,
    "storage": 1,
    "data": 2,
    "models": 2,
    "diffusion": 2,
    "text": 3,
    "viz": 3,
    "config": 3,
    "sampling": 4,
    "families": 5,
    "runs": 6,
    "train": 8,
    "metrics": 7,
    "api": 9,
    "web": 10,
    "cli": 11,
}
ALLOWED_SIDEWAYS: set[tuple[str, str]] = set()  # (importer, imported) pairs of one rank that may meet; none today
FRONT_DOORS = {"__init__", "__main__"}


def top_level_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_top_levels(source: str, depth: int) -> set[str]:
    """The unnoise top-level modules a file `depth` folders below the package root imports, relative or absolute."""
    tree = ast.parse(source)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > depth:  # reaches the package root: the next name is the top-level module
                    names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
                    found.update(names)
            elif node.module and node.module.split(".")[0] == "unnoise":
                parts = node.module.split(".")
                found.update([parts[1]] if len(parts) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "unnoise" and len(parts) > 1:
                    found.add(parts[1])
    return found


def source_files():
    return sorted(path for path in PACKAGE.rglob("*.py") if top_level_of(path) not in FRONT_DOORS)


def test_every_top_level_module_has_a_layer():
    tops = {top_level_of(path) for path in source_files()}
    assert tops <= set(LAYERS), f"add these to LAYERS (and docs/architecture.md): {sorted(tops - set(LAYERS))}"


@pytest.mark.parametrize("path", source_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down_only(path):
    own = top_level_of(path)
    depth = len(path.relative_to(PACKAGE).parts) - 1
    upward = sorted(
        other
        for other in imported_top_levels(path.read_text(), depth) - {own}
        if LAYERS[other] > LAYERS[own] or (LAYERS[other] == LAYERS[own] and (own, other) not in ALLOWED_SIDEWAYS)
    )
    assert not upward, (
        f"{path.relative_to(PACKAGE)} ({own}, layer {LAYERS[own]}) imports {upward} from its layer or above"
    )


def test_the_checker_sees_upward_imports():
    """The rule above must be able to fail: imports of other layers are found, relative or absolute, not siblings."""
    source = "from ..runs import Run\nimport unnoise.cli\nfrom .. import api\nfrom .grids import SPACINGS\n"
    assert imported_top_levels(source, depth=1) == {"runs", "cli", "api"}


def cli_flags() -> set[str]:
    flags = set()

    def visit(parser):
        for action in parser._actions:
            flags.update(option for option in action.option_strings if option.startswith("--"))
            if isinstance(action.choices, dict):  # the subcommands
                for subparser in action.choices.values():
                    visit(subparser)

    visit(build_parser())
    return flags - {"--help"}


def string_constants(path: Path) -> list[str]:
    """Every string literal of a file except docstrings (f-strings' literal parts included)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_module_below_the_cli_names_a_flag():
    flags = cli_flags()
    assert {"--negative-prompt", "--batch-size", "--image-size", "--eta"} <= flags
    pattern = re.compile(r"--[a-z][a-z0-9-]*")
    named = {}
    for path in source_files():
        if top_level_of(path) == "cli":
            continue
        found = {flag for text in string_constants(path) for flag in pattern.findall(text)} & flags
        if found:
            named[str(path.relative_to(PACKAGE))] = sorted(found)
    assert not named, f"flags named below the CLI (name the setting instead): {named}"
