"""The peak memory a benchmark reports for its own process."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    Linux's `ru_maxrss` carries the parent's peak over into a child at exec (so a subprocess would report at
    least its parent's memory); the high-water mark `VmHWM` of /proc/self/status is the process's own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
