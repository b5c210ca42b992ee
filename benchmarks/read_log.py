"""Throughput and peak memory of ``InteractionLog.load()`` on a generated large CSV log.

Usage: ``python benchmarks/read_log.py [--rows 10000000] [--users 200000] [--items 100000]
[--domains 5] [--dir DIR]``.

Writes a CSV log (``user_id,item_id,rating,timestamp,domain``; every user active in several
domains, items partitioned between domains) into a temporary folder with NumPy and Arrow,
then loads it twice, each time in a fresh Python process so that the peak resident memory
(``ru_maxrss``) belongs to that load alone:

1. parse: no cache yet, the CSV is parsed, checked and written to the Parquet cache;
2. cache: the same source again, read back from the cache.

For each it prints rows/s, wall seconds, the process's resident memory after imports and its
peak during the load.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

DOMAINS = ["Books", "Movies", "Music", "Games", "Toys", "Garden", "Tools", "Beauty"]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    """String ids ``<prefix><number>`` built in Arrow."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def generate(path: Path, rows: int, users: int, items: int, domains: int, seed: int = 0) -> None:
    """Write a random multi-domain CSV log with ``rows`` interactions."""
    rng = np.random.default_rng(seed)
    domain = rng.integers(0, domains, rows, dtype=np.int8)
    per_domain = items // domains
    item = domain.astype(np.int64) * per_domain + rng.integers(0, per_domain, rows)
    table = pa.table(
        {
            "user_id": prefixed("u", rng.integers(0, users, rows)),
            "item_id": prefixed("i", item),
            "rating": pa.array(rng.integers(1, 6, rows, dtype=np.int8)),
            "timestamp": pa.array(1_300_000_000 + rng.integers(0, 300_000_000, rows)),
            "domain": pa.DictionaryArray.from_arrays(pa.array(domain), pa.array(DOMAINS[:domains])),
        }
    )
    pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="none"))


def measure(path: Path, home: Path) -> dict[str, float | str | bool]:
    """Load ``path`` once (in this process) and return its figures."""
    from lightning_metarec.data.sources import InteractionLog

    before = peak_rss_mib()
    source = InteractionLog(str(path), data_dir=str(home))
    start = time.perf_counter()
    data = source.load()
    seconds = time.perf_counter() - start
    rows = len(data.interactions)
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "rss_after_imports_mib": before,
        "peak_rss_mib": peak_rss_mib(),
        "from_cache": bool(source.summary and source.summary.from_cache),
        "describe": source.describe(),
    }


def run_child(path: Path, home: Path) -> dict[str, float | str | bool]:
    """Run :func:`measure` in a fresh interpreter."""
    command = [sys.executable, __file__, "--measure", str(path), "--home", str(home)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(label: str, figures: dict[str, float | str | bool]) -> None:
    """Print one load's figures."""
    print(
        f"{label}: {figures['rows']:,} rows in {figures['seconds']:.1f} s = "
        f"{figures['rows_per_s']:,.0f} rows/s; peak RSS {figures['peak_rss_mib']:,.0f} MiB "
        f"(after imports {figures['rss_after_imports_mib']:,.0f} MiB); "
        f"from cache: {figures['from_cache']}"
    )


def main() -> None:
    """Generate the log, then measure a parsing load and a cached load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.home)))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        path = folder / "log.csv"
        start = time.perf_counter()
        generate(path, args.rows, args.users, args.items, args.domains)
        size = path.stat().st_size / 2**20
        print(
            f"generated {args.rows:,} rows ({args.users:,} users, {args.items:,} items, "
            f"{args.domains} domains): {size:,.0f} MiB CSV in {time.perf_counter() - start:.1f} s"
        )
        first = run_child(path, folder / "home")
        report("parse (no cache)", first)
        report("cache (second load)", run_child(path, folder / "home"))
        print(first["describe"])


if __name__ == "__main__":
    main()
