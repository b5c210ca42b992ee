"""Split options: variable-length support (``rest``), interaction caps, fixed query position,
overlapping-user evaluation (cross-domain beta protocol)."""

import numpy as np
import pytest

from lightning_metarec.data.domains import assign_genre_domains
from lightning_metarec.data.encoded import encode
from lightning_metarec.data.leakage import check_leakage
from lightning_metarec.data.splits import cold_start_split
from lightning_metarec.errors import DataError
from tests.conftest import SyntheticDataModule, make_table


def _log(table=None):
    table = table or make_table()
    return encode(table, assign_genre_domains(table.items, "Comedy"))


def test_rest_support_is_every_interaction_before_the_last_q() -> None:
    log_ = _log()
    split = cold_start_split(log_, "Comedy", "rest", 3, seed=0)
    for tasks in (split.train, split.test):
        assert tasks.support_mask is not None
        for t in range(len(tasks)):
            run = np.flatnonzero((log_.user == tasks.user[t]) & (log_.domain == tasks.domain[t]))
            real = tasks.support[t][tasks.support_mask[t]]
            # time order within a task: support = all but the latest 3, query = the latest 3
            assert real.tolist() == run[:-3].tolist()
            assert tasks.query[t].tolist() == run[-3:].tolist()
            # padding repeats a real support row of the same task
            assert set(tasks.support[t].tolist()) == set(real.tolist())
    assert len(set(split.test.support_lengths().tolist())) > 1  # lengths really vary
    check_leakage(log_, split, log_.domains.index("Comedy"), time_mode=True)


def test_max_interactions_drops_heavy_tasks_and_users() -> None:
    log_ = _log()
    target = log_.domains.index("Comedy")
    counts = np.bincount(log_.user[log_.domain == target])
    cap = int(np.median(counts[counts > 0]))
    split = cold_start_split(log_, "Comedy", "rest", 2, 0.2, 0.2, seed=0, max_interactions=cap)
    assert (counts[split.test_users] <= cap).all() and (counts[split.val_users] <= cap).all()
    assert (split.train.support_lengths() + 2 <= cap).all()
    assert (counts[split.test_users] >= 3).all()
    with pytest.raises(DataError, match="max_interactions=2 is below the 3"):
        cold_start_split(log_, "Comedy", "rest", 2, max_interactions=2)


def test_query_start_fixes_the_query_items_for_every_support_size() -> None:
    log_ = _log()
    splits = [
        cold_start_split(log_, "Comedy", k, 2, 0.2, 0.2, seed=3, query_start=5) for k in (1, 3, 5)
    ]
    for split in splits[1:]:
        assert np.array_equal(split.test_users, splits[0].test_users)
        assert np.array_equal(split.test.query, splits[0].test.query)
    assert [s.test.support.shape[1] for s in splits] == [1, 3, 5]
    assert np.array_equal(splits[1].test.support, splits[2].test.support[:, :3])
    with pytest.raises(DataError, match="query_start=2 is below support_size=3"):
        cold_start_split(log_, "Comedy", 3, 2, query_start=2)
    with pytest.raises(DataError, match="query_start needs an integer support_size"):
        cold_start_split(log_, "Comedy", "rest", 2, query_start=4)


def _table_with_target_only_users(n: int):
    """The synthetic table where the first ``n`` users rate only Comedy movies."""
    table = make_table()
    domain = assign_genre_domains(table.items, "Comedy")
    inter = table.interactions
    only_target = inter["user_id"].isin([f"u{u}" for u in range(n)])
    keep = ~only_target | (inter["item_id"].map(domain) == "Comedy").to_numpy()
    table.interactions = inter[keep].reset_index(drop=True)
    return table


def test_overlap_only_evaluates_overlapping_users_and_beta_is_their_fraction() -> None:
    log_ = _log(_table_with_target_only_users(20))
    target = log_.domains.index("Comedy")
    source_users = np.unique(log_.user[log_.domain != target])
    split = cold_start_split(log_, "Comedy", 3, 2, 0.1, 0.5, seed=0, overlap_only=True)
    held = np.concatenate((split.val_users, split.test_users))
    assert np.isin(held, source_users).all()
    only_target = np.setdiff1d(np.unique(log_.user), source_users)
    assert len(only_target) == 20 and np.isin(only_target, split.train_users).all()
    assert len(split.test_users) == round(0.5 * len(source_users))  # beta of overlapping users


def test_overlap_only_without_overlapping_users_is_a_clear_error() -> None:
    log_ = _log(_table_with_target_only_users(60))
    with pytest.raises(DataError, match="overlap_only: 0 users of target domain 'Comedy'"):
        cold_start_split(log_, "Comedy", 3, 2, overlap_only=True)


def test_datamodule_passes_min_target_interactions_and_keeps_candidates_across_k() -> None:
    def test_batch(k: int):
        dm = SyntheticDataModule(
            task_kind="ranking", support_size=k, query_start=6, min_target_interactions=10
        )
        dm.setup("test")
        return dm, next(iter(dm.test_dataloader()))

    (dm1, b1), (dm6, b6) = test_batch(1), test_batch(6)
    assert np.array_equal(dm1.split.test_users, dm6.split.test_users)
    counts = np.bincount(dm1.log_.user[dm1.log_.domain == dm1.target])
    assert (counts[dm1.split.test_users] >= 10).all()
    assert b1.support_item.shape[1] != b6.support_item.shape[1]
    assert np.array_equal(b1.query_item.numpy(), b6.query_item.numpy())  # same candidates


def test_rest_support_batches_carry_the_mask_and_episodes_drop_padding() -> None:
    dm = SyntheticDataModule(support_size="rest", query_size=3)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    lengths = batch.support_mask.sum(1)
    assert not batch.support_mask.all() and (lengths >= 1).all()
    for i, ep in enumerate(batch.episodes()):
        assert ep.support_item.shape[0] == int(lengths[i])
    assert "K=all but the query" in dm.protocol()


def test_rest_support_is_refused_for_ranking() -> None:
    with pytest.raises(DataError, match="support_size: rest is for task_kind: rating"):
        SyntheticDataModule(support_size="rest", task_kind="ranking")


def test_target_domain_all_puts_every_item_in_one_domain() -> None:
    dm = SyntheticDataModule(target_domain="all", support_size="rest", query_size=3)
    dm.setup("fit")
    assert dm.log_.domains == ["all"]
    assert len(dm.split.train) == len(dm.split.train_users)  # one task per training user
