"""DDP with 2 CPU processes (gloo) on real ML-100K: same users, same metrics as 1 process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], out: Path, devices: int, data_home: Path) -> Path:
    """Run the CLI in a fresh process (DDP re-launches it); return its log folder."""
    cmd = [
        sys.executable,
        "-m",
        "lightning_metarec",
        *args,
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        str(devices),
        "--trainer.strategy",
        "ddp" if devices > 1 else "auto",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger.init_args.save_dir",
        str(out),
        "--trainer.logger.init_args.name",
        "t",
        "--trainer.logger.init_args.version",
        "0",
    ]
    env = {**os.environ, "LIGHTNING_METAREC_DATA": str(data_home), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "t" / "version_0"


def _test_metrics(log_dir: Path) -> pd.Series:
    metrics = pd.read_csv(log_dir / "metrics.csv")
    return metrics.filter(like="test/").dropna(axis=1).iloc[-1]


@pytest.mark.parametrize("config", ["ml100k_maml.yaml", "ml100k_maml_ranking.yaml"])
def test_ddp_fit_then_two_process_test_equals_one_process(tmp_path, data_home, config) -> None:
    """Meta-train with 2 processes (learn2learn clones under DDP), then test on 1 and 2."""
    fit = _run(
        [
            "fit",
            "--config",
            str(REPO / "configs" / config),
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "2",
            "--test_after_fit",
            "false",
        ],
        tmp_path / "fit",
        2,
        data_home,
    )
    ckpt = str(fit / "checkpoints" / "last.ckpt")
    test_args = ["test", "--config", str(fit / "config.yaml"), "--ckpt_path", ckpt]
    one = _test_metrics(_run(test_args, tmp_path / "one", 1, data_home))
    two = _test_metrics(_run(test_args, tmp_path / "two", 2, data_home))
    assert two["test/users"] == one["test/users"] > 0
    pd.testing.assert_series_equal(one, two, rtol=1e-5, check_names=False)
