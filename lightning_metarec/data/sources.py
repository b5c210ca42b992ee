"""Multi-domain interaction sources for cross-domain cold start, configurable from YAML.

A source reads one or more files into an :class:`~lightning_metarec.data.table.InteractionData`
whose ``interactions`` carry a ``domain`` column next to ``user_id``, ``item_id``, ``rating``
and ``timestamp``. Its ``__init__`` takes only plain values, so a LightningCLI config selects
one with ``class_path``/``init_args``::

    data:
      source:
        class_path: lightning_metarec.data.sources.AmazonReviews
        init_args:
          files: {Books: ~/data/amazon/reviews_Books_5.json.gz,
                  Movies_and_TV: ~/data/amazon/reviews_Movies_and_TV_5.json.gz}
      target_domain: Books

Every source applies the same cross-domain rules after parsing:

* at least two domains, none empty;
* users are one vocabulary across domains (the id string as written), and enough of them
  occur in several domains: each domain must share at least ``min_user_overlap`` (1 %) of the
  smaller side's users, and at least one, with the other domains, which catches swapped
  user/item columns;
* each item belongs to one domain: with ``item_ids="auto"`` item ids that occur in several
  domains make every item id ``<domain>:<id>``;
* the rating scales agree across domains (``rating_scale="refuse"``) or every domain is
  min-max scaled to ``[1, 5]`` (``"normalize"``);
* repeated (user, item) pairs are kept (the DataModule's ``duplicates`` rule collapses them)
  and counted in :meth:`InteractionSource.describe`.

The parsed result is cached as Parquet (see :mod:`lightning_metarec.data.cache`) and reused
while the files and options are unchanged.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lightning_metarec.data.cache import (
    CachedLog,
    CacheEntry,
    cache_entry,
    cache_key,
    read_cache,
    write_cache,
)
from lightning_metarec.data.readers.amazon import (
    AmazonCsvOrder,
    amazon_category,
    read_amazon_file,
)
from lightning_metarec.data.readers.douban import DOUBAN_DOMAINS, read_douban_file
from lightning_metarec.data.readers.generic import (
    LOG_SCHEMA,
    LogColumns,
    LogFormat,
    NormalizeOptions,
    ReadCounter,
    detect_format,
    expand_paths,
    read_log_file,
    text_format_for,
)
from lightning_metarec.data.readers.recbole import _require_file
from lightning_metarec.data.table import InteractionData
from lightning_metarec.errors import DataError

__all__ = [
    "NORMALIZED_RANGE",
    "AmazonReviews",
    "DomainStats",
    "DoubanRatings",
    "InteractionLog",
    "InteractionSource",
    "ItemIdRule",
    "LoadSummary",
    "MultiDomainSource",
    "RatingScaleRule",
    "item_domains",
]

log = logging.getLogger(__name__)

RatingScaleRule = Literal["refuse", "normalize"]
ItemIdRule = Literal["auto", "prefixed", "raw"]

#: Largest (codes x domains) table of booleans used to find distinct pairs without sorting.
_DENSE_PAIRS = 1 << 27
#: The common scale of ``rating_scale="normalize"``.
NORMALIZED_RANGE = (1.0, 5.0)
#: Usual tops of rating scales: a domain's scale is the first one holding its highest rating
#: (implicit 1, stars 5, 10-point, percent); domains on different scales are "mixed".
_SCALE_TOPS = (1.0, 5.0, 10.0, 100.0)


class InteractionSource(ABC):
    """Where a multi-domain interaction table comes from."""

    @abstractmethod
    def load(self) -> InteractionData:
        """Read (or reuse) the data.

        Returns:
            Interactions with columns ``user_id``, ``item_id``, ``rating``, ``timestamp`` and
            ``domain``; items indexed by ``item_id`` with ``title`` and ``genres``.
        """

    @abstractmethod
    def describe(self) -> str:
        """One line: the files, and after :meth:`load` the per-domain statistics."""


# --------------------------------------------------------------------------- summary


@dataclass
class DomainStats:
    """Counts of one domain after loading.

    Attributes:
        name: the domain.
        rows: interactions.
        users: distinct users.
        items: distinct items.
        shared_users: users of this domain that also occur in another domain.
        rating_min: lowest rating (before normalization).
        rating_max: highest rating (before normalization).
    """

    name: str
    rows: int
    users: int
    items: int
    shared_users: int
    rating_min: float
    rating_max: float

    def describe(self) -> str:
        """E.g. ``Books: 1,200 rows, 300 users (120 shared), 80 items, ratings 1-5``."""
        return (
            f"{self.name}: {self.rows:,} rows, {self.users:,} users ({self.shared_users:,} "
            f"shared), {self.items:,} items, ratings {self.rating_min:g}-{self.rating_max:g}"
        )


@dataclass
class LoadSummary:
    """What a load produced, reported by :meth:`InteractionSource.describe`.

    Attributes:
        domains: per-domain counts, in domain order.
        rows: interactions.
        users: distinct users.
        items: distinct items (after prefixing).
        shared_users: users in two or more domains.
        duplicates: rows repeating an earlier (user, item) pair; kept here, collapsed later
            by the DataModule's ``duplicates`` rule.
        normalized: ratings were min-max scaled to :data:`NORMALIZED_RANGE` per domain.
        prefixed_items: item ids were rewritten to ``<domain>:<id>``.
        skipped_rows: malformed rows skipped (Douban).
        unrated_rows: rows without a rating dropped (Douban).
        untimed_rows: rows without a timestamp set to 0 (Douban).
        cache: the cache file, when caching.
        from_cache: this load reused the cache instead of parsing.
    """

    domains: list[DomainStats]
    rows: int
    users: int
    items: int
    shared_users: int
    duplicates: int
    normalized: bool = False
    prefixed_items: bool = False
    skipped_rows: int = 0
    unrated_rows: int = 0
    untimed_rows: int = 0
    cache: str | None = None
    from_cache: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict (for the cache)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadSummary:
        """Inverse of :meth:`to_json`."""
        fields = dict(data)
        fields["domains"] = [DomainStats(**d) for d in fields["domains"]]
        return cls(**fields)

    def describe(self) -> str:
        """One line of counts and notes."""
        notes = [
            f"{self.rows:,} interactions, {self.users:,} users ({self.shared_users:,} in 2+ "
            f"domains), {self.items:,} items in {len(self.domains)} domains: "
            + "; ".join(d.describe() for d in self.domains),
            f"{self.duplicates:,} duplicate (user, item) rows kept for the DataModule's "
            "duplicates rule",
        ]
        if self.normalized:
            notes.append(f"ratings min-max scaled per domain to {list(NORMALIZED_RANGE)}")
        if self.prefixed_items:
            notes.append("item ids prefixed '<domain>:' (raw ids collide across domains)")
        for count, what in (
            (self.skipped_rows, "malformed rows skipped"),
            (self.unrated_rows, "rows without rating dropped"),
            (self.untimed_rows, "rows without time set to timestamp 0"),
        ):
            if count:
                notes.append(f"{count:,} {what}")
        if self.cache is not None:
            notes.append(f"{'read from' if self.from_cache else 'cached in'} {self.cache}")
        return "; ".join(notes)


# --------------------------------------------------------------------------- coded table


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encode a string column: (int32 codes, object array of distinct values)."""
    encoded = pc.dictionary_encode(column)
    unified = pa.table({"c": encoded}).unify_dictionaries().combine_chunks().column("c")
    if unified.num_chunks == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=object)
    chunk = unified.chunk(0)
    codes = np.asarray(chunk.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    values = np.asarray(chunk.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    return codes, values


@dataclass
class _Coded:
    """Interactions as integer codes plus the distinct id strings (compact, fast to check)."""

    user: np.ndarray
    user_ids: np.ndarray
    item: np.ndarray
    item_ids: np.ndarray
    domain: np.ndarray
    domains: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    @classmethod
    def from_arrow(cls, table: pa.Table) -> _Coded:
        """Encode a normalized table (see :data:`LOG_SCHEMA`)."""
        user, user_ids = _codes(table.column("user_id"))
        item, item_ids = _codes(table.column("item_id"))
        domain, domains = _codes(table.column("domain"))
        rating = np.asarray(table.column("rating").to_numpy(), dtype=np.float32)
        stamps = np.asarray(table.column("timestamp").to_numpy(), dtype=np.int64)
        return cls(user, user_ids, item, item_ids, domain, domains, rating, stamps)

    @classmethod
    def from_cache(cls, cached: CachedLog) -> _Coded:
        """Rebuild from a cache entry (codes, users, items and the domain names)."""
        table = cached.interactions

        def column(name: str, dtype: type[np.generic]) -> np.ndarray:
            return np.asarray(table.column(name).to_numpy(), dtype=dtype)

        def strings(values: pa.ChunkedArray) -> np.ndarray:
            return np.asarray(values.to_numpy(), dtype=object)

        return cls(
            user=column("user", np.int32),
            user_ids=strings(cached.users.column("user_id")),
            item=column("item", np.int32),
            item_ids=strings(cached.items.column("item_id")),
            domain=column("domain", np.int32),
            domains=np.asarray(cached.meta["domain_names"], dtype=object),
            rating=column("rating", np.float32),
            timestamp=column("timestamp", np.int64),
        )

    def to_cache(self, items: pa.Table, summary: LoadSummary) -> CachedLog:
        """The cache tables: integer codes, user ids, items and the summary."""
        interactions = pa.table(
            {
                "user": self.user,
                "item": self.item,
                "rating": self.rating,
                "timestamp": self.timestamp,
                "domain": self.domain,
            }
        )
        users = pa.table({"user_id": pa.array(self.user_ids, pa.string())})
        meta = {**summary.to_json(), "domain_names": [str(d) for d in self.domains]}
        return CachedLog(interactions, users, items, meta)

    def frame(self) -> pd.DataFrame:
        """The pandas interaction table (ids as str objects shared between rows).

        Columns are added one by one, which skips pandas' copy into one 2-D object block.
        """
        frame = pd.DataFrame({"user_id": self.user_ids[self.user]})
        frame["item_id"] = self.item_ids[self.item]
        frame["rating"] = self.rating
        frame["timestamp"] = self.timestamp
        frame["domain"] = self.domains[self.domain]
        return frame


def _pairs(
    left: np.ndarray, right: np.ndarray, left_size: int, right_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (left, right) code pairs, sorted (a dense bit table when small, else a sort)."""
    if left_size * right_size <= _DENSE_PAIRS:
        present = np.zeros((left_size, right_size), dtype=bool)
        present[left, right] = True
        pair_left, pair_right = np.nonzero(present)
        return pair_left, pair_right
    keys = np.unique(left.astype(np.int64) * right_size + right)
    return keys // right_size, keys % right_size


def _pair_codes(
    left: np.ndarray, right: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], right_size: int
) -> np.ndarray:
    """Index of each row's (left, right) pair in the sorted distinct ``pairs``."""
    pair_keys = pairs[0].astype(np.int64) * right_size + pairs[1]
    row_keys = left.astype(np.int64) * right_size + right
    return np.searchsorted(pair_keys, row_keys).astype(np.int32)


# --------------------------------------------------------------------------- cross-domain checks


def _check_domain_count(coded: _Coded, source: str, hint: str) -> None:
    """Refuse fewer than two domains."""
    if len(coded.domains) < 2:
        found = f"only {coded.domains[0]!r}" if len(coded.domains) else "none"
        raise DataError(f"{source}: needs at least two domains: found {found}; {hint}.")


def _swap_hint(coded: _Coded, failing: list[int]) -> str:
    """Name a domain whose item ids are user ids elsewhere (its user/item columns look swapped)."""
    best, best_count = -1, 0
    for d in failing:
        in_d = coded.domain == d
        items = pd.Index(coded.item_ids[np.unique(coded.item[in_d])])
        others = pd.Index(coded.user_ids[np.unique(coded.user[~in_d])])
        count = int(items.isin(others).sum())
        if count > best_count:
            best, best_count = d, count
    if best < 0:
        return ""
    return (
        f" ({best_count:,} item ids of {coded.domains[best]!r} are user ids in other domains: "
        "its user and item columns look swapped)"
    )


def _check_overlap(
    coded: _Coded, stats: list[DomainStats], origins: dict[str, str], min_fraction: float
) -> None:
    """Refuse domains that share (almost) no users with the others."""
    total_users = len(coded.user_ids)
    failing, parts = [], []
    for d, s in enumerate(stats):
        others = total_users - (s.users - s.shared_users)
        need = max(1, math.ceil(min_fraction * min(s.users, others)))
        if s.shared_users < need:
            failing.append(d)
            parts.append(
                f"{s.name!r} ({origins.get(s.name, '?')}) shares {s.shared_users:,} of its "
                f"{s.users:,} users with the other domains (need {need:,})"
            )
    if failing:
        raise DataError(
            "too few users shared across domains: "
            + "; ".join(parts)
            + f"{_swap_hint(coded, failing)}. A swapped user/item column (e.g. a ratings-only "
            "file read in the wrong column order) is the usual cause: check each file's user "
            f"and item columns, or lower min_user_overlap (now {min_fraction:g})."
        )


def _namespace_items(coded: _Coded, rule: ItemIdRule) -> bool:
    """Make item ids unique per domain (in place); return whether ids were prefixed."""
    n_domains = len(coded.domains)
    pairs = _pairs(coded.item, coded.domain, len(coded.item_ids), n_domains)
    collide = len(pairs[0]) > len(coded.item_ids)
    if rule == "raw" and collide:
        counts = np.bincount(pairs[0], minlength=len(coded.item_ids))
        item = int(np.flatnonzero(counts > 1)[0])
        names = sorted(str(coded.domains[d]) for d in pairs[1][pairs[0] == item])
        raise DataError(
            f"item id {coded.item_ids[item]!r} occurs in domains {', '.join(names)}; an item "
            "must belong to one domain: set item_ids to 'auto' or 'prefixed'."
        )
    if not (rule == "prefixed" or (rule == "auto" and collide)):
        return False
    prefix = coded.domains[pairs[1]].astype(str)
    raw = coded.item_ids[pairs[0]].astype(str)
    coded.item = _pair_codes(coded.item, coded.domain, pairs, n_domains)
    coded.item_ids = np.char.add(np.char.add(prefix, ":"), raw).astype(object)
    return True


def _domain_stats(coded: _Coded) -> tuple[list[DomainStats], int]:
    """Per-domain counts and the number of users in two or more domains."""
    n_domains = len(coded.domains)
    pair_user, pair_domain = _pairs(coded.user, coded.domain, len(coded.user_ids), n_domains)
    per_user = np.bincount(pair_user, minlength=len(coded.user_ids))
    shared = np.bincount(pair_domain[per_user[pair_user] >= 2], minlength=n_domains)
    users = np.bincount(pair_domain, minlength=n_domains)
    _, item_domain = _pairs(coded.item, coded.domain, len(coded.item_ids), n_domains)
    items = np.bincount(item_domain, minlength=n_domains)
    rows = np.bincount(coded.domain, minlength=n_domains)
    grouped = pd.Series(coded.rating).groupby(coded.domain).agg(["min", "max"])
    stats = [
        DomainStats(
            name=str(coded.domains[d]),
            rows=int(rows[d]),
            users=int(users[d]),
            items=int(items[d]),
            shared_users=int(shared[d]),
            rating_min=float(grouped.loc[d, "min"]),
            rating_max=float(grouped.loc[d, "max"]),
        )
        for d in range(n_domains)
    ]
    return stats, int((per_user >= 2).sum())


def _nominal_top(highest: float) -> float:
    """The top of the usual rating scale holding ``highest`` (1, 5, 10 or 100)."""
    return next((top for top in _SCALE_TOPS if highest <= top), highest)


def _check_scales(stats: list[DomainStats], rule: RatingScaleRule) -> None:
    """Refuse domains on different rating scales (see :data:`_SCALE_TOPS`)."""
    if rule == "normalize":
        return
    low = min(stats, key=lambda s: _nominal_top(s.rating_max))
    high = max(stats, key=lambda s: _nominal_top(s.rating_max))
    if _nominal_top(low.rating_max) != _nominal_top(high.rating_max):
        raise DataError(
            f"domains {low.name!r} (ratings {low.rating_min:g}-{low.rating_max:g}) and "
            f"{high.name!r} (ratings {high.rating_min:g}-{high.rating_max:g}) use different "
            "rating scales; set rating_scale: normalize to min-max scale each domain to "
            f"[{NORMALIZED_RANGE[0]:g}, {NORMALIZED_RANGE[1]:g}], or convert the files to one "
            "scale."
        )


def _normalize(coded: _Coded, stats: list[DomainStats]) -> None:
    """Min-max scale each domain's ratings to NORMALIZED_RANGE (constant domains -> top)."""
    low = np.array([s.rating_min for s in stats], dtype=np.float64)
    span = np.array([s.rating_max - s.rating_min for s in stats], dtype=np.float64)
    bottom, top = NORMALIZED_RANGE
    row_low, row_span = low[coded.domain], span[coded.domain]
    scaled = np.full(len(coded.rating), top, dtype=np.float64)
    varied = row_span > 0
    fraction = (coded.rating[varied] - row_low[varied]) / row_span[varied]
    scaled[varied] = bottom + (top - bottom) * fraction
    coded.rating = scaled.astype(np.float32)


def _duplicates(coded: _Coded) -> int:
    """Rows repeating an earlier (user, item) pair."""
    keys = np.sort(coded.user.astype(np.int64) * max(len(coded.item_ids), 1) + coded.item)
    return int(np.count_nonzero(keys[1:] == keys[:-1]))


# --------------------------------------------------------------------------- items


def _items_arrow(item_ids: np.ndarray) -> pa.Table:
    """Item side table without side information: empty titles and genre lists."""
    return pa.table(
        {
            "item_id": pa.array(item_ids, pa.string()),
            "title": pa.array([""] * len(item_ids), pa.string()),
            "genres": pa.array([[] for _ in range(len(item_ids))], pa.list_(pa.string())),
        }
    )


def _items_frame(items: pa.Table) -> pd.DataFrame:
    """The pandas item table (index ``item_id``; ``title`` str; ``genres`` lists)."""
    index = pd.Index(items.column("item_id").to_pylist(), dtype=object, name="item_id")
    return pd.DataFrame(
        {
            "title": np.asarray(items.column("title").to_pylist(), dtype=object),
            "genres": pd.Series(items.column("genres").to_pylist(), dtype=object).to_numpy(),
        },
        index=index,
    )


def item_domains(data: InteractionData) -> pd.Series:
    """Map each item id to its domain, from the ``domain`` column of a source's interactions.

    Args:
        data: the table returned by an :class:`InteractionSource`.

    Returns:
        A str Series indexed by item id, named ``domain``.

    Raises:
        DataError: no ``domain`` column, or an item in several domains.
    """
    frame = data.interactions
    if "domain" not in frame.columns:
        raise DataError(f"{data.source}: no 'domain' column; load it with an InteractionSource.")
    pairs = frame[["item_id", "domain"]].drop_duplicates()
    repeated = pairs["item_id"].duplicated()
    if repeated.any():
        item = pairs["item_id"][repeated].iloc[0]
        raise DataError(
            f"{data.source}: item {item!r} occurs in several domains; load with item_ids='auto'."
        )
    return pairs.set_index("item_id")["domain"].astype(str).rename("domain")


# --------------------------------------------------------------------------- base source


class MultiDomainSource(InteractionSource):
    """Shared load pipeline: cache lookup, parse, cross-domain checks, cache write.

    Subclasses implement :meth:`files` (the inputs, checked to exist), :meth:`options` (what
    changes the result) and :meth:`read` (parse into the normalized Arrow table).

    Args:
        rating_scale: ``"refuse"`` domains with different rating scales (default), or
            ``"normalize"`` every domain by min-max scaling its observed ratings to ``[1, 5]``
            (a domain with one rating value maps to 5).
        min_user_overlap: each domain must share at least this fraction of the smaller side's
            users (this domain's, or the other domains' together) with the other domains, and
            at least one user.
        item_ids: ``"auto"``: if a raw item id occurs in several domains, every item id
            becomes ``<domain>:<id>``; ``"prefixed"``: always; ``"raw"``: never (and refuse
            collisions).
        cache: reuse/write the Parquet cache under ``<data home>/cache``.
        data_dir: explicit data home for the cache (default: ``$LIGHTNING_METAREC_DATA`` or
            ``~/.cache/lightning_metarec``).
    """

    #: What to do when only one domain was found (completes the error message).
    single_domain_hint = "add files for other domains"

    def __init__(
        self,
        rating_scale: RatingScaleRule = "refuse",
        min_user_overlap: float = 0.01,
        item_ids: ItemIdRule = "auto",
        cache: bool = True,
        data_dir: str | None = None,
    ) -> None:
        if rating_scale not in ("refuse", "normalize"):
            raise DataError(f"unknown rating_scale {rating_scale!r}; use 'refuse' or 'normalize'.")
        if item_ids not in ("auto", "prefixed", "raw"):
            raise DataError(f"unknown item_ids {item_ids!r}; use 'auto', 'prefixed' or 'raw'.")
        self.rating_scale = rating_scale
        self.min_user_overlap = float(min_user_overlap)
        self.item_ids = item_ids
        self.cache = cache
        self.data_dir = data_dir
        self.summary: LoadSummary | None = None

    @abstractmethod
    def files(self) -> list[Path]:
        """Every input file, in reading order (raises :class:`DataError` if one is missing)."""

    @abstractmethod
    def options(self) -> dict[str, Any]:
        """Reader options that change the parsed result (JSON-serializable)."""

    @abstractmethod
    def read(self, counter: ReadCounter) -> tuple[pa.Table, dict[str, str]]:
        """Parse the files.

        Args:
            counter: collects rows the reader skipped or dropped on purpose.

        Returns:
            The normalized table (see
            :data:`~lightning_metarec.data.readers.generic.LOG_SCHEMA`) and, per domain, a
            description of its files and user/item columns (for error messages).
        """

    def _key(self, files: Sequence[Path]) -> str:
        """The cache key of this source's files and options."""
        common = {
            "rating_scale": self.rating_scale,
            "min_user_overlap": self.min_user_overlap,
            "item_ids": self.item_ids,
        }
        return cache_key(type(self).__name__, files, {**self.options(), **common})

    def load(self) -> InteractionData:
        """Parse the files (or reuse the cache) and apply the cross-domain rules.

        Returns:
            See :meth:`InteractionSource.load`; ``users`` is ``None``.

        Raises:
            DataError: a missing file or column, bad value, empty or single domain, too few
                shared users, or different rating scales (one line each).
        """
        files = self.files()
        source = ", ".join(str(f) for f in files)
        entry = cache_entry(self._key(files), self.data_dir) if self.cache else None
        if entry is not None and (data := self._load_cached(entry, source)) is not None:
            return data
        return self._parse(entry, source)

    def _load_cached(self, entry: CacheEntry, source: str) -> InteractionData | None:
        """The cached table, or ``None`` when there is no usable cache entry."""
        cached = read_cache(entry)
        if cached is None:
            return None
        try:
            meta = {k: v for k, v in cached.meta.items() if k != "domain_names"}
            summary = LoadSummary.from_json(meta)
            coded, items = _Coded.from_cache(cached), _items_frame(cached.items)
        except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
            log.warning("ignoring inconsistent cache entry %s (%r)", entry.meta, exc)
            return None
        del cached  # frees the Arrow tables before the pandas columns are built
        summary.from_cache = True
        self.summary = summary
        return InteractionData(coded.frame(), items, None, source)

    def _parse(self, entry: CacheEntry | None, source: str) -> InteractionData:
        """Parse the files, apply the cross-domain rules and write the cache entry."""
        counter = ReadCounter()
        table, origins = self.read(counter)
        coded = _Coded.from_arrow(table)
        del table
        summary = self._check(coded, origins, counter, source)
        items = _items_arrow(coded.item_ids)
        if entry is not None:
            summary.cache = str(entry.interactions)
            if not write_cache(entry, coded.to_cache(items, summary)):
                summary.cache = None
        self.summary = summary
        return InteractionData(coded.frame(), _items_frame(items), None, source)

    def _check(
        self, coded: _Coded, origins: dict[str, str], counter: ReadCounter, source: str
    ) -> LoadSummary:
        """Apply the cross-domain rules to ``coded`` (in place) and summarize it."""
        _check_domain_count(coded, source, self.single_domain_hint)
        stats, shared = _domain_stats(coded)
        _check_overlap(coded, stats, origins, self.min_user_overlap)
        _check_scales(stats, self.rating_scale)
        prefixed = _namespace_items(coded, self.item_ids)  # per-domain item counts unchanged
        if self.rating_scale == "normalize":
            _normalize(coded, stats)
        return LoadSummary(
            domains=stats,
            rows=len(coded.rating),
            users=len(coded.user_ids),
            items=len(coded.item_ids),
            shared_users=shared,
            duplicates=_duplicates(coded),
            normalized=self.rating_scale == "normalize",
            prefixed_items=prefixed,
            skipped_rows=counter.invalid_rows,
            unrated_rows=counter.unrated_rows,
            untimed_rows=counter.untimed_rows,
        )

    def describe(self) -> str:
        """One line: reader, files, and after :meth:`load` the load summary."""
        try:
            files = ", ".join(str(f) for f in self.files())
        except DataError as exc:
            files = f"(files not readable: {exc})"
        head = f"{type(self).__name__} [{files}]"
        if self.summary is None:
            return f"{head}: not loaded yet"
        return f"{head}: {self.summary.describe()}"


def _bounds(values: Sequence[float] | None) -> tuple[float, float] | None:
    """A ``(low, high)`` pair of floats from a config value (YAML gives a list)."""
    return None if values is None else (float(values[0]), float(values[1]))


def _nonempty(table: pa.Table, path: Path, domain: str | None) -> pa.Table:
    """Refuse a file without interactions (its domain would be empty)."""
    if table.num_rows == 0:
        what = f"domain {domain!r} would be empty" if domain else "it adds nothing"
        raise DataError(
            f"{path}: no interactions (empty file or header only); {what}. Remove the file "
            "or fill it."
        )
    return table


def _concat(parts: list[pa.Table]) -> pa.Table:
    """Concatenate normalized tables."""
    return pa.concat_tables(parts) if parts else LOG_SCHEMA.empty_table()


# --------------------------------------------------------------------------- Amazon


class AmazonReviews(MultiDomainSource):
    """Amazon review categories (2014/2018 5-core JSON lines or ratings-only CSV), one per domain.

    See :mod:`lightning_metarec.data.readers.amazon` for the file layouts.

    Args:
        files: ``{domain: path}``, or a list of paths (globs allowed) whose categories, taken
            from the file names, are the domains (``reviews_Books_5.json.gz`` -> ``Books``).
        csv_order: column order of ratings-only CSVs: ``"auto"`` (``ratings_*.csv``, the 2014
            release, is user,item; other names, the 2018 release, item,user), ``"user_item"``
            or ``"item_user"``.
        rating_range: inclusive rating bounds checked on every file (``None``: no check).
        rating_scale: see :class:`MultiDomainSource`.
        min_user_overlap: see :class:`MultiDomainSource`.
        item_ids: see :class:`MultiDomainSource`.
        cache: see :class:`MultiDomainSource`.
        data_dir: see :class:`MultiDomainSource`.
    """

    single_domain_hint = "pass one file per category, at least two"

    def __init__(
        self,
        files: dict[str, str] | list[str],
        csv_order: AmazonCsvOrder = "auto",
        rating_range: tuple[float, float] | None = (1, 5),
        rating_scale: RatingScaleRule = "refuse",
        min_user_overlap: float = 0.01,
        item_ids: ItemIdRule = "auto",
        cache: bool = True,
        data_dir: str | None = None,
    ) -> None:
        super().__init__(rating_scale, min_user_overlap, item_ids, cache, data_dir)
        self.files_arg = files
        self.csv_order: AmazonCsvOrder = csv_order
        self.rating_range = _bounds(rating_range)

    def domain_files(self) -> dict[str, Path]:
        """Domain -> file, from the mapping or the file names (each checked to exist)."""
        if isinstance(self.files_arg, dict):
            pairs = [(str(d), Path(p).expanduser()) for d, p in self.files_arg.items()]
        else:
            pairs = [(amazon_category(p), p) for p in expand_paths(list(self.files_arg))]
        result: dict[str, Path] = {}
        for domain, path in pairs:
            if domain in result:
                raise DataError(
                    f"{path}: category {domain!r} is also given by {result[domain]}; pass one "
                    "file per category, or a {domain: path} mapping to name the domains."
                )
            result[domain] = _require_file(path)
        return result

    def files(self) -> list[Path]:
        """The category files."""
        return list(self.domain_files().values())

    def options(self) -> dict[str, Any]:
        """Options that change the parsed result."""
        return {
            "domains": list(self.domain_files()),
            "csv_order": self.csv_order,
            "rating_range": self.rating_range,
        }

    def read(self, counter: ReadCounter) -> tuple[pa.Table, dict[str, str]]:
        """Read every category file."""
        parts, origins = [], {}
        for domain, path in self.domain_files().items():
            table, origin = read_amazon_file(
                path, domain, self.csv_order, self.rating_range, NormalizeOptions(counter=counter)
            )
            parts.append(_nonempty(table, path, domain))
            origins[domain] = origin
        return _concat(parts), origins


# --------------------------------------------------------------------------- Douban


class DoubanRatings(MultiDomainSource):
    """Douban movie, book and music ratings (Zhu et al.), one domain per review file.

    See :mod:`lightning_metarec.data.readers.douban` for the layout and its provenance. The
    domains are ``book``, ``movie`` and ``music``; item ids are prefixed with the domain by
    default because the numeric ids collide across domains.

    Args:
        directory: folder holding ``moviereviews_cleaned.txt``, ``bookreviews_cleaned.txt``
            and/or ``musicreviews_cleaned.txt``.
        domains: which of ``book``, ``movie``, ``music`` to read (each file must exist);
            ``None``: every one of the three files present.
        rating_range: inclusive rating bounds (``None``: no check).
        rating_scale: see :class:`MultiDomainSource`.
        min_user_overlap: see :class:`MultiDomainSource`.
        item_ids: see :class:`MultiDomainSource`.
        cache: see :class:`MultiDomainSource`.
        data_dir: see :class:`MultiDomainSource`.
    """

    single_domain_hint = "the folder needs two of the review files, or list two domains"

    def __init__(
        self,
        directory: str,
        domains: list[str] | None = None,
        rating_range: tuple[float, float] | None = (1, 5),
        rating_scale: RatingScaleRule = "refuse",
        min_user_overlap: float = 0.01,
        item_ids: ItemIdRule = "auto",
        cache: bool = True,
        data_dir: str | None = None,
    ) -> None:
        super().__init__(rating_scale, min_user_overlap, item_ids, cache, data_dir)
        unknown = [d for d in domains or [] if d not in DOUBAN_DOMAINS]
        if unknown:
            raise DataError(
                f"unknown Douban domain(s) {', '.join(map(repr, unknown))}; choose from "
                f"{', '.join(DOUBAN_DOMAINS)}."
            )
        self.directory = directory
        self.domains = list(domains) if domains is not None else None
        self.rating_range = _bounds(rating_range)

    def domain_files(self) -> dict[str, Path]:
        """Domain -> review file (listed domains must exist; otherwise those present)."""
        folder = Path(self.directory).expanduser()
        paths = {d: folder / name for d, (name, _) in DOUBAN_DOMAINS.items()}
        if self.domains is not None:
            return {d: _require_file(paths[d]) for d in self.domains}
        present = {d: p for d, p in paths.items() if p.is_file()}
        if not present:
            names = ", ".join(name for name, _ in DOUBAN_DOMAINS.values())
            raise DataError(
                f"{folder}: no Douban review file found (expected {names}); check the directory."
            )
        return present

    def files(self) -> list[Path]:
        """The review files read."""
        return list(self.domain_files().values())

    def options(self) -> dict[str, Any]:
        """Options that change the parsed result."""
        return {"domains": list(self.domain_files()), "rating_range": self.rating_range}

    def read(self, counter: ReadCounter) -> tuple[pa.Table, dict[str, str]]:
        """Read every review file."""
        parts, origins = [], {}
        for domain, path in self.domain_files().items():
            options = NormalizeOptions(counter=counter)
            table, origin = read_douban_file(path, domain, self.rating_range, options)
            parts.append(_nonempty(table, path, domain))
            origins[domain] = origin
        return _concat(parts), origins


# --------------------------------------------------------------------------- generic log


class InteractionLog(MultiDomainSource):
    """Any CSV/TSV/Parquet interaction log with configurable column names.

    Either ``path`` (one or more files, globs allowed) whose ``domain_column`` names each
    interaction's domain, or ``files_per_domain`` (one file per domain; any domain column in
    them is ignored). Text files may be ``.gz``/``.bz2``/``.xz``-compressed; CSV fields may be
    ``"``-quoted, TSV fields are not.

    Args:
        path: the log file(s).
        format: ``csv``, ``tsv``, ``parquet`` or ``auto`` (from each file's suffix: ``.csv``;
            ``.tsv``/``.tab``/``.txt``; ``.parquet``/``.pq``).
        user_column: user id column.
        item_column: item id column.
        rating_column: rating column, or ``None`` for implicit feedback (every interaction
            rated ``implicit_rating``). A named column that is missing is an error.
        timestamp_column: timestamp column (integer/float seconds, or dates), or ``None``
            (all 0).
        domain_column: domain column of ``path`` files.
        files_per_domain: ``{domain: file}`` instead of ``path``.
        rating_range: inclusive rating bounds checked on every file (``None``: no check).
        implicit_rating: the rating of every interaction when ``rating_column`` is ``None``.
        column_names: the columns of headerless text files, in order (``None``: the first line
            is the header).
        timestamp_format: ``strptime`` pattern of text timestamps that are neither numbers nor
            ISO 8601 (e.g. ``%d/%m/%Y``).
        encoding: encoding of text files.
        rating_scale: see :class:`MultiDomainSource`.
        min_user_overlap: see :class:`MultiDomainSource`.
        item_ids: see :class:`MultiDomainSource`.
        cache: see :class:`MultiDomainSource`.
        data_dir: see :class:`MultiDomainSource`.
    """

    single_domain_hint = (
        "add interactions of another domain, or set domain_column / files_per_domain to what "
        "names each interaction's domain"
    )

    def __init__(
        self,
        path: str | list[str] | None = None,
        format: LogFormat = "auto",
        user_column: str = "user_id",
        item_column: str = "item_id",
        rating_column: str | None = "rating",
        timestamp_column: str | None = "timestamp",
        domain_column: str | None = "domain",
        files_per_domain: dict[str, str] | None = None,
        rating_range: tuple[float, float] | None = None,
        implicit_rating: float = 1.0,
        column_names: list[str] | None = None,
        timestamp_format: str | None = None,
        encoding: str = "utf-8",
        rating_scale: RatingScaleRule = "refuse",
        min_user_overlap: float = 0.01,
        item_ids: ItemIdRule = "auto",
        cache: bool = True,
        data_dir: str | None = None,
    ) -> None:
        super().__init__(rating_scale, min_user_overlap, item_ids, cache, data_dir)
        if (path is None) == (files_per_domain is None):
            raise DataError(
                "InteractionLog needs exactly one of path (with a domain column) or "
                "files_per_domain ({domain: file})."
            )
        if files_per_domain is None and domain_column is None:
            raise DataError(
                "InteractionLog with path needs domain_column (the column naming each "
                "interaction's domain); or give files_per_domain."
            )
        self.paths = [path] if isinstance(path, str) else list(path or [])
        self.format: LogFormat = format
        self.columns = LogColumns(
            user_column,
            item_column,
            rating_column,
            timestamp_column,
            domain_column if files_per_domain is None else None,
        )
        self.files_per_domain = dict(files_per_domain) if files_per_domain is not None else None
        self.rating_range = _bounds(rating_range)
        self.implicit_rating = float(implicit_rating)
        self.column_names = list(column_names) if column_names is not None else None
        self.timestamp_format = timestamp_format
        self.encoding = encoding

    def domain_files(self) -> list[tuple[str | None, Path]]:
        """(fixed domain or ``None``, file) pairs in reading order, each checked to exist."""
        pairs: list[tuple[str | None, Path]]
        if self.files_per_domain is not None:
            pairs = [(str(d), Path(p).expanduser()) for d, p in self.files_per_domain.items()]
        else:
            pairs = [(None, p) for p in expand_paths(self.paths)]
        return [(d, _require_file(p)) for d, p in pairs]

    def files(self) -> list[Path]:
        """The log files."""
        return [p for _, p in self.domain_files()]

    def options(self) -> dict[str, Any]:
        """Options that change the parsed result."""
        return {
            "domains": [d for d, _ in self.domain_files()],
            "format": self.format,
            "columns": [
                self.columns.user,
                self.columns.item,
                self.columns.rating,
                self.columns.timestamp,
                self.columns.domain,
            ],
            "rating_range": self.rating_range,
            "implicit_rating": self.implicit_rating,
            "column_names": self.column_names,
            "timestamp_format": self.timestamp_format,
            "encoding": self.encoding,
        }

    def _read_one(self, path: Path, domain: str | None, counter: ReadCounter) -> pa.Table:
        """Read one file of the log."""
        file_format = detect_format(path, self.format)
        text = text_format_for(
            "csv" if file_format == "csv" else "tsv", self.column_names, self.encoding
        )
        options = NormalizeOptions(
            domain=domain,
            implicit_rating=self.implicit_rating,
            rating_range=self.rating_range,
            timestamp_format=self.timestamp_format,
            counter=counter,
        )
        table = read_log_file(path, self.columns, file_format, text, options)
        return _nonempty(table, path, domain)

    def read(self, counter: ReadCounter) -> tuple[pa.Table, dict[str, str]]:
        """Read every file; describe each domain's files for error messages."""
        parts, sources = [], dict[str, list[str]]()
        for domain, path in self.domain_files():
            table = self._read_one(path, domain, counter)
            parts.append(table)
            for name in pc.unique(table.column("domain")).to_pylist():
                sources.setdefault(str(name), []).append(str(path))
        columns = self.columns.describe()
        origins = {d: f"{', '.join(paths)}; {columns}" for d, paths in sources.items()}
        return _concat(parts), origins
