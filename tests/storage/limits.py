"""A real write failure that works for root too: a limit on the size of files this process may write (EFBIG)."""

import contextlib
import resource
import signal


def limit_file_size(max_bytes: int) -> None:
    """From now on, a write past max_bytes into any file fails with 'File too large' (EFBIG) instead of a signal.

    For a child process (subprocess preexec_fn): root is bound by RLIMIT_FSIZE like everyone else, where a read-only
    folder would not stop it.
    """
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@contextlib.contextmanager
def file_size_limit(max_bytes: int):
    """limit_file_size inside this process for the block, then as before."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.getsignal(signal.SIGXFSZ)
    limit_file_size(max_bytes)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
