"""LocalSource: the sample portfolio and arbitrary folders look like GitHub."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from services.core.components import make_source
from services.core.errors import InvalidName, SettingsError
from services.core.fingerprints import metadata_fingerprint
from services.core.settings import Settings
from services.core.sources import UserNotFound
from services.core.sources.local import LocalSource, read_file_text, sample_portfolio_root
from tests.support.services import unavailable

FIXTURES = Path(__file__).resolve().parents[4].parent / "shared" / "fixtures" / "legacy-samples" / "repos"


def test_sample_portfolio_has_yungryce_and_octocat() -> None:
    source = LocalSource(sample_portfolio_root())
    assert source.users() == ["octocat", "yungryce"]
    repos = source.list_repos("yungryce")
    assert len(repos) == 16
    assert [r["name"] for r in repos] == sorted((r["name"] for r in repos), key=str.lower)
    assert len(source.list_repos("octocat")) == 3
    for repo in repos:
        for field in ("id", "updated_at", "pushed_at", "size", "default_branch", "language", "description", "topics"):
            assert field in repo, (repo["name"], field)
        assert repo["owner"]["login"] == "yungryce"


def test_sample_documents_are_the_fixtures_byte_for_byte() -> None:
    if not FIXTURES.is_dir():
        unavailable(f"shared fixtures are not beside this checkout ({FIXTURES})")
    source = LocalSource(sample_portfolio_root())
    for meta in source.list_repos("yungryce"):
        docs = source.fetch_documents("yungryce", meta)
        fixture = FIXTURES / meta["name"]
        readme = fixture / "README.md"
        assert docs.readme == (readme.read_text("utf-8") if readme.exists() else None)
        context = fixture / ".repo-context.json"
        assert docs.repo_context == (context.read_text("utf-8") if context.exists() else None)


def test_folder_without_metadata_gets_derived_stable_metadata(tmp_path: Path) -> None:
    repo = tmp_path / "alice" / "tool"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "main.py").write_text("print('hi')\n")
    (repo / "README.md").write_text("# tool\n")
    (repo / ".repo-context.json").write_text(json.dumps({"project_identity": {"name": "tool"}}))
    source = LocalSource(tmp_path)
    [meta] = source.list_repos("alice")
    assert meta["language"] == "Python" and meta["default_branch"] == "main"
    assert metadata_fingerprint(meta) == metadata_fingerprint(source.list_repos("alice")[0])
    docs = source.fetch_documents("alice", meta)
    assert sorted(docs.paths) == [".repo-context.json", "README.md", "src/main.py"]


def test_unknown_user_and_crafted_names(tmp_path: Path) -> None:
    source = LocalSource(tmp_path)
    with pytest.raises(UserNotFound):
        source.list_repos("nobody")
    with pytest.raises(InvalidName):
        source.list_repos("../etc")
    (tmp_path / "bob").mkdir()
    with pytest.raises(InvalidName):
        source.fetch_documents("bob", {"name": "../../etc"})


def test_an_unknown_user_names_the_user_and_never_the_folder(tmp_path: Path) -> None:
    source = LocalSource(tmp_path)
    with pytest.raises(UserNotFound) as caught:
        source.list_repos("nobody")
    assert str(caught.value) == "unknown GitHub user 'nobody'" and str(tmp_path) not in str(caught.value)


def test_a_local_source_folder_that_does_not_exist_is_a_configuration_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "x")
    settings = Settings.from_env({"CLOUDFOLIO_REPO_SOURCE": "local", "CLOUDFOLIO_LOCAL_SOURCE_DIR": missing})
    with pytest.raises(SettingsError, match="CLOUDFOLIO_LOCAL_SOURCE_DIR"):
        make_source(settings)


def test_documents_that_are_folders_or_undecodable_are_read_as_before(tmp_path: Path) -> None:
    repo = tmp_path / "u" / "r"
    (repo / "README.md").mkdir(parents=True)  # a folder named like a document is no document
    (repo / "ARCHITECTURE.md").write_bytes(b"caf\xe9 " + b"x" * 70_000)  # not UTF-8, bigger than one read
    (repo / "_tree.tsv").write_text("100644\tblob\t12\tmain.py\n040000\ttree\t-\tsrc\n", "utf-8")
    source = LocalSource(tmp_path)
    docs = source.fetch_documents("u", {"name": "r"})
    assert docs.readme is None
    assert docs.architecture == "caf\ufffd " + "x" * 70_000
    assert docs.paths == ["main.py"]
    assert read_file_text(repo / "missing") is None and read_file_text(repo / "README.md") is None


@pytest.mark.parametrize("content", [b"a\r\nb\rc\n", b"\r", b"x\r\r\n\ny", b"\xff\r\n\xe9", b"",
                                     b"caf\xc3\xa9\r\n" * 9000])
def test_a_document_reads_exactly_as_read_text_reads_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "README.md"
    path.write_bytes(content)
    assert read_file_text(path) == path.read_text("utf-8", errors="replace")


def test_a_document_is_read_in_one_call_unless_it_grew_after_its_size_was_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "README.md"
    path.write_bytes(b"0123456789" * 10_000)
    reads: list[int] = []
    real_read, real_fstat = os.read, os.fstat

    def counted_read(fd: int, size: int) -> bytes:
        reads.append(size)
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", counted_read)
    assert read_file_text(path) == path.read_text() and len(reads) == 1

    # the file "grew" between the fstat and the read: the rest is read to the end
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 10, *real_fstat(fd)[7:])))
    reads.clear()
    assert read_file_text(path) == path.read_text() and len(reads) > 1


def test_a_fifo_or_a_symlink_loop_named_like_a_document_is_no_document(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "README.md")  # no writer: a blocking open would wait forever
    (tmp_path / "ARCHITECTURE.md").symlink_to(tmp_path / "ARCHITECTURE.md")
    assert read_file_text(tmp_path / "README.md") is None
    assert read_file_text(tmp_path / "ARCHITECTURE.md") is None
