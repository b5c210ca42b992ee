"""Setup-time check that evaluation interactions cannot leak into training."""

from __future__ import annotations

import numpy as np

from lightning_metarec.data.encoded import EncodedLog
from lightning_metarec.data.splits import ColdStartSplit, TaskSet
from lightning_metarec.errors import LeakageError

__all__ = ["check_leakage"]


def _check_disjoint(log_: EncodedLog, tasks: TaskSet, name: str) -> None:
    """Support and query of a task must not share an item."""
    task = np.arange(len(tasks))
    support = task[:, None] * log_.num_items + log_.item[tasks.support]
    query = task[:, None] * log_.num_items + log_.item[tasks.query]
    shared = np.intersect1d(support, query)
    if shared.size:
        t = int(shared[0] // log_.num_items)
        raise LeakageError(
            f"{name} task of user {log_.user_ids[tasks.user[t]]!r}: item "
            f"{log_.item_ids[shared[0] % log_.num_items]!r} is in both support and query"
        )


def _check_time_order(log_: EncodedLog, tasks: TaskSet, name: str) -> None:
    """In time mode no support interaction may come after a query interaction."""
    late = log_.timestamp[tasks.support].max(axis=1) > log_.timestamp[tasks.query].min(axis=1)
    if late.any():
        t = int(np.flatnonzero(late)[0])
        raise LeakageError(
            f"{name} task of user {log_.user_ids[tasks.user[t]]!r}: a support interaction is "
            "later than a query interaction"
        )


def check_leakage(log_: EncodedLog, split: ColdStartSplit, target: int, time_mode: bool) -> None:
    """Fail loudly if the split leaks evaluation data.

    Checks: support and query are disjoint in every task; in time mode the support never comes
    after the query; val/test users never appear in a target-domain training task; val and
    test users are disjoint.

    Raises:
        LeakageError: naming the split, user and item that leak.
    """
    for name, tasks in (("train", split.train), ("val", split.val), ("test", split.test)):
        _check_disjoint(log_, tasks, name)
        if time_mode:
            _check_time_order(log_, tasks, name)
    train_target_users = split.train.user[split.train.domain == target]
    for name, users in (("val", split.val_users), ("test", split.test_users)):
        leaked = np.intersect1d(train_target_users, users)
        if leaked.size:
            raise LeakageError(
                f"{name} user {log_.user_ids[leaked[0]]!r} appears in a target-domain training task"
            )
    if np.intersect1d(split.val_users, split.test_users).size:
        raise LeakageError("a user is both a validation and a test user")
