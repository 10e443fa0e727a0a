"""Keep freed heap memory between engine steps (glibc only).

Each step of the engine allocates and frees the same temporaries (a few hundred KiB to a few
MiB per chunk of users). glibc returns freed memory at the top of its heap to the system as
soon as more than 128 KiB is free there, so the next step faults every page in again; on this
project's 2-core machine that was 80% of the time of the fatigue update and a third of the
system time of a 100k-user tick (``benchmarks/README.md``). ``M_TOP_PAD`` makes glibc keep
that much free memory at the top of the heap instead.

The setting is process-wide and applied once, when the first engine is built;
``SIMREC_MALLOC_TOP_PAD_MB`` changes the amount (default 64; ``0`` leaves the allocator as it
is). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_heap"]

_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3  # from glibc's malloc.h
#: glibc's own ceiling for its adaptive mmap threshold (64-bit), which setting M_TOP_PAD fixes.
_MMAP_THRESHOLD = 32 * 2**20
_DONE: list[int] = []


def keep_freed_heap() -> int:
    """Apply ``M_TOP_PAD`` once per process; return the bytes kept (0 when not applied)."""
    if _DONE:
        return _DONE[0]
    mb = os.environ.get("SIMREC_MALLOC_TOP_PAD_MB", "64").strip() or "64"
    try:
        pad = int(float(mb) * 2**20)
        if pad < 0:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"SIMREC_MALLOC_TOP_PAD_MB: expected a number of MiB (0 to disable), got {mb!r}"
        ) from None
    applied = 0
    if pad > 0 and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc (musl has no mallopt)
            mallopt = None
        # Setting any of these turns off glibc's adaptive mmap threshold, so set it too:
        # blocks under 32 MiB come from the heap (and are kept), larger ones are mapped.
        if (
            mallopt is not None
            and mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(_MMAP_THRESHOLD)) == 1
            and mallopt(_M_TOP_PAD, ctypes.c_int(pad)) == 1
        ):
            applied = pad
    _DONE.append(applied)
    return applied
