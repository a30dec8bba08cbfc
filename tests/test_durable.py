"""Durable writes: whole or not at all, modes exact whatever the umask, no link followed.

A planted link stands for the attack review's finding: a fixed `<name>.tmp` that was a
symbolic link let a write land in the file it named.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncbot import durable
from syncbot.durable import (
    STATE_MODE,
    append_lines,
    create_exclusive,
    make_dirs,
    open_append,
    replace_file,
)
from syncbot.state import StateDir, write_json_atomic

VICTIM_TEXT = b"a file the attacker wants overwritten\n"


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "victim"
    path.parent.mkdir()
    path.write_bytes(VICTIM_TEXT)
    path.chmod(0o644)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


GUESSED = b"guessed!"  # the random bytes an attacker bet on


class FixedNames:
    """Stands in for os.urandom: the guessed bytes `planted` times, then fresh ones."""

    def __init__(self, planted: int) -> None:
        self.planted = planted
        self.calls = 0

    def __call__(self, size: int) -> bytes:
        self.calls += 1
        return GUESSED if self.calls <= self.planted else self.calls.to_bytes(size, "big")


def guessed_name(final: str) -> str:
    return f".{final}.{GUESSED.hex()}.tmp"


# -- modes ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_000")
@pytest.mark.parametrize("wanted", [0o600, 0o640])
def test_replace_file_gives_exactly_the_mode_asked_under_umask_000(
    tmp_path: Path, wanted: int
) -> None:
    path = tmp_path / "state.json"
    replace_file(path, b"{}\n", wanted)
    assert mode(path) == wanted
    path.chmod(0o666)  # an older version's file, made at umask 000
    replace_file(path, b"{}\n", wanted)
    assert mode(path) == wanted


@pytest.mark.usefixtures("umask_000")
def test_appended_and_created_files_have_an_explicit_mode(tmp_path: Path) -> None:
    append_lines(tmp_path / "ledger.jsonl", [b"{}\n"], STATE_MODE)
    assert mode(tmp_path / "ledger.jsonl") == 0o600
    os.close(open_append(tmp_path / "steps.jsonl", STATE_MODE, truncate=True))
    assert mode(tmp_path / "steps.jsonl") == 0o600
    os.close(create_exclusive(tmp_path / "new", 0o640))
    assert mode(tmp_path / "new") == 0o640


def test_a_restrictive_umask_does_not_narrow_the_mode_either(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        replace_file(tmp_path / "report.html", b"<p>", 0o640)
    finally:
        os.umask(old)
    assert mode(tmp_path / "report.html") == 0o640


@pytest.mark.usefixtures("umask_000")
def test_make_dirs_gives_every_new_folder_the_mode(tmp_path: Path) -> None:
    make_dirs(tmp_path / "a" / "b" / "c", 0o750)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert mode(folder) == 0o750


@pytest.mark.usefixtures("umask_000")
def test_state_files_are_0600_and_their_folder_0750_under_umask_000(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "var" / "state")
    state.save_last_run({"roster_rows": 12})
    ledger = state.ledger()
    ledger.will_disable("ldap", "uid=an,dc=x", "CB1", "run-1")
    ledger.compact()
    journal = state.journal()
    journal.start({"run_id": "run-1", "actor": "test"})
    for name in ("last-run.json", "ledger.jsonl", "steps.jsonl"):
        assert mode(state.path / name) == 0o600, name
    assert mode(state.path) == mode(state.path.parent) == 0o750
    journal.finish()


# -- links --------------------------------------------------------------------------------------


def test_a_link_at_the_final_name_is_replaced_never_written_through(
    tmp_path: Path, victim: Path
) -> None:
    path = tmp_path / "worker.json"
    path.symlink_to(victim)
    replace_file(path, b'{"new": true}\n', STATE_MODE)
    assert victim.read_bytes() == VICTIM_TEXT and mode(victim) == 0o644
    assert not path.is_symlink() and path.read_bytes() == b'{"new": true}\n'
    assert mode(path) == 0o600


@pytest.mark.parametrize("dangling", [False, True])
def test_a_link_at_the_temporary_name_is_never_written_through(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch, dangling: bool
) -> None:
    target = victim.with_name("not-yet") if dangling else victim
    planted = tmp_path / guessed_name("worker.json")
    planted.symlink_to(target)
    monkeypatch.setattr(durable.os, "urandom", FixedNames(planted=1))
    replace_file(tmp_path / "worker.json", b"{}\n", STATE_MODE)
    assert victim.read_bytes() == VICTIM_TEXT and mode(victim) == 0o644
    assert not target.with_name("not-yet").exists()  # nor created where a dangling one points
    assert planted.is_symlink()  # left alone: another name was taken
    assert (tmp_path / "worker.json").read_bytes() == b"{}\n"


def test_only_planted_names_left_is_refused_and_nothing_is_written(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / guessed_name("worker.json")).symlink_to(victim)
    monkeypatch.setattr(durable.os, "urandom", FixedNames(planted=10**6))
    with pytest.raises(FileExistsError):
        replace_file(tmp_path / "worker.json", b"{}\n", STATE_MODE)
    assert victim.read_bytes() == VICTIM_TEXT
    assert not (tmp_path / "worker.json").exists()


def test_the_old_fixed_tmp_name_is_not_used(tmp_path: Path, victim: Path) -> None:
    """The status file's old `<name>.tmp`, planted as a link: the write goes elsewhere."""
    (tmp_path / "worker.json.tmp").symlink_to(victim)
    (tmp_path / "last-run.json.tmp").symlink_to(victim)
    write_json_atomic(tmp_path / "worker.json", {"pid": 1})
    write_json_atomic(tmp_path / "last-run.json", {"roster_rows": 1})
    assert victim.read_bytes() == VICTIM_TEXT
    assert (tmp_path / "worker.json.tmp").is_symlink()


@pytest.mark.parametrize("truncate", [False, True])
def test_appending_through_a_link_is_refused(tmp_path: Path, victim: Path, truncate: bool) -> None:
    path = tmp_path / "steps.jsonl"
    path.symlink_to(victim)
    with pytest.raises(OSError) as caught:
        os.close(open_append(path, STATE_MODE, truncate=truncate))
    assert caught.value.errno == errno.ELOOP
    with pytest.raises(OSError):
        append_lines(path, [b"{}\n"], STATE_MODE)
    assert victim.read_bytes() == VICTIM_TEXT


def test_a_dangling_link_at_an_appended_name_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.symlink_to(tmp_path / "created-by-the-attacker")
    with pytest.raises(OSError):
        append_lines(path, [b"{}\n"], STATE_MODE)
    assert not (tmp_path / "created-by-the-attacker").exists()


def test_state_journal_and_ledger_refuse_a_link(tmp_path: Path, victim: Path) -> None:
    state = StateDir(tmp_path / "state")
    ledger = state.ledger()
    (state.path / "steps.jsonl").symlink_to(victim)
    (state.path / "ledger.jsonl").symlink_to(victim)  # planted after the ledger was read
    with pytest.raises(OSError):
        state.journal().start({"run_id": "r", "actor": "t"})
    with pytest.raises(OSError):
        ledger.will_disable("ldap", "uid=an,dc=x", "CB1", "run-1")
    assert victim.read_bytes() == VICTIM_TEXT


# -- whole or not at all ------------------------------------------------------------------------


def test_content_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "last-run.json"
    path.write_bytes(b"old\n")
    data = os.urandom(300_000)  # several write() calls' worth
    replace_file(path, data, STATE_MODE)
    assert path.read_bytes() == data
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failure_before_the_rename_keeps_the_old_content_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "last-run.json"
    path.write_bytes(b"old\n")

    def fail(*_: object) -> None:
        raise OSError(errno.EIO, "simulated disk error")

    if failing == "fsync":
        monkeypatch.setattr(os, "fsync", fail)
    else:
        monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError, match="simulated"):
        replace_file(path, b"new\n", STATE_MODE)
    assert path.read_bytes() == b"old\n"
    assert leftovers(tmp_path) == []


def test_file_and_folder_are_fsynced_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    replace_file(tmp_path / "worker.json", b"{}\n", STATE_MODE)
    assert synced == ["file", "folder"]


@pytest.mark.parametrize("torn", [b'{"op":"set","tar', b"x" * 10_000])
def test_a_line_torn_by_a_crash_is_cut_before_the_next_append(tmp_path: Path, torn: bytes) -> None:
    """Else the torn line and the next one become one line no reader can parse."""
    path = tmp_path / "ledger.jsonl"
    durable.append_lines(path, [b'{"n":1}\n', b'{"n":2}\n'], 0o600)
    with path.open("ab") as stream:
        stream.write(torn)  # a kill -9 in the middle of the next write
    durable.append_lines(path, [b'{"n":3}\n'], 0o600)
    assert path.read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'


def test_a_file_holding_only_a_torn_line_is_emptied_before_the_append(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(b"x" * 9000)
    durable.append_lines(path, [b'{"n":1}\n'], 0o600)
    assert path.read_bytes() == b'{"n":1}\n'


def test_the_ledger_reads_whole_after_a_torn_write_and_a_later_run(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.prepare()
    ledger = state.ledger()
    ledger.will_disable("ldap", "uid=a,ou=people", "CB1", "run-1")
    with ledger.path.open("ab") as stream:
        stream.write(b'{"account":"uid=b,ou=people","disabled_by')
    state.ledger().will_disable("ldap", "uid=c,ou=people", "CB3", "run-2")
    assert set(state.ledger().entries) == {("ldap", "uid=a,ou=people"), ("ldap", "uid=c,ou=people")}
