"""Cold-start user split of a target domain and support/query selection per task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lightning_metarec.data.encoded import EncodedLog
from lightning_metarec.errors import DataError

__all__ = [
    "ColdStartSplit",
    "SupportSelection",
    "SupportSize",
    "TaskSet",
    "cold_start_split",
    "task_runs",
]

log = logging.getLogger(__name__)

SupportSelection = Literal["time", "random"]

#: K interactions per support set, or ``"rest"``: every interaction of the task but the query
#: (variable-length support, MeLU's protocol).
SupportSize = int | Literal["rest"]


@dataclass
class TaskSet:
    """Tasks of one split: task ``t`` is user ``user[t]`` in domain ``domain[t]``.

    Attributes:
        user: user code per task.
        domain: domain code per task.
        support: rows of the encoded log in each task's support set, shape (T, K).
        query: rows of the encoded log in each task's query set, shape (T, Q).
        support_mask: (T, K) real positions when support sets differ in length
            (``support_size="rest"``); padding repeats the task's last support row, so every
            row index stays a real support interaction of its own task. None: all real.
    """

    user: np.ndarray
    domain: np.ndarray
    support: np.ndarray
    query: np.ndarray
    support_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.user)

    def subset(self, mask: np.ndarray) -> TaskSet:
        """Return the tasks where ``mask`` is true."""
        s_mask = None if self.support_mask is None else self.support_mask[mask]
        return TaskSet(
            self.user[mask], self.domain[mask], self.support[mask], self.query[mask], s_mask
        )

    def support_lengths(self) -> np.ndarray:
        """Number of real support interactions per task."""
        if self.support_mask is None:
            return np.full(len(self), self.support.shape[1])
        return self.support_mask.sum(axis=1)


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


def _bounds(smallest: int, largest: int | None) -> str:
    """``"fewer than 20"`` or, with an upper bound, ``"fewer than 13 or more than 100"``."""
    text = f"fewer than {smallest}"
    return text if largest is None else f"{text} or more than {largest}"


def _query_start(support_size: SupportSize, query_start: int | None) -> int:
    """Position (in selection order) of a task's first query interaction; 1 for ``rest``."""
    if support_size == "rest":
        if query_start is not None:
            raise DataError("query_start needs an integer support_size, not 'rest'")
        return 1
    if not isinstance(support_size, int) or isinstance(support_size, bool) or support_size < 1:
        raise DataError(f"support_size={support_size!r} must be an integer >= 1 or 'rest'")
    if query_start is not None and query_start < support_size:
        raise DataError(
            f"query_start={query_start} is below support_size={support_size}: support and "
            "query would overlap; set query_start >= support_size"
        )
    return support_size if query_start is None else query_start


def _select(
    log_: EncodedLog,
    support_size: SupportSize,
    query_size: int,
    selection: SupportSelection,
    seed: int,
    max_interactions: int | None = None,
    query_start: int | None = None,
) -> TaskSet:
    """All tasks with enough (and at most ``max_interactions``) interactions.

    Fixed ``support_size`` K: support = the first K rows in selection order, query = the Q
    rows from position ``query_start`` (default K: right after the support). ``"rest"``:
    query = the last Q rows, support = all rows before them (padded + masked).
    """
    starts, lengths = task_runs(log_)
    first_query = _query_start(support_size, query_start)
    smallest = first_query + query_size
    keep = lengths >= smallest
    if max_interactions is not None:
        keep &= lengths <= max_interactions
    log.info(
        "%d (user, domain) tasks kept, %d dropped with %s interactions",
        int(keep.sum()),
        int((~keep).sum()),
        _bounds(smallest, max_interactions),
    )
    starts, lengths = starts[keep], lengths[keep]
    rows = _order_within_tasks(starts, lengths, selection, np.random.default_rng(seed))
    offsets = (np.cumsum(lengths) - lengths)[:, None]
    if support_size == "rest":
        s_len = (lengths - query_size)[:, None]
        width = np.arange(int(s_len.max(initial=1)))
        support = rows[offsets + np.minimum(width, s_len - 1)]
        query = rows[offsets + s_len + np.arange(query_size)]
        return TaskSet(log_.user[starts], log_.domain[starts], support, query, width < s_len)
    support = rows[offsets + np.arange(int(support_size))]
    query = rows[offsets + first_query + np.arange(query_size)]
    return TaskSet(log_.user[starts], log_.domain[starts], support, query)


def _no_eligible_user_error(
    log_: EncodedLog, target: int, needed: int, most_allowed: int | None
) -> DataError:
    """Explain that no user has enough (or few enough) target-domain interactions."""
    in_target = log_.domain == target
    most = int(np.bincount(log_.user[in_target]).max()) if in_target.any() else 0
    window = f" and at most {most_allowed}" if most_allowed is not None else ""
    return DataError(
        f"no user has at least support_size + query_size = {needed}{window} interactions in "
        f"target domain {log_.domains[target]!r} (the most any user has is {most}); lower "
        "support_size/query_size, raise max_interactions or choose another target_domain"
    )


def _partition_users(
    users: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded shuffle of ``users`` into (train, val, test); fractions are of ``users``."""
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


def _overlapping(log_: EncodedLog, target: int) -> np.ndarray:
    """Per-user flag: the user also has interactions outside the target domain."""
    return np.bincount(log_.user[log_.domain != target], minlength=log_.num_users) > 0


def cold_start_split(
    log_: EncodedLog,
    target_domain: str,
    support_size: SupportSize,
    query_size: int,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    selection: SupportSelection = "time",
    seed: int = 0,
    eval_users_in_source_tasks: bool = True,
    min_target_interactions: int | None = None,
    max_interactions: int | None = None,
    overlap_only: bool = False,
    query_start: int | None = None,
) -> ColdStartSplit:
    """Split target-domain users into meta-train/val/test and build their tasks.

    A task is one user in one domain with at least ``support_size + query_size``
    interactions; tasks with fewer are dropped (logged). Meta-train tasks are the source-domain
    tasks plus the target-domain tasks of meta-train users. Meta-val/test tasks are the
    target-domain tasks of the held-out users, who never appear in a target-domain training task.

    The user partition is drawn over *all* users of the target domain (or all overlapping ones)
    before any eligibility filter, so a user's split depends only on the seed: changing
    ``support_size`` (e.g. in a support-size sweep of one checkpoint) never moves a training
    user into the test set.

    Args:
        log_: the encoded log.
        target_domain: name of the target domain.
        support_size: K, interactions in each support set, or ``"rest"``: all of the task's
            interactions but the query (variable length, at least 1; MeLU's protocol).
        query_size: Q, interactions in each query set.
        val_fraction: fraction of target-domain users held out for validation.
        test_fraction: fraction of target-domain users held out for testing.
        selection: ``"time"`` (support = earliest K, query = next Q; with ``"rest"`` the query
            is the latest Q) or ``"random"``.
        seed: seed of the user partition and of random selection.
        eval_users_in_source_tasks: if true (default, the cross-domain setting), val/test users'
            source-domain tasks are meta-training tasks; if false they are dropped too (pure
            user cold start).
        min_target_interactions: evaluate only held-out users with at least this many
            target-domain interactions (default ``support_size + query_size``); a sweep over
            support sizes sets it to the largest K + Q so every K sees the same users.
        max_interactions: drop every task (any split, any domain) with more interactions, and
            so every held-out user with more target-domain interactions (MeLU keeps users with
            at most 100 ratings). None: no cap.
        overlap_only: draw val/test users only from *overlapping* users, who also interact
            outside the target domain (the EMCDR/PTUPCDR protocol: ``test_fraction`` is the
            beta of that literature); other target users are all meta-train users.
        query_start: position of the first query interaction (default ``support_size``). A
            support-size sweep fixes it at the largest K, so every K is scored on the same
            query items (support = the first K; interactions between are unused).

    Returns:
        The split.
    """
    if query_size < 1:
        raise DataError(f"query_size={query_size} must be >= 1")
    first_query = _query_start(support_size, query_start)
    needed = max(first_query + query_size, min_target_interactions or 0)
    if max_interactions is not None and max_interactions < needed:
        raise DataError(
            f"max_interactions={max_interactions} is below the {needed} interactions a held-out "
            "user needs (support + query, min_target_interactions); raise it or set it to null"
        )
    target = log_.domains.index(target_domain)
    tasks = _select(log_, support_size, query_size, selection, seed, max_interactions, query_start)
    in_target = tasks.domain == target
    counts = np.bincount(log_.user[log_.domain == target], minlength=log_.num_users)
    candidates = counts > 0
    if overlap_only:
        candidates &= _overlapping(log_, target)
        _check_overlap(log_, target_domain, candidates)
    partition = _partition_users(np.flatnonzero(candidates), val_fraction, test_fraction, seed)
    fits = counts >= needed
    if max_interactions is not None:
        fits &= counts <= max_interactions
    eligible = np.flatnonzero(fits)
    val_u, test_u = (np.intersect1d(part, eligible) for part in partition[1:])
    dropped = int((counts > 0).sum()) - len(eligible)
    log.info(
        "target domain %r: %d users eligible, %d dropped (%s interactions there)",
        target_domain,
        len(eligible),
        dropped,
        _bounds(needed, max_interactions),
    )
    if len(eligible) == 0:
        raise _no_eligible_user_error(log_, target, needed, max_interactions)
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
        train_users=np.setdiff1d(np.flatnonzero(counts), np.concatenate(partition[1:])),
        val_users=val_u,
        test_users=test_u,
        dropped_target_users=dropped,
    )


def _check_overlap(log_: EncodedLog, target_domain: str, overlapping: np.ndarray) -> None:
    """Refuse ``overlap_only`` when no target user interacts in another domain."""
    if overlapping.sum() < 2:
        raise DataError(
            f"overlap_only: {int(overlapping.sum())} users of target domain {target_domain!r} "
            "also interact in another domain; the cross-domain protocol needs overlapping "
            "users (check that user ids are shared across domains) or set overlap_only: false"
        )
