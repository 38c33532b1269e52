"""The command line: parses arguments, maps flags to settings, calls the Python API; UserError -> one line, exit 2."""

from .commands import main

__all__ = ["main"]
