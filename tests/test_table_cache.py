"""The results table kept in the user's cache (sweeps.table_cache): served while the folder's files are unchanged,
read afresh after a record is appended or the plan rewritten, never trusted when unreadable, off on request."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from sweeps import SweepFolder, load_results, store, table_cache
from tests.planted import append_line

RELEASED = Path(__file__).parent / "data" / "released-sweep"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(table_cache, "MIN_MODELS", 1)
    shutil.copytree(RELEASED, tmp_path / "sweep")
    return SweepFolder(tmp_path / "sweep")


def kept(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "tables").glob("*.pkl"))


def test_an_unchanged_folder_is_served_from_the_cache(folder, tmp_path, monkeypatch):
    first = load_results(folder.path)
    assert len(kept(tmp_path)) == 1
    monkeypatch.setattr(store, "_read_results", lambda path: pytest.fail("read again"))
    pd.testing.assert_frame_equal(load_results(folder.path), first)


def test_an_appended_record_or_a_rewritten_plan_reads_the_folder_again(folder, tmp_path):
    first = load_results(folder.path)
    record = folder.records()[0]
    append_line(folder, {**record.to_dict(), "status": "failed", "message": "planted", "result": None})
    again = load_results(folder.path)
    assert again.set_index("id").loc[record.id, "status"] == "failed"
    assert first.set_index("id").loc[record.id, "status"] == "ok"
    plan = folder.plan()
    folder.write_plan(plan[:1] + plan[1:])  # the same rows, a new file
    pd.testing.assert_frame_equal(load_results(folder.path), again)
    assert len(kept(tmp_path)) == 1  # one file per folder, rewritten


def test_an_unreadable_cache_file_is_read_past(folder, tmp_path):
    first = load_results(folder.path)
    kept(tmp_path)[0].write_bytes(b"not a pickle")
    pd.testing.assert_frame_equal(load_results(folder.path), first)


def test_small_folders_and_a_cache_turned_off_write_nothing(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("ANYNET_CACHE_TABLES", "off")
    load_results(folder.path)
    assert kept(tmp_path) == []
    monkeypatch.delenv("ANYNET_CACHE_TABLES")
    monkeypatch.setattr(table_cache, "MIN_MODELS", 10_000)
    load_results(folder.path)
    assert kept(tmp_path) == []
