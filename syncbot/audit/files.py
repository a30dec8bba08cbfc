"""The audit log's own modes: private to the service account and the inspectors' group.

Creating, appending and fsyncing go through `syncbot.durable`, like every file syncbot
keeps; only the modes and the open for appending *and* reading are the log's own.
"""

from __future__ import annotations

from pathlib import Path

from syncbot.durable import make_dirs, open_append

FILE_MODE = 0o640
DIR_MODE = 0o750


def open_log(path: Path) -> int:
    """Open the log for appending and reading, creating it (FILE_MODE, durably) if absent.

    Inspectors read it through the group, hence 0640 rather than the state files' 0600. A
    link at `path` is refused rather than followed.
    """
    make_dirs(path.parent, DIR_MODE)
    return open_append(path, FILE_MODE, readable=True, sync_new_name=True)
