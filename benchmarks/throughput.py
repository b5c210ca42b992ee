"""Throughput of the ML-100K default config on CPU: data pipeline, meta-training, evaluation.

Usage: ``python benchmarks/throughput.py [--config configs/ml100k_maml.yaml] [--epochs 2]``
(``make bench``). Needs ML-100K under ``$LIGHTNING_METAREC_DATA``. Prints:

* episodes/s built by the data pipeline (collating meta-train batches, negatives included);
* meta-training tasks/s through the real Lightning Trainer (inner loop + outer step);
* evaluation tasks/s (adaptation on each held-out user's support set + scoring);
* peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch
import yaml
from lightning import Callback, Trainer

from lightning_metarec.data import MetaRecDataModule
from lightning_metarec.tasks import MAMLTask

REPO = Path(__file__).resolve().parents[1]


class EpochTimer(Callback):
    """Wall time of each training epoch (excludes validation)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: Trainer, pl_module: object) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: object) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def build(config: Path) -> tuple[MetaRecDataModule, MAMLTask]:
    """DataModule and task with the config's init_args (same as the CLI builds)."""
    cfg = yaml.safe_load(config.read_text())
    dm = MetaRecDataModule(**cfg["data"]["init_args"])
    task = MAMLTask(schema=dm.schema, **cfg["model"]["init_args"])
    return dm, task


def data_throughput(dm: MetaRecDataModule, epochs: int) -> float:
    """Meta-train episodes collated per second (loader iteration only)."""
    dm.setup("fit")
    loader = dm.train_dataloader()
    start, tasks = time.perf_counter(), 0
    for _ in range(epochs):
        tasks += sum(len(batch) for batch in loader)
    return tasks / (time.perf_counter() - start)


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "ml100k_maml.yaml")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)

    t0 = time.perf_counter()
    dm, task = build(args.config)
    dm.setup("fit")
    setup_s = time.perf_counter() - t0
    episodes_per_s = data_throughput(dm, args.epochs)

    timer = EpochTimer()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=args.epochs,
        inference_mode=False,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[timer],
    )
    trainer.fit(task, datamodule=dm)
    train_tasks = len(dm.split.train)
    train_rate = train_tasks / (sum(timer.seconds) / len(timer.seconds))

    start = time.perf_counter()
    Trainer(
        accelerator="cpu",
        inference_mode=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).validate(task, datamodule=dm, verbose=False)
    eval_rate = len(dm.split.val) / (time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    hp = dm.hparams
    print(
        f"config: {args.config.name} ({hp['dataset']}, task_kind={hp['task_kind']}, "
        f"K={hp['support_size']}, Q={hp['query_size']}, batch_size={hp['batch_size']}, "
        f"inner_steps={task.hparams['inner_steps']}, eval_inner_steps="
        f"{task.hparams['eval_inner_steps']}, torch threads={torch.get_num_threads()})"
    )
    print(f"data load + split + episode arrays: {setup_s:.2f} s")
    print(f"data pipeline: {episodes_per_s:,.0f} episodes/s ({len(dm.split.train)} train tasks)")
    print(f"meta-training: {train_rate:,.1f} tasks/s (mean of {len(timer.seconds)} epochs)")
    print(f"evaluation (adapt + score): {eval_rate:,.1f} tasks/s ({len(dm.split.val)} val users)")
    print(f"peak RSS: {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
