"""Writing files so that a crash leaves the old content or the new, and no link is followed.

Every file syncbot keeps (state, the worker's status, reports, the audit log and its side
files) is created, replaced or appended to through here, so these rules hold in one place:

- A whole-file replacement is written to a fresh temporary name in the same folder, fsynced,
  renamed over the old name, and the folder is fsynced: a reader or a crash sees the old
  version or the new one, never half of it.
- The temporary name is unique and created with O_CREAT|O_EXCL|O_NOFOLLOW, so a file or link
  planted at a name that could be guessed (the old fixed `<name>.tmp`) makes the create fail
  instead of writing through the link to its target; the rename then replaces a link at the
  final name, never the file it points to.
- Appends open with O_NOFOLLOW: a link at the name is refused (ELOOP), not written through.
- New files get an explicit mode, set again with fchmod after the create, so a umask of 000
  cannot leave them readable or writable by every local user.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

#: State files hold who was locked and what was taken, pushed HR rows and the worker's
#: view of them: only the service account reads them.
STATE_MODE = 0o600
STATE_DIR_MODE = 0o750

#: A temporary name collides only if something else made it: try a few, then give up.
_TEMPORARY_ATTEMPTS = 16


def write_all(fd: int, data: bytes) -> None:
    """One write() in practice; a short write (disk full) is finished or raises."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: Path) -> None:
    """Make a new or renamed directory entry durable; fsync of the file alone does not."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(directory: Path, mode: int) -> None:
    """Create `directory` and missing parents with exactly `mode`, whatever the umask, durably.

    `Path.mkdir(parents=True)` gives the parents the umask's default mode instead.
    """
    missing: list[Path] = []
    here = directory
    while not here.exists():
        missing.append(here)
        here = here.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=mode)
        except FileExistsError:
            continue  # another process made it first; its mode is its creator's choice
        new.chmod(mode)
        fsync_dir(new.parent)


def create_exclusive(path: Path, mode: int, access: int = os.O_WRONLY) -> int:
    """Create `path`, which must not exist even as a dangling link, with exactly `mode`.

    O_EXCL never follows a link at the name: it fails with FileExistsError instead.
    """
    flags = access | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, mode)
    try:
        os.fchmod(fd, mode)  # the umask narrowed the mode given to open(); make it exact
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_append(
    path: Path,
    mode: int,
    *,
    readable: bool = False,
    truncate: bool = False,
    sync_new_name: bool = False,
) -> int:
    """Open `path` for appending, creating it with exactly `mode` if it does not exist.

    A link at `path` raises OSError (ELOOP) rather than being followed. An existing file
    keeps its mode: it may belong to an administrator who chose it. `sync_new_name` also
    fsyncs the folder when the file is created, for files whose loss in a power cut would
    go unnoticed.
    """
    access = (os.O_RDWR if readable else os.O_WRONLY) | os.O_APPEND
    while True:
        try:
            return os.open(
                path,
                access | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0),
            )
        except FileNotFoundError:
            pass
        try:
            fd = create_exclusive(path, mode, access)
        except FileExistsError:
            continue  # another process created it between the two opens: open theirs
        if sync_new_name:
            try:
                fsync_dir(path.parent)
            except BaseException:
                os.close(fd)
                raise
        return fd


def append_lines(path: Path, lines: Iterable[bytes], mode: int) -> None:
    """Append whole lines and fsync once: a crash leaves a prefix, the last line maybe torn.

    A line torn by an earlier crash is cut off first: appended to, it would join the next
    line into one that no reader can parse. Readers already skip it as never written.
    """
    fd = open_append(path, mode, readable=True)
    try:
        cut_torn_tail(fd)
        write_all(fd, b"".join(lines))
        os.fsync(fd)
    finally:
        os.close(fd)


def cut_torn_tail(fd: int, block: int = 4096) -> None:
    """Truncate the file after its last newline, if anything follows it."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end < size:
        os.ftruncate(fd, end)


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Make `path` hold exactly `data` with `mode`: a crash leaves the old file or the new one."""
    fd, temporary = _create_temporary(path, mode)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(path)  # rename(2): replaces a link at `path`, not what it names
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _create_temporary(path: Path, mode: int) -> tuple[int, Path]:
    """A new file beside `path` under a name nobody could have prepared for it."""
    for _ in range(_TEMPORARY_ATTEMPTS):
        # Hidden and ending in `.tmp`, so the export watcher never takes it for an export.
        temporary = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
        try:
            return create_exclusive(temporary, mode), temporary
        except FileExistsError:
            continue  # something already has this name: never write through it
    raise FileExistsError(
        errno.EEXIST, f"no unused temporary name beside {path.name}", str(path.parent)
    )


def overwrite_in_place(path: Path, data: bytes) -> None:
    """Write `data` over the file's own bytes, then fsync: for a key that must not survive.

    `replace_file` leaves the old version in the blocks of the inode it unlinks, where it can
    be read back from the disk; writing over the same file puts the new bytes where the old
    ones were (on filesystems that overwrite in place, such as ext4 and xfs). Callers keep
    `data` one length, so nothing of the old content remains past its end. A link at `path`
    is refused, not followed.
    """
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
