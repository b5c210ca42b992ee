"""The one normalized interaction table that every reader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lightning_metarec.errors import DataError

__all__ = ["INTERACTION_COLUMNS", "InteractionData", "check_columns", "check_ratings"]

#: Columns of :attr:`InteractionData.interactions`, in this order.
INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


@dataclass
class InteractionData:
    """Interactions plus optional item and user side information, with raw string ids.

    Attributes:
        interactions: one row per (user, item) event with columns ``user_id`` (str), ``item_id``
            (str), ``rating`` (float32) and ``timestamp`` (int64, seconds; 0 when unknown).
        items: indexed by ``item_id`` (str); column ``title`` (str) and ``genres`` (list of str,
            possibly empty). Items without a row have no side information.
        users: indexed by ``user_id`` (str); each column is a categorical feature stored as str
            (e.g. ``age``, ``gender``, ``occupation``), or ``None`` when the source has none.
        source: human-readable description of where the data came from (paths), used in errors.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None
    source: str

    def __post_init__(self) -> None:
        check_columns(self.interactions, INTERACTION_COLUMNS, self.source)


def check_columns(frame: pd.DataFrame, required: tuple[str, ...] | list[str], source: str) -> None:
    """Raise a one-line :class:`DataError` if ``frame`` lacks any of ``required`` columns.

    Args:
        frame: the table read from ``source``.
        required: column names that must be present.
        source: file path (or description) named in the error.
    """
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"found {', '.join(repr(str(c)) for c in frame.columns)}. "
            "Rename the column or set the column names in the reader config."
        )


def check_ratings(
    ratings: pd.Series, source: str, rating_range: tuple[float, float] | None = None
) -> None:
    """Refuse NaN or out-of-range ratings with a message naming the file, row and value.

    Args:
        ratings: the ``rating`` column as read (already numeric).
        source: file path named in the error.
        rating_range: inclusive ``(low, high)`` bounds, or ``None`` to skip the range check.
    """
    values = ratings.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(
            f"{source}: column 'rating' has {bad.size} missing/NaN value(s) "
            f"(first at data row {int(bad[0]) + 1}); drop or fill those rows before loading."
        )
    if rating_range is not None:
        low, high = rating_range
        bad = np.flatnonzero((values < low) | (values > high))
        if bad.size:
            raise DataError(
                f"{source}: column 'rating' has {bad.size} value(s) outside [{low:g}, {high:g}] "
                f"(first: {values[bad[0]]:g} at data row {int(bad[0]) + 1}); fix the data or set "
                "rating_range to the scale the file uses."
            )
