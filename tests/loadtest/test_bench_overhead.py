"""The overhead benchmark: the status-poll section reports each job size; the storage media it compares."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from loadtest.bench_overhead import file_system, media, status_poll_cost


def test_the_status_poll_section_reports_every_size_in_milliseconds() -> None:
    section = status_poll_cost(sizes=(3, 7), polls=2)
    assert [row[0] for row in section.rows] == ["3", "7"]
    for row in section.rows:
        document, listing = float(row[1]), float(row[2])
        assert document > 0 and listing > 0 and row[3].startswith("x")


def test_the_storage_media_are_the_temp_folder_first_and_memory_only_where_it_is_a_tmpfs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert file_system(Path("/proc")) == "proc"
    assert file_system(Path("/proc/self/status")) == "proc", "a path inside a mount has the mount's type"
    found = media()
    assert found[0].parent is None and found[0].label.startswith(tempfile.gettempdir())
    assert all(medium.label.endswith(", tmpfs") for medium in found[1:])
    monkeypatch.setattr("loadtest.bench_overhead.MEMORY", tmp_path / "missing")
    assert [medium.parent for medium in media()] == [None]
