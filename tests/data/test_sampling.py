import logging

import numpy as np
import pandas as pd
import pytest

from lightning_metarec.data import InteractionData
from lightning_metarec.data.domains import assign_genre_domains
from lightning_metarec.data.encoded import encode
from lightning_metarec.data.sampling import NegativeSampler
from lightning_metarec.errors import DataError
from tests.conftest import SyntheticDataModule, make_table


def _setup():
    table = make_table()
    log_ = encode(table, assign_genre_domains(table.items, "Comedy"))
    return log_, NegativeSampler(log_)


def test_eval_negatives_are_distinct_unrated_target_items() -> None:
    log_, sampler = _setup()
    target = log_.domains.index("Comedy")
    users = np.arange(10)
    neg = sampler.without_replacement(users, target, 8, np.random.default_rng(0))
    assert neg.shape == (10, 8)
    assert (log_.item_domain[neg] == target).all()
    assert not sampler.is_rated(users[:, None], neg).any()
    assert all(len(set(row)) == 8 for row in neg)
    rated = {(u, i) for u, i in zip(log_.user, log_.item, strict=True)}
    assert not any((u, i) in rated for u, row in zip(users, neg, strict=True) for i in row)


def test_train_negatives_stay_in_each_tasks_domain() -> None:
    log_, sampler = _setup()
    users = np.array([0, 1, 2, 3])
    domains = np.array([0, 1, 2, 1])
    neg = sampler.with_replacement(users, domains, 20, np.random.default_rng(1))
    assert (log_.item_domain[neg] == domains[:, None]).all()
    assert not sampler.is_rated(users[:, None], neg).any()


def test_without_replacement_prefix_does_not_depend_on_the_draw_size() -> None:
    table = make_table()
    log_ = encode(table, assign_genre_domains(table.items, "Comedy"))
    sampler = NegativeSampler(log_)
    users = np.arange(5)
    small = sampler.without_replacement(users, 0, 4, np.random.default_rng(7))
    large = sampler.without_replacement(users, 0, 12, np.random.default_rng(7))
    assert np.array_equal(small, large[:, :4])
    assert all(len(set(row)) == 12 for row in large.tolist())


def _with_heavy_raters() -> InteractionData:
    """make_table plus 'heavy' (all Action items but one) and 'all' (every Action item)."""
    table = make_table()
    domains = assign_genre_domains(table.items, "Comedy")
    action = list(domains.index[domains == "Action"])
    rows = [("heavy", item) for item in action[1:]] + [("all", item) for item in action]
    extra = pd.DataFrame(rows, columns=["user_id", "item_id"])
    extra["rating"] = np.float32(4.0)
    extra["timestamp"] = np.arange(len(extra), dtype=np.int64)
    frame = pd.concat([table.interactions, extra], ignore_index=True)
    users = pd.concat(
        [
            table.users,
            pd.DataFrame(
                {"gender": ["M", "F"], "age": ["18", "25"]},
                index=pd.Index(["heavy", "all"], name="user_id"),
            ),
        ]
    )
    return InteractionData(frame, table.items, users, source="synthetic")


def test_a_user_with_one_unrated_item_gets_it_as_every_negative_and_none_raises() -> None:
    table = _with_heavy_raters()
    log_ = encode(table, assign_genre_domains(table.items, "Comedy"))
    sampler = NegativeSampler(log_)
    action = log_.domains.index("Action")
    heavy, everything = (int(np.flatnonzero(log_.user_ids == u)[0]) for u in ("heavy", "all"))
    domains = assign_genre_domains(table.items, "Comedy")
    left_out = domains.index[domains == "Action"][0]  # the one Action item 'heavy' never rated
    first_action = int(np.flatnonzero(log_.item_ids == left_out)[0])
    neg = sampler.with_replacement(
        np.array([heavy]), np.array([action]), 50, np.random.default_rng(0)
    )
    assert (neg == first_action).all()
    with pytest.raises(DataError, match="user 'all' rated every item of domain 'Action'"):
        sampler.with_replacement(
            np.array([everything]), np.array([action]), 5, np.random.default_rng(0)
        )


def test_unrated_counts_equal_a_brute_force_count() -> None:
    table = _with_heavy_raters()
    log_ = encode(table, assign_genre_domains(table.items, "Comedy"))
    sampler = NegativeSampler(log_)
    users = np.repeat(np.arange(log_.num_users), len(log_.domains))
    domains = np.tile(np.arange(len(log_.domains)), log_.num_users)
    rated = set(zip(log_.user.tolist(), log_.item.tolist(), strict=True))
    expected = [
        sum((u, i) not in rated for i in np.flatnonzero(log_.item_domain == d))
        for u, d in zip(users, domains, strict=True)
    ]
    assert sampler.unrated_counts(users, domains).tolist() == expected
    assert 0 in expected and 1 in expected


class _HeavyRaters(SyntheticDataModule):
    def load_table(self) -> InteractionData:
        return _with_heavy_raters()


def test_ranking_training_drops_tasks_without_any_unrated_item(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dm = _HeavyRaters(task_kind="ranking")
    with caplog.at_level(logging.INFO, logger="lightning_metarec"):
        train = dm.split.train
    users = [dm.log_.user_ids[u] for u in train.user]
    assert "heavy" in users and "all" not in users
    assert "1 training tasks dropped: the user rated every item of the domain" in caplog.text
    assert "all" in [dm.log_.user_ids[u] for u in _HeavyRaters(task_kind="rating").split.train.user]
