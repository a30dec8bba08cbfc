"""Noticing a new HR export: inotify (via ctypes, no dependency) to wake up, stat to decide.

An export counts as landed once its size, mtime and inode have stayed the same for the
quiet time (`debounce_seconds`): a file still being written keeps changing, an atomic
rename (IN_MOVED_TO) shows up as a new inode, and several files dropped together settle
into one change, hence one run. inotify only makes us look sooner; where it is missing
(some container and network filesystems) the folder is polled every second instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger("syncbot.worker")

FileSig = tuple[str, int, int, int]  # name, size, mtime_ns, inode
Signature = frozenset[FileSig]
POLL_SECONDS = 1.0
# Names HR tools and editors use while a file is still being written.
_PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_MASK = (
    _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO
    | _IN_CREATE | _IN_DELETE
)  # fmt: skip


def is_export_name(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(_PARTIAL_SUFFIXES)


def signature(path: Path) -> Signature:
    """What identifies the watched file's version (or every export's, for a folder)."""
    files = [p for p in path.iterdir() if is_export_name(p.name)] if path.is_dir() else [path]
    sigs: set[FileSig] = set()
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue  # gone between listing and stat: a rename in progress
        if file.is_file():
            sigs.add((file.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return frozenset(sigs)


def newest_export(folder: Path) -> Path | None:
    """The export a folder drop means: the most recently written complete file in it."""
    sigs = signature(folder)
    if not sigs:
        return None
    return folder / max(sigs, key=lambda s: (s[2], s[0]))[0]


def latest_mtime(sig: Signature) -> float | None:
    return max(s[2] for s in sig) / 1e9 if sig else None


class Debouncer:
    """Fires once per settled change: the signature differs from the last one fired on
    and has not moved for `quiet` seconds. Pure; the clock is passed in."""

    def __init__(self, quiet: float, baseline: Signature) -> None:
        self.quiet = quiet
        self.baseline = baseline
        self.seen = baseline
        self.changed_at: float | None = None

    @property
    def settling(self) -> bool:
        return self.changed_at is not None

    def observe(self, sig: Signature, now: float) -> bool:
        if sig != self.seen:
            self.seen, self.changed_at = sig, now
            return False
        if self.changed_at is None or now - self.changed_at < self.quiet:
            return False
        self.changed_at = None
        if sig == self.baseline or not sig:
            # Back to what was already run on, or nothing there (mid-rename): no run.
            self.baseline = sig or self.baseline
            return False
        self.baseline = sig
        return True


class _Inotify:
    """Just enough inotify to wake up on changes in one folder."""

    def __init__(self, folder: Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if libc.inotify_add_watch(fd, os.fsencode(folder), _MASK) < 0:
            errno = ctypes.get_errno()
            os.close(fd)
            raise OSError(errno, f"inotify_add_watch {folder} failed")
        self.fd = fd

    def wait(self, timeout: float) -> bool:
        """True if something happened in the folder within `timeout` seconds."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 65536):
                pass
        return True

    def close(self) -> None:
        os.close(self.fd)


class FileWatcher:
    """Background thread calling `on_change(mtime)` once per settled new export."""

    def __init__(self, path: Path, quiet: float, on_change: Callable[[float | None], None]) -> None:
        self.path = path
        self.quiet = quiet
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syncbot-watch", daemon=True)
        self.debouncer = Debouncer(quiet, signature(path))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        folder = self.path if self.path.is_dir() else self.path.parent
        notifier: _Inotify | None = None
        try:
            notifier = _Inotify(folder)
            log.info("watch_started", path=str(self.path), method="inotify")
        except (OSError, AttributeError) as exc:
            log.warning("watch_polling", path=str(self.path), reason=str(exc))
        try:
            while not self._stop.is_set():
                timeout = min(self.quiet / 4, POLL_SECONDS) if self.debouncer.settling else 1.0
                if notifier is not None:
                    notifier.wait(timeout)
                else:
                    time.sleep(min(timeout, POLL_SECONDS))
                self._check()
        finally:
            if notifier is not None:
                notifier.close()

    def _check(self) -> None:
        try:
            sig = signature(self.path)
        except OSError as exc:  # the folder itself vanished (unmounted share): keep trying
            log.warning("watch_unreadable", path=str(self.path), error=str(exc))
            return
        if self.debouncer.observe(sig, time.monotonic()):
            self.on_change(latest_mtime(sig))
