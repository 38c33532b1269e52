"""The one exception type for mistakes a person can fix (bad flags, paths, data, checkpoints)."""


class UserError(Exception):
    """A user mistake: the CLI prints its message on one line and exits with code 2."""
