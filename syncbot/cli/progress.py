"""A progress bar on a terminal during long reads and applies, silence elsewhere."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from syncbot.targets.base import Progress, no_progress


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool | None = None) -> Iterator[Progress]:
    """Yield a (done, total) callback drawing a bar on stderr when it is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield no_progress
        return
    # Imported here: a run without a terminal (the timer, the worker) never draws a bar.
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=" mục", file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()
