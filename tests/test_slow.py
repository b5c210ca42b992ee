"""Full-length `make fit` runs; slow, excluded by default: `make test-slow` (about 6 min)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_metarec.main import main

REPO = Path(__file__).resolve().parents[1]


def _fit(config: str, data_home: Path, out: Path) -> dict[str, float]:
    cli = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / config),
            "--data.init_args.data_dir",
            str(data_home),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger.init_args.save_dir",
            str(out),
        ]
    )
    assert cli is not None
    return {k: float(v) for k, v in cli.trainer.callback_metrics.items()}


@pytest.mark.slow
def test_adapted_maml_beats_unadapted_on_query_mse(data_home, tmp_path) -> None:
    metrics = _fit("ml100k_maml.yaml", data_home, tmp_path)
    assert metrics["test/rmse"] < metrics["test/noadapt/rmse"]


@pytest.mark.slow
def test_ranking_maml_beats_popularity_on_ndcg(data_home, tmp_path) -> None:
    metrics = _fit("ml100k_maml_ranking.yaml", data_home, tmp_path)
    assert metrics["test/ndcg@10"] > metrics["test/popularity/ndcg@10"]
