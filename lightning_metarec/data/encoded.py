"""Integer-coded interaction arrays built once from an :class:`InteractionData`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lightning_metarec.data.table import InteractionData

__all__ = ["DuplicateRule", "EncodedLog", "encode"]

log = logging.getLogger(__name__)

DuplicateRule = Literal["last", "first", "mean"]


@dataclass
class EncodedLog:
    """Interactions as parallel NumPy arrays sorted by (user, domain, timestamp, item).

    Equal timestamps are ordered by item code, a deterministic key independent of file order.

    Attributes:
        user: user code per interaction (int64).
        item: item code per interaction (int64).
        rating: rating per interaction (float32).
        timestamp: timestamp per interaction (int64).
        domain: domain code per interaction (int64), the domain of its item.
        user_ids: raw user id of each user code.
        item_ids: raw item id of each item code.
        titles: title of each item code ('' when unknown).
        item_domain: domain code of each item code.
        domains: domain name of each domain code.
        genres: genre name of each column of ``item_genres``.
        item_genres: multi-hot genre matrix, shape (num_items, num_genres), float32.
        user_features: categorical user feature codes, shape (num_users, F); code 0 is "unknown".
        user_feature_names: names of the F user feature columns.
        user_feature_cardinalities: number of codes per feature (including the unknown code).
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    domain: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    titles: np.ndarray
    item_domain: np.ndarray
    domains: list[str]
    genres: list[str]
    item_genres: np.ndarray
    user_features: np.ndarray
    user_feature_names: list[str]
    user_feature_cardinalities: list[int]

    @property
    def num_users(self) -> int:
        """Number of distinct users."""
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        """Number of distinct items."""
        return len(self.item_ids)


def _collapse_duplicates(frame: pd.DataFrame, rule: DuplicateRule) -> pd.DataFrame:
    """Collapse repeated (user, item) pairs by ``rule`` and log how many rows went."""
    dup = frame.duplicated(["user_id", "item_id"], keep=False)
    if not dup.any():
        return frame
    if rule == "mean":
        agg = frame.groupby(["user_id", "item_id"], as_index=False, sort=False).agg(
            rating=("rating", "mean"), timestamp=("timestamp", "max")
        )
        out = agg.astype({"rating": np.float32})
    else:
        ordered = frame.sort_values("timestamp", kind="stable")
        out = ordered.drop_duplicates(["user_id", "item_id"], keep=rule)
    log.warning(
        "collapsed %d duplicate (user, item) rows into %d (rule: keep %s)",
        int(dup.sum()),
        int(dup.sum()) - (len(frame) - len(out)),
        rule,
    )
    return out


def _user_feature_codes(
    users: pd.DataFrame | None, user_ids: np.ndarray
) -> tuple[np.ndarray, list[str], list[int]]:
    """Code each categorical user feature; 0 means unknown (user missing from the table)."""
    if users is None or users.shape[1] == 0:
        return np.zeros((len(user_ids), 0), dtype=np.int64), [], []
    aligned = users.reindex(pd.Index(user_ids))
    columns, cards = [], []
    for name in users.columns:
        codes, uniques = pd.factorize(aligned[name].astype("string"), sort=True)
        columns.append(codes.astype(np.int64) + 1)  # -1 (missing) -> 0
        cards.append(len(uniques) + 1)
    return np.stack(columns, axis=1), [str(c) for c in users.columns], cards


def _genre_matrix(items: pd.DataFrame, item_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Multi-hot genre matrix aligned with ``item_ids``."""
    exploded = items["genres"].reindex(pd.Index(item_ids)).explode().dropna()
    genres = sorted(exploded.unique().tolist())
    matrix = np.zeros((len(item_ids), len(genres)), dtype=np.float32)
    rows = pd.Index(item_ids).get_indexer(exploded.index)
    cols = pd.Index(genres).get_indexer(exploded.to_numpy())
    matrix[rows, cols] = 1.0
    return matrix, [str(g) for g in genres]


def encode(
    data: InteractionData, item_domain: pd.Series, duplicates: DuplicateRule = "last"
) -> EncodedLog:
    """Turn raw-id tables into sorted integer arrays.

    Args:
        data: the normalized table from a reader.
        item_domain: domain name per raw item id (items absent from it are dropped, logged).
        duplicates: rule for repeated (user, item) pairs: keep the ``"last"`` or ``"first"``
            by timestamp, or average the ratings (``"mean"``).

    Returns:
        The encoded log, sorted by (user, domain, timestamp, item).
    """
    frame = _collapse_duplicates(data.interactions, duplicates)
    domain_names = frame["item_id"].map(item_domain)
    unknown = domain_names.isna()
    if unknown.any():
        log.warning("dropped %d interactions with items that have no domain", int(unknown.sum()))
        frame, domain_names = frame[~unknown], domain_names[~unknown]
    user, user_ids = pd.factorize(frame["user_id"], sort=True)
    item, item_ids = pd.factorize(frame["item_id"], sort=True)
    domains = sorted(item_domain.unique().tolist())
    domain = pd.Index(domains).get_indexer(domain_names.to_numpy())
    timestamp = frame["timestamp"].to_numpy(np.int64)
    order = np.lexsort((item, timestamp, domain, user))
    item_ids_arr = np.asarray(item_ids, dtype=object)
    genre_matrix, genres = _genre_matrix(data.items, item_ids_arr)
    features, feature_names, cards = _user_feature_codes(data.users, np.asarray(user_ids))
    titles = data.items["title"].reindex(pd.Index(item_ids)).fillna("").to_numpy(dtype=object)
    return EncodedLog(
        user=user.astype(np.int64)[order],
        item=item.astype(np.int64)[order],
        rating=frame["rating"].to_numpy(np.float32)[order],
        timestamp=timestamp[order],
        domain=domain.astype(np.int64)[order],
        user_ids=np.asarray(user_ids, dtype=object),
        item_ids=item_ids_arr,
        titles=titles,
        item_domain=pd.Index(domains).get_indexer(item_domain.reindex(item_ids).to_numpy()),
        domains=[str(d) for d in domains],
        genres=genres,
        item_genres=genre_matrix,
        user_features=features,
        user_feature_names=feature_names,
        user_feature_cardinalities=cards,
    )
