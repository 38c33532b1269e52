"""One-line warnings about groups of files, naming a few examples so the user can find them."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("unnoise")

EXAMPLE_COUNT = 3


def counted_with_examples(problem: str, names: list[str]) -> str:
    """'<count> <problem> (e.g. a, b, c, ...)'."""
    if not names:
        return f"0 {problem}"
    examples = ", ".join(names[:EXAMPLE_COUNT]) + (", ..." if len(names) > EXAMPLE_COUNT else "")
    return f"{len(names)} {problem} (e.g. {examples})"


def warn_with_examples(problem: str, names: list[str], consequence: str) -> None:
    """Log '<count> <problem> (e.g. a, b, c); <consequence>' as one warning line."""
    logger.warning(f"{counted_with_examples(problem, names)}; {consequence}")


class MessageCollector(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """The warnings logged inside the block (still logged as usual), so a cache can repeat them."""
    collector = MessageCollector()
    logger.addHandler(collector)
    try:
        yield collector.messages
    finally:
        logger.removeHandler(collector)
