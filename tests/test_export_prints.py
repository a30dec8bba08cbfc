"""The prints file of the last roster applied whole: read back as written, kept in memory
while the file is unchanged, and never trusted once it changed or is torn."""

from __future__ import annotations

from pathlib import Path

from syncbot.roster.prints import AppliedExport, ExportPrints


def export(n: int, sha: str = "a" * 64) -> AppliedExport:
    return AppliedExport(sha, {f"NV{i:03d}": f"{i:020d}" for i in range(n)})


def test_prints_read_back_as_written(tmp_path: Path) -> None:
    prints = ExportPrints(tmp_path / "export-prints.tsv")
    assert prints.load() is None
    prints.save(export(5))
    assert ExportPrints(tmp_path / "export-prints.tsv").load() == export(5)


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "export-prints.tsv"
    prints = ExportPrints(path)
    prints.save(export(5))
    kept = prints.load()
    # the very object kept, not the same prints parsed again
    assert kept is not None and prints.load() is kept
    assert ExportPrints(path).load() is kept


def test_a_file_changed_behind_its_back_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "export-prints.tsv"
    first = ExportPrints(path)
    first.save(export(5))
    assert first.load() == export(5)
    other = tmp_path / "other.tsv"
    ExportPrints(other).save(export(7, "b" * 64))
    other.replace(path)  # another process (a restore from backup) put other prints there
    assert first.load() == export(7, "b" * 64)
    with path.open("ab") as file:
        file.write(b"0123")  # torn: the last line does not end
    assert first.load() is None
    path.unlink()
    assert first.load() is None
