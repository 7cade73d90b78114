"""Where the process's memory comes from while it ingests or derives the facts (Linux): what it frees kept for
its own next allocations (glibc), and fresh memory faulted in small pages.

An ingest or a derivation of the facts at a million leads allocates and frees arrays of 100–200 MB hundreds
of times. glibc gives every allocation of more than 32 MB its own mapping and returns it to the kernel when it
is freed, so the next array gets fresh pages the kernel must zero; on a virtual machine that hands freed guest
memory back to its host (virtio-balloon free page reporting), touching them again costs a fault in the host
too: 1 GB took 1.2 s to touch instead of 0.08 s. Deriving the facts of a million leads took 20–23 s after the
host had taken the memory back and 12–16 s when it had not.

Within `keeping_freed_memory()`, glibc serves large allocations from its heap and keeps what is freed for the
next ones, on every thread: by default a thread allocates from an arena of its own, where every allocation
over 64 MB is mapped afresh whatever the setting, so the threads started within share the main heap instead
(the ingest reads its files on threads; numpy and pandas ask glibc for a few large blocks, not for many small
ones, so the threads hardly wait for each other). On leaving, large allocations are mapped again and the free
pages given back, so what was kept neither adds to a later peak nor stays with a long-running process. The one
heap stays: glibc cannot lift a limit on its arenas (harmless where it is used: the CLI's process ends with
its command, the benchmark measures its interactions on the main thread). The CLI runs its commands within it
and the benchmark its ingest and derivation; the app does not (a server should not hold on to freed memory,
nor make its sessions' threads share a heap). The ingest and the saving of the facts also end by giving the
heap's free pages back (`release_freed_memory`), so three runs in one process do not stack up. Nothing here
changes a result, only where memory comes from; elsewhere (not Linux, not glibc) it does nothing.

Within `in_small_pages()`, the process's fresh memory is faulted in 4 kB pages rather than transparent huge
pages of 2 MB (numpy and Arrow ask for huge pages on their large arrays; Linux's `PR_SET_THP_DISABLE`). A huge
page needs a free 2 MB block, the very kind of block a virtual machine's guest reports to its host as free
(virtio-balloon free page reporting), so nearly every one costs a fault in the host too, where small pages
mostly come from memory used moments ago. Here, touching 2 GB afresh took 1.6–5.6 s in huge pages and
0.75–0.94 s in small ones; ingesting a million leads' files took 9.6 s on average in small pages against
10.9 s in huge ones (five runs each, in turns, in one process), the kernel's share of the CPU time halved.
The CLI and the benchmark run their ingests within it, not the derivation of the facts, whose random access
to arrays of millions of rows ran faster in huge pages (14.8–15.3 s against 17.4–18.1 s, the fastest of three in
two benchmark runs and three); nor does the app (a setting of the whole process, which its sessions share).
Where huge pages cost no fault in a host, small ones cost more faults (512 for each huge page) and fewer
addresses fit the processor's cache of them. On leaving, the process's setting is as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Callable, Iterator

_PR_SET_THP_DISABLE = 41
_PR_GET_THP_DISABLE = 42
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_DEFAULT_MMAP_MAX = 65536
_LARGEST_MMAP_THRESHOLD = 32 << 20
"""Setting a threshold turns off glibc's own adjustment of them, which raises the mmap threshold to the size of
each mapped block freed, up to this (64-bit), and the trim threshold to twice it: on leaving, they are set to
where that adjustment takes them in a process that handles large arrays. Left at glibc's starting 128 kB, every
array above it would be mapped afresh (a month switch at 1 M leads took 0.13 s instead of 0.05 s)."""

KEEP_BYTES = 2**31 - 1
"""Free memory at the top of the heap kept rather than returned to the kernel (mallopt takes an int: 2 GB)."""


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def _mallopt(*settings: tuple[int, int]) -> bool:
    """glibc's `mallopt` for each (parameter, value); True when it took every one (musl's stub answers 0)."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all([mallopt(parameter, value) == 1 for parameter, value in settings])


@contextlib.contextmanager
def keeping_freed_memory() -> Iterator[bool]:
    """Within: every allocation, on any thread, is served from glibc's main heap, which keeps up to `KEEP_BYTES`
    of what is freed (yields True when set). After: large allocations mapped again (`_LARGEST_MMAP_THRESHOLD`),
    the free pages given back; the threads still share the one heap."""
    kept = _mallopt((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, KEEP_BYTES), (_M_ARENA_MAX, 1))
    try:
        yield kept
    finally:
        if kept:
            _mallopt(
                (_M_MMAP_MAX, _DEFAULT_MMAP_MAX),
                (_M_MMAP_THRESHOLD, _LARGEST_MMAP_THRESHOLD),
                (_M_TRIM_THRESHOLD, 2 * _LARGEST_MMAP_THRESHOLD),
            )
        release_freed_memory()


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the kernel (glibc's `malloc_trim`); True when some were. A few
    milliseconds."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim(0) == 1


def _prctl() -> Callable[..., int] | None:
    prctl = getattr(_libc(), "prctl", None)
    if prctl is not None:
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
    return prctl


def huge_pages_disabled() -> bool | None:
    """Whether the process faults its memory in small pages only (`PR_GET_THP_DISABLE`); None where that
    cannot be told (not Linux)."""
    prctl = _prctl()
    if prctl is None:
        return None
    state = prctl(_PR_GET_THP_DISABLE, 0, 0, 0, 0)
    return None if state < 0 else state > 0


@contextlib.contextmanager
def in_small_pages() -> Iterator[bool]:
    """Within: the process's fresh memory is faulted in 4 kB pages, not transparent huge pages (yields True when
    so). After: the setting the process had before."""
    prctl = _prctl()
    before = huge_pages_disabled()
    changed = before is False and prctl is not None and prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    try:
        yield bool(before) or changed
    finally:
        if changed and prctl is not None:
            prctl(_PR_SET_THP_DISABLE, 0, 0, 0, 0)
