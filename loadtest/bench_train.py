"""Fine-tuning time and peak memory for a 15-repo and a 50-repo portfolio, with the default
training settings (the legacy's: batch 8, 2 epochs, 50 warm-up steps, at most 150 pairs).

The 15-repo portfolio is the sample user's documented repos; the 50-repo one repeats them with
varied names. Each size trains in its own process (peak RSS is per run), side by side in one run,
on the CPU here, or on a GPU where one is present (``--device cuda``).

    python -m loadtest.bench_train --record
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def portfolio(size: int) -> list[dict]:
    from services.core.cache import BundleCache
    from services.core.keys import CacheKeys
    from services.core.sources.local import LocalSource, sample_portfolio_root
    from services.core.storage.local import LocalBackend
    from services.legacy.pipeline import refresh_inline

    with tempfile.TemporaryDirectory(prefix="cf-bench-train-") as folder:
        cache = BundleCache(LocalBackend(folder), CacheKeys())
        refresh_inline(LocalSource(sample_portfolio_root()), cache, "yungryce")
        documented = [r for r in cache.load_bundle("yungryce").data if r["has_documentation"]]
    records = []
    for index in range(size):
        base = documented[index % len(documented)]
        copy = json.loads(json.dumps(base))
        if index >= len(documented):  # a variant: another name, a little different text
            copy["name"] = f"{base['name']}-v{index // len(documented)}"
            copy["readme"] = f"{base['readme']}\n\nVariant {index} of {base['name']}."
        records.append(copy)
    return records


def run_one(size: int, device: str, max_tokens: int) -> dict:
    from services.core.storage.local import LocalBackend
    from services.train.model import TrainParams
    from services.train.store import ModelStore
    from services.train.trainer import train_bundle

    records = portfolio(size)
    with tempfile.TemporaryDirectory(prefix="cf-bench-model-") as folder:  # the model archive: ~90 MB
        store = ModelStore(LocalBackend(folder), Path(folder) / "cache")
        started = time.perf_counter()
        outcome = train_bundle(store, "yungryce", records, TrainParams(device=device, max_tokens=max_tokens))
        wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = outcome.metadata
    return {
        "repos": size,
        "max_tokens": max_tokens,
        "documented": meta.get("documented", size),
        "pairs": meta["pairs"],
        "steps": meta["steps"],
        "train_seconds": meta["train_seconds"],
        "total_seconds": round(wall, 1),
        "peak_rss_mb": round(peak_mb),
        "device": meta["device"],
        "loss": meta["loss"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="15,50")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--max-tokens",
        default="128",
        help="tokens per training text, comma-separated to compare (default 128, the setting's)",
    )
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.device, int(args.max_tokens))))
        return 0
    rows = []
    cases = [(int(s), int(t)) for s in args.sizes.split(",") for t in args.max_tokens.split(",")]
    for size, tokens in cases:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "loadtest.bench_train",
                "--one",
                str(size),
                "--device",
                args.device,
                "--max-tokens",
                str(tokens),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "CLOUDFOLIO_LOG_LEVEL": "warning"},
        )
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            return 1
        row = json.loads(result.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(row, flush=True)
    table = [
        "| repos | tokens per text | pairs | steps | fine-tune s | whole task s | peak RSS MB | device "
        "| loss per epoch |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        table.append(
            f"| {r['repos']} | {r['max_tokens']} | {r['pairs']} | {r['steps']} | {r['train_seconds']} | "
            f"{r['total_seconds']} | "
            f"{r['peak_rss_mb']} | {r['device']} | {r['loss']} |"
        )
    print("\n".join(table))
    if args.record:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, no GPU" if rows[0]["device"] == "cpu" else "GPU"
        section = (
            f"\n## Training ({datetime.now(UTC):%Y-%m-%d}, {machine}, torch CPU build)\n\n"
            f"Command: `python -m loadtest.bench_train --record`; default settings (batch 8, 2 epochs, 50 "
            "warm-up steps, max 150 pairs, so every size trains on 150 sampled pairs; texts chunked to "
            f"{args.max_tokens} tokens). Whole task = load base model, build pairs, fine-tune, save to storage.\n\n"
            + "\n".join(table)
            + "\n"
        )
        with (ROOT / "docs" / "BENCHMARKS.md").open("a", encoding="utf-8") as handle:
            handle.write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
