"""The queue path's refresh: where its storage work runs (inline on local files, in a thread otherwise)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from router.paths.queue import QueuePath
from services.core.settings import Settings
from services.core.storage.local import LocalBackend
from services.queue.pipeline import Pipeline, build_pipeline
from tests.support.storages import NetworkLike


def threads_of_admissions(pipeline: Pipeline) -> list[int]:
    seen: list[int] = []
    admit = pipeline.admit_refresh

    def spying(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        return admit(*args, **kwargs)

    pipeline.admit_refresh = spying  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize(("storage_class", "inline"), [(LocalBackend, True), (NetworkLike, False)])
def test_a_refresh_does_its_storage_work_inline_only_on_local_files(tmp_path: Path, storage_class: type,
                                                                    inline: bool) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path)})
    pipeline = build_pipeline(settings, storage=storage_class(tmp_path / "storage"))
    seen = threads_of_admissions(pipeline)
    with ThreadPoolExecutor(max_workers=1) as sender:
        queue = QueuePath(pipeline, settings.freshness_seconds, sender)

        async def refresh() -> tuple[int, str | None]:
            run = await queue.start("octocat", True)
            return threading.get_ident(), run.job.job_id if run.job else None

        try:
            loop_thread, job_id = asyncio.run(refresh())
        finally:
            pipeline.close()
    assert job_id is not None and len(seen) == 1
    assert (seen[0] == loop_thread) is inline
