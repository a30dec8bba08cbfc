"""End to end: `syncbot audit setup-keys`, real runs against slapd, and the inspector's
`syncbot audit verify --key/--heads` on the log after the service account rewrote it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_audit_seal import rewrite
from test_cli_e2e import sample  # noqa: F401 - the fixture

from localdev.slapd import SlapdServer
from syncbot.audit.keeping import Keeping
from syncbot.audit.seal import SealFields

pytestmark = pytest.mark.slapd
REPO = Path(__file__).resolve().parent.parent


def syncbot(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python -m syncbot` as its own process, its stderr what the journal would keep."""
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path, "SYNCBOT_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "syncbot", "--config", str(config), *argv],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def journal(stderr: str) -> str:
    """`journalctl -u syncbot -o json` for what the service wrote to stderr."""
    return "".join(
        json.dumps({"MESSAGE": line, "_SYSTEMD_UNIT": "syncbot.service"}) + "\n"
        for line in stderr.splitlines()
    )


def test_real_runs_are_sealed_and_rewrites_are_caught(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    tmp_path: Path,
) -> None:
    log = sample.parent / "audit" / "audit.jsonl"
    state = sample.parent / "state"
    keeping = Keeping(state / "audit-anchor.json", state / "audit-sealing.json")
    key = tmp_path / "inspector.key"

    setup = syncbot(sample, "audit", "setup-keys", "--verify-key-out", str(key))
    assert setup.returncode == 0, setup.stderr
    assert key.read_text("utf-8").strip() in setup.stdout  # printed once, for the inspector
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(keeping.sealing_path.stat().st_mode) == 0o600
    witnessed = setup.stderr

    applied = syncbot(sample, "apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    witnessed += applied.stderr
    records = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert records[-1]["event"] == "audit_sealed"
    assert keeping.anchor() == (records[-1]["seq"], records[-1]["hash"])

    checked = syncbot(sample, "audit", "verify", "--key", str(key))
    assert checked.returncode == 0, checked.stderr
    assert "seals: 2 valid" in checked.stdout
    plain = syncbot(sample, "audit", "verify")
    assert plain.returncode == 0
    assert "seals not checked (no --key)" in plain.stdout

    # A refused run: its record is sealed and the anchor follows it.
    roster = sample.parent / "nhan-su.csv"
    lines = roster.read_text("utf-8").splitlines(keepends=True)
    roster.write_text("".join(lines[:40]), encoding="utf-8")  # an export cut short
    refused = syncbot(sample, "apply", "--yes")
    assert refused.returncode == 4, refused.stderr
    witnessed += refused.stderr
    after = log.read_bytes()
    assert len(after.splitlines()) > len(records)
    assert keeping.anchor() == (len(after.splitlines()), json.loads(after.splitlines()[-1])["hash"])
    heads = tmp_path / "journal.json"
    heads.write_text(journal(witnessed), encoding="utf-8")
    assert (
        syncbot(sample, "audit", "verify", "--key", str(key), "--heads", str(heads)).returncode == 0
    )

    # Cutting the refused run's records off is named.
    log.write_bytes(b"".join(after.splitlines(keepends=True)[: len(records)]))
    cut = syncbot(sample, "audit", "verify", "--key", str(key))
    assert cut.returncode == 9
    assert f"BROKEN: line {len(records) + 1}: missing" in cut.stderr
    log.write_bytes(after)

    # Re-chaining after an edit, with the anchor and the sealing state rewritten to match.
    edited = [json.loads(line) for line in after.splitlines()]
    victim = next(r for r in edited if r["event"] == "change")
    victim["reason"] = {"vi": "Sửa lại", "en": "Rewritten"}
    rewrite(log, edited)
    edited = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    last = edited[-1]
    keeping.move_anchor(last["seq"], last["hash"])
    sealing = keeping.sealing()
    assert sealing is not None
    sealed = next(r for r in reversed(edited) if r["event"] == "audit_sealed")
    fields = SealFields.from_record(sealed)
    keeping.save_sealing(sealing.sealed(fields, sealed["seq"], sealed["hash"]))
    assert syncbot(sample, "audit", "verify").returncode == 0  # the chain alone is fooled
    caught = syncbot(sample, "audit", "verify", "--key", str(key))
    assert caught.returncode == 9
    # The run's seal no longer covers its records: the first of them is named.
    first = next(r["seq"] for r in edited if r["seq"] > 1 and r["run_id"] == victim["run_id"])
    assert first <= victim["seq"]
    assert f"BROKEN: line {first}: no valid seal covers it" in caught.stderr

    # The inspector's copy, checked away from the server with the key and the journal.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(log.read_bytes())
    witness = syncbot(sample, "audit", "verify", "--file", str(copy), "--heads", str(heads))
    assert witness.returncode == 9
    assert "differs from the head the journal witnessed" in witness.stderr
