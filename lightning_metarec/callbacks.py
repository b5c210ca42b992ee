"""Callbacks: the end-of-test results table."""

from __future__ import annotations

import csv
from pathlib import Path

from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from lightning_metarec.tasks.base import BASELINES

__all__ = ["ResultsTable", "format_results"]

ROW_NAMES = {
    "": "{algorithm} (adapted)",
    "noadapt": "{algorithm}, no adaptation",
    "popularity": "popularity (target domain)",
}


def format_results(
    metrics: dict[str, float], algorithm: str, protocol: str, columns: list[str]
) -> tuple[str, list[dict[str, str]]]:
    """Markdown table of ``test/...`` metrics: one row per model, ``-`` where not computed."""
    rows = []
    for key in ("", *BASELINES):
        prefix = f"test/{key}/" if key else "test/"
        row = {"model": ROW_NAMES[key].format(algorithm=algorithm)}
        for col in columns:
            value = metrics.get(prefix + col)
            row[col] = "-" if value is None else f"{float(value):.4f}"
        rows.append(row)
    header = ["model", *columns]
    lines = [
        f"Protocol: {protocol}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines), rows


class ResultsTable(Callback):
    """After ``test``, print a Markdown table of the algorithm and baselines with the protocol.

    Also writes ``results.md`` and ``results.csv`` into the logger's folder (or ``dirpath``).

    Args:
        columns: metric names to show, in order.
        dirpath: where to write the files (default: the trainer's log dir).
    """

    def __init__(
        self,
        columns: tuple[str, ...] = ("ndcg@10", "hr@10", "mae", "rmse"),
        dirpath: str | None = None,
    ) -> None:
        self.columns = list(columns)
        self.dirpath = dirpath
        self.table = ""

    @rank_zero_only
    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Format, print and save the table."""
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        datamodule = getattr(trainer, "datamodule", None)
        describe = getattr(datamodule, "protocol", None)
        protocol = describe() if callable(describe) else "unknown"
        algorithm = type(pl_module).__name__.removesuffix("Task")
        self.table, rows = format_results(metrics, algorithm, protocol, self.columns)
        print("\n" + self.table + "\n", flush=True)
        folder = Path(self.dirpath or trainer.log_dir or trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.md").write_text(self.table + "\n", encoding="utf-8")
        with (folder / "results.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["model", *self.columns, "protocol"])
            writer.writeheader()
            writer.writerows({**row, "protocol": protocol} for row in rows)
