"""The pinned mmap threshold and the trim give freed memory back (the reasons they exist)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Frees one large block (glibc would raise its threshold to that size), then takes and
# frees 100 MiB in 1 MiB blocks with small objects made in between; prints how much
# resident memory the process kept.
PROGRAM = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from syncbot.memory import pin_mmap_threshold

    def rss_kib():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    if sys.argv[1] == "pin":
        assert pin_mmap_threshold()
    big = bytearray(24 * 1024 * 1024)
    del big
    before = rss_kib()
    blocks, keep = [], []
    for _ in range(100):
        blocks.append(bytearray(1024 * 1024))
        keep.append(bytearray(600))
    del blocks
    print(rss_kib() - before)
    """
)


def kept_kib(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return int(done.stdout)


def test_freed_blocks_go_back_to_the_system_once_pinned() -> None:
    unpinned, pinned = kept_kib("free"), kept_kib("pin")
    # Unpinned, the 1 MiB blocks came from the heap and stay resident behind the small
    # ones; pinned, each was its own mapping and left with it.
    assert unpinned > 50 * 1024, unpinned
    assert pinned < 10 * 1024, pinned


# Takes 60 MB in small blocks, keeps one block made after them (so the heap's top stays in
# use and glibc cannot shrink it by itself), frees the rest; prints the resident memory
# kept before and after `release_free_memory`.
TRIM_PROGRAM = textwrap.dedent(
    """
    from pathlib import Path
    from syncbot.memory import pin_mmap_threshold, release_free_memory

    def rss_kib():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    assert pin_mmap_threshold()
    before = rss_kib()
    blocks = [bytearray(4000) for _ in range(15_000)]
    last = bytearray(4000)
    del blocks
    kept = rss_kib() - before
    assert release_free_memory()
    print(kept, rss_kib() - before)
    """
)


def test_the_free_heap_below_a_block_in_use_goes_back_once_trimmed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TRIM_PROGRAM],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    kept, trimmed = map(int, done.stdout.split())
    assert kept > 40 * 1024, kept  # freed, but below the block still in use
    assert trimmed < 10 * 1024, trimmed
