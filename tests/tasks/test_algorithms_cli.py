"""CLI fit + test smoke runs of every algorithm on the real MovieLens-100K (no mocks)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lightning_metarec.main import main
from tests.test_cli import _fast as cli_fast


def _fast(data_home: Path, out: Path, config: str) -> list[str]:
    """test_cli's quick real-data run, cut to 3 training and 1 val/test batch."""
    return [
        *cli_fast(data_home, out, config),
        "--trainer.limit_train_batches",
        "3",
        "--trainer.limit_val_batches",
        "1",
        "--trainer.limit_test_batches",
        "1",
    ]


@pytest.mark.parametrize(
    ("config", "algorithm"),
    [
        ("ml100k_protonet.yaml", "ProtoNet"),
        ("ml100k_metasgd.yaml", "MetaSGD"),
        ("ml100k_reptile.yaml", "Reptile"),
        ("ml100k_matchingnet.yaml", "MatchingNet"),
    ],
)
def test_fit_and_test_print_the_results_table(
    tmp_path, data_home, capsys, config, algorithm
) -> None:
    cli = main(["fit", *_fast(data_home, tmp_path, config)])
    assert cli is not None
    table = capsys.readouterr().out
    for row in (f"{algorithm} (adapted)", f"{algorithm}, no adaptation", "popularity (target"):
        assert f"| {row}" in table
    assert math.isfinite(float(cli.trainer.callback_metrics["test/ndcg@10"]))
