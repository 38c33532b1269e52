"""Peak resident memory of this process since the last reset (Linux), for the CPU columns of the benchmarks.

ru_maxrss cannot be used in a child process: Linux carries the parent's high-water mark across
fork and exec, so every child would report at least the parent's peak.
"""

from __future__ import annotations

from pathlib import Path


def reset_peak_rss() -> None:
    """Reset VmHWM to the current resident size (writing 5 to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """VmHWM: the highest resident set size since start or the last reset, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
