"""The audit log: chain integrity, tamper detection, recovery, concurrency, queries, display."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import re
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import structlog

from syncbot.audit import (
    AuditError,
    AuditLog,
    iter_records,
    render_records,
    verify_chain,
)
from syncbot.audit.change import Change
from syncbot.audit.record import GENESIS_PREV, MAX_LINE_BYTES, canonical_json, record_hash
from syncbot.audit.tail import lines_from_end, recorded_at_end
from syncbot.model import Action, ActionKind, Reason

ACTOR = "root@sv-noivu via syncbot apply"
REASON_DEPARTED = {
    "vi": "Nhân viên đã nghỉ việc từ ngày 30/04/2024",
    "en": "Employee left on 2024-04-30",
}
REASON_ROLE = {
    "vi": "Được giao vai trò Lãnh đạo theo chức vụ Phó Giám đốc",
    "en": "Granted the Leader role for the position Deputy Director",
}
EVIDENCE = {
    "roster_file": "nhan-su-2024-05.xlsx",
    "roster_sha256": "ab" * 32,
    "row": 12,
    "status": "Đã nghỉ việc",
    "effective_date": "2024-04-30",
    "position": "Chuyên viên",
    "unit": "Phòng Tổ chức",
}
T0 = datetime(2024, 5, 1, 7, 30, 0, tzinfo=UTC)


class StepClock:
    """Deterministic times: each call is `step` after the previous one."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start - step
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def disable(log: AuditLog, n: int = 1, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "target": "ldap",
        "account": f"uid=nv{n:04d},ou=people,dc=sotttt,dc=gov,dc=vn",
        "username": None,
        "employee_id": f"NV{n:04d}",
        "action": "disable",
        "before": {"enabled": True},
        "after": {"enabled": False},
        "reason": REASON_DEPARTED,
        "evidence": EVIDENCE,
        "result": "ok",
        "error": None,
    }
    fields.update(overrides)
    result, error = fields.pop("result"), fields.pop("error")
    log.change(Change(**fields), result=result, error=error)


def write_log(path: Path, changes: int, *, run_id: str = "run-aaaa-1111") -> tuple[int, str]:
    """A complete run: start, `changes` change records, finish; returns its anchor."""
    with AuditLog(path, run_id=run_id, actor=ACTOR) as log:
        log.run_started({"roster_sha256": "cd" * 32, "rows": changes})
        for n in range(changes):
            disable(log, n)
        log.run_finished({"exit_status": 0, "applied": changes})
        assert log.last_written is not None
        return log.last_written


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def records_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines_of(path)]


def line_containing(data: bytes, position: int) -> int:
    """1-based line number of the byte at `position`; a line's "\\n" belongs to it."""
    return data.count(b"\n", 0, position) + 1


def assert_verified(path: Path, records: int) -> None:
    result = verify_chain(path)
    assert result.ok, result.problem
    assert result.records == records


# --- writing and the record format ---------------------------------------------------


def test_log_is_created_lazily_with_private_modes(tmp_path: Path) -> None:
    path = tmp_path / "var" / "syncbot" / "audit.jsonl"
    old_umask = os.umask(0o077)  # modes must be exact whatever the umask
    try:
        log = AuditLog(path, run_id="r1", actor=ACTOR)
        assert not path.parent.exists()
        log.run_started({})
        log.close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o750


def test_record_format(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, run_id="run-1234567890", actor=ACTOR, clock=StepClock()) as log:
        log.run_started({"roster_sha256": "cd" * 32})
        disable(log, 7, result="failed", error="LDAP: insufficient access")
        log.run_finished({"exit_status": 2})
    raw = lines_of(path)
    records = [json.loads(line) for line in raw]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in raw)
    for line, record in zip(raw, records, strict=True):
        canonical = json.dumps(
            record, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()
        assert line[:-1] == canonical
        body = {k: v for k, v in record.items() if k != "hash"}
        assert record["hash"] == hashlib.sha256(canonical_json(body).encode()).hexdigest()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["time"])
        assert record["run_id"] == "run-1234567890"
        assert record["actor"] == ACTOR
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == "0" * 64 == GENESIS_PREV
    assert records[1]["prev"] == hashlib.sha256(raw[0][:-1]).hexdigest()
    assert records[2]["prev"] == hashlib.sha256(raw[1][:-1]).hexdigest()
    assert records[0]["time"] == "2024-05-01T07:30:00.000000Z"
    assert [r["event"] for r in records] == ["run_started", "change", "run_finished"]
    assert records[0]["details"] == {"roster_sha256": "cd" * 32}
    change = records[1]
    assert {k: change[k] for k in ("target", "account", "employee_id", "action")} == {
        "target": "ldap",
        "account": "uid=nv0007,ou=people,dc=sotttt,dc=gov,dc=vn",
        "employee_id": "NV0007",
        "action": "disable",
    }
    assert change["before"] == {"enabled": True}
    assert change["after"] == {"enabled": False}
    assert change["reason"] == REASON_DEPARTED
    assert change["evidence"] == EVIDENCE
    assert (change["result"], change["error"]) == ("failed", "LDAP: insufficient access")
    assert "Nhân viên đã nghỉ việc".encode() in raw[1]  # UTF-8, not \u escapes


def test_chain_of_many_records_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    anchor = write_log(path, 300)
    for run in range(3):  # later runs continue the same chain
        anchor = write_log(path, 20, run_id=f"run-{run}")
    result = verify_chain(path, anchor=anchor)
    total = 302 + 3 * 22
    assert result.ok, result.problem
    assert (result.records, result.last_seq, result.last_hash) == (total, *anchor)
    assert anchor[0] == total
    assert [r["seq"] for r in records_of(path)] == list(range(1, total + 1))


def test_fsync_after_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    real_fsync = os.fsync
    lines_on_disk_at_fsync: list[int] = []

    def counting_fsync(fd: int) -> None:
        if path.exists() and os.path.samestat(os.fstat(fd), path.stat()):
            lines_on_disk_at_fsync.append(len(lines_of(path)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    log = AuditLog(path, run_id="r1", actor=ACTOR)
    log.run_started({})
    for n in range(5):
        disable(log, n)
        # the record is written and flushed before change() returns
        assert lines_on_disk_at_fsync[-1] == n + 2
    log.run_finished({})
    log.close()
    assert lines_on_disk_at_fsync == [1, 2, 3, 4, 5, 6, 7]


def test_every_record_is_one_write_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    real_write = os.write
    writes: list[bytes] = []

    def recording_write(fd: int, data: Any) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording_write)
    write_log(path, 3)
    assert writes == lines_of(path)


@pytest.mark.parametrize(
    ("field", "value", "secret_key"),
    [
        ("before", {"userPassword": "hunter2-value"}, "before.userPassword"),
        ("after", {"attrs": {"clientSecret": "hunter2-value"}}, "after.attrs.clientSecret"),
        ("evidence", {"rows": [{"ACCESS_TOKEN": "hunter2-value"}]}, "evidence.rows[0]"),
        ("evidence", {"Credentials": ["hunter2-value"]}, "evidence.Credentials"),
    ],
)
def test_secret_looking_keys_are_refused(
    tmp_path: Path, field: str, value: dict[str, Any], secret_key: str
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r1", actor=ACTOR)
    log.run_started({})
    with pytest.raises(ValueError, match="secret") as caught:
        disable(log, **{field: value})  # type: ignore[arg-type]
    assert secret_key in str(caught.value)
    assert "hunter2-value" not in str(caught.value)
    with pytest.raises(ValueError, match="secret"):
        log.run_finished({"summary": {"bind_password": "hunter2-value"}})
    log.close()
    assert b"hunter2-value" not in path.read_bytes()
    assert_verified(path, 1)


@pytest.mark.parametrize(
    "setting",
    ["passwordHistory", "forceExpiredPasswordChange", "passwordMinLength", "zimbraPasswordMaxAge"],
)
def test_a_policy_setting_named_password_is_audited_by_its_product_name(
    tmp_path: Path, setting: str
) -> None:
    """Keycloak's and 389 DS's own setting names contain "password": the record of a policy
    change must still be written (it once failed after the change was made), naming them."""
    step = Action(
        target="keycloak",
        kind=ActionKind.CONFIGURE,
        account="realm:so-tttt",
        username="so-tttt",
        employee_id=None,
        reason=Reason(vi="Chính sách mật khẩu", en="Password policy"),
        evidence=None,
        settings=((setting, "3", "5"), ("length", None, "12")),
    )
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r1", actor=ACTOR)
    log.run_started({})
    disable(log, action="configure", before=step.before(), after=step.after(), evidence=None)
    log.close()
    (_, record) = records_of(path)
    assert record["before"] == {
        "settings": [{"name": setting, "value": "3"}, {"name": "length", "value": None}]
    }
    assert record["after"]["settings"][0] == {"name": setting, "value": "5"}
    assert_verified(path, 2)


def test_a_group_commit_the_writer_refuses_in_part_appends_none_of_it(tmp_path: Path) -> None:
    """A change is checked when it is built; what only the writer sees (a line over the
    size bound) still refuses the whole batch, and the chain goes on from the file."""
    fields: dict[str, Any] = {
        "target": "ldap",
        "account": "uid=nv0001,ou=people,dc=sotttt,dc=gov,dc=vn",
        "username": "nv0001",
        "employee_id": "NV0001",
        "action": "revoke",
        "before": {"member_of": ["cn=a"]},
        "after": {"member_of": []},
        "reason": REASON_DEPARTED,
        "evidence": EVIDENCE,
    }
    fine = Change(**fields)
    huge = Change(**{**fields, "before": {"member_of": ["x" * MAX_LINE_BYTES]}})
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, run_id="r1", actor=ACTOR) as log:
        log.run_started({})
        with pytest.raises(ValueError, match="over"):
            log.changes([fine.answered(None), huge.answered(None)])
        log.changes([fine.answered(None)])
    assert [r["event"] for r in records_of(path)] == ["run_started", "change"]
    assert_verified(path, 2)


def test_invalid_records_are_refused_and_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r1", actor=ACTOR)
    log.run_started({})
    with pytest.raises(ValueError, match="result"):
        disable(log, result="maybe")
    with pytest.raises(ValueError, match="vi"):
        disable(log, reason={"en": "no Vietnamese text"})
    with pytest.raises(ValueError, match="not plain JSON"):
        disable(log, evidence={"effective_date": date(2024, 4, 30)})
    with pytest.raises(ValueError, match="not plain JSON"):
        disable(log, after={"score": float("nan")})
    with pytest.raises(ValueError, match="keys must be strings"):
        disable(log, after={10: "x", 9: "y"})
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.run_finished({})
    assert_verified(path, 1)


def test_global_structlog_configuration_does_not_reach_the_audit_log(tmp_path: Path) -> None:
    def hijack(_: Any, __: str, event_dict: Any) -> Any:
        raise AssertionError("the operational logging pipeline ran on an audit record")

    structlog.configure(
        processors=[hijack],
        wrapper_class=structlog.make_filtering_bound_logger(50),
        cache_logger_on_first_use=False,
    )
    try:
        path = tmp_path / "audit.jsonl"
        write_log(path, 2)
    finally:
        structlog.reset_defaults()
    assert_verified(path, 4)


def test_last_line_found_without_reading_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 6000)
    size = path.stat().st_size
    assert size > 4_000_000
    real_pread, real_read = os.pread, os.read
    read_bytes = 0

    def counting_pread(fd: int, n: int, offset: int) -> bytes:
        nonlocal read_bytes
        data = real_pread(fd, n, offset)
        read_bytes += len(data)
        return data

    def counting_read(fd: int, n: int) -> bytes:
        nonlocal read_bytes
        data = real_read(fd, n)
        read_bytes += len(data)
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    monkeypatch.setattr(os, "read", counting_read)
    with AuditLog(path, run_id="r2", actor=ACTOR) as log:
        log.run_started({})
        assert log.last_written is not None
        assert log.last_written[0] == 6003
    assert read_bytes < 200_000
    monkeypatch.undo()
    assert_verified(path, 6003)


# --- tamper detection ------------------------------------------------------------------


def test_every_single_byte_change_is_caught_at_its_line(tmp_path: Path) -> None:
    """With the run's anchor, as `syncbot audit verify` checks the configured log: without
    it, a last newline turned into another byte reads as a write a kill interrupted."""
    path = tmp_path / "audit.jsonl"
    anchor = write_log(path, 2)
    original = path.read_bytes()
    assert len(lines_of(path)) == 4
    for position, byte in enumerate(original):
        replacements = {byte ^ 0x01, byte ^ 0x20, ord("\n") if byte != ord("\n") else ord(" ")}
        for replacement in replacements:
            tampered = bytearray(original)
            tampered[position] = replacement
            path.write_bytes(tampered)
            result = verify_chain(path, anchor=anchor)
            assert not result.ok, (position, replacement)
            assert result.first_bad_line == line_containing(original, position), (
                position,
                replacement,
                result.problem,
            )
            assert result.problem is not None
            assert result.problem.startswith(f"line {result.first_bad_line}: ")


def test_random_byte_changes_in_a_large_log_are_caught_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 400)
    original = path.read_bytes()
    rng = random.Random(20240501)  # noqa: S311 - reproducible positions, not crypto
    for position in rng.sample(range(len(original)), 300):
        tampered = bytearray(original)
        tampered[position] = rng.choice([b for b in range(256) if b != original[position]])
        path.write_bytes(tampered)
        result = verify_chain(path)
        assert not result.ok
        assert result.first_bad_line == line_containing(original, position), position


def test_a_clean_edit_with_a_recomputed_hash_breaks_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    raw = lines_of(path)
    record = json.loads(raw[2])
    record["result"] = "failed"
    record["hash"] = record_hash(record)
    raw[2] = canonical_json(record).encode() + b"\n"
    path.write_bytes(b"".join(raw))
    result = verify_chain(path)
    assert (result.ok, result.first_bad_line) == (False, 4)
    assert result.problem is not None and "prev" in result.problem
    assert (result.last_seq, result.records) == (3, 4)


def forge_chain(records: list[dict[str, Any]]) -> bytes:
    """Lines chained and hashed correctly around whatever content the forger chose."""
    prev, out = GENESIS_PREV, b""
    for fields in records:
        record = {**fields, "prev": prev}
        record["hash"] = record_hash(record)
        line = canonical_json(record).encode()
        prev = hashlib.sha256(line).hexdigest()
        out += line + b"\n"
    return out


def test_seq_must_be_the_line_number_even_in_a_consistent_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    base = {"event": "run_started", "run_id": "r", "actor": "a", "time": "x", "details": {}}
    path.write_bytes(forge_chain([{**base, "seq": seq} for seq in (1, 2, 3)]))
    assert_verified(path, 3)
    path.write_bytes(forge_chain([{**base, "seq": seq} for seq in (1, 2, 4, 5)]))
    result = verify_chain(path)
    assert (result.ok, result.first_bad_line) == (False, 3)
    assert result.problem == "line 3: seq is 4, expected 3"


@pytest.mark.parametrize(
    ("edit", "first_bad"),
    [
        (lambda raw: raw[:3] + raw[4:], 4),  # a line deleted in the middle
        (lambda raw: raw[1:], 1),  # the first line deleted
        (lambda raw: [*raw[:2], raw[3], raw[2], *raw[4:]], 3),  # two lines swapped
        (lambda raw: [*raw[:2], raw[1], *raw[2:]], 3),  # a line duplicated
        (lambda raw: [*raw[:3], b"\n", *raw[3:]], 4),  # an empty line inserted
        (lambda raw: [*raw[:3], raw[3].replace(b'"', b' "', 1), *raw[4:]], 4),  # whitespace
    ],
)
def test_removed_reordered_or_inserted_lines_are_caught(
    tmp_path: Path, edit: Any, first_bad: int
) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    path.write_bytes(b"".join(edit(lines_of(path))))
    result = verify_chain(path)
    assert not result.ok
    assert result.first_bad_line == first_bad, result.problem


def test_truncated_tail_is_caught_only_with_the_anchor(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    anchor = write_log(path, 5)
    assert verify_chain(path, anchor=anchor).ok
    path.write_bytes(b"".join(lines_of(path)[:-2]))
    assert verify_chain(path).ok  # the remaining lines are a valid chain by themselves
    result = verify_chain(path, anchor=anchor)
    assert not result.ok
    assert (result.records, result.first_bad_line, result.last_seq) == (5, 6, 5)
    assert result.problem is not None and "cut off" in result.problem


def test_a_rewritten_tail_is_caught_by_the_anchor(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    anchor = write_log(path, 3)
    # drop the last line and write a different, validly chained one in its place
    path.write_bytes(b"".join(lines_of(path)[:-1]))
    with AuditLog(path, run_id="forger", actor="intruder") as log:
        log.run_finished({"exit_status": 0})
    assert verify_chain(path).ok
    result = verify_chain(path, anchor=anchor)
    assert (result.ok, result.first_bad_line) == (False, 5)
    assert result.problem is not None and "rewritten" in result.problem


def test_verify_counts_a_torn_final_line_as_an_interrupted_write(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    with path.open("ab") as stream:
        stream.write(b'{"actor":"x","det')
    result = verify_chain(path)
    assert (result.ok, result.records, result.first_bad_line) == (True, 4, None)
    assert result.interrupted_bytes == len(b'{"actor":"x","det')
    assert result.last_seq == 4


def test_audit_verify_names_an_interrupted_write_and_exits_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from syncbot.cli import main

    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    with path.open("ab") as stream:
        stream.write(b'{"actor":"x"')
    assert main(["audit", "verify", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK, 4 records" in out
    assert "line 5 is an interrupted write of 12 bytes" in out


def test_a_torn_final_line_does_not_hide_a_cut_tail(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    anchor = (4, verify_chain(path).last_hash or "")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:3]) + lines[3][:20])  # record 4 cut mid-line
    result = verify_chain(path, anchor=anchor)
    assert (result.ok, result.first_bad_line) == (False, 4)
    assert result.problem is not None and "tail cut off" in result.problem


def test_verify_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    assert verify_chain(empty) == verify_chain(empty, anchor=None)
    assert verify_chain(empty).ok
    assert verify_chain(empty).records == 0
    assert not verify_chain(empty, anchor=(1, "0" * 64)).ok
    missing = verify_chain(tmp_path / "missing.jsonl")
    assert not missing.ok
    assert missing.problem is not None and "no such file" in missing.problem


# --- recovery and refusing to extend a broken chain ----------------------------------


def test_lines_from_end_gives_each_complete_line_last_first_across_blocks(
    tmp_path: Path,
) -> None:
    rng = random.Random(15)  # noqa: S311 - reproducible lengths, not crypto
    sizes = [0, 1, 700, 65_535, 65_536, 65_537, 150_000, 3]
    lines = [rng.randbytes(rng.choice(sizes)).replace(b"\n", b"x") for _ in range(40)]
    data = b"".join(line + b"\n" for line in lines) + b"a torn write"
    path = tmp_path / "audit.jsonl"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        found = list(lines_from_end(fd, len(data)))
        assert [line for _, line in found] == lines[::-1]
        assert all(data[newline : newline + 1] == b"\n" for newline, _ in found)
        assert list(lines_from_end(fd, 0)) == []
        assert list(lines_from_end(fd, len(lines[0]))) == []  # no newline yet: all torn
    finally:
        os.close(fd)


def test_a_killed_runs_records_are_found_from_the_end_back_to_its_start(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3, run_id="earlier")
    changes = [
        Change(
            target="ldap",
            account=f"uid=nv{n:04d},ou=people,dc=sotttt,dc=gov,dc=vn",
            username=f"nv{n:04d}",
            employee_id=f"NV{n:04d}",
            action="disable",
            before={"enabled": True},
            after={"enabled": False},
            reason=REASON_DEPARTED,
            evidence=EVIDENCE,
        )
        for n in range(400)
    ]
    with AuditLog(path, run_id="killed", actor=ACTOR) as log:
        log.run_started({})
        log.changes([change.answered(None) for change in changes[:300]])
    with path.open("ab") as handle:
        handle.write(b'{"seq":')  # the kill came in the middle of the next write
    asked = [changes[0], changes[299], changes[300], changes[399]]
    assert recorded_at_end(path, "killed", asked) == {0, 1}  # read back past 64 KiB blocks
    assert recorded_at_end(path, "earlier", asked) == set()  # another run's last record
    assert recorded_at_end(tmp_path / "absent.jsonl", "killed", asked) == set()
    # A refused run ends before recovery runs: its record is read past, a change is not.
    with AuditLog(path, run_id="refused", actor=ACTOR) as log:
        log.run_finished({"result": "refused"})
    assert recorded_at_end(path, "killed", asked) == {0, 1}
    with AuditLog(path, run_id="another", actor=ACTOR) as log:
        log.changes([changes[399].answered(None)])
    assert recorded_at_end(path, "killed", asked) == set()


def test_torn_tail_is_moved_aside_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    intact = path.read_bytes()
    torn = b'{"account":"uid=nv9,ou=people","action":"disable","actor":"root@sv-noi'
    with path.open("ab") as stream:
        stream.write(torn)

    with AuditLog(path, run_id="run-after-crash", actor=ACTOR) as log:
        log.run_started({"note": "after power loss"})

    saved = list(tmp_path.glob("audit.jsonl.torn-*"))
    assert len(saved) == 1
    assert re.fullmatch(r"audit\.jsonl\.torn-\d{8}T\d{6}\.\d{6}Z", saved[0].name)
    assert saved[0].read_bytes() == torn
    assert stat.S_IMODE(saved[0].stat().st_mode) == 0o640
    assert path.read_bytes().startswith(intact)
    records = records_of(path)
    recovered, started = records[-2], records[-1]
    assert recovered["event"] == "audit_recovered"
    assert recovered["seq"] == 6
    assert recovered["run_id"] == "run-after-crash"
    assert recovered["details"] == {
        "torn_bytes": len(torn),
        "torn_sha256": hashlib.sha256(torn).hexdigest(),
        "saved_to": str(saved[0]),
    }
    assert (started["event"], started["seq"]) == ("run_started", 7)
    assert_verified(path, 7)


def test_a_file_holding_only_a_torn_line_starts_a_fresh_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"actor":"roo')
    with AuditLog(path, run_id="r1", actor=ACTOR) as log:
        log.run_started({})
    records = records_of(path)
    assert [r["event"] for r in records] == ["audit_recovered", "run_started"]
    assert records[0]["prev"] == GENESIS_PREV
    assert records[0]["details"]["torn_bytes"] == 13
    assert_verified(path, 2)


def test_a_torn_write_by_another_process_mid_run_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="worker", actor=ACTOR)
    log.run_started({})
    with path.open("ab") as stream:  # another writer died halfway through a line
        stream.write(b'{"half":')
    disable(log, 1)
    log.close()
    assert [r["event"] for r in records_of(path)] == ["run_started", "audit_recovered", "change"]
    assert_verified(path, 3)


@pytest.mark.parametrize(
    "last_line",
    [
        b"this is not json\n",
        b'{"seq":5,"prev":"00","event":"change"}\n',  # no hash
        b"\n",
    ],
)
def test_a_broken_last_line_makes_the_writer_refuse(tmp_path: Path, last_line: bytes) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    with path.open("ab") as stream:
        stream.write(last_line)
    before = path.read_bytes()
    log = AuditLog(path, run_id="r2", actor=ACTOR)
    with pytest.raises(AuditError, match="syncbot audit verify"):
        log.run_started({})
    with pytest.raises(AuditError, match="syncbot audit verify"):
        disable(log)
    log.close()
    assert path.read_bytes() == before
    assert list(tmp_path.glob("*.torn-*")) == []


def test_an_edited_last_line_makes_the_writer_refuse(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    data = path.read_bytes().replace(b'"exit_status":0', b'"exit_status":1')
    path.write_bytes(data)
    with pytest.raises(AuditError, match="hash does not match"):
        write_log(path, 1)
    assert path.read_bytes() == data


def test_a_broken_last_line_is_not_hidden_by_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 1)
    with path.open("ab") as stream:
        stream.write(b'garbage\n{"torn')
    before = path.read_bytes()
    with pytest.raises(AuditError, match="syncbot audit verify"):
        write_log(path, 1)
    assert path.read_bytes() == before
    assert list(tmp_path.glob("*.torn-*")) == []


def test_writer_follows_the_path_when_the_file_is_moved_away(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r1", actor=ACTOR)
    log.run_started({})
    path.rename(tmp_path / "audit-2024-04.jsonl")
    disable(log, 1)
    log.close()
    assert [r["seq"] for r in records_of(path)] == [1]
    assert_verified(path, 1)
    assert_verified(tmp_path / "audit-2024-04.jsonl", 1)


# --- concurrent writers ----------------------------------------------------------------


def test_two_writers_in_one_process_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    worker = AuditLog(path, run_id="worker-run", actor="syncbot@host via syncbot daemon")
    admin = AuditLog(path, run_id="admin-run", actor="admin@host via syncbot apply")
    worker.run_started({})
    admin.run_started({})
    for n in range(30):
        disable(worker, n)
        if n % 3 == 0:
            disable(admin, 1000 + n, action="enable", before={"enabled": False})
    worker.run_finished({})
    admin.run_finished({})
    worker.close()
    admin.close()
    records = records_of(path)
    assert len(records) == 2 + 30 + 10 + 2
    assert sum(r["run_id"] == "admin-run" for r in records) == 12
    assert_verified(path, 44)


def _write_from_another_process(path: str, run_id: str, count: int, barrier: Any) -> None:
    barrier.wait()
    with AuditLog(Path(path), run_id=run_id, actor=f"{run_id}@host") as log:
        log.run_started({"pid": os.getpid()})
        for n in range(count):
            disable(log, n)
        log.run_finished({"pid": os.getpid()})


def test_two_processes_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_write_from_another_process, args=(str(path), run_id, 80, barrier))
        for run_id in ("proc-a", "proc-b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    records = records_of(path)
    assert len(records) == 2 * 82
    assert {r["run_id"] for r in records} == {"proc-a", "proc-b"}
    assert_verified(path, 164)
    per_run: dict[str, list[str]] = {"proc-a": [], "proc-b": []}
    for record in records:
        per_run[record["run_id"]].append(record["event"])
    for events in per_run.values():
        assert events == ["run_started", *["change"] * 80, "run_finished"]


# --- query and display -------------------------------------------------------------------


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Two runs on two days, one hour apart per record, across two targets."""
    path = tmp_path / "audit.jsonl"
    clock = StepClock(T0, timedelta(hours=1))
    with AuditLog(path, run_id="aaaa1111-first-run", actor=ACTOR, clock=clock) as log:
        log.run_started({"roster_sha256": "11" * 32})  # 07:30
        disable(log, 1)  # 08:30
        disable(log, 2, target="keycloak", account="9f0c-NV0002-uuid")  # 09:30
        log.change(  # 10:30
            Change(
                target="keycloak",
                account="9f0c-NV0003-uuid",
                username=None,
                employee_id="NV0003",
                action="grant",
                before={"member_of": []},
                after={"member_of": ["lanh-dao"]},
                reason=REASON_ROLE,
                evidence=None,
            ),
            result="failed",
            error="HTTP 403: forbidden",
        )
        log.run_finished({"exit_status": 2})  # 11:30
    clock.now = T0 + timedelta(days=1)  # next record at 2024-05-02 08:30
    with AuditLog(path, run_id="bbbb2222-second-run", actor=ACTOR, clock=clock) as log:
        log.run_started({"roster_sha256": "22" * 32})  # 08:30
        disable(log, 1, target="keycloak", account="7aa1-NV0001-uuid")  # 09:30
        disable(log, 4, account="uid=NV0004,ou=People,dc=sotttt")  # 10:30
        log.run_finished({"exit_status": 0})  # 11:30
    return path


def seqs(records: Iterator[dict[str, Any]]) -> list[int]:
    return [record["seq"] for record in records]


def test_iter_records_without_filters_gives_changes_only(history: Path) -> None:
    assert seqs(iter_records(history)) == [2, 3, 4, 7, 8]
    assert seqs(iter_records(history, include_runs=True)) == list(range(1, 10))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"employee_id": "NV0001"}, [2, 7]),
        ({"employee_id": "NV000"}, []),  # exact, not a prefix
        ({"account": "UID=NV0004"}, [8]),  # case-insensitive
        ({"account": "nv0002"}, [3]),  # substring of a Keycloak id
        ({"account": "ou=people"}, [2, 8]),
        ({"action": "grant"}, [4]),
        ({"action": "disable"}, [2, 3, 7, 8]),
        ({"target": "keycloak"}, [3, 4, 7]),
        ({"run_id": "bbbb2222-second-run"}, [7, 8]),
        ({"run_id": "aaaa1111"}, [2, 3, 4]),  # the short id shown by render_records
        ({"target": "keycloak", "action": "disable"}, [3, 7]),
        ({"employee_id": "NV0001", "target": "ldap"}, [2]),
        ({"employee_id": "NV0001", "run_id": "bbbb2222"}, [7]),
        ({"target": "ldap", "action": "grant"}, []),
        ({"run_id": "aaaa1111", "include_runs": True}, [1, 2, 3, 4, 5]),
        ({"employee_id": "NV0003", "include_runs": True}, [4]),
    ],
)
def test_iter_records_filters(history: Path, filters: dict[str, Any], expected: list[int]) -> None:
    assert seqs(iter_records(history, **filters)) == expected


def test_iter_records_date_range_is_inclusive(history: Path) -> None:
    nine_thirty = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)  # the time of record 3
    tick = timedelta(microseconds=1)
    assert seqs(iter_records(history, since=nine_thirty)) == [3, 4, 7, 8]
    assert seqs(iter_records(history, since=nine_thirty + tick)) == [4, 7, 8]
    assert seqs(iter_records(history, until=nine_thirty)) == [2, 3]
    assert seqs(iter_records(history, until=nine_thirty - tick)) == [2]
    assert seqs(iter_records(history, since=nine_thirty, until=nine_thirty)) == [3]
    # the CLI turns a date into the whole day
    day_one = datetime(2024, 5, 1, tzinfo=UTC)
    end_of_day_one = day_one + timedelta(days=1) - tick
    assert seqs(iter_records(history, since=day_one, until=end_of_day_one)) == [2, 3, 4]
    assert seqs(iter_records(history, since=day_one, until=end_of_day_one, include_runs=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]
    day_two = day_one + timedelta(days=1)
    assert seqs(iter_records(history, target="keycloak", since=day_two)) == [7]
    assert seqs(iter_records(history, since=end_of_day_one, until=day_two)) == []
    # another time zone means the same instant
    hanoi = datetime(2024, 5, 1, 16, 30, tzinfo=timezone(timedelta(hours=7)))  # 09:30 UTC
    assert seqs(iter_records(history, until=hanoi)) == [2, 3]


def test_iter_records_refuses_naive_datetimes(history: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        list(iter_records(history, since=datetime(2024, 5, 1)))


def test_iter_records_skips_a_torn_tail_but_not_a_damaged_line(history: Path) -> None:
    with history.open("ab") as stream:
        stream.write(b'{"event":"change","acc')
    assert seqs(iter_records(history)) == [2, 3, 4, 7, 8]
    raw = lines_of(history)
    raw[2] = b"not json\n"
    history.write_bytes(b"".join(raw))
    with pytest.raises(AuditError, match="line 3"):
        list(iter_records(history))


def test_render_text_for_an_inspector(history: Path) -> None:
    text = list(render_records(iter_records(history, include_runs=True)))
    assert len(text) == 9
    started, first_change, failed = text[0], text[1], text[3]
    assert started.startswith("── run aaaa1111 started 2024-05-01 07:30:00 UTC by " + ACTOR)
    assert "roster_sha256=" + "11" * 32 in started
    assert first_change.splitlines()[0].split() == [
        "2024-05-01",
        "08:30:00",
        "UTC",
        "run",
        "aaaa1111",
        "✓",
        "ok",
        "disable",
        "ldap",
        "uid=nv0001,ou=people,dc=sotttt,dc=gov,dc=vn",
        "mã",
        "NV",
        "NV0001",
    ]
    assert "Lý do: Nhân viên đã nghỉ việc từ ngày 30/04/2024" in first_change
    assert "Căn cứ: nhan-su-2024-05.xlsx, dòng 12" in first_change
    assert '{"enabled":true} → {"enabled":false}' in first_change
    assert "Lỗi" not in first_change
    assert "✗ failed" in failed
    assert "Lý do: Được giao vai trò Lãnh đạo theo chức vụ Phó Giám đốc" in failed
    assert "Lỗi: HTTP 403: forbidden" in failed
    assert text[4] == "── run aaaa1111 finished 2024-05-01 11:30:00 UTC: exit_status=2"


def test_render_json_gives_the_stored_lines(history: Path) -> None:
    rendered = list(render_records(iter_records(history, include_runs=True), fmt="json"))
    assert [line.encode() + b"\n" for line in rendered] == lines_of(history)
    only_keycloak = render_records(iter_records(history, target="keycloak"), fmt="json")
    assert [json.loads(line)["seq"] for line in only_keycloak] == [3, 4, 7]
    with pytest.raises(ValueError, match="format"):
        list(render_records([], fmt="xml"))


def test_render_recovery_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"torn')
    with AuditLog(path, run_id="cccc3333-run", actor=ACTOR) as log:
        log.run_started({})
    text = list(render_records(iter_records(path, include_runs=True)))
    assert text[0].startswith("── run cccc3333 audit_recovered ")
    assert "torn_bytes=6" in text[0]
    assert "saved_to=" in text[0]
