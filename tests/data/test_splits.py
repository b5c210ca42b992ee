import logging

import numpy as np
import pandas as pd
import pytest

from lightning_metarec.data.domains import assign_genre_domains
from lightning_metarec.data.encoded import encode
from lightning_metarec.data.leakage import check_leakage
from lightning_metarec.data.splits import cold_start_split
from lightning_metarec.errors import DataError, LeakageError
from tests.conftest import make_table


def _log(**kwargs):
    table = make_table(**kwargs)
    return encode(table, assign_genre_domains(table.items, "Comedy"))


def test_log_sorted_by_user_domain_time_then_item() -> None:
    log_ = _log()
    keys = np.stack([log_.user, log_.domain, log_.timestamp, log_.item], 1)
    order = np.lexsort(keys.T[::-1])
    assert (order == np.arange(len(order))).all()


def test_split_sizes_and_held_out_users_absent_from_target_training() -> None:
    log_ = _log()
    target = log_.domains.index("Comedy")
    split = cold_start_split(log_, "Comedy", 3, 2, 0.2, 0.2, seed=1)
    assert split.train.support.shape[1] == 3 and split.test.query.shape[1] == 2
    held = np.concatenate((split.val_users, split.test_users))
    assert not np.isin(split.train.user[split.train.domain == target], held).any()
    assert (split.test.domain == target).all() and (split.val.domain == target).all()
    assert set(split.test.user) == set(split.test_users)
    assert not np.intersect1d(split.val_users, split.test_users).size
    check_leakage(log_, split, target, time_mode=True)


def test_time_mode_support_precedes_query() -> None:
    log_ = _log()
    split = cold_start_split(log_, "Comedy", 3, 2, seed=0)
    for tasks in (split.train, split.test):
        assert (log_.timestamp[tasks.support].max(1) <= log_.timestamp[tasks.query].min(1)).all()
        assert (log_.user[tasks.support] == tasks.user[:, None]).all()
        assert (log_.domain[tasks.query] == tasks.domain[:, None]).all()


def test_split_is_deterministic_and_seed_dependent() -> None:
    log_ = _log()
    a = cold_start_split(log_, "Comedy", 3, 2, selection="random", seed=3)
    b = cold_start_split(log_, "Comedy", 3, 2, selection="random", seed=3)
    c = cold_start_split(log_, "Comedy", 3, 2, selection="random", seed=4)
    assert (a.test.support == b.test.support).all()
    assert not np.array_equal(a.test_users, c.test_users) or not np.array_equal(
        a.test.support, c.test.support
    )


def test_users_with_too_few_interactions_are_dropped_and_logged(caplog) -> None:
    log_ = _log(per_user=12)
    with caplog.at_level(logging.INFO, logger="lightning_metarec"):
        split = cold_start_split(log_, "Comedy", 2, 2, seed=0)
    counts = np.bincount(log_.user[log_.domain == log_.domains.index("Comedy")])
    assert split.dropped_target_users == ((counts > 0) & (counts < 4)).sum() > 0
    assert (counts[split.test_users] >= 4).all() and (counts[split.val_users] >= 4).all()
    assert f"{split.dropped_target_users} dropped" in caplog.text


def test_support_plus_query_larger_than_any_history_is_a_clear_error() -> None:
    log_ = _log()
    with pytest.raises(DataError, match=r"no user has at least support_size \+ query_size = 500"):
        cold_start_split(log_, "Comedy", 400, 100)


def test_duplicates_collapse_keeps_last_by_time_and_logs(caplog) -> None:
    table = make_table()
    first = table.interactions.iloc[[0]].copy()
    first["rating"] = np.float32(5.0) if first["rating"].iloc[0] != 5 else np.float32(1.0)
    first["timestamp"] = 10**9
    table.interactions = pd.concat([table.interactions, first], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="lightning_metarec"):
        log_ = encode(table, assign_genre_domains(table.items, "Comedy"), duplicates="last")
    assert "collapsed 2 duplicate" in caplog.text
    assert len(log_.user) == len(table.interactions) - 1
    u = list(log_.user_ids).index(first["user_id"].iloc[0])
    i = list(log_.item_ids).index(first["item_id"].iloc[0])
    assert log_.rating[(log_.user == u) & (log_.item == i)][0] == first["rating"].iloc[0]


def test_leakage_check_fails_loudly() -> None:
    log_ = _log()
    target = log_.domains.index("Comedy")
    split = cold_start_split(log_, "Comedy", 3, 2, seed=0)
    split.test.query[0, 0] = split.test.support[0, 0]  # same interaction in support and query
    with pytest.raises(LeakageError, match="both support and query"):
        check_leakage(log_, split, target, time_mode=False)
    split = cold_start_split(log_, "Comedy", 3, 2, seed=0)
    split.train.user[np.flatnonzero(split.train.domain == target)[0]] = split.test_users[0]
    with pytest.raises(LeakageError, match="appears in a target-domain training task"):
        check_leakage(log_, split, target, time_mode=False)


def test_user_partition_is_stable_across_support_sizes() -> None:
    log_ = _log()
    small = cold_start_split(log_, "Comedy", 2, 2, 0.2, 0.2, seed=5)
    large = cold_start_split(log_, "Comedy", 5, 3, 0.2, 0.2, seed=5)
    assert set(large.test_users) <= set(small.test_users)
    assert not set(large.test_users) & set(small.train_users)
    swept = cold_start_split(log_, "Comedy", 2, 2, 0.2, 0.2, seed=5, min_target_interactions=8)
    assert set(swept.test_users) == set(large.test_users)


def test_split_log_names_only_the_bounds_that_apply(caplog: pytest.LogCaptureFixture) -> None:
    log_ = _log()
    with caplog.at_level(logging.INFO, logger="lightning_metarec"):
        cold_start_split(log_, "Comedy", 3, 2, 0.2, 0.2, seed=1)
        cold_start_split(log_, "Comedy", 3, 2, 0.2, 0.2, seed=1, max_interactions=40)
    text = caplog.text
    assert "dropped with fewer than 5 interactions" in text
    assert "dropped with fewer than 5 or more than 40 interactions" in text
    assert "None" not in text
