"""The worker loads the export for every push: the same bytes are parsed once.

Reuse is decided by the file's sha256 and every option the rows depend on, never by
its name or timestamps, so a changed byte, another sheet or another vocabulary is
always parsed afresh.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_roster import ACTIVE, DEPARTED, VOCAB, write_csv

from syncbot.match_keys import fold
from syncbot.model import Status
from syncbot.roster import load_roster


def test_the_same_bytes_are_parsed_once(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    first = load_roster(path, VOCAB, reuse=True)
    path.write_bytes(path.read_bytes())  # rewritten, same content: a new mtime
    assert load_roster(path, VOCAB, reuse=True) is first


def test_a_changed_byte_is_parsed_afresh(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    first = load_roster(path, VOCAB, reuse=True)
    write_csv(tmp_path, [ACTIVE, [*DEPARTED[:5], "Đang công tác", "", "", ""]])
    second = load_roster(path, VOCAB, reuse=True)
    assert second is not first and second.sha256 != first.sha256
    assert second.rows[1].status is Status.ACTIVE


def test_another_vocabulary_or_option_is_parsed_afresh(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    first = load_roster(path, VOCAB, reuse=True)
    statuses = {**VOCAB.statuses, fold("Nghỉ hưu"): Status.ACTIVE}
    other = load_roster(path, dataclasses.replace(VOCAB, statuses=statuses), reuse=True)
    assert other is not first and other.rows[1].status is Status.ACTIVE
    assert load_roster(path, VOCAB, delimiter=",", reuse=True) is not other


def test_a_roster_loaded_without_reuse_neither_reuses_nor_evicts(tmp_path: Path) -> None:
    """Pushed rows are validated through load_roster too: they must not evict the export."""
    export = write_csv(tmp_path)
    first = load_roster(export, VOCAB, reuse=True)
    other = write_csv(tmp_path, [ACTIVE], name="push.csv")
    assert load_roster(other, VOCAB) is not load_roster(other, VOCAB)
    assert load_roster(export, VOCAB, reuse=True) is first
    assert load_roster(export, VOCAB) is not first
