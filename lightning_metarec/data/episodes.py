"""Episodic batches: one task = one user in one domain, with a support and a query set."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from lightning_metarec.data.encoded import EncodedLog
from lightning_metarec.data.sampling import NegativeSampler
from lightning_metarec.data.splits import TaskSet

__all__ = ["Episode", "EpisodeBatch", "EpisodeCollator", "EpisodeDataset", "EpisodeSet"]


@dataclass
class Episode:
    """One task's tensors (unpadded). Inputs are ``(item, genres, user, user_features)``.

    ``query_target`` is 0 for sampled negatives (never a rating: ratings are > 0) and the
    rating (``rating`` kind) or 1 (``ranking`` kind) for the user's real query interactions.
    """

    task_index: int
    protocol: str
    user: Tensor
    user_features: Tensor
    support_item: Tensor
    support_genres: Tensor
    support_target: Tensor
    query_item: Tensor
    query_genres: Tensor
    query_target: Tensor
    query_popularity: Tensor
    query_item_mean: Tensor

    def support_inputs(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Model inputs of the support set."""
        return self._inputs(self.support_item, self.support_genres)

    def query_inputs(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Model inputs of the query set (candidates)."""
        return self._inputs(self.query_item, self.query_genres)

    def _inputs(self, item: Tensor, genres: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        n = item.shape[0]
        return item, genres, self.user.expand(n), self.user_features.expand(n, -1)


@dataclass
class EpisodeBatch:
    """B tasks as padded tensors; ``*_mask`` marks real (non-padding) positions.

    Support/query targets are ratings (``rating`` kind) or 1/0 labels (``ranking`` kind, where
    sampled negatives are appended with target 0). ``task_index`` numbers tasks within their
    split from 0, so it can serve as the ``indexes`` of retrieval metrics.
    """

    task_index: Tensor
    user: Tensor
    domain: Tensor
    user_features: Tensor
    support_item: Tensor
    support_genres: Tensor
    support_target: Tensor
    support_mask: Tensor
    query_item: Tensor
    query_genres: Tensor
    query_target: Tensor
    query_mask: Tensor
    query_popularity: Tensor
    query_item_mean: Tensor
    protocol: str = "query_only"

    def __len__(self) -> int:
        return int(self.task_index.shape[0])

    def episode(self, i: int) -> Episode:
        """The ``i``-th task with padding removed."""
        s, q = self.support_mask[i], self.query_mask[i]
        return Episode(
            task_index=int(self.task_index[i]),
            protocol=self.protocol,
            user=self.user[i],
            user_features=self.user_features[i],
            support_item=self.support_item[i][s],
            support_genres=self.support_genres[i][s],
            support_target=self.support_target[i][s],
            query_item=self.query_item[i][q],
            query_genres=self.query_genres[i][q],
            query_target=self.query_target[i][q],
            query_popularity=self.query_popularity[i][q],
            query_item_mean=self.query_item_mean[i][q],
        )

    def episodes(self) -> Iterator[Episode]:
        """Iterate over the tasks of the batch."""
        return (self.episode(i) for i in range(len(self)))

    def to_dict(self) -> dict[str, Tensor]:
        """Field name -> tensor."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "protocol"}


@dataclass
class EpisodeSet:
    """Precomputed item/target arrays of one split's tasks.

    ``support_item``/``query_item`` are (T, S)/(T, Q) arrays; evaluation candidates (sampled
    or full-catalog negatives, fixed so every algorithm sees the same ones) are already
    appended with target 0. ``query_mask`` marks real positions when tasks have different
    numbers of candidates (``full`` protocol); padding holds item 0. ``support_mask`` does the
    same for support sets of different lengths (``support_size="rest"``).
    """

    user: np.ndarray
    domain: np.ndarray
    support_item: np.ndarray
    support_target: np.ndarray
    query_item: np.ndarray
    query_target: np.ndarray
    query_mask: np.ndarray | None = None
    protocol: str = "query_only"
    support_mask: np.ndarray | None = None

    @classmethod
    def from_tasks(
        cls,
        log_: EncodedLog,
        tasks: TaskSet,
        implicit: bool,
        support_negatives: np.ndarray | None = None,
        query_negatives: np.ndarray | None = None,
        negatives_mask: np.ndarray | None = None,
        protocol: str = "query_only",
    ) -> EpisodeSet:
        """Gather the task rows of ``log_`` (ratings, or 1s when ``implicit``) plus negatives.

        ``negatives_mask`` marks the real entries of a padded ``query_negatives``.
        """
        s_item, q_item = log_.item[tasks.support], log_.item[tasks.query]
        s_tgt = np.ones(s_item.shape, np.float32) if implicit else log_.rating[tasks.support]
        q_tgt = np.ones(q_item.shape, np.float32) if implicit else log_.rating[tasks.query]
        if support_negatives is not None:
            s_item = np.concatenate((s_item, support_negatives), axis=1)
            s_tgt = np.concatenate((s_tgt, np.zeros(support_negatives.shape, np.float32)), 1)
        q_mask = None
        if query_negatives is not None:
            q_item = np.concatenate((q_item, query_negatives), axis=1)
            q_tgt = np.concatenate((q_tgt, np.zeros(query_negatives.shape, np.float32)), 1)
            if negatives_mask is not None:
                q_mask = np.concatenate((np.ones(tasks.query.shape, bool), negatives_mask), 1)
        return cls(
            tasks.user,
            tasks.domain,
            s_item,
            s_tgt,
            q_item,
            q_tgt,
            q_mask,
            protocol,
            _support_mask(tasks.support_mask, s_item.shape),
        )

    def __len__(self) -> int:
        return len(self.user)


def _support_mask(real: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Support mask over ``shape``: the tasks' real rows, appended negatives always real."""
    if real is None:
        return None
    mask = np.ones(shape, dtype=bool)
    mask[:, : real.shape[1]] = real
    return mask


class EpisodeDataset(Dataset[int]):
    """Map-style dataset of task indices; the collator gathers the arrays in one go."""

    def __init__(self, episodes: EpisodeSet) -> None:
        self.episodes = episodes

    def __len__(self) -> int:
        return len(self.episodes)

    def __getitem__(self, index: int) -> int:
        return index


class EpisodeCollator:
    """Turns a list of task indices into an :class:`EpisodeBatch` with vectorized gathers.

    Args:
        log_: the encoded log (item genres and user features).
        episodes: the split's precomputed arrays.
        popularity: per-item interaction count of meta-train users in the target domain.
        item_mean: per-item mean rating of meta-train users (global mean when unseen).
        sampler: if given, ``train_negatives`` fresh negatives per positive are drawn for support
            and query of every task (training in the ``ranking`` kind).
        train_negatives: negatives per positive for ``sampler``.
        seed: base seed of the fresh negatives (combined with the batch's task indices).
    """

    def __init__(
        self,
        log_: EncodedLog,
        episodes: EpisodeSet,
        popularity: np.ndarray,
        item_mean: np.ndarray,
        sampler: NegativeSampler | None = None,
        train_negatives: int = 0,
        seed: int = 0,
    ) -> None:
        self.item_genres = torch.from_numpy(log_.item_genres)
        self.user_features = torch.from_numpy(log_.user_features)
        self.popularity = torch.from_numpy(popularity.astype(np.float32))
        self.item_mean = torch.from_numpy(item_mean.astype(np.float32))
        self.episodes = episodes
        self.sampler = sampler
        self.train_negatives = train_negatives
        self.seed = seed

    def _rng(self, indices: np.ndarray) -> np.random.Generator:
        """A generator seeded by the batch's task indices.

        No state: resumed runs, worker processes and DDP ranks draw the same negatives for the
        same batch; epochs differ through the sampler's per-epoch permutation.
        """
        return np.random.default_rng([self.seed, *indices.tolist()])

    def _with_negatives(
        self,
        items: np.ndarray,
        targets: np.ndarray,
        users: np.ndarray,
        domains: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Append ``train_negatives`` fresh negatives per positive (target 0)."""
        if self.sampler is None or self.train_negatives == 0:
            return items, targets
        n = items.shape[1] * self.train_negatives
        neg = self.sampler.with_replacement(users, domains, n, rng)
        zeros = np.zeros(neg.shape, np.float32)
        return np.concatenate((items, neg), 1), np.concatenate((targets, zeros), 1)

    def __call__(self, indices: list[int]) -> EpisodeBatch:
        """Gather the tasks ``indices`` into one padded batch."""
        idx = np.asarray(indices, dtype=np.int64)
        ep = self.episodes
        users, domains = ep.user[idx], ep.domain[idx]
        rng = self._rng(idx)
        s_item, s_tgt = self._with_negatives(
            ep.support_item[idx], ep.support_target[idx], users, domains, rng
        )
        q_item, q_tgt = self._with_negatives(
            ep.query_item[idx], ep.query_target[idx], users, domains, rng
        )
        s_item_t, q_item_t = torch.from_numpy(s_item), torch.from_numpy(q_item)
        return EpisodeBatch(
            task_index=torch.from_numpy(idx),
            user=torch.from_numpy(users),
            domain=torch.from_numpy(domains),
            user_features=self.user_features[users],
            support_item=s_item_t,
            support_genres=self.item_genres[s_item_t],
            support_target=torch.from_numpy(np.ascontiguousarray(s_tgt)),
            support_mask=self._mask(ep.support_mask, idx, s_item_t.shape),
            query_item=q_item_t,
            query_genres=self.item_genres[q_item_t],
            query_target=torch.from_numpy(np.ascontiguousarray(q_tgt)),
            query_mask=self._mask(ep.query_mask, idx, q_item_t.shape),
            query_popularity=self.popularity[q_item_t],
            query_item_mean=self.item_mean[q_item_t],
            protocol=ep.protocol,
        )

    @staticmethod
    def _mask(given: np.ndarray | None, idx: np.ndarray, shape: torch.Size) -> Tensor:
        """Real (non-padding) positions; trailing training negatives are always real."""
        mask = torch.ones(shape, dtype=torch.bool)
        if given is not None:
            mask[:, : given.shape[1]] = torch.from_numpy(given[idx])
        return mask
