"""Keep the memory the process frees for its own next allocations (Linux, glibc).

An ingest or a derivation of the facts at a million leads allocates and frees arrays of 100–200 MB hundreds
of times. glibc gives every allocation of more than 32 MB its own mapping and returns it to the kernel when it
is freed, so the next array gets fresh pages the kernel must zero; on a virtual machine that hands freed guest
memory back to its host (virtio-balloon free page reporting), touching them again costs a fault in the host
too: 1 GB took 1.2 s to touch instead of 0.08 s. Deriving the facts of a million leads took 20–23 s after the
host had taken the memory back and 12–16 s when it had not.

`keep_freed_memory` makes glibc serve large allocations from its heap, which keeps what is freed (up to
`KEEP_BYTES` at its top) for the next ones. The entry points that do that work call it: the app, the CLI and
the benchmark. What one operation kept would add to the peak of the next, so the ingest and the saving of the
facts end with `release_freed_memory`, which gives the free pages back. Neither changes a result, only where
memory comes from; elsewhere (not Linux, not glibc) both do nothing.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

KEEP_BYTES = 2**31 - 1
"""Free memory at the top of the heap kept rather than returned to the kernel (mallopt takes an int: 2 GB)."""


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """Serve every allocation from glibc's heap and keep up to `KEEP_BYTES` of what is freed; True when set.
    Idempotent; it changes how later allocations are served, not memory already allocated."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt answers 1 when it took the setting (glibc); musl's stub answers 0.
    return mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES) == 1


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the kernel (glibc's `malloc_trim`), at the end of an operation that
    kept them (`keep_freed_memory`); True when some were. A few milliseconds."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim(0) == 1
