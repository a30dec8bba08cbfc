"""How a run uses memory: what it frees goes back to the system, and reading a large
directory is not slowed by the cyclic garbage collector."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
from collections.abc import Iterator

# From glibc's <malloc.h>.
_M_MMAP_THRESHOLD = -3
# glibc's own starting value: blocks this large and larger get their own mapping.
MMAP_THRESHOLD = 128 * 1024


def pin_mmap_threshold() -> bool:
    """Keep glibc's mmap threshold at 128 KiB; False where there is no glibc to tell.

    glibc raises the threshold each time a mapped block is freed, up to 32 MiB. Once a run
    has freed a 10 MB roster file, every later block under that size - a page of LDAP
    results, the table of a 100k-entry dict - comes from the heap instead, and the holes
    those leave when freed are seldom given back: at 100k people that was 130 bytes per
    person of resident memory at the peak (bench/RESULTS.md). Setting the threshold
    switches the adjustment off; blocks of 128 KiB and more are then mapped and unmapped,
    a system call each, which a run makes a few thousand of at most.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Reading 100k entries allocates millions of objects and no cycles: the cyclic
    collector's repeated passes over them cost a fifth of the run, for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
