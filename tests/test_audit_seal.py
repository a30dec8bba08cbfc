"""Forward-secure seals, the anchor after every run, and the journal's heads as a witness.

Each attack is one the service account can carry out on its own files: it is run here on
real files, and `syncbot audit verify` must name the first line it can no longer vouch for.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from syncbot.audit import AuditError, AuditLog, iter_records, render_records, verify_chain
from syncbot.audit.heads import HeadsCheck, read_heads
from syncbot.audit.keeping import Keeping
from syncbot.audit.record import canonical_json, line_digest, record_hash
from syncbot.audit.seal import VerificationKey, evolve, make_seal
from syncbot.audit.seal_check import SealCheck
from syncbot.audit.verify import Anchor, LineCheck
from syncbot.cli import main
from syncbot.logs import configure_logging

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
EPOCH = timedelta(minutes=15)
ACTOR = "syncbot@sv-noivu via syncbot run"


class Clock:
    """Time that moves a millisecond per reading, and jumps when a test says so."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def wait(self, delta: timedelta) -> None:
        self.now += delta


class Site:
    """A log and its state folder, written as the service writes them."""

    def __init__(self, folder: Path) -> None:
        self.log = folder / "audit" / "audit.jsonl"
        self.state = folder / "state"
        self.keeping = Keeping(self.state / "audit-anchor.json", self.state / "audit-sealing.json")
        self.clock = Clock()
        self.runs = 0

    def writer(self, run_id: str | None = None) -> AuditLog:
        return AuditLog(
            self.log,
            run_id=run_id or f"run-{self.runs}",
            actor=ACTOR,
            clock=self.clock,
            keeping=self.keeping,
        )

    def setup_keys(self, minutes: int = 15) -> VerificationKey:
        with self.writer("setup-keys") as log:
            return log.start_sealing(minutes)

    def run(self, result: str = "ok", records: int = 2) -> None:
        """A run as the worker writes it; a refused one leaves one record (_audit_outcome)."""
        self.runs += 1
        with self.writer() as log:
            if result != "ok":
                log.run_finished({"result": result, "error": "shrank", "failed_steps": 0})
                return
            log.run_started({"roster_sha256": "ab" * 32})
            for n in range(records - 2):
                log.run_started({"step": n})  # stands for the run's change records
            log.run_finished({"succeeded": records - 2, "failed": 0})

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_bytes().splitlines()]

    def local_checks(self) -> list[LineCheck]:
        """What `audit verify` takes from the state folder."""
        checks: list[LineCheck] = []
        anchor = self.keeping.anchor()
        if anchor is not None:
            checks.append(Anchor(*anchor, source="syncbot"))
        sealing = self.keeping.sealing()
        if sealing is not None:
            checks.append(Anchor(sealing.sealed_seq, sealing.sealed_hash, "the last seal"))
        return checks

    def verify(self, key: VerificationKey | None = None, *, later: timedelta = EPOCH / 2) -> Any:
        checks = self.local_checks()
        if key is not None:
            checks.append(SealCheck(key, self.clock.now + later))
        return verify_chain(self.log, checks=checks)


def rewrite(path: Path, records: list[dict[str, Any]]) -> None:
    """Re-chain `records` from scratch, as an attacker with the service's rights can."""
    prev = "0" * 64
    lines = []
    for seq, record in enumerate(records, start=1):
        record = {key: value for key, value in record.items() if key != "hash"}
        record.update(seq=seq, prev=prev)
        record["hash"] = record_hash(record)
        line = canonical_json(record)
        prev = line_digest(line.encode("utf-8"))
        lines.append(line + "\n")
    path.write_text("".join(lines), encoding="utf-8")


def forge_state(site: Site) -> None:
    """Point the anchor and the sealing state's counters at the rewritten log's end."""
    records = site.records()
    site.keeping.move_anchor(records[-1]["seq"], records[-1]["hash"])
    state = site.keeping.sealing()
    assert state is not None
    seals = [r for r in records if r["event"] == "audit_sealed"]
    if seals:
        last = seals[-1]
        state = state.__class__(
            state.key,
            state.index,
            state.epochs,
            last["details"]["mac"],
            last["seq"],
            last["hash"],
            state.setup_seq,
        )
        site.keeping.save_sealing(state)


def seal_with_stolen_key(site: Site, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append a seal made with the key in the sealing state file, the key the attacker has."""
    rewrite(site.log, records)
    records = site.records()
    state = site.keeping.sealing()
    assert state is not None
    prev = next(r for r in reversed(records) if r["event"] == "audit_sealed")["details"]["mac"]
    seal = make_seal(
        state.key,
        state.index,
        state.epochs,
        seq=records[-1]["seq"],
        head=records[-1]["hash"],
        prev=prev,
    )
    forged = dict(records[-1], event="audit_sealed", details=seal.as_details())
    forged["time"] = (site.clock.now).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [*records, forged]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


# --- sealing as the service does it ----------------------------------------------------


def test_runs_across_epochs_are_sealed_and_verify_with_the_key(site: Site) -> None:
    site.run()  # before sealing began: covered by the setup seal
    key = site.setup_keys()
    site.run()
    site.run(records=5)
    site.clock.wait(EPOCH * 3)  # idle epochs: no seal, the key just moves on
    site.run()
    result = site.verify(key)
    assert result.ok, result.problem
    seals = [r for r in site.records() if r["event"] == "audit_sealed"]
    assert [s["details"]["epoch"] for s in seals] == [0, 0, 0, 3]
    assert [s["details"]["step"] for s in seals] == [0, 1, 2, 0]
    assert "seals: 4 valid, the last at line" in result.notes[0]
    state = site.keeping.sealing()
    assert state is not None
    assert state.index == 3 * 64 + 1  # epoch 3, one run's end into it
    assert state.key == evolve(key.key, state.index)
    # only the current key is kept, in a private file of a fixed length
    raw = site.keeping.sealing_path.read_bytes()
    assert key.key.hex() not in raw.decode() and evolve(key.key, 1).hex() not in raw.decode()
    assert stat.S_IMODE(site.keeping.sealing_path.stat().st_mode) == 0o600
    assert len(raw) == 1024
    # the key is in no record
    assert key.key.hex() not in site.log.read_text("utf-8")


def test_a_record_written_after_an_ended_epoch_is_sealed_with_that_epochs_key_first(
    site: Site,
) -> None:
    key = site.setup_keys()
    with site.writer("killed") as log:
        log.run_started({"n": 1})
        log._keeping = None
    site.clock.wait(EPOCH * 2)
    site.run()
    events = [(r["event"], r["details"].get("epoch")) for r in site.records()]
    assert events[1:] == [
        ("run_started", None),
        ("audit_sealed", 0),  # the killed run's record, by the key of its own epoch
        ("run_started", None),
        ("run_finished", None),
        ("audit_sealed", 2),
    ]
    assert site.verify(key).ok


def test_setup_keys_refuses_to_replace_the_key(site: Site) -> None:
    site.setup_keys()
    with pytest.raises(AuditError, match="already set up"):
        site.setup_keys()


def test_an_interrupted_seal_is_taken_over_by_the_next_writer(site: Site) -> None:
    key = site.setup_keys()
    before = site.keeping.sealing_path.read_bytes()
    site.run()
    site.keeping.sealing_path.write_bytes(before)  # a crash before the state was updated
    site.keeping.sealing_path.chmod(0o600)
    site.run()
    result = site.verify(key)
    assert result.ok, result.problem


# --- what the attack review found -------------------------------------------------------


def test_a_rechained_log_with_a_rewritten_anchor_is_caught_by_the_key(site: Site) -> None:
    key = site.setup_keys()
    site.run()
    site.run()
    site.run()
    records = site.records()
    victim = next(r for r in records if r["seq"] > 5 and r["event"] == "run_started")
    victim["details"] = {"roster_sha256": "00" * 32}
    rewrite(site.log, records)
    forge_state(site)
    assert site.verify().ok  # the chain and the state folder agree with the rewrite
    result = site.verify(key)
    assert not result.ok
    assert result.first_bad_line == victim["seq"]
    assert result.problem.startswith(f"line {victim['seq']}: no valid seal covers it")


def test_a_record_forged_with_a_key_taken_later_is_caught(site: Site) -> None:
    key = site.setup_keys()
    site.run()  # lines 2-4, sealed in epoch 0
    site.clock.wait(EPOCH * 4)
    site.run()  # sealed in epoch 4: the attacker takes the sealing state after this
    records = site.records()
    victim = records[key.setup_seq]  # the first record after the setup seal
    victim["details"] = {"roster_sha256": "00" * 32}
    # every seal after the setup one is dropped, and one made with the stolen key added
    kept = [r for r in records if r["event"] != "audit_sealed" or r["seq"] <= key.setup_seq]
    rewrite(site.log, seal_with_stolen_key(site, kept))
    forge_state(site)
    assert site.verify().ok
    result = site.verify(key)
    assert not result.ok
    assert result.first_bad_line == victim["seq"] == 2
    assert "with the key of epoch 4, which did not exist yet" in result.problem


def test_an_emptied_log_with_its_state_deleted_is_caught_by_the_key(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    key = site.setup_keys()
    site.run()
    key_file = site.state.parent / "inspector.key"
    key_file.write_text(key.to_text() + "\n", encoding="utf-8")
    site.log.write_bytes(b"")
    for path in site.state.iterdir():
        path.unlink()
    assert main(["audit", "verify", "--file", str(site.log)]) == 0
    assert "seals not checked (no --key)" in capsys.readouterr().out
    assert main(["audit", "verify", "--file", str(site.log), "--key", str(key_file)]) == 9
    err = capsys.readouterr().err
    assert "BROKEN: line 1: missing: the verification key says syncbot wrote its first" in err


def test_the_state_alone_shows_an_emptied_log(site: Site) -> None:
    site.setup_keys()
    site.run()
    site.log.write_bytes(b"")
    site.keeping.anchor_path.unlink()  # the sealing state still counts the seals
    result = site.verify()
    assert not result.ok
    assert result.first_bad_line == 1
    assert "the last seal recorded writing line" in result.problem


def test_a_cut_refused_run_record_is_caught(site: Site) -> None:
    key = site.setup_keys()
    site.run()
    length = len(site.log.read_bytes())
    site.run(result="refused")  # the anchor moves after a refused run too
    assert site.keeping.anchor() == (site.records()[-1]["seq"], site.records()[-1]["hash"])
    with site.log.open("r+b") as handle:
        handle.truncate(length)
    result = site.verify(key)
    assert not result.ok
    assert result.first_bad_line == len(site.records()) + 1
    assert "missing" in result.problem


def test_records_added_after_the_last_seal_are_named_once_their_epoch_is_over(
    site: Site,
) -> None:
    key = site.setup_keys()
    site.run()
    with site.writer("killed") as log:  # killed before its close: nothing sealed it
        log.run_started({"n": 1})
        log._keeping = None
    unsealed = site.records()[-1]["seq"]
    young = site.verify(key, later=EPOCH / 3)
    assert young.ok, young.problem
    assert young.notes[1].startswith(f"1 records after line {unsealed - 1} not yet sealed")
    old = verify_chain(site.log, checks=[SealCheck(key, site.clock.now + EPOCH * 2)])
    assert not old.ok
    assert old.first_bad_line == unsealed
    assert "no seal covers it" in old.problem


def test_a_verification_key_of_another_installation_fails_at_the_setup_seal(
    site: Site, tmp_path: Path
) -> None:
    site.setup_keys()
    site.run()
    other = Site(tmp_path / "other")
    other_key = other.setup_keys()
    result = verify_chain(site.log, checks=[SealCheck(other_key, site.clock.now)])
    assert not result.ok
    assert result.first_bad_line == other_key.setup_seq


# --- the journal as a witness -------------------------------------------------------------


def journal_export(stderr: str, *, console: bool = False) -> str:
    """What `journalctl -u syncbot -o json` gives for these stderr lines."""
    return "".join(
        json.dumps({"MESSAGE": line, "_SYSTEMD_UNIT": "syncbot.service", "PRIORITY": "6"}) + "\n"
        for line in stderr.splitlines()
    )


def test_heads_in_the_journal_catch_a_rewrite_the_state_cannot(
    site: Site, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    configure_logging("json", "warning")  # heads pass even when logs are quietened
    try:
        site.setup_keys()
        site.run()
        site.run()
        stderr = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
    heads_file = tmp_path / "journal.json"
    heads_file.write_text(journal_export(stderr), encoding="utf-8")
    heads = read_heads(heads_file)
    seals = [r for r in site.records() if r["event"] == "audit_sealed"]
    assert [(h.seq, h.hash) for h in heads] == [(s["seq"], s["hash"]) for s in seals]
    assert verify_chain(site.log, checks=[HeadsCheck(heads, "journal")]).ok

    # the attacker rewrites the log, re-seals with the key they took, fixes the state
    records = site.records()
    records[2]["details"] = {"roster_sha256": "00" * 32}
    kept = [r for r in records if r["event"] != "audit_sealed" or r["seq"] <= 2]
    rewrite(site.log, seal_with_stolen_key(site, kept))
    forge_state(site)
    assert site.verify().ok
    result = verify_chain(site.log, checks=[*site.local_checks(), HeadsCheck(heads, "journal")])
    assert not result.ok
    assert "differs from the head the journal witnessed" in result.problem


def test_heads_are_read_from_console_lines_and_plain_json_lines(tmp_path: Path) -> None:
    digest = "ab" * 32
    console = (
        f"2026-03-02T08:00:01Z [info     ] \x1b[1maudit_head\x1b[0m  epoch=0 hash={digest} "
        "mac=cd seq=7 step=1"
    )
    plain = json.dumps({"event": "audit_head", "seq": 9, "hash": digest, "level": "info"})
    other = json.dumps({"MESSAGE": json.dumps({"event": "run_finished", "seq": 3})})
    path = tmp_path / "heads"
    path.write_text("\n".join([json.dumps({"MESSAGE": console}), plain, other, "noise"]) + "\n")
    assert [(h.seq, h.hash) for h in read_heads(path)] == [(7, digest), (9, digest)]


def test_heads_beyond_the_end_of_the_log_name_the_missing_line(site: Site, tmp_path: Path) -> None:
    site.setup_keys()
    site.run()
    path = tmp_path / "heads"
    path.write_text(json.dumps({"event": "audit_head", "seq": 40, "hash": "ef" * 32}) + "\n")
    result = verify_chain(site.log, checks=[HeadsCheck(read_heads(path), "journal")])
    records = len(site.records())
    assert not result.ok and result.first_bad_line == records + 1
    assert "witnessed line 40" in result.problem


# --- readers of the log ---------------------------------------------------------------


def test_readers_skip_seals_or_show_them_as_run_events(site: Site) -> None:
    site.setup_keys()
    site.run()
    assert list(iter_records(site.log)) == []  # no change records: seals are not changes
    lines = list(render_records(iter_records(site.log, include_runs=True)))
    assert sum(" sealed 2026-03-02" in line for line in lines) == 2


def test_a_close_with_the_state_seals_records_written_without_it(site: Site) -> None:
    key = site.setup_keys()
    with AuditLog(site.log, run_id="approval", actor=ACTOR, clock=site.clock) as log:
        log.run_finished({"result": "refused"})
    assert site.keeping.anchor() != (site.records()[-1]["seq"], site.records()[-1]["hash"])
    AuditLog(site.log, run_id="r", actor=ACTOR, clock=site.clock, keeping=site.keeping).close()
    last = site.records()[-1]
    assert last["event"] == "audit_sealed"
    assert site.keeping.anchor() == (last["seq"], last["hash"])
    assert site.verify(key).ok
