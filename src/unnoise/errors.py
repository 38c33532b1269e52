"""The one exception type for mistakes a person can fix (bad settings, paths, data, checkpoints)."""


class UserError(Exception):
    """A user mistake: the CLI prints its message on one line and exits with code 2.

    `settings` names the settings the message speaks of, spelled as the Python API spells them
    (`negative_prompt`, `data.image_size`); the CLI shows them as its flags, the web page as its fields.
    """

    def __init__(self, message: str = "", *, settings: tuple[str, ...] = ()):
        super().__init__(message)
        self.settings = tuple(settings)


def check(condition: bool, message: str, *settings: str) -> None:
    """Raise UserError(message) naming `settings` unless condition holds."""
    if not condition:
        raise UserError(message, settings=settings)
