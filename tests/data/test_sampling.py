import numpy as np

from lightning_metarec.data.domains import assign_genre_domains
from lightning_metarec.data.encoded import encode
from lightning_metarec.data.sampling import NegativeSampler
from tests.conftest import make_table


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
