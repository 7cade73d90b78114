"""`keeping_freed_memory`: within it, a large array freed and allocated again reuses the process's memory (no
new page faults), where glibc's default returns it to the kernel and faults it in again; on leaving, large
arrays are mapped again and what was kept is given back."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

_PROBE = """
import json, resource, sys, threading
import numpy as np
from lifecycle.memory import keeping_freed_memory

def refaults(size=1 << 25):  # page faults of allocating 256 MB (above glibc's largest mmap threshold) after
    a = np.ones(size)  # freeing as much
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.ones(size)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del b
    return faults

def refaults_on_a_thread():  # the ingest reads its files on threads
    out = []
    thread = threading.Thread(target=lambda: out.append(refaults()))
    thread.start()
    thread.join()
    return out[0]

def rss_mb():
    return next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmRSS"))

out = {"default": refaults()}
if sys.argv[1] == "thread":  # (an arena a thread made stays for the next threads: none before, here)
    with keeping_freed_memory():
        out["within_thread"] = refaults_on_a_thread()
    print(json.dumps(out))
    sys.exit()
out["default_thread"] = refaults_on_a_thread()
with keeping_freed_memory() as kept:
    out["kept"], out["within"], out["held_mb"] = kept, refaults(), rss_mb()
out["released_mb"] = out["held_mb"] - rss_mb()
out["after"], out["after_16mb"] = refaults(), refaults(1 << 21)
print(json.dumps(out))
"""


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt is Linux-only"
)
def test_freed_memory_is_reused_within_and_given_back_after():
    run = subprocess.run([sys.executable, "-c", _PROBE, "main"], capture_output=True, text=True, check=True)
    out = json.loads(run.stdout)
    run = subprocess.run([sys.executable, "-c", _PROBE, "thread"], capture_output=True, text=True, check=True)
    out.update(json.loads(run.stdout))
    assert out["kept"] is True
    # 256 MB is 128 huge pages or 65 536 small ones: by default every one is faulted in again.
    assert out["default"] >= 128 and out["within"] < 32
    # A thread allocates from an arena of its own, which maps a block this large afresh by default; a thread
    # started within shares the main heap and reuses it too.
    assert out["default_thread"] >= 128 and out["within_thread"] < 32
    # On leaving, the freed 256 MB leave the process, and glibc maps large arrays afresh again; arrays up to
    # 32 MB still reuse the heap, as glibc's own adjustment of its thresholds has it (not its starting 128 kB).
    assert out["released_mb"] >= 200 and out["after"] >= 128 and out["after_16mb"] < 32
