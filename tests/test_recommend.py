"""`python -m lightning_metarec.recommend` on a quick real ML-100K checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_metarec.data import MetaRecDataModule
from lightning_metarec.recommend import Recommender, main, parse_ratings, read_ratings_file
from lightning_metarec.tasks import MAMLTask
from tests.test_predict import quick_checkpoint


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory, data_home) -> tuple[Path, Path]:
    """One quick real fit, shared with test_predict in the same session."""
    return quick_checkpoint(tmp_path_factory, data_home)


def _error(capsys, args: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    return err


def test_recommends_unrated_target_items_for_a_new_user(checkpoint, capsys) -> None:
    ckpt, _ = checkpoint
    table = main(["--ckpt", str(ckpt), "--ratings", "Toy Story:5,Heat:4", "--top-k", "10"])
    out, err = capsys.readouterr()
    assert list(table.columns) == ["rank", "item", "title", "score"]
    assert table["rank"].tolist() == list(range(1, 11))
    assert (np.diff(table["score"].to_numpy()) <= 0).all() and table["item"].is_unique
    assert not {"Toy Story", "Heat"} & set(table["title"])
    assert "Top 10 Comedy items for a new user (MAML, adapted on 2 items)" in out
    assert table["title"].iloc[0] in out
    assert "1 of 2 given items are outside the target domain 'Comedy' (Heat)" in err


def test_ratings_file_config_and_adaptation_change_the_list(checkpoint, tmp_path) -> None:
    ckpt, config = checkpoint
    recommender = Recommender.from_checkpoint(ckpt, MAMLTask, config=config)
    loved = recommender.recommend([("Toy Story", 5.0), ("Aladdin", 5.0), ("Clueless", 5.0)], 400)
    hated = recommender.recommend([("Toy Story", 1.0), ("Aladdin", 1.0), ("Clueless", 1.0)], 400)
    assert len(loved) == len(hated) == 400
    assert loved["score"].mean() > hated["score"].mean()  # adaptation follows the ratings

    ratings = tmp_path / "mine.csv"
    ratings.write_text('item,rating\nToy Story,5\n"Usual Suspects, The (1995)",4\n4,3\n')
    assert read_ratings_file(ratings) == [
        ("Toy Story", 5.0),
        ("Usual Suspects, The (1995)", 4.0),
        ("4", 3.0),
    ]
    table = main(["--ckpt", str(ckpt), "--config", str(config), "--ratings-file", str(ratings)])
    assert len(table) == 10 and "Get Shorty" not in set(table["title"])  # raw id 4


def test_unknown_ambiguous_and_out_of_range_items_are_one_line(checkpoint, capsys) -> None:
    ckpt, _ = checkpoint
    err = _error(capsys, ["--ckpt", str(ckpt), "--ratings", "Toy Stroy:5,Shall We Dance?:4"])
    assert "unknown item 'Toy Stroy' (close: Toy Story" in err
    assert "'Shall We Dance?' is ambiguous (Shall We Dance? [id " in err
    err = _error(capsys, ["--ckpt", str(ckpt), "--ratings", "Toy Story:9"])
    assert "ratings must be numbers in [1, 5]" in err and "'Toy Story'" in err
    err = _error(capsys, ["--ckpt", str(ckpt) + ".missing", "--ratings", "Toy Story:5"])
    assert "not found" in err


def test_checkpoint_saved_outside_the_cli_needs_the_task_class(
    checkpoint, tmp_path, capsys
) -> None:
    ckpt, config = checkpoint
    stored = torch.load(ckpt, map_location="cpu", weights_only=True)
    del stored["hyper_parameters"]["_class_path"], stored["hyper_parameters"]["_instantiator"]
    plain = tmp_path / "plain.ckpt"
    torch.save(stored, plain)
    err = _error(capsys, ["--ckpt", str(plain), "--ratings", "Toy Story:5"])
    assert "does not record its task class" in err and "--config" in err
    table = main(["--ckpt", str(plain), "--config", str(config), "--ratings", "Toy Story:5"])
    assert len(table) == 10


def test_parse_ratings_handles_commas_and_colons_in_titles() -> None:
    assert parse_ratings("Usual Suspects, The (1995):5, Star Trek: First Contact:4.5") == [
        ("Usual Suspects, The (1995)", 5.0),
        ("Star Trek: First Contact", 4.5),
    ]
    assert parse_ratings("Toy Story, Heat") == [("Toy Story", None), ("Heat", None)]


def test_ranking_task_adapts_with_sampled_negatives_and_leaves_the_task_intact(data_home) -> None:
    datamodule = MetaRecDataModule(data_dir=data_home, download=False, task_kind="ranking")
    task = MAMLTask(schema=datamodule.schema, eval_inner_steps=2)
    before = task.model.user_embedding.weight.detach().clone()
    recommender = Recommender(task, datamodule)
    items, targets = recommender.resolve(parse_ratings("Toy Story, Clueless"))
    episode = recommender.episode(items, targets)
    negatives = datamodule.hparams["train_negatives"] * 2
    assert episode.support_target.tolist() == [1.0, 1.0] + [0.0] * negatives
    assert not set(episode.query_item.tolist()) & set(items.tolist())
    assert len(recommender.recommend([("Toy Story", None)], 5)) == 5
    assert torch.equal(task.model.user_embedding.weight, before)  # a private copy was adapted
    neutral = recommender.task.model.user_embedding.weight[0]
    assert torch.allclose(neutral, before.mean(0))
