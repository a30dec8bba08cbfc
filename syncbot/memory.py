"""How a run uses memory: what it frees goes back to the system, and reading a large
directory is not slowed by the cyclic garbage collector."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import sys
from collections.abc import Iterator
from typing import Any

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
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release_free_memory() -> bool:
    """Hand what a large read freed back for reuse and to the system; False without glibc.

    Two things keep freed memory from the next phase, the plan, where a run peaks. The
    interpreter keeps freed tuples, dicts, lists and floats on free lists for reuse by
    their own type only: a full collection empties them (the cyclic collector being
    paused during a read, it finds little else), 0.8 MiB at 20,000 Keycloak users. And
    glibc returns its heap only above the topmost block in use: free pages below stay
    resident until something reuses them, which malloc_trim(0) hands back wherever they
    lie. Both walk the whole heap, some tens of milliseconds: call this after a large
    transient is dropped, not in a loop.
    """
    gc.collect()
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    trim(0)
    return True


@functools.cache
def _libc_function(name: str) -> Any:
    """A function of the C library this process runs on, if it is glibc and has it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


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
