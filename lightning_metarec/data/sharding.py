"""Rank-aware task sampler: every task of an epoch goes to exactly one process, no padding."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

__all__ = ["ShardedTaskSampler"]


class ShardedTaskSampler(Sampler[int]):
    """Shards task indices across ``world_size`` ranks (``indices[rank::world_size]``).

    Unlike ``DistributedSampler`` it never pads by repeating samples, which would evaluate some
    users twice and silently change NDCG/HR. For training (``drop_uneven=True``) the epoch is
    cut to a multiple of ``world_size`` (at most ``world_size - 1`` tasks, different ones each
    epoch) so every rank runs the same number of steps and gradient all-reduces never hang.
    Evaluation ranks may differ by one task; torchmetrics gathers uneven states.

    The order is a seeded permutation per epoch (``set_epoch``, called by Lightning), identical
    on every rank and independent of the global RNG, so a resumed run replays the same epochs.

    Args:
        num_tasks: number of tasks in the split.
        rank: this process's global rank.
        world_size: number of processes.
        shuffle: permute the tasks each epoch.
        seed: base seed of the permutation.
        drop_uneven: cut the epoch to a multiple of ``world_size``.
    """

    def __init__(
        self,
        num_tasks: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = False,
        seed: int = 0,
        drop_uneven: bool = False,
    ) -> None:
        self.num_tasks = num_tasks
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_uneven = drop_uneven
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = epoch

    def _indices(self) -> np.ndarray:
        order = (
            np.random.default_rng((self.seed, self.epoch)).permutation(self.num_tasks)
            if self.shuffle
            else np.arange(self.num_tasks)
        )
        if self.drop_uneven:
            order = order[: self.num_tasks - self.num_tasks % self.world_size]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return len(self._indices())
