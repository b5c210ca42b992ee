"""Negative sampling: items of a domain that the user never rated."""

from __future__ import annotations

import numpy as np

from lightning_metarec.data.encoded import EncodedLog
from lightning_metarec.errors import DataError

__all__ = ["NegativeSampler"]


class NegativeSampler:
    """Samples, per task, items of the task's domain absent from the user's whole history.

    "Never rated" is checked against the full log (every domain, every split), so a sampled
    negative is never an item the user interacted with, including held-out query items.

    Args:
        log_: the encoded log.
    """

    REJECTION_ROUNDS = 100  # as many as before the exact fallback: the same draws where it sufficed

    def __init__(self, log_: EncodedLog) -> None:
        self.num_items = log_.num_items
        self.item_domain = log_.item_domain
        self.rated = np.unique(log_.user * log_.num_items + log_.item)
        self.pool_order = np.argsort(log_.item_domain, kind="stable")
        counts = np.bincount(log_.item_domain, minlength=len(log_.domains))
        self.pool_start = np.concatenate(([0], np.cumsum(counts)[:-1]))
        self.pool_size = counts
        self.domains = log_.domains
        self.user_ids = log_.user_ids

    def is_rated(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Boolean array: did ``users[i]`` rate ``items[i]`` (broadcasting)?"""
        keys = users * self.num_items + items
        pos = np.searchsorted(self.rated, keys).clip(max=len(self.rated) - 1)
        return self.rated[pos] == keys

    def with_replacement(
        self, users: np.ndarray, domains: np.ndarray, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Shape (T, n): uniform draws from each task's unrated domain items.

        Used for training negatives; duplicates within a row are possible. Draws from the whole
        domain are redrawn while rated; the few cells still rated after ``REJECTION_ROUNDS``
        (a user who rated nearly every item of a small domain) are drawn exactly from that
        user's unrated items.
        """
        out = np.empty((len(users), n), dtype=np.int64)
        todo = np.ones(out.shape, dtype=bool)
        for _ in range(self.REJECTION_ROUNDS):
            rows, cols = np.nonzero(todo)
            if rows.size == 0:
                return out
            d = domains[rows]
            pick = self.pool_start[d] + (rng.random(rows.size) * self.pool_size[d]).astype(int)
            out[rows, cols] = self.pool_order[pick]
            todo[rows, cols] = self.is_rated(users[rows], out[rows, cols])
        for row in np.flatnonzero(todo.any(axis=1)):
            unrated = self._unrated(users[row], domains[row])
            out[row, todo[row]] = rng.choice(unrated, size=int(todo[row].sum()))
        return out

    def _unrated(self, user: int, domain: int) -> np.ndarray:
        """Every item of ``domain`` that ``user`` never rated (error if there is none)."""
        start, size = self.pool_start[domain], self.pool_size[domain]
        pool = self.pool_order[start : start + size]
        unrated = pool[~self.is_rated(np.full(size, user), pool)]
        if unrated.size == 0:
            raise DataError(
                f"user {self.user_ids[user]!r} rated every item of domain "
                f"{self.domains[domain]!r}: no negative to sample; set train_negatives: 0 or "
                "leave the domain out"
            )
        return unrated

    def unrated_counts(self, users: np.ndarray, domains: np.ndarray) -> np.ndarray:
        """How many items of ``domains[t]`` user ``users[t]`` never rated, per task."""
        users_r, items_r = np.divmod(self.rated, self.num_items)
        width = len(self.domains)
        keys = np.sort(users_r * width + self.item_domain[items_r])  # (user, domain) per rating
        task = users * width + domains
        rated = np.searchsorted(keys, task, side="right") - np.searchsorted(keys, task)
        return self.pool_size[domains] - rated

    def without_replacement(
        self, users: np.ndarray, domain: int, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Shape (T, n): distinct unrated items of ``domain`` per user (evaluation candidates).

        Items come in the order of per-user random keys, so the first ``m`` columns of a draw
        of ``n >= m`` equal a draw of ``m`` with the same generator state: candidates taken
        first stay the same whatever is drawn after them.
        """
        start, size = self.pool_start[domain], self.pool_size[domain]
        pool = self.pool_order[start : start + size]
        keys = rng.random((len(users), size))
        rated = self.is_rated(users[:, None], pool[None, :])
        keys[rated] = np.inf
        available = (~rated).sum(axis=1)
        if (available < n).any():
            t = int(np.argmin(available))
            raise DataError(
                f"user {self.user_ids[users[t]]!r} has only {int(available[t])} unrated items in "
                f"domain {self.domains[domain]!r}, fewer than num_negatives={n}; "
                "lower num_negatives"
            )
        return pool[np.argsort(keys, axis=1, kind="stable")[:, :n]]

    def all_unrated(
        self, users: np.ndarray, domain: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every item of ``domain`` each user never rated (``full`` protocol candidates).

        Args:
            users: user codes, shape (T,).
            domain: domain code.
            exclude: extra items to leave out per user, shape (T, E) (e.g. support negatives).

        Returns:
            ``(items, mask)`` of shape (T, W): row ``t`` holds its candidates first, then padding
            (item 0, mask false); W is the largest candidate count.
        """
        start, size = self.pool_start[domain], self.pool_size[domain]
        pool = self.pool_order[start : start + size]
        drop = self.is_rated(users[:, None], pool[None, :])
        if exclude is not None and exclude.size:
            drop |= (pool[None, :, None] == exclude[:, None, :]).any(-1)
        order = np.argsort(drop, axis=1, kind="stable")
        mask = ~np.take_along_axis(drop, order, axis=1)
        width = int(mask.sum(1).max()) if len(users) else 0
        items = np.where(mask, pool[order], 0)[:, :width]
        return items, mask[:, :width]
