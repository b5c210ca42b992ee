"""Reader for the Amazon product review datasets of McAuley et al. (2014 and 2018 releases).

Two kinds of per-category files are read, optionally ``.gz``-compressed:

* **5-core reviews**, JSON lines: ``reviews_<Category>_5.json.gz`` (2014) or
  ``<Category>_5.json.gz`` (2018). Only the fields ``reviewerID`` (user), ``asin`` (item),
  ``overall`` (rating, 1-5) and ``unixReviewTime`` (seconds) are parsed; every other field
  (``reviewText``, ``summary``, ``helpful``, and the 2018 ``vote``, ``style``, ``image``,
  ``verified``, ...) is skipped, whatever its type.
* **ratings only**, headerless CSV: ``ratings_<Category>.csv`` (2014) with columns
  ``user,item,rating,timestamp``, and ``<Category>.csv`` (2018) whose columns are
  ``item,user,rating,timestamp``. The order is taken from the file name unless given.

The category, i.e. the domain of every interaction in the file, is the file name without
compression/format suffixes, the ``reviews_``/``ratings_`` prefix and the ``_5`` suffix
(``reviews_Movies_and_TV_5.json.gz`` -> ``Movies_and_TV``, ``ratings_Books.csv`` -> ``Books``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.json as pjson

from lightning_metarec.data.readers.generic import (
    BLOCK_BYTES,
    LOG_SCHEMA,
    LogColumns,
    NormalizeOptions,
    TextFormat,
    normalize_batch,
    read_log_file,
)
from lightning_metarec.data.readers.recbole import _one_line, _require_file
from lightning_metarec.errors import DataError

__all__ = [
    "AMAZON_JSON_COLUMNS",
    "AMAZON_JSON_SCHEMA",
    "AmazonCsvOrder",
    "amazon_category",
    "amazon_csv_order",
    "amazon_file_kind",
    "read_amazon_file",
]

AmazonCsvOrder = Literal["auto", "user_item", "item_user"]

#: The JSON fields parsed from a review line (others are ignored).
AMAZON_JSON_SCHEMA = pa.schema(
    [
        ("reviewerID", pa.string()),
        ("asin", pa.string()),
        ("overall", pa.float64()),
        ("unixReviewTime", pa.int64()),
    ]
)
#: Which JSON field holds which interaction field.
AMAZON_JSON_COLUMNS = LogColumns(
    user="reviewerID", item="asin", rating="overall", timestamp="unixReviewTime"
)
_CSV_COLUMNS = LogColumns(user="user", item="item", rating="rating", timestamp="timestamp")
_CSV_NAMES = {
    "user_item": ("user", "item", "rating", "timestamp"),
    "item_user": ("item", "user", "rating", "timestamp"),
}
_COMPRESSION = (".gz", ".bz2", ".xz")
_JSON_SUFFIXES = (".json", ".jsonl")


def _strip_suffixes(name: str) -> tuple[str, str]:
    """Split ``name`` into its stem and format suffix, dropping a compression suffix."""
    lower = name.lower()
    for suffix in _COMPRESSION:
        if lower.endswith(suffix):
            name, lower = name[: -len(suffix)], lower[: -len(suffix)]
    for suffix in (*_JSON_SUFFIXES, ".csv"):
        if lower.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def amazon_category(path: str | Path) -> str:
    """Return the category named by an Amazon file name (the domain of its interactions).

    Args:
        path: e.g. ``reviews_Movies_and_TV_5.json.gz``, ``Books_5.json``, ``ratings_Books.csv``.

    Returns:
        E.g. ``Movies_and_TV`` or ``Books``.
    """
    stem, _ = _strip_suffixes(Path(path).name)
    for prefix in ("reviews_", "ratings_"):
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
    return stem.removesuffix("_5") or stem


def amazon_file_kind(path: Path) -> Literal["json", "csv"]:
    """Whether ``path`` is a JSON-lines review file or a ratings-only CSV.

    Raises:
        DataError: neither suffix.
    """
    _, suffix = _strip_suffixes(path.name)
    if suffix in _JSON_SUFFIXES:
        return "json"
    if suffix == ".csv":
        return "csv"
    raise DataError(
        f"{path}: not an Amazon review file; expected a .json/.jsonl (5-core reviews) or .csv "
        "(ratings only) file, optionally .gz-compressed."
    )


def amazon_csv_order(
    path: Path, order: AmazonCsvOrder = "auto"
) -> Literal["user_item", "item_user"]:
    """Column order of a ratings-only CSV: ``ratings_*.csv`` (2014) is user,item; others item,user.

    Args:
        path: the CSV file.
        order: ``"auto"`` (from the name) or an explicit order.
    """
    if order != "auto":
        return order
    return "user_item" if Path(path).name.startswith("ratings_") else "item_user"


def _iter_json(path: Path) -> Iterator[pa.RecordBatch]:
    """Stream the four review fields of a JSON-lines file (nothing for an empty file)."""
    _require_file(path)
    options = pjson.ParseOptions(
        explicit_schema=AMAZON_JSON_SCHEMA, unexpected_field_behavior="ignore"
    )
    try:
        reader = pjson.open_json(path, pjson.ReadOptions(block_size=BLOCK_BYTES), options)
        yield from reader
    except pa.ArrowInvalid as exc:
        if "Empty JSON" in str(exc):
            return
        raise DataError(
            f"{path}: cannot parse as Amazon JSON lines ({_one_line(exc)}); each line must be "
            "one JSON review with reviewerID, asin, overall (a number) and unixReviewTime "
            "(an integer)."
        ) from None


def _read_json(path: Path, options: NormalizeOptions) -> pa.Table:
    """Read a 5-core review file into the normalized table."""
    parts, offset = [], 0
    for batch in _iter_json(path):
        if batch.num_rows:
            parts.append(normalize_batch(batch, AMAZON_JSON_COLUMNS, path, offset, options))
        offset += batch.num_rows
    return pa.concat_tables(parts) if parts else LOG_SCHEMA.empty_table()


def read_amazon_file(
    path: Path,
    domain: str,
    csv_order: AmazonCsvOrder = "auto",
    rating_range: tuple[float, float] | None = (1, 5),
    options: NormalizeOptions | None = None,
) -> tuple[pa.Table, str]:
    """Read one Amazon category file.

    Args:
        path: a 5-core JSON-lines file or a ratings-only CSV (optionally ``.gz``).
        domain: the domain of its interactions (usually :func:`amazon_category` of the name).
        csv_order: column order of a ratings-only CSV (``"auto"``: from the file name).
        rating_range: inclusive rating bounds, or ``None`` to skip the check.
        options: normalization rules; ``domain`` and ``rating_range`` override its fields.

    Returns:
        The normalized interactions (see
        :data:`~lightning_metarec.data.readers.generic.LOG_SCHEMA`) and a description of the
        file and its user/item fields, for error messages.

    Raises:
        DataError: missing file, unknown suffix, malformed line, missing field, non-numeric,
            NaN or out-of-range rating (one line, naming the file).
    """
    base = options or NormalizeOptions()
    rules = NormalizeOptions(
        domain=domain,
        rating_range=rating_range,
        implicit_rating=base.implicit_rating,
        counter=base.counter,
    )
    if amazon_file_kind(path) == "json":
        return _read_json(path, rules), f"{path} (JSON fields reviewerID, asin)"
    order = amazon_csv_order(path, csv_order)
    text = TextFormat(",", True, _CSV_NAMES[order])
    table = read_log_file(path, _CSV_COLUMNS, "csv", text, rules)
    return table, f"{path} (CSV read as {order.replace('_', ',')},rating,timestamp)"
