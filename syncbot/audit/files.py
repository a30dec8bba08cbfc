"""Creating the log and its side files so that they survive a power cut and stay private."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o640
DIR_MODE = 0o750


def fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable; fsync of the file alone does not."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(directory: Path) -> None:
    """Create `directory` and missing parents as DIR_MODE whatever the umask, durably."""
    missing: list[Path] = []
    here = directory
    while not here.exists():
        missing.append(here)
        here = here.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it first; its mode is its creator's choice
        new.chmod(DIR_MODE)
        fsync_dir(new.parent)


def open_append(path: Path) -> int:
    """Open the log for appending and reading, creating it (FILE_MODE, durably) if absent."""
    make_dirs(path.parent)
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return os.open(path, flags)
    try:
        os.fchmod(fd, FILE_MODE)  # exact whatever the umask: inspectors read through the group
        fsync_dir(path.parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_new(path: Path) -> int:
    """Create a file that must not exist yet (FILE_MODE), for writing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd
