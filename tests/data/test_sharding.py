import pytest

from lightning_metarec.data.sharding import ShardedTaskSampler


@pytest.mark.parametrize("n", [10, 11, 13])
def test_train_shards_are_disjoint_equal_and_drop_at_most_world_minus_one(n: int) -> None:
    shards = [
        list(ShardedTaskSampler(n, r, 3, shuffle=True, seed=1, drop_uneven=True)) for r in range(3)
    ]
    flat = [i for s in shards for i in s]
    assert len(flat) == len(set(flat)) and n - len(flat) < 3
    assert len({len(s) for s in shards}) == 1


def test_eval_shards_cover_every_task_once_without_padding() -> None:
    shards = [list(ShardedTaskSampler(11, r, 2)) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == list(range(11))


def test_epochs_reshuffle_deterministically() -> None:
    sampler = ShardedTaskSampler(20, shuffle=True, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert first != second and sorted(first) == sorted(second)
    again = ShardedTaskSampler(20, shuffle=True, seed=0)
    again.set_epoch(1)
    assert list(again) == second
