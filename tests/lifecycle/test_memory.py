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


_PAGES_PROBE = """
import json, sys
import numpy as np
from lifecycle.memory import huge_pages_disabled, in_small_pages

def huge_kb(array):  # the huge pages of the mappings `array` spans (numpy asks for them on arrays of 4 MB and
    start = array.__array_interface__["data"][0]  # more, which splits their mapping where huge pages may start)
    end, overlaps, out = start + array.nbytes, False, 0
    for line in open("/proc/self/smaps"):
        head = line.split()
        if "-" in head[0] and not head[0].endswith(":"):
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            overlaps = lo < end and start < hi
        elif overlaps and head[0] == "AnonHugePages:":
            out += int(head[1])
    return out

out = {"before": huge_pages_disabled()}
if sys.argv[1] == "nested":  # already set when entered: still set on leaving
    with in_small_pages():
        with in_small_pages() as inner:
            out["inner"] = inner
        out["after_inner"] = huge_pages_disabled()
    out["after"] = huge_pages_disabled()
    print(json.dumps(out))
    sys.exit()
with in_small_pages() as small:
    out["small"], out["within"] = small, huge_pages_disabled()
    inside = np.ones(1 << 25)  # 256 MB, touched within
    out["inside_huge_kb"] = huge_kb(inside)
out["after"] = huge_pages_disabled()
print(json.dumps(out))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_THP_DISABLE is Linux's")
def test_memory_touched_in_small_pages_has_no_huge_page_and_the_setting_is_restored():
    run = subprocess.run(
        [sys.executable, "-c", _PAGES_PROBE, "main"], capture_output=True, text=True, check=True
    )
    out = json.loads(run.stdout)
    assert out["before"] is False and out["small"] is True and out["within"] is True
    assert out["inside_huge_kb"] == 0
    assert out["after"] is False
    run = subprocess.run(
        [sys.executable, "-c", _PAGES_PROBE, "nested"], capture_output=True, text=True, check=True
    )
    out = json.loads(run.stdout)
    assert out["inner"] is True and out["after_inner"] is True and out["after"] is False
