"""The smaps classifier: thread stacks above their guard, malloc arenas on their 64 MiB boundary."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loadtest.mappings import ARENA_ALIGNMENT, CLASSES, classify, parse, resident_by_class


def block(start: int, end: int, perms: str, rss_kb: int, path: str = "", inode: int = 0) -> str:
    return (f"{start:x}-{end:x} {perms} 00000000 00:00 {inode}    {path}\n"
            f"Size: {(end - start) // 1024} kB\nRss: {rss_kb} kB\nPss: {rss_kb} kB\nVmFlags: rd wr\n")


def test_each_mapping_lands_in_its_class_and_the_classes_sum_to_the_rss() -> None:
    arena = 3 * ARENA_ALIGNMENT
    text = "".join([
        block(0x400000, 0x401000, "r-xp", 4, "/usr/bin/python3", inode=7),
        block(0x500000, 0x600000, "rw-p", 900, "[heap]"),
        block(arena - 0x100000, arena, "---p", 0),  # the previous arena's reserve ...
        block(arena, arena + 0x200000, "rw-p", 300),  # ... does not make this arena a stack
        block(arena + 0x200000, arena + ARENA_ALIGNMENT, "---p", 0),
        block(0x7F0000000000, 0x7F0000001000, "---p", 0),
        block(0x7F0000001000, 0x7F0000801000, "rw-p", 40),
        block(0x7F0000900000, 0x7F0000A00000, "rw-p", 1024),
        block(0x7FFF00000000, 0x7FFF00021000, "rw-p", 16, "[stack]"),
    ])
    totals = classify(parse(text))
    assert totals == {"thread_stacks": 40, "malloc_arenas": 300, "heap": 900, "main_stack": 16,
                      "files": 4, "anon_other": 1024}
    assert sum(totals.values()) == sum(m.rss_kb for m in parse(text))


#: A fresh interpreter that starts four threads with deep stacks when told to: measured in its own
#: process, since glibc reuses the stacks of threads that ended, and the test process has had many.
THREADS_ON_CUE = """
import sys, threading
release, deepest = threading.Event(), threading.Barrier(5)
def deep(level):  # touch stack pages so that they are resident
    if level:
        deep(level - 1)
    else:
        deepest.wait()
        release.wait()
print("ready", flush=True)
sys.stdin.readline()
for _ in range(4):
    threading.Thread(target=deep, args=(200,), daemon=True).start()
deepest.wait()
print("started", flush=True)
sys.stdin.readline()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/<pid>/smaps is Linux's")
def test_a_live_process_shows_its_threads_stacks() -> None:
    with subprocess.Popen([sys.executable, "-c", THREADS_ON_CUE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            assert child.stdout.readline().strip() == "ready"
            before = resident_by_class(child.pid)
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "started"
            during = resident_by_class(child.pid)
        finally:
            child.kill()
    assert before is not None and during is not None and set(during) == set(CLASSES)
    assert during["thread_stacks"] > before["thread_stacks"], "four more threads, four more resident stacks"


def test_a_process_that_is_gone_gives_none() -> None:
    assert resident_by_class(2**22 + 12345) is None
