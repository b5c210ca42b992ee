"""Cross-domain end to end: Amazon-format category files and a generic Parquet log, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lightning_metarec.main import main
from tests.conftest import make_table


def _log() -> pd.DataFrame:
    """The seeded synthetic log with two domains by item parity (books / movies)."""
    frame = make_table().interactions.copy()
    number = frame["item_id"].str[1:].astype(int)
    frame["domain"] = (number % 2).map({0: "Books", 1: "Movies_and_TV"})
    return frame


def _config(tmp_path: Path, source: dict, target: str) -> Path:
    config = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 1,
            "accelerator": "cpu",
            "inference_mode": False,
            "use_distributed_sampler": False,
            "enable_progress_bar": False,
            "default_root_dir": str(tmp_path),
            "logger": False,
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {
                        "monitor": "val/ndcg@10",
                        "mode": "max",
                        "dirpath": str(tmp_path / "ckpt"),
                    },
                },
                {
                    "class_path": "lightning_metarec.callbacks.ResultsTable",
                    "init_args": {"dirpath": str(tmp_path)},
                },
            ],
        },
        "model": {
            "class_path": "lightning_metarec.tasks.MAMLTask",
            "init_args": {"embed_dim": 8, "hidden_dims": [16], "source_history": 10},
        },
        "data": {
            "class_path": "lightning_metarec.data.MetaRecDataModule",
            "init_args": {
                "source": source,
                "target_domain": target,
                "task_kind": "ranking",
                "support_size": 4,
                "query_size": 3,
                "num_negatives": 20,
                "train_negatives": 1,
                "val_fraction": 0.2,
                "test_fraction": 0.2,
                "batch_size": 8,
            },
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _fit(capsys, config: Path) -> str:
    cli = main(["fit", "--config", str(config)])
    assert cli is not None
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    assert 0.0 <= metrics["test/ndcg@10"] <= 1.0 and metrics["test/users"] > 0
    return capsys.readouterr().out


def test_amazon_category_files_end_to_end(tmp_path, capsys) -> None:
    files = {}
    for domain, rows in _log().groupby("domain"):
        path = tmp_path / f"reviews_{domain}_5.json"
        records = [
            {
                "reviewerID": r.user_id,
                "asin": r.item_id,
                "overall": float(r.rating),
                "unixReviewTime": int(r.timestamp),
                "reviewText": "ok",
            }
            for r in rows.itertuples()
        ]
        path.write_text("\n".join(json.dumps(x) for x in records) + "\n")
        files[domain] = str(path)
    source = {
        "class_path": "lightning_metarec.data.sources.AmazonReviews",
        "init_args": {"files": list(files.values()), "data_dir": str(tmp_path / "home")},
    }
    out = _fit(capsys, _config(tmp_path, source, "Books"))
    assert "Protocol: AmazonReviews, target domain 'Books'" in out


def test_generic_parquet_log_end_to_end(tmp_path, capsys) -> None:
    path = tmp_path / "log.parquet"
    _log().rename(columns={"user_id": "uid", "item_id": "iid"}).to_parquet(path)
    source = {
        "class_path": "lightning_metarec.data.sources.InteractionLog",
        "init_args": {
            "path": str(path),
            "user_column": "uid",
            "item_column": "iid",
            "data_dir": str(tmp_path / "home"),
        },
    }
    out = _fit(capsys, _config(tmp_path, source, "Movies_and_TV"))
    assert "Protocol: InteractionLog, target domain 'Movies_and_TV'" in out


def test_unknown_target_domain_of_a_source_lists_domains(tmp_path, capsys) -> None:
    path = tmp_path / "log.parquet"
    _log().to_parquet(path)
    source = {
        "class_path": "lightning_metarec.data.sources.InteractionLog",
        "init_args": {"path": str(path), "data_dir": str(tmp_path / "home")},
    }
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(_config(tmp_path, source, "Music"))])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "'Music'" in err and "Books, Movies_and_TV" in err
