"""Compare algorithms and baselines on the same data, split, candidates and seeds.

Usage::

    python benchmarks/compare.py --spec benchmarks/compare_ml100k.yaml --seeds 0 1 2 \\
        --out results/ml100k

For every run in the spec and every seed, the model is meta-trained once through the real CLI
(`fit`, model selection on validation users), then its best checkpoint is tested once per
protocol (e.g. ``sampled`` and ``full``) on the same test users. Writes ``<out>/results.md``
(one table per protocol, mean +- std over seeds, wall time per run, the protocol in the caption)
and ``<out>/results.csv`` (one row per run, seed and protocol). The popularity row comes from the
same test runs (it needs no training); with ``baseline_per_run: true`` in the spec (runs on
different data, e.g. one target domain each) every run gets its own popularity row. The spec's
``metrics`` list names the table columns (default: ndcg@10, hr@10, mae, rmse).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lightning_metarec.main import main as cli

ROW_METRICS = ("ndcg@10", "hr@10", "mae", "rmse")
USERS = re.compile(r"\d+ cold-start test users")
TARGET = re.compile(r"target domain '([^']*)'")


def caption_of(lines: list[str]) -> str:
    """One caption for the runs of a protocol; per-run parts (users, target domain) generalised."""
    caption = USERS.sub("cold-start test users (per row: users column)", lines[0])
    domains = {d for line in lines for d in TARGET.findall(line)}
    if len(domains) > 1:  # e.g. one target genre per run
        caption = TARGET.sub("the row's target domain", caption)
        for domain in domains:
            caption = caption.replace(f" {domain} items", " target-domain items")
    return caption


def merge_identical_baselines(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Keep one popularity row for runs that share their data (same values for every seed)."""
    is_base = frame["model"].str.startswith("popularity")
    keys = ["protocol", "seed", "users", *columns]
    names: dict[tuple, list[str]] = {}
    for name, group in frame[is_base].groupby("model", sort=False):
        values = group[keys].round(6).astype(str).sort_values(keys[:2])
        names.setdefault(tuple(map(tuple, values.to_numpy())), []).append(str(name))
    rename = {}
    for group_names in names.values():
        inner = "; ".join(n.removeprefix("popularity [").removesuffix("]") for n in group_names)
        for n in group_names:
            rename[n] = f"popularity [{inner}]" if len(group_names) > 1 else n
    merged = frame.assign(model=frame["model"].replace(rename))
    return merged.drop_duplicates(["model", "seed", "protocol"])


def _common(spec: dict[str, Any], out: Path) -> list[str]:
    return [
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
        "--trainer.logger.init_args.save_dir",
        str(out),
        *[str(a) for a in spec.get("overrides", [])],
    ]


def fit_once(spec: dict[str, Any], run: dict[str, Any], seed: int, out: Path) -> tuple[str, Path]:
    """Meta-train ``run`` with ``seed``; return (best checkpoint, saved config)."""
    args = [
        "fit",
        "--config",
        spec["base_config"],
        "--model",
        json.dumps(run["model"]),
        "--seed_everything",
        str(seed),
        "--data.init_args.seed",
        str(seed),
        "--test_after_fit",
        "false",
        "--trainer.logger.init_args.name",
        f"{run['name']}-seed{seed}",
        *_common(spec, out),
        *[str(a) for a in run.get("overrides", [])],
    ]
    result = cli(args)
    assert result is not None
    best = result.trainer.checkpoint_callback.best_model_path  # type: ignore[union-attr]
    return best, Path(result.trainer.log_dir or out) / "config.yaml"


def test_once(config: Path, ckpt: str, protocol: str, out: Path) -> tuple[dict[str, float], str]:
    """Test ``ckpt`` under ``protocol``; return (test metrics, protocol line)."""
    result = cli(
        [
            "test",
            "--config",
            str(config),
            "--ckpt_path",
            ckpt,
            "--data.init_args.candidates",
            protocol,
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.default_root_dir",
            str(out / "tests"),
        ]
    )
    assert result is not None
    metrics = {k: float(v) for k, v in result.trainer.callback_metrics.items()}
    protocol_line = result.datamodule.protocol()  # type: ignore[union-attr]
    return metrics, protocol_line.rsplit("; seed", 1)[0]


def _rows(
    name: str,
    metrics: dict[str, float],
    seed: int,
    protocol: str,
    seconds: float,
    baseline: str,
    columns: tuple[str, ...] = ROW_METRICS,
):
    users = metrics.get("test/users")
    yield {
        "model": name,
        "seed": seed,
        "protocol": protocol,
        "seconds": seconds,
        "users": users,
        **{m: metrics.get(f"test/{m}") for m in columns},
    }
    yield {
        "model": baseline,
        "seed": seed,
        "protocol": protocol,
        "seconds": 0.0,
        "users": users,
        **{m: metrics.get(f"test/popularity/{m}") for m in columns},
    }


def _fmt(group: pd.DataFrame, column: str) -> str:
    values = group[column].dropna()
    if values.empty:
        return "-"
    return f"{values.mean():.4f} ± {values.std(ddof=0):.4f}"


def to_markdown(
    frame: pd.DataFrame,
    captions: dict[str, list[str]],
    seeds: list[int],
    columns: tuple[str, ...] = ROW_METRICS,
) -> str:
    """One Markdown table per protocol: mean ± std over seeds."""
    parts = []
    for protocol, table in frame.groupby("protocol", sort=False):
        caption = caption_of(captions[str(protocol)])
        parts.append(
            f"**{protocol}** — {caption}; mean ± std over seeds {', '.join(map(str, seeds))}\n"
        )
        parts.append("| model | " + " | ".join(columns) + " | users | wall s / run |")
        parts.append("|---" * (len(columns) + 3) + "|")
        for model, group in table.drop_duplicates(["model", "seed"]).groupby("model", sort=False):
            cells = [_fmt(group, m) for m in columns]
            missing = sorted(set(seeds) - set(group["seed"]))
            if missing:  # say so rather than average fewer seeds silently
                model = f"{model} (without seed {', '.join(map(str, missing))})"
            users = group["users"].mean() if "users" in group else float("nan")
            parts.append(
                f"| {model} | "
                + " | ".join(cells)
                + f" | {users:.0f} | {group['seconds'].mean():.0f} |"
            )
        parts.append("")
    return "\n".join(parts)


def _load_done(path: Path) -> pd.DataFrame:
    """Rows of runs finished earlier (``--resume``); empty when none were saved."""
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def _run_one(
    spec: dict[str, Any], run: dict[str, Any], seed: int, out: Path, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Fit ``run`` with ``seed``, test it under every protocol; rows carry their caption."""
    start = time.perf_counter()
    ckpt, config = fit_once(spec, run, seed, out / "runs")
    tested = {p: test_once(config, ckpt, p, out) for p in spec["protocols"]}
    seconds = time.perf_counter() - start
    baseline = f"popularity [{run['name']}]" if spec.get("baseline_per_run") else "popularity"
    rows = []
    for protocol, (metrics, line) in tested.items():
        for row in _rows(run["name"], metrics, seed, protocol, seconds, baseline, columns):
            rows.append({**row, "caption": line})
    print(
        f"done: {run['name']} seed {seed} in {seconds:.0f} s (fit + {len(tested)} tests)",
        flush=True,
    )
    return rows


def main() -> None:
    """Run the spec and write the tables.

    Every finished (run, seed) is appended to ``<out>/runs.csv`` at once, so an interrupted
    comparison loses at most the run in progress; ``--resume`` skips the pairs found there.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spec",
        type=Path,
        default=Path("benchmarks/compare_ml100k.yaml"),
        help="YAML spec: base_config, protocols, overrides, runs (default: %(default)s)",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default: results/<spec name without 'compare_'>)",
    )
    parser.add_argument("--only", nargs="*", help="run only these names from the spec")
    parser.add_argument("--resume", action="store_true", help="skip runs saved in runs.csv")
    args = parser.parse_args()
    args.out = args.out or default_out(args.spec)
    spec = yaml.safe_load(args.spec.read_text())
    columns = tuple(spec.get("metrics", ROW_METRICS))
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "runs.csv"
    frame = _load_done(saved) if args.resume else pd.DataFrame()
    done = set(zip(frame.get("model", []), frame.get("seed", []), strict=True))
    runs = [run for run in spec["runs"] if not args.only or run["name"] in args.only]
    for seed in args.seeds:  # seed-major: a comparison cut short has every model at some seeds
        for run in runs:
            if (run["name"], seed) in done:
                print(f"skipped: {run['name']} seed {seed} (in {saved})")
                continue
            rows = pd.DataFrame(_run_one(spec, run, seed, args.out, columns))
            frame = pd.concat([frame, rows], ignore_index=True)
            frame.to_csv(saved, index=False)
    names = [run["name"] for run in spec["runs"]]
    frame = frame[frame["model"].isin(names) | frame["model"].str.startswith("popularity")]
    rank = frame["model"].map({n: i for i, n in enumerate(names)}).fillna(len(names))
    write_tables(frame.iloc[rank.argsort(kind="stable")], args.seeds, columns, args.out)


def default_out(spec: Path) -> Path:
    """``results/ml1m`` for ``compare_ml1m.yaml``: each spec gets its own folder by default."""
    return Path("results") / spec.stem.removeprefix("compare_")


def write_tables(
    frame: pd.DataFrame, seeds: list[int], columns: tuple[str, ...], out: Path
) -> None:
    """Write ``results.csv`` and ``results.md`` (baseline rows last) and print the tables."""
    frame = frame[frame["seed"].isin(seeds)]
    captions = {str(p): list(g["caption"]) for p, g in frame.groupby("protocol", sort=False)}
    frame = frame.drop(columns="caption")
    frame = frame.assign(order=frame["model"].str.startswith("popularity"))  # baselines last
    frame = frame.sort_values("order", kind="stable").drop(columns="order")
    frame = merge_identical_baselines(frame, columns)
    frame.to_csv(out / "results.csv", index=False)
    table = to_markdown(frame, captions, seeds, columns)
    (out / "results.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
