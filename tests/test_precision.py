"""Mixed precision: bf16-mixed trains end to end on CPU; 16-mixed second-order MAML is refused."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from lightning import Trainer
from lightning.pytorch.plugins import MixedPrecision

from lightning_metarec.data import MetaRecDataModule
from lightning_metarec.errors import MetaRecError
from lightning_metarec.main import main
from lightning_metarec.precision import check_precision, precision_problem
from lightning_metarec.tasks import MAMLTask
from tests.test_predict import quick_fit_args

SCHEMA = {
    "num_users": 5,
    "num_items": 7,
    "num_genres": 3,
    "user_feature_cardinalities": [2],
    "task_kind": "rating",
    "rating_mean": 3.0,
}


@pytest.mark.parametrize(
    ("precision", "hparams", "refused"),
    [
        ("16-mixed", {"first_order": False, "inner_steps": 1}, True),
        ("16", {"first_order": False, "inner_steps": 3}, True),
        ("16-mixed", {"first_order": True, "inner_steps": 1}, False),
        ("16-mixed", {"first_order": False, "inner_steps": 0}, False),
        ("16-mixed", {}, False),  # not a MAML-family task
        ("bf16-mixed", {"first_order": False, "inner_steps": 1}, False),
        ("32-true", {"first_order": False, "inner_steps": 1}, False),
    ],
)
def test_precision_problem(precision, hparams, refused) -> None:
    problem = precision_problem(precision, hparams)
    assert (problem is not None) == refused
    if refused:
        assert "bf16-mixed" in problem and "first_order: true" in problem and "\n" not in problem


def test_check_refuses_a_16_mixed_trainer_built_on_cpu() -> None:
    # Trainer(precision="16-mixed") on CPU silently becomes bf16-mixed; a GradScaler plugin
    # reproduces the GPU configuration
    trainer = Trainer(accelerator="cpu", plugins=[MixedPrecision("16-mixed", "cpu")], logger=False)
    assert trainer.precision == "16-mixed"
    with pytest.raises(MetaRecError, match="bf16-mixed"):
        check_precision(trainer, MAMLTask(schema=SCHEMA))
    check_precision(trainer, MAMLTask(schema=SCHEMA, first_order=True))
    check_precision(
        Trainer(accelerator="cpu", precision="bf16-mixed", logger=False), MAMLTask(schema=SCHEMA)
    )


def test_cli_refuses_16_mixed_before_training(tmp_path, data_home, capsys) -> None:
    args = [
        "fit",
        *quick_fit_args(data_home, tmp_path),
        "--trainer.plugins=lightning.pytorch.plugins.MixedPrecision",
        "--trainer.plugins.precision=16-mixed",
        "--trainer.plugins.device=cpu",
    ]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("lightning_metarec: error: precision '16-mixed'")
    assert not list(tmp_path.rglob("*.ckpt"))


def test_bf16_mixed_fits_and_tests_on_cpu(tmp_path, data_home) -> None:
    args = [*quick_fit_args(data_home, tmp_path), "--trainer.log_every_n_steps", "1"]
    cli = main(["fit", *args, "--trainer.precision", "bf16-mixed"])
    assert cli is not None
    plugin = cli.trainer.precision_plugin
    assert isinstance(plugin, MixedPrecision) and plugin.scaler is None
    assert plugin.autocast_context_manager().fast_dtype == torch.bfloat16
    logged = pd.read_csv(Path(cli.trainer.log_dir) / "metrics.csv")
    for key in ("train/loss", "val/rmse", "test/rmse", "test/mae", "test/ndcg@10"):
        values = logged[key].dropna()
        assert len(values) and values.map(math.isfinite).all(), key
    assert logged["test/rmse"].dropna().item() < 2.0  # a sane rating error on the 1-5 scale
    best = torch.load(cli.trainer.checkpoint_callback.best_model_path, weights_only=True)
    assert all(
        v.dtype == torch.float32 for v in best["state_dict"].values() if v.is_floating_point()
    )


def test_bf16_autocast_runs_the_second_order_inner_loop(data_home) -> None:
    datamodule = MetaRecDataModule(data_dir=data_home, download=False, batch_size=2)
    datamodule.setup("fit")
    task = MAMLTask(schema=datamodule.schema, inner_steps=2)
    episode = next(iter(datamodule.train_dataloader())).episode(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, scores = task.meta_learn(episode, train=True)
    assert scores.dtype == torch.bfloat16
    loss.backward()
    grads = [p.grad for p in task.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
