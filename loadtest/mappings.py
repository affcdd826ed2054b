"""Where a Linux process's resident memory lives: ``/proc/<pid>/smaps`` summed into named classes.

The soak (``python -m loadtest.soak --mappings``) samples this for every process so that a rising RSS
can be pinned to the kind of memory that rises, which neither tracemalloc, memray nor the C heap's
statistics can see on their own. The classes, from the kernel's mapping list:

- ``thread_stacks``: anonymous read-write mappings directly above a ``---p`` guard page, which is
  how glibc's ``pthread_create`` lays out a thread's stack; resident pages there are the deepest
  call each thread has made so far (bounded by the stack size);
- ``malloc_arenas``: anonymous read-write mappings that start on a 64 MiB boundary and are followed
  by a ``---p`` reserve, glibc's per-thread malloc arenas (the main arena is ``heap``);
- ``heap``: the ``[heap]`` (brk) segment, glibc's main arena;
- ``main_stack``: ``[stack]``;
- ``files``: anything backed by a file (shared libraries, mapped files);
- ``anon_other``: every other anonymous mapping: pymalloc's arenas, large ``malloc`` blocks served
  by ``mmap``, numpy buffers (the kernel merges neighbouring ones, so they are not told apart).

Figures are resident kB (the ``Rss:`` field); the classes sum to the process's RSS as the kernel
counts it in smaps. Linux only: elsewhere, or for a process that has gone, it returns ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CLASSES = ("thread_stacks", "malloc_arenas", "heap", "main_stack", "files", "anon_other")
ARENA_ALIGNMENT = 64 * 2**20  # glibc's HEAP_MAX_SIZE on 64-bit: non-main arenas are aligned to it
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$")


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    perms: str
    inode: int
    path: str
    rss_kb: int

    @property
    def anonymous(self) -> bool:
        return self.inode == 0 and not self.path


def parse(text: str) -> list[Mapping]:
    """The mappings of one smaps text, in address order, with their resident kB."""
    mappings: list[Mapping] = []
    header: tuple[int, int, str, int, str] | None = None
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            start, end, perms, inode, path = match.groups()
            header = (int(start, 16), int(end, 16), perms, int(inode), path.strip())
        elif line.startswith("Rss:") and header is not None:
            mappings.append(Mapping(*header, rss_kb=int(line.split()[1])))
            header = None
    return mappings


def classify(mappings: list[Mapping]) -> dict[str, int]:
    """Resident kB per class (every class present, zero when empty)."""
    totals = dict.fromkeys(CLASSES, 0)
    for index, mapping in enumerate(mappings):
        totals[_class_of(mapping, mappings[index - 1] if index else None,
                         mappings[index + 1] if index + 1 < len(mappings) else None)] += mapping.rss_kb
    return totals


def _class_of(mapping: Mapping, before: Mapping | None, after: Mapping | None) -> str:
    if mapping.path == "[heap]":
        return "heap"
    if mapping.path == "[stack]":
        return "main_stack"
    if not mapping.anonymous:
        return "files"
    if mapping.perms.startswith("rw"):
        # Arena first: an arena's start is also the end of the previous arena's ---p reserve.
        if (mapping.start % ARENA_ALIGNMENT == 0 and after is not None and after.start == mapping.end
                and after.perms.startswith("---")):
            return "malloc_arenas"
        if before is not None and before.end == mapping.start and before.perms.startswith("---"):
            return "thread_stacks"
    return "anon_other"


def resident_by_class(pid: int) -> dict[str, int] | None:
    """``classify`` of a live process, or ``None`` when its smaps cannot be read."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return None
    return classify(parse(text))
