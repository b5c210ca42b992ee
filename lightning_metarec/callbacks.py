"""Callbacks: the end-of-test results table, top-K recommendation files, resumable RNG state."""

from __future__ import annotations

import csv
import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from lightning_metarec.data.episodes import EpisodeBatch
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks.base import BASELINES

__all__ = [
    "RNGStateCheckpoint",
    "ResultsTable",
    "TopKWriter",
    "format_results",
    "results_rows",
    "run_dir",
    "top_k_rows",
]

log = logging.getLogger(__name__)

ROW_NAMES = {
    "": "{algorithm} (adapted)",
    "noadapt": "{algorithm}, no adaptation",
    "popularity": "popularity (target domain)",
}


def run_dir(trainer: Trainer) -> Path:
    """The folder of this run's files: the checkpoints' parent for every logger.

    CSV/TensorBoard: ``save_dir/name/version_N``. W&B: ``save_dir/project/<run id>`` (its
    ``trainer.log_dir`` is the shared ``save_dir``). No logger: ``default_root_dir``.
    """
    logger = trainer.loggers[0] if trainer.loggers else None
    if isinstance(logger, WandbLogger):
        save_dir = logger.save_dir or trainer.default_root_dir
        return Path(save_dir, str(logger.name), str(logger.version))
    return Path(trainer.log_dir or trainer.default_root_dir)


def results_rows(
    metrics: dict[str, float], algorithm: str, columns: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per model (algorithm, then baselines): name and ``test/...`` value or ``None``."""
    rows = []
    for key in ("", *BASELINES):
        prefix = f"test/{key}/" if key else "test/"
        row: dict[str, Any] = {"model": ROW_NAMES[key].format(algorithm=algorithm)}
        for col in columns:
            value = metrics.get(prefix + col)
            row[col] = None if value is None else float(value)
        rows.append(row)
    return rows


def format_results(
    metrics: dict[str, float], algorithm: str, protocol: str, columns: list[str]
) -> tuple[str, list[dict[str, str]]]:
    """Markdown table of ``test/...`` metrics: one row per model, ``-`` where not computed."""
    rows = [
        {k: v if k == "model" else ("-" if v is None else f"{v:.4f}") for k, v in row.items()}
        for row in results_rows(metrics, algorithm, columns)
    ]
    header = ["model", *columns]
    lines = [
        f"Protocol: {protocol}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines), rows


def _metric_names(pl_module: LightningModule, logged: dict[str, float]) -> list[str]:
    """The task's test metrics that were logged: ``ndcg@K``, ``hr@K``, ``mae``, ``rmse``."""
    metrics = getattr(pl_module, "metrics", None)
    names = list(metrics["test"].keys()) if metrics is not None and "test" in metrics else []
    order = ("ndcg@", "hr@", "mae", "rmse")
    names.sort(key=lambda n: next((i for i, p in enumerate(order) if n.startswith(p)), 9))
    return [n for n in names if f"test/{n}" in logged] or ["ndcg@10", "hr@10", "mae", "rmse"]


class ResultsTable(Callback):
    """After ``test``, print a Markdown table of the algorithm and baselines with the protocol.

    Also writes ``results.md`` and ``results.csv`` into the run's folder (or ``dirpath``) and,
    when the trainer has a :class:`~lightning.pytorch.loggers.WandbLogger`, logs the table as
    the ``wandb.Table`` ``test/results`` (numbers as floats, empty where not computed).

    Args:
        columns: metric names to show, in order (default: the task's metrics, e.g. ``ndcg@10``,
            ``hr@10``, ``mae``, ``rmse``; a cell is ``-`` where a metric was not logged).
        dirpath: where to write the files (default: the run's folder, see :func:`run_dir`).
    """

    def __init__(self, columns: tuple[str, ...] | None = None, dirpath: str | None = None) -> None:
        self.columns = list(columns) if columns else []
        self.dirpath = dirpath
        self.table = ""

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Format, print and save the table; log it to W&B when a WandbLogger is attached.

        Every rank resolves the folder (``trainer.log_dir`` is a collective under DDP); rank 0
        writes.
        """
        folder = Path(self.dirpath) if self.dirpath else run_dir(trainer)
        self._report(trainer, pl_module, folder)

    @rank_zero_only
    def _report(self, trainer: Trainer, pl_module: LightningModule, folder: Path) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        datamodule = getattr(trainer, "datamodule", None)
        describe = getattr(datamodule, "protocol", None)
        protocol = describe() if callable(describe) else "unknown"
        algorithm = type(pl_module).__name__.removesuffix("Task")
        names = self.columns or _metric_names(pl_module, metrics)
        self.table, rows = format_results(metrics, algorithm, protocol, names)
        print("\n" + self.table + "\n", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.md").write_text(self.table + "\n", encoding="utf-8")
        with (folder / "results.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["model", *names, "protocol"])
            writer.writeheader()
            writer.writerows({**row, "protocol": protocol} for row in rows)
        self._log_wandb(trainer, results_rows(metrics, algorithm, names), protocol, names)

    def _log_wandb(
        self, trainer: Trainer, rows: list[dict[str, Any]], protocol: str, names: list[str]
    ) -> None:
        """Log ``rows`` as the ``wandb.Table`` ``test/results`` to every WandbLogger."""
        columns = ["model", *names, "protocol"]
        data = [[*(row[c] for c in columns[:-1]), protocol] for row in rows]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table("test/results", columns=columns, data=data)


class TopKWriter(BasePredictionWriter):
    """Write every predicted user's top-K recommendations to a CSV or Parquet file.

    Scores are the task's ``predict_step`` output: each test user's query candidates scored
    after adapting on that user's support set. Items of the support set are never
    recommended (the candidates exclude them already; the writer drops any that appear).
    Columns: ``user`` and ``item`` (raw ids), ``rank`` (1 = best), ``title``, ``score``.

    Use with ``python -m lightning_metarec predict ... --trainer.callbacks+=TopKWriter``.

    Args:
        path: output file ending in ``.csv`` or ``.parquet`` (default:
            ``<run folder>/recommendations.csv``). Under multi-process predict each rank
            writes its own ``<stem>-rank<N><suffix>``.
        top_k: recommendations per user (fewer when a user has fewer candidates).
    """

    def __init__(self, path: str | None = None, top_k: int = 10) -> None:
        super().__init__(write_interval="batch")
        self.path = path
        self.top_k = top_k
        self.written: Path | None = None
        self._frames: list[pd.DataFrame] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Check the settings before predicting.

        Checked here, not in ``__init__``: jsonargparse wraps errors raised while it builds
        callbacks, so the CLI could not print them as one line.

        Raises:
            MetaRecError: ``path`` has another suffix or ``top_k`` < 1.
        """
        if self.path is not None and Path(self.path).suffix not in (".csv", ".parquet"):
            raise MetaRecError(f"TopKWriter path must end in .csv or .parquet, got {self.path!r}")
        if self.top_k < 1:
            raise MetaRecError(f"TopKWriter top_k must be >= 1, got {self.top_k}")

    def on_predict_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start a new file's rows."""
        self._frames = []

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Keep the batch's top-K rows per user, support items removed."""
        frame = pd.DataFrame(
            {
                "user": prediction["user"].cpu().numpy(),
                "item": prediction["item"].cpu().numpy(),
                "score": prediction["score"].detach().float().cpu().numpy(),
            }
        )
        if isinstance(batch, EpisodeBatch):
            frame = frame[~_in_support(frame, batch)]
        self._frames.append(top_k_rows(frame, self.top_k))

    def on_predict_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Decode raw ids and titles and write the file."""
        columns = ["user", "rank", "item", "score"]
        frame = pd.concat(self._frames) if self._frames else pd.DataFrame(columns=columns)
        frame = _decode(frame, getattr(getattr(trainer, "datamodule", None), "log_", None))
        path = self._output_path(trainer)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        self.written = path
        log.info("wrote top-%d recommendations of %d users to %s", self.top_k, _users(frame), path)

    def _output_path(self, trainer: Trainer) -> Path:
        path = Path(self.path) if self.path else run_dir(trainer) / "recommendations.csv"
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}-rank{trainer.global_rank}{path.suffix}")
        return path


def _users(frame: pd.DataFrame) -> int:
    return int(frame["user"].nunique()) if len(frame) else 0


def _in_support(frame: pd.DataFrame, batch: EpisodeBatch) -> np.ndarray:
    """Boolean mask of ``frame`` rows whose (user, item) is in that user's support set."""
    users = batch.user[:, None].expand_as(batch.support_item)[batch.support_mask]
    items = batch.support_item[batch.support_mask]
    support = pd.MultiIndex.from_arrays([users.cpu().numpy(), items.cpu().numpy()])
    rows = pd.MultiIndex.from_arrays([frame["user"].to_numpy(), frame["item"].to_numpy()])
    return np.asarray(rows.isin(support))


def top_k_rows(frame: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """Each user's ``top_k`` rows by descending score (ties: lower item code first), ranked."""
    ordered = frame.sort_values(["user", "score", "item"], ascending=[True, False, True])
    best = ordered.groupby("user", sort=False).head(top_k).copy()
    best["rank"] = best.groupby("user", sort=False).cumcount() + 1
    return best[["user", "rank", "item", "score"]]


def _decode(frame: pd.DataFrame, log_: Any) -> pd.DataFrame:
    """Replace user/item codes by raw ids and add titles (codes kept when no log is known)."""
    users = frame["user"].to_numpy(dtype=np.int64)
    items = frame["item"].to_numpy(dtype=np.int64)
    titles = log_.titles[items] if log_ is not None else np.full(len(items), "", dtype=object)
    return pd.DataFrame(
        {
            "user": log_.user_ids[users] if log_ is not None else users,
            "rank": frame["rank"].to_numpy(dtype=np.int64),
            "item": log_.item_ids[items] if log_ is not None else items,
            "title": titles,
            "score": frame["score"].to_numpy(dtype=np.float64),
        }
    )


class RNGStateCheckpoint(Callback):
    """Store the global RNG states (torch, CUDA, NumPy, Python) in checkpoints; restore on resume.

    Lightning restores weights, optimizer and loop progress but not the random generators, so
    a run resumed with ``--ckpt_path`` would shuffle its next epoch like the first epoch of a
    fresh run. With this callback (the CLI always adds it) a run resumed from an end-of-epoch
    checkpoint draws the same batches as an uninterrupted run. States are saved as tensors and
    plain tuples, so checkpoints still load with ``torch.load(weights_only=True)``.
    """

    def state_dict(self) -> dict[str, Any]:
        """The current RNG states."""
        kind, keys, pos, has_gauss, gauss = cast(tuple[Any, ...], np.random.get_state())
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": (str(kind), torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "python": random.getstate(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the RNG states saved by :meth:`state_dict`."""
        torch.set_rng_state(state_dict["torch"])
        if state_dict["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
        kind, keys, pos, has_gauss, gauss = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        version, internal, gauss_next = state_dict["python"]
        random.setstate((version, tuple(internal), gauss_next))
