"""Cold-start user split of a target domain and support/query selection per task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lightning_metarec.data.encoded import EncodedLog
from lightning_metarec.errors import DataError

__all__ = ["ColdStartSplit", "SupportSelection", "TaskSet", "cold_start_split", "task_runs"]

log = logging.getLogger(__name__)

SupportSelection = Literal["time", "random"]


@dataclass
class TaskSet:
    """Tasks of one split: task ``t`` is user ``user[t]`` in domain ``domain[t]``.

    Attributes:
        user: user code per task.
        domain: domain code per task.
        support: rows of the encoded log in each task's support set, shape (T, K).
        query: rows of the encoded log in each task's query set, shape (T, Q).
    """

    user: np.ndarray
    domain: np.ndarray
    support: np.ndarray
    query: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def subset(self, mask: np.ndarray) -> TaskSet:
        """Return the tasks where ``mask`` is true."""
        return TaskSet(self.user[mask], self.domain[mask], self.support[mask], self.query[mask])


@dataclass
class ColdStartSplit:
    """Meta-train / meta-val / meta-test tasks plus the users behind the evaluation splits."""

    train: TaskSet
    val: TaskSet
    test: TaskSet
    train_users: np.ndarray
    val_users: np.ndarray
    test_users: np.ndarray
    dropped_target_users: int


def task_runs(log_: EncodedLog) -> tuple[np.ndarray, np.ndarray]:
    """Start row and length of each contiguous (user, domain) run of the sorted log."""
    change = np.flatnonzero((np.diff(log_.user) != 0) | (np.diff(log_.domain) != 0))
    starts = np.concatenate(([0], change + 1))
    lengths = np.diff(np.concatenate((starts, [len(log_.user)])))
    return starts, lengths


def _order_within_tasks(
    starts: np.ndarray, lengths: np.ndarray, selection: SupportSelection, rng: np.random.Generator
) -> np.ndarray:
    """Row indices of all tasks, each task's rows in support-selection order.

    ``time``: the log order (earliest first, ties by item code). ``random``: a seeded shuffle.
    """
    task_of_row = np.repeat(np.arange(len(starts)), lengths)
    rows = np.arange(lengths.sum()) + np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    if selection == "random":
        order = np.lexsort((rng.random(len(rows)), task_of_row))
        rows = rows[order]
    elif selection != "time":
        raise DataError(f"unknown support_selection {selection!r}; use 'time' or 'random'")
    return rows


def _select(
    log_: EncodedLog, support_size: int, query_size: int, selection: SupportSelection, seed: int
) -> TaskSet:
    """All tasks with at least ``support_size + query_size`` interactions."""
    starts, lengths = task_runs(log_)
    keep = lengths >= support_size + query_size
    log.info(
        "%d (user, domain) tasks kept, %d dropped with fewer than %d interactions",
        int(keep.sum()),
        int((~keep).sum()),
        support_size + query_size,
    )
    starts, lengths = starts[keep], lengths[keep]
    rows = _order_within_tasks(starts, lengths, selection, np.random.default_rng(seed))
    offsets = np.cumsum(lengths) - lengths
    support = rows[offsets[:, None] + np.arange(support_size)]
    query = rows[offsets[:, None] + support_size + np.arange(query_size)]
    return TaskSet(log_.user[starts], log_.domain[starts], support, query)


def _no_eligible_user_error(log_: EncodedLog, target: int, needed: int) -> DataError:
    """Explain that no user has enough target-domain interactions."""
    in_target = log_.domain == target
    most = int(np.bincount(log_.user[in_target]).max()) if in_target.any() else 0
    return DataError(
        f"no user has support_size + query_size = {needed} interactions in target domain "
        f"{log_.domains[target]!r} (the most any user has is {most}); lower support_size/"
        "query_size or choose another target_domain"
    )


def _partition_users(
    users: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded shuffle of ``users`` into (train, val, test)."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in (0, 1) "
            "and sum to less than 1"
        )
    shuffled = np.random.default_rng(seed).permutation(users)
    n_test = round(test_fraction * len(users))
    n_val = round(val_fraction * len(users))
    test, val, train = np.split(shuffled, [n_test, n_test + n_val])
    return np.sort(train), np.sort(val), np.sort(test)


def cold_start_split(
    log_: EncodedLog,
    target_domain: str,
    support_size: int,
    query_size: int,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    selection: SupportSelection = "time",
    seed: int = 0,
    eval_users_in_source_tasks: bool = True,
    min_target_interactions: int | None = None,
) -> ColdStartSplit:
    """Split target-domain users into meta-train/val/test and build their tasks.

    A task is one user in one domain with at least ``support_size + query_size``
    interactions; tasks with fewer are dropped (logged). Meta-train tasks are the source-domain
    tasks plus the target-domain tasks of meta-train users. Meta-val/test tasks are the
    target-domain tasks of the held-out users, who never appear in a target-domain training task.

    The user partition is drawn over *all* users of the target domain before any eligibility
    filter, so a user's split depends only on the seed: changing ``support_size`` (e.g. in a
    support-size sweep of one checkpoint) never moves a training user into the test set.

    Args:
        log_: the encoded log.
        target_domain: name of the target domain.
        support_size: K, interactions in each support set.
        query_size: Q, interactions in each query set.
        val_fraction: fraction of target-domain users held out for validation.
        test_fraction: fraction of target-domain users held out for testing.
        selection: ``"time"`` (support = earliest K, query = next Q) or ``"random"``.
        seed: seed of the user partition and of random selection.
        eval_users_in_source_tasks: if true (default, the cross-domain setting), val/test users'
            source-domain tasks are meta-training tasks; if false they are dropped too (pure
            user cold start).
        min_target_interactions: evaluate only held-out users with at least this many
            target-domain interactions (default ``support_size + query_size``); a sweep over
            support sizes sets it to the largest K + Q so every K sees the same users.

    Returns:
        The split.
    """
    if support_size < 1 or query_size < 1:
        raise DataError(f"support_size={support_size} and query_size={query_size} must be >= 1")
    needed = max(support_size + query_size, min_target_interactions or 0)
    target = log_.domains.index(target_domain)
    tasks = _select(log_, support_size, query_size, selection, seed)
    in_target = tasks.domain == target
    counts = np.bincount(log_.user[log_.domain == target], minlength=log_.num_users)
    partition = _partition_users(np.flatnonzero(counts), val_fraction, test_fraction, seed)
    eligible = np.flatnonzero(counts >= needed)
    val_u, test_u = (np.intersect1d(part, eligible) for part in partition[1:])
    dropped = int((counts > 0).sum()) - len(eligible)
    log.info(
        "target domain %r: %d users eligible, %d dropped (fewer than %d interactions there)",
        target_domain,
        len(eligible),
        dropped,
        needed,
    )
    if len(eligible) == 0:
        raise _no_eligible_user_error(log_, target, needed)
    if len(val_u) == 0 or len(test_u) == 0:
        raise DataError(
            f"only {len(eligible)} eligible target-domain users: none left for validation or "
            "test; lower support_size/query_size or raise val_fraction/test_fraction"
        )
    held_out = np.isin(tasks.user, np.concatenate((partition[1], partition[2])))
    train_mask = ~in_target | ~held_out if eval_users_in_source_tasks else ~held_out
    return ColdStartSplit(
        train=tasks.subset(train_mask),
        val=tasks.subset(in_target & np.isin(tasks.user, val_u)),
        test=tasks.subset(in_target & np.isin(tasks.user, test_u)),
        train_users=partition[0],
        val_users=val_u,
        test_users=test_u,
        dropped_target_users=dropped,
    )
