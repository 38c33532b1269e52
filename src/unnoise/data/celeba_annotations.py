"""Parsers for the official CelebA annotation files (CRLF endings and irregular spacing are fine)."""

from pathlib import Path

import numpy as np

from ..errors import UserError


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file; replace it with the official CelebA file") from None


ATTRIBUTE_VALUES = {"-1", "0", "1"}


def read_attribute_file(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Parse list_attr_celeba.txt -> (attribute names in file order, {file name: (A,) uint8 in {0, 1}}).

    Line 1 is a row count that restricted copies often leave stale, so it is ignored; line 2 holds
    the attribute names; each further line is 'name v1 .. vA' with -1/1 values (0 is read as -1).
    """
    lines = read_lines(path)
    if len(lines) < 2:
        raise UserError(
            f"{path} is too short: expected a row count line, then the attribute names, then one row per image"
        )
    attribute_names = lines[1].split()
    # One split of the whole body is ~5x faster than per line on the 202,599-row official file;
    # a file whose tokens do not tile into rows is re-read line by line to name the bad line.
    tokens = " ".join(lines[2:]).split()
    file_names = tokens[:: len(attribute_names) + 1]
    del tokens[:: len(attribute_names) + 1]
    if len(tokens) != len(file_names) * len(attribute_names) or not set(tokens) <= ATTRIBUTE_VALUES:
        raise_for_first_bad_row(path, lines, attribute_names)
    present = np.fromiter(map("1".__eq__, tokens), dtype=np.uint8, count=len(tokens))
    return attribute_names, dict(zip(file_names, present.reshape(len(file_names), len(attribute_names))))


def raise_for_first_bad_row(path: Path, lines: list[str], attribute_names: list[str]) -> None:
    for line_number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if fields and len(fields) != len(attribute_names) + 1:
            raise UserError(
                f"{path} line {line_number}: expected a file name and {len(attribute_names)} values, "
                f"found {len(fields) - 1} values; fix or delete that line"
            )
        for attribute_name, value in zip(attribute_names, fields[1:]):
            if value not in ATTRIBUTE_VALUES:
                raise UserError(f"{path} line {line_number}: {attribute_name} is {value!r}, not -1 or 1; fix that line")
    raise UserError(f"{path} is malformed; replace it with the official CelebA file")


def read_partition_file(path: Path) -> dict[str, int]:
    """Parse list_eval_partition.txt -> {file name: 0 train, 1 valid, 2 test}."""
    partition = {}
    for line_number, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise UserError(
                f"{path} line {line_number}: expected 'file_name 0|1|2' (train, valid, test), "
                f"found {line.strip()!r}; fix or delete that line"
            )
        partition[fields[0]] = int(fields[1])
    return partition
