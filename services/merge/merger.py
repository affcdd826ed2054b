"""Merge per-repo records into a bundle, streaming, in batches (never the whole portfolio in memory).

Records are read in batches of :data:`BATCH_SIZE` in listing order, encoded, written to storage as
one streamed blob, and their fingerprints fed to an incremental bundle fingerprint. The bundle
appears atomically when the write completes; readers see the old bundle until then. Records that are
byte for byte the stored bundle's leave it as it is (``written`` False): a forced refresh that found
nothing new does not change the ETag a polling client holds. The streamed read-and-write is the
merge's ``save_to_cache`` span.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from services.core import tracing
from services.core.cache import BundleCache, encode_record
from services.core.crashpoints import crash_point
from services.core.fingerprints import BundleFingerprint, ContentFingerprint

#: Records read and encoded per batch.
BATCH_SIZE = 50


@dataclass
class MergeResult:
    """What a merge wrote."""

    bundle_fingerprint: str
    repos_count: int
    content_fingerprint: str
    documented: int
    missing: list[str] = field(default_factory=list)
    written: bool = True  # False: the stored bundle already held these records, and was left as it was


def merge_bundle(
    cache: BundleCache, username: str, repo_names: Sequence[str], *, batch_size: int = BATCH_SIZE,
    rewrite_unchanged: bool = False,
) -> MergeResult:
    """Write the bundle of ``repo_names`` (listing order) from stored records; skip absent ones.
    ``rewrite_unchanged`` writes it even when the stored bundle holds the same records."""
    digest = BundleFingerprint()
    content = ContentFingerprint()
    missing: list[str] = []

    def encoded_records() -> Iterator[bytes]:
        half = len(repo_names) // 2
        for start in range(0, len(repo_names), batch_size):
            batch = []
            for name in repo_names[start:start + batch_size]:
                cached = cache.load_record(username, name)
                if cached is None:
                    missing.append(name)
                    continue
                batch.append(cached.data)
            for record in batch:
                digest.add(record.get("fingerprint", ""))
                content.add(record)
                if len(digest) == half:
                    crash_point("mid_merge")  # a chaos test kills the worker here: nothing half-written shows
                yield encode_record(record)

    # the fingerprint is known only once the stream is consumed; the storage backend asks for the
    # metadata after the last chunk, so body and fingerprint are published together
    with tracing.span(tracing.SAVE_TO_CACHE, username=username):
        written = cache.save_bundle_stream(username, encoded_records(), digest.hexdigest,
                                           rewrite_unchanged=rewrite_unchanged)
    return MergeResult(
        bundle_fingerprint=digest.hexdigest(),
        repos_count=len(digest),
        content_fingerprint=content.hexdigest(),
        documented=content.documented,
        missing=missing,
        written=written,
    )
