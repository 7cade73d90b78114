"""`keep_freed_memory`: a large array freed and allocated again reuses the process's memory (no new page
faults), where glibc's default returns it to the kernel and faults it in again; `release_freed_memory` gives
what was kept back."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from lifecycle.memory import keep_freed_memory

_PROBE = """
import json, resource, sys
import numpy as np
from lifecycle.memory import keep_freed_memory, release_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
a = np.ones(1 << 25)  # 256 MB: above glibc's largest mmap threshold (32 MB)
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(1 << 25)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
del b
def rss_mb():
    return next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmRSS"))
held = rss_mb()
released = release_freed_memory()
print(json.dumps({"kept": kept, "faults": faults, "released": released, "rss_drop_mb": held - rss_mb()}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt is Linux-only"
)
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    default, kept = _probe("default"), _probe("keep")
    assert kept["kept"] is True
    # 256 MB is 128 huge pages or 65 536 small ones: the default faults every one in again.
    assert default["faults"] >= 128
    assert kept["faults"] < 32
    # What was kept is given back at the end of the operation: the freed 256 MB leave the process.
    assert kept["released"] is True and kept["rss_drop_mb"] >= 200


def test_setting_it_twice_is_harmless():
    assert keep_freed_memory() == keep_freed_memory()
