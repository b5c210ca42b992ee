"""Kill, then `fit --ckpt_path last` on the real ML-100K: same test metrics as no interruption."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from jsonargparse import Namespace
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from lightning_metarec.main import _continue_last_run, main
from tests.test_predict import quick_fit_args

REPO = Path(__file__).resolve().parents[1]
EPOCHS, BATCHES = 2, 2


def _args(data_home: Path, out: Path, config: str = "ml100k_maml.yaml") -> list[str]:
    """test_predict's quick real fit, with 4-task batches and EPOCHS x BATCHES of training."""
    return [
        "fit",
        *quick_fit_args(data_home, out, config),
        "--data.init_args.batch_size",
        "4",
        "--trainer.max_epochs",
        str(EPOCHS),
        "--trainer.limit_train_batches",
        str(BATCHES),
    ]


def _test_metrics(cli) -> dict[str, float]:
    return {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}


def _loadable(path: Path) -> dict | None:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # absent or still being written
        return None


def _kill_after_first_epoch(args: list[str], last: Path) -> dict:
    """Run the CLI in a subprocess; SIGKILL it once the epoch-0 ``last.ckpt`` is readable."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightning_metarec", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    try:
        while (checkpoint := _loadable(last)) is None:
            assert proc.poll() is None, f"fit ended before a checkpoint: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no last.ckpt within 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return checkpoint


def test_killed_fit_resumes_to_the_same_test_metrics(tmp_path, data_home, caplog) -> None:
    reference = main(_args(data_home, tmp_path / "uninterrupted"))
    assert reference is not None
    expected = _test_metrics(reference)
    assert expected and all(v == v for v in expected.values())

    out = tmp_path / "killed"
    last = out / "ml100k_maml" / "version_0" / "checkpoints" / "last.ckpt"
    checkpoint = _kill_after_first_epoch(_args(data_home, out), last)
    assert checkpoint["epoch"] == 0 and checkpoint["global_step"] == BATCHES
    assert "RNGStateCheckpoint" in checkpoint["callbacks"]

    with caplog.at_level(logging.INFO, logger="lightning_metarec"):
        resumed = main([*_args(data_home, out), "--ckpt_path", "last"])
    assert resumed is not None
    assert f"resuming from {last}" in caplog.text
    assert resumed.trainer.global_step == EPOCHS * BATCHES
    # the resumed run logged only the epochs after the checkpoint, into a new version folder
    logged = pd.read_csv(out / "ml100k_maml" / "version_1" / "metrics.csv")
    assert logged.dropna(subset=["val/rmse"])["epoch"].tolist() == list(range(1, EPOCHS))
    assert _test_metrics(resumed) == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_mid_epoch_checkpoint_warns_on_resume(tmp_path, data_home) -> None:
    steps = tmp_path / "steps"
    args = [
        *_args(data_home, tmp_path),
        "--trainer.max_epochs",
        "1",
        "--test_after_fit",
        "false",
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.dirpath",
        str(steps),
        "--trainer.callbacks.every_n_train_steps",
        "1",
        "--trainer.callbacks.save_top_k",
        "-1",
        "--trainer.callbacks.filename",
        "{step}",
    ]
    assert main(args) is not None
    with pytest.warns(PossibleUserWarning, match="ended before the epoch ended"):
        main([*args, "--ckpt_path", str(steps / "step=1.ckpt")])


def _layout(tmp_path: Path, version: object) -> Namespace:
    """Runs version_0 (older) and version_1 (newer), each with a last.ckpt; a CLI-like config."""
    for v, age in ((0, 100), (1, 0)):
        last = tmp_path / "logs" / "exp" / f"version_{v}" / "checkpoints" / "last.ckpt"
        last.parent.mkdir(parents=True)
        last.touch()
        os.utime(last, (time.time() - age, time.time() - age))
    logger = Namespace(
        class_path="lightning.pytorch.loggers.CSVLogger",
        init_args=Namespace(save_dir=str(tmp_path / "logs"), name="exp", version=version),
    )
    checkpoint = Namespace(
        class_path="lightning.pytorch.callbacks.ModelCheckpoint", init_args=Namespace(dirpath=None)
    )
    return Namespace(trainer=Namespace(logger=logger, callbacks=[checkpoint]))


@pytest.mark.parametrize(("version", "expected"), [(None, 1), (0, 0), ("version_0", 0)])
def test_ckpt_path_last_finds_the_newest_run_or_the_given_version(tmp_path, version, expected):
    config = _layout(tmp_path, version)
    _continue_last_run(config)
    dirpath = config.trainer.callbacks[0].init_args.dirpath
    assert dirpath == str(tmp_path / "logs" / "exp" / f"version_{expected}" / "checkpoints")
