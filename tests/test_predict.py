"""`predict` with the TopKWriter on the real ML-100K: top-K files of every test user."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_metarec.callbacks import TopKWriter, top_k_rows
from lightning_metarec.main import main

REPO = Path(__file__).resolve().parents[1]


def quick_fit_args(data_home: Path, out: Path, config: str = "ml100k_maml.yaml") -> list[str]:
    """A seconds-long real fit: 2 meta-batches of 8 users, 1 adaptation step at evaluation."""
    return [
        "--config",
        str(REPO / "configs" / config),
        "--data.init_args.data_dir",
        str(data_home),
        "--data.init_args.download",
        "false",
        "--data.init_args.batch_size",
        "8",
        "--model.init_args.eval_inner_steps",
        "1",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "2",  # "1" parses as 1.0 = every batch
        "--trainer.limit_test_batches",
        "2",
        "--trainer.num_sanity_val_steps",
        "0",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
        "--trainer.logger.init_args.save_dir",
        str(out),
        "--trainer.default_root_dir",
        str(out),
    ]


def quick_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, data_home: Path
) -> tuple[Path, Path]:
    """``(best checkpoint, its config.yaml)`` of one quick fit, shared by the session's tests."""
    out = tmp_path_factory.getbasetemp() / "quick_fit"
    run = out / "ml100k_maml" / "version_0"
    if not (run / "config.yaml").is_file():
        args = quick_fit_args(data_home, out)
        assert main(["fit", *args, "--test_after_fit", "false"]) is not None
    (best,) = (run / "checkpoints").glob("best-*.ckpt")
    return best, run / "config.yaml"


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory, data_home) -> tuple[Path, Path]:
    return quick_checkpoint(tmp_path_factory, data_home)


def test_predict_writes_top_k_of_every_test_user(tmp_path, checkpoint) -> None:
    ckpt, config = checkpoint
    path = tmp_path / "top5.csv"
    cli = main(
        [
            "predict",
            "--config",
            str(config),
            "--ckpt_path",
            str(ckpt),
            "--trainer.logger",
            "false",
            "--trainer.callbacks+=lightning_metarec.callbacks.TopKWriter",
            "--trainer.callbacks.top_k",
            "5",
            "--trainer.callbacks.path",
            str(path),
        ]
    )
    assert cli is not None
    top = pd.read_csv(path, dtype={"user": str, "item": str})
    assert list(top.columns) == ["user", "rank", "item", "title", "score"]
    log_, split = cli.datamodule.log_, cli.datamodule.split
    assert set(top["user"]) == {str(log_.user_ids[u]) for u in split.test_users}
    for _, rows in top.groupby("user"):
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5]
        assert (np.diff(rows["score"].to_numpy()) <= 0).all()
        assert rows["item"].is_unique
    codes = {str(raw): code for code, raw in enumerate(log_.item_ids)}
    item_codes = top["item"].map(codes)
    assert (log_.titles[item_codes.to_numpy()] == top["title"].fillna("").to_numpy()).all()
    assert (log_.item_domain[item_codes.to_numpy()] == cli.datamodule.target).all()
    # every recommendation is one of the user's candidates, never a support item
    episodes = cli.datamodule.episode_sets["test"]
    for task in range(len(episodes)):
        user = str(log_.user_ids[episodes.user[task]])
        given = set(episodes.support_item[task].tolist())
        recommended = set(item_codes[top["user"] == user])
        assert recommended <= set(episodes.query_item[task].tolist())
        assert not recommended & given

    # the same writer writes Parquet when asked
    writer = next(cb for cb in cli.trainer.callbacks if isinstance(cb, TopKWriter))
    writer.path = str(tmp_path / "top5.parquet")
    cli.trainer.predict(cli.model, datamodule=cli.datamodule, return_predictions=False)
    parquet = pd.read_parquet(tmp_path / "top5.parquet")
    pd.testing.assert_frame_equal(
        parquet.astype({"user": str, "item": str}), top.fillna({"title": ""}), check_exact=False
    )


def test_top_k_rows_ranks_by_score_then_item() -> None:
    frame = pd.DataFrame(
        {"user": [1, 1, 1, 2, 2], "item": [5, 3, 4, 9, 8], "score": [0.1, 0.9, 0.9, -1.0, 2.0]}
    )
    best = top_k_rows(frame, 2)
    assert best[["user", "rank", "item"]].values.tolist() == [
        [1, 1, 3],
        [1, 2, 4],
        [2, 1, 8],
        [2, 2, 9],
    ]


@pytest.mark.parametrize(("path", "top_k"), [("top.json", 10), ("top.csv", 0)])
def test_writer_refuses_bad_settings_in_one_line(capsys, checkpoint, path, top_k) -> None:
    ckpt, config = checkpoint
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "predict",
                "--config",
                str(config),
                "--ckpt_path",
                str(ckpt),
                "--trainer.callbacks+=lightning_metarec.callbacks.TopKWriter",
                "--trainer.callbacks.path",
                path,
                "--trainer.callbacks.top_k",
                str(top_k),
            ]
        )
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("lightning_metarec: error: TopKWriter")
