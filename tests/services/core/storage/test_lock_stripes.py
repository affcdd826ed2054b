"""Lock stripes: a key's stripe excludes other processes, a forked child included."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from services.core.storage.local import LocalBackend
from services.core.storage.lock_stripes import LockStripes


def test_a_forked_process_locks_against_its_parent_not_with_it(tmp_path: Path) -> None:
    # flock belongs to the open file: a child that kept its parent's lock files would take the lock the
    # parent holds as its own (a compare-and-swap in each could both pass), and the thread lock the
    # parent holds at the fork would stay held for ever in the child
    stripes = LockStripes(tmp_path)
    stripe = LockStripes.stripe_of("jobs/1/job.json")
    read_end, write_end = os.pipe()
    with stripes.held("jobs/1/job.json"):
        pid = os.fork()
        if pid == 0:  # the child: try the stripe without waiting, report, leave without pytest's cleanup
            try:
                os.close(read_end)
                answer = b"thread lock stuck"
                if stripes.thread_lock(stripe).acquire(timeout=5):
                    try:
                        fcntl.flock(stripes.file(stripe), fcntl.LOCK_EX | fcntl.LOCK_NB)
                        answer = b"both held it"
                    except BlockingIOError:
                        answer = b"excluded"
                os.write(write_end, answer)
            finally:
                os._exit(0)
        os.close(write_end)
        answer = os.read(read_end, 64)
        os.close(read_end)
        os.waitpid(pid, 0)
    assert answer == b"excluded"


def test_a_key_and_a_folder_of_the_same_name_never_share_a_stripe() -> None:
    assert LockStripes.stripe_of("jobs/1") != LockStripes.stripe_of("jobs/1", folder=True)


def test_the_local_storage_takes_its_locks_from_its_stripes(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.put("jobs/1/job.json", b"0")
    backend.put("jobs/1/job.json", b"1", if_match=backend.head("jobs/1/job.json").etag)
    assert sorted(path.name for path in (tmp_path / "locks").iterdir()) == [
        f"{LockStripes.stripe_of('jobs/1/job.json'):02d}"], "one lock file, the job's stripe's"
    backend.close()
