"""Arrow-based, bounded-memory parsing of interaction logs (CSV, TSV, Parquet, JSON lines).

Every file is read in blocks (``pyarrow.csv.open_csv``, ``pyarrow.parquet.ParquetFile.
iter_batches``, ``pyarrow.json.open_json``), so the memory used while parsing is one block plus
the compact Arrow result, whatever the size of the text. Each block is normalized at once to
:data:`LOG_SCHEMA` (``user_id``, ``item_id``, ``rating``, ``timestamp``, ``domain``):

* ids: any type, kept as the string written in the file (integral floats lose their ``.0``);
  empty or missing ids are refused;
* ratings: numbers (text is parsed); missing, NaN or out-of-range ratings are refused; without
  a rating column every interaction gets the implicit rating;
* timestamps: integer or float seconds, Arrow dates/timestamps, or text holding either
  numbers or ISO 8601 dates (``2012-10-09``, ``2012-10-09 10:00:00``, ``...T10:00:00+02:00``),
  or any format given as a ``strptime`` pattern; all become int64 seconds since the epoch
  (UTC for naive dates); without a timestamp column all are 0.

Errors are one-line :class:`~lightning_metarec.errors.DataError` s naming the file, the column,
the first bad value and its data row (1-based, header excluded).
"""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from lightning_metarec.data.readers.recbole import _one_line, _require_file
from lightning_metarec.data.table import check_columns
from lightning_metarec.errors import DataError

__all__ = [
    "BLOCK_BYTES",
    "LOG_SCHEMA",
    "LogColumns",
    "LogFormat",
    "NormalizeOptions",
    "ReadCounter",
    "TextFormat",
    "detect_format",
    "expand_paths",
    "iter_parquet_batches",
    "iter_text_batches",
    "normalize_batch",
    "read_log_file",
    "read_text_header",
    "text_format_for",
]

LogFormat = Literal["csv", "tsv", "parquet", "auto"]

#: Bytes of text parsed per block (also the longest line a text file may have).
BLOCK_BYTES = 16 << 20
#: Rows per Parquet batch.
_PARQUET_BATCH_ROWS = 1 << 20

#: The normalized interaction table built by every reader (one row per interaction).
LOG_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("rating", pa.float32()),
        ("timestamp", pa.int64()),
        ("domain", pa.string()),
    ]
)

_COMPRESSED: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_TEXT_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv"}
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class LogColumns:
    """Which file columns hold the interaction fields.

    Attributes:
        user: user id column.
        item: item id column.
        rating: rating column, or ``None`` for implicit feedback.
        timestamp: timestamp column, or ``None`` (all timestamps 0).
        domain: domain column, or ``None`` when the domain is fixed per file.
    """

    user: str
    item: str
    rating: str | None = None
    timestamp: str | None = None
    domain: str | None = None

    def names(self) -> list[str]:
        """The file columns to read, without repeats."""
        named = [self.user, self.item, self.rating, self.timestamp, self.domain]
        return list(dict.fromkeys(c for c in named if c is not None))

    def describe(self) -> str:
        """E.g. ``user column 'u', item column 'i'``."""
        return f"user column {self.user!r}, item column {self.item!r}"


@dataclass(frozen=True)
class TextFormat:
    """How a delimited text file is laid out.

    Attributes:
        delimiter: field separator.
        quote: whether ``"`` quotes fields (with ``""`` as an escaped quote).
        column_names: the columns of a file without header line, or ``None`` when the first
            line is the header.
        encoding: text encoding.
        newlines_in_values: whether quoted values may contain line breaks (slower).
        skip_invalid: skip (and count) rows with the wrong number of fields instead of failing.
    """

    delimiter: str = ","
    quote: bool = True
    column_names: Sequence[str] | None = None
    encoding: str = "utf-8"
    newlines_in_values: bool = False
    skip_invalid: bool = False


@dataclass
class ReadCounter:
    """Rows a reader left out on purpose, counted for the load summary.

    Attributes:
        invalid_rows: malformed rows skipped (only with ``TextFormat.skip_invalid``).
        unrated_rows: rows without a rating that a reader drops by design (e.g. Douban
            reviews without stars).
        untimed_rows: rows without a timestamp that got timestamp 0.
    """

    invalid_rows: int = 0
    unrated_rows: int = 0
    untimed_rows: int = 0

    def add(self, other: ReadCounter) -> None:
        """Add the counts of ``other``."""
        self.invalid_rows += other.invalid_rows
        self.unrated_rows += other.unrated_rows
        self.untimed_rows += other.untimed_rows


@dataclass(frozen=True)
class NormalizeOptions:
    """Per-file normalization rules (see :func:`normalize_batch`).

    Attributes:
        domain: the domain of every row, or ``None`` to read it from ``LogColumns.domain``.
        implicit_rating: rating given to every row when there is no rating column.
        rating_range: inclusive bounds checked on every rating, or ``None``.
        timestamp_format: ``strptime`` pattern of text timestamps, or ``None`` for numbers /
            ISO 8601.
        drop_unrated: drop rows whose rating is empty (counted) instead of refusing them.
        missing_timestamp_zero: give empty timestamps the value 0 (counted) instead of
            refusing them.
        counter: where dropped, skipped and zero-timestamp rows are counted.
    """

    domain: str | None = None
    implicit_rating: float = 1.0
    rating_range: tuple[float, float] | None = None
    timestamp_format: str | None = None
    drop_unrated: bool = False
    missing_timestamp_zero: bool = False
    counter: ReadCounter = field(default_factory=ReadCounter, compare=False)


@dataclass(frozen=True)
class _Batch:
    """One block being normalized: its file, first data row and fixed options."""

    path: Path
    offset: int
    options: NormalizeOptions


# --------------------------------------------------------------------------- files


def expand_paths(patterns: Sequence[str]) -> list[Path]:
    """Expand ``~`` and glob patterns, keeping the given order (matches sorted).

    Args:
        patterns: file paths, possibly with ``*``/``?``/``[`` wildcards.

    Returns:
        Existing files; a plain path is returned as is (checked later).

    Raises:
        DataError: a pattern that matches no file.
    """
    files: list[Path] = []
    for pattern in patterns:
        expanded = str(Path(pattern).expanduser())
        if glob.has_magic(expanded):
            matches = sorted(Path(m) for m in glob.glob(expanded))
            if not matches:
                raise DataError(f"{pattern}: no file matches this pattern; check the path.")
            files.extend(matches)
        else:
            files.append(Path(expanded))
    return files


def _plain_suffix(path: Path) -> str:
    """The suffix after removing one compression suffix (``a.csv.gz`` -> ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (*_COMPRESSED, ".zst"):
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def detect_format(path: Path, requested: LogFormat = "auto") -> Literal["csv", "tsv", "parquet"]:
    """Return the format of ``path``: ``requested`` unless ``"auto"``, else from its suffix.

    Raises:
        DataError: ``"auto"`` and an unknown suffix.
    """
    if requested != "auto":
        return requested
    suffix = _plain_suffix(path)
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _TEXT_SUFFIXES:
        return "csv" if _TEXT_SUFFIXES[suffix] == "csv" else "tsv"
    raise DataError(
        f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; set format to "
        "'csv', 'tsv' or 'parquet'."
    )


def _open_text(path: Path) -> Any:
    """Open ``path`` for binary reading, decompressing ``.gz``/``.bz2``/``.xz``."""
    opener = _COMPRESSED.get(path.suffix.lower())
    return opener(path, "rb") if opener is not None else path.open("rb")


def read_text_header(path: Path, fmt: TextFormat) -> list[str]:
    """Return the column names of a delimited file (its header, or ``fmt.column_names``).

    Raises:
        DataError: missing file, empty file or undecodable header.
    """
    _require_file(path)
    if fmt.column_names is not None:
        return list(fmt.column_names)
    with _open_text(path) as handle:
        raw = handle.readline(1 << 20)
    try:
        line = raw.decode(fmt.encoding).lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: cannot decode the header as {fmt.encoding} ({_one_line(exc)}); set the "
            "file's encoding."
        ) from None
    if not line.strip():
        raise DataError(f"{path}: the file is empty; expected a header line with column names.")
    fields = line.split(fmt.delimiter)
    if fmt.quote:
        fields = [f.strip().strip('"') for f in fields]
    return fields


def _arrow_error(path: Path, exc: Exception) -> DataError:
    """One-line error for an Arrow parse failure."""
    text = _one_line(exc)
    hint = "fix the file or the reader's format options"
    if "UTF8" in text or "utf8" in text.lower():
        hint = "set the file's encoding (e.g. encoding: latin-1)"
    elif "columns" in text:
        hint = "check the delimiter (format: csv or tsv) and the quoting of that line"
    return DataError(f"{path}: cannot parse ({text}); {hint}.")


def iter_text_batches(
    path: Path, columns: Sequence[str], fmt: TextFormat, counter: ReadCounter | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream the ``columns`` of a delimited file as string record batches.

    Args:
        path: the file (``.gz``/``.bz2`` are decompressed).
        columns: the columns to read (others are skipped without conversion).
        fmt: the layout.
        counter: counts skipped malformed rows (with ``fmt.skip_invalid``).

    Yields:
        Batches with one string column per name of ``columns``.

    Raises:
        DataError: missing file or column, or a line the parser rejects.
    """
    found = read_text_header(path, fmt)
    check_columns(pd.DataFrame(columns=found), list(columns), str(path))
    read_options = pcsv.ReadOptions(
        block_size=BLOCK_BYTES,
        encoding=fmt.encoding,
        column_names=list(fmt.column_names) if fmt.column_names is not None else None,
    )
    parse_options = pcsv.ParseOptions(
        delimiter=fmt.delimiter,
        quote_char='"' if fmt.quote else False,
        newlines_in_values=fmt.newlines_in_values,
        invalid_row_handler=_skipper(counter) if fmt.skip_invalid else None,
    )
    convert_options = pcsv.ConvertOptions(
        column_types=dict.fromkeys(columns, pa.string()),
        include_columns=list(columns),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        with pcsv.open_csv(path, read_options, parse_options, convert_options) as reader:
            yield from reader
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowTypeError, UnicodeError) as exc:
        raise _arrow_error(path, exc) from None


def _skipper(counter: ReadCounter | None) -> Callable[[Any], str]:
    """An Arrow ``invalid_row_handler`` that skips and counts malformed rows."""

    def skip(_row: Any) -> str:
        if counter is not None:
            counter.invalid_rows += 1
        return "skip"

    return skip


def iter_parquet_batches(path: Path, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """Stream the ``columns`` of a Parquet file as record batches (types as stored).

    Raises:
        DataError: missing file, missing column or unreadable file.
    """
    _require_file(path)
    try:
        parquet = pq.ParquetFile(path)
        check_columns(pd.DataFrame(columns=parquet.schema_arrow.names), list(columns), str(path))
        yield from parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=list(columns))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read as Parquet ({_one_line(exc)}).") from None


# --------------------------------------------------------------------------- normalization


def _first(mask: np.ndarray) -> int:
    """Index of the first ``True`` of ``mask``."""
    return int(np.flatnonzero(mask)[0])


def _missing(values: pa.Array, blank: bool = False) -> np.ndarray:
    """Boolean mask of null or empty-string (with ``blank``: whitespace-only) entries."""
    mask = pc.is_null(values)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text = pc.utf8_trim_whitespace(values) if blank else values
        mask = pc.or_(mask, pc.equal(text, ""))
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _ids(values: pa.Array, column: str, batch: _Batch) -> pa.Array:
    """Turn an id column into strings, refusing empty ids."""
    if pa.types.is_floating(values.type):
        whole = pc.all(pc.equal(values, pc.floor(values))).as_py() is not False
        values = pc.cast(values, pa.int64()) if whole else values
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    missing = _missing(values)
    if missing.any():
        raise DataError(
            f"{batch.path}: column {column!r} has {int(missing.sum())} empty/missing id(s) "
            f"(first at data row {batch.offset + _first(missing) + 1}); drop those rows."
        )
    return values


def _non_numeric(values: pa.Array, column: str, batch: _Batch, hint: str) -> DataError:
    """Error naming the first value of a text column that is not a number (or is empty)."""
    text = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object).fillna("")
    stripped = text.astype(str).str.strip()
    bad = (pd.to_numeric(stripped, errors="coerce").isna() | (stripped == "")).to_numpy()
    row = _first(bad) if bad.any() else 0
    what = "is empty" if stripped.iloc[row] == "" else f"has non-numeric value {text.iloc[row]!r}"
    return DataError(
        f"{batch.path}: column {column!r} {what} at data row {batch.offset + row + 1}; {hint}."
    )


def _numbers(values: pa.Array, column: str, batch: _Batch, hint: str) -> np.ndarray:
    """Parse a numeric or text column to float64 (nulls -> NaN)."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:
            values = pc.cast(pc.utf8_trim_whitespace(values), pa.float64())
        except pa.ArrowInvalid:
            raise _non_numeric(values, column, batch, hint) from None
    elif not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        try:
            values = pc.cast(values, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError(
                f"{batch.path}: column {column!r} has type {values.type}, not a number; {hint}."
            ) from None
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _ratings(values: pa.Array, column: str, batch: _Batch) -> np.ndarray:
    """Ratings as float64, refusing missing/NaN/out-of-range values."""
    numbers = _numbers(values, column, batch, "fix the value or drop the row")
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise DataError(
            f"{batch.path}: column {column!r} has {int(bad.sum())} missing/NaN value(s) (first at "
            f"data row {batch.offset + _first(bad) + 1}); drop or fill those rows before loading."
        )
    bounds = batch.options.rating_range
    if bounds is not None:
        out = (numbers < bounds[0]) | (numbers > bounds[1])
        if out.any():
            row = _first(out)
            raise DataError(
                f"{batch.path}: column {column!r} has {int(out.sum())} value(s) outside "
                f"[{bounds[0]:g}, {bounds[1]:g}] (first: {numbers[row]:g} at data row "
                f"{batch.offset + row + 1}); fix the data or set rating_range to the file's scale."
            )
    return numbers


def _temporal_seconds(values: pa.Array) -> pa.Array:
    """Seconds since the epoch of an Arrow date/timestamp array."""
    tz = getattr(values.type, "tz", None)
    seconds = pc.cast(values, pa.timestamp("s", tz=tz), safe=False)
    return pc.cast(seconds, pa.int64())


def _text_seconds(values: pa.Array, column: str, batch: _Batch) -> pa.Array:
    """Seconds since the epoch of text timestamps (numbers, ISO 8601 or a strptime format)."""
    pattern = batch.options.timestamp_format
    if pattern is not None:
        try:
            return _temporal_seconds(pc.strptime(values, format=pattern, unit="s"))
        except pa.ArrowInvalid:
            raise _bad_date(values, column, batch) from None
    trimmed = pc.utf8_trim_whitespace(values)
    for target in (pa.int64(), pa.float64(), pa.timestamp("s")):
        try:
            parsed = pc.cast(trimmed, target)
        except pa.ArrowInvalid:
            continue
        return _temporal_seconds(parsed) if target == pa.timestamp("s") else parsed
    stamps = pd.to_datetime(
        pd.Series(trimmed.to_numpy(zero_copy_only=False)),
        utc=True,
        format="ISO8601",
        errors="coerce",
    )
    if stamps.isna().any():
        raise _bad_date(values, column, batch)
    return pa.array(stamps.to_numpy().astype("datetime64[s]").astype(np.int64))


def _bad_date(values: pa.Array, column: str, batch: _Batch) -> DataError:
    """Error naming the first timestamp text that is neither a number nor a parseable date."""
    text = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object).fillna("").astype(str)
    pattern = batch.options.timestamp_format
    numeric = pd.to_numeric(text, errors="coerce").notna()
    dates = (
        pd.to_datetime(text, format=pattern, errors="coerce", utc=True)
        if pattern is not None
        else pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    )
    bad = (~numeric & dates.isna()).to_numpy() if pattern is None else dates.isna().to_numpy()
    row = _first(bad) if bad.any() else 0
    return DataError(
        f"{batch.path}: column {column!r} has value {text.iloc[row]!r} at data row "
        f"{batch.offset + row + 1} that is neither a number of seconds nor a date matching "
        f"{pattern or 'ISO 8601'}; set timestamp_format (a strptime pattern such as '%d/%m/%Y')."
    )


def _timestamps(values: pa.Array, column: str, batch: _Batch) -> tuple[np.ndarray, np.ndarray]:
    """Int64 seconds of each row and the mask of rows whose timestamp is missing."""
    missing = _missing(values, blank=True)
    if missing.any() and not batch.options.missing_timestamp_zero:
        raise DataError(
            f"{batch.path}: column {column!r} has {int(missing.sum())} missing value(s) (first at "
            f"data row {batch.offset + _first(missing) + 1}); fill them or set the timestamp "
            "column to null."
        )
    present = values.filter(pa.array(~missing)) if missing.any() else values
    if pa.types.is_temporal(present.type):
        seconds = _temporal_seconds(present)
    elif pa.types.is_string(present.type) or pa.types.is_large_string(present.type):
        seconds = _text_seconds(present, column, batch)
    else:
        seconds = pa.array(_numbers(present, column, batch, "fill the value or drop the row"))
    out = np.zeros(len(values), dtype=np.int64)
    numbers = np.asarray(seconds.to_numpy(zero_copy_only=False))
    out[~missing] = np.rint(numbers).astype(np.int64) if numbers.dtype.kind == "f" else numbers
    return out, missing


def _domains(values: pa.Array, column: str, batch: _Batch) -> pa.Array:
    """Domain names as strings, refusing empty ones."""
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    missing = _missing(values)
    if missing.any():
        raise DataError(
            f"{batch.path}: column {column!r} has {int(missing.sum())} empty domain value(s) "
            f"(first at data row {batch.offset + _first(missing) + 1}); every interaction needs "
            "a domain."
        )
    return values


def _drop_unrated(table: pa.RecordBatch | pa.Table, column: str, batch: _Batch) -> pa.Table:
    """Drop rows whose rating text is empty, counting them."""
    table = pa.Table.from_batches([table]) if isinstance(table, pa.RecordBatch) else table
    empty = _missing(table.column(column).combine_chunks(), blank=True)
    if empty.any():
        batch.options.counter.unrated_rows += int(empty.sum())
        table = table.filter(pa.array(~empty))
    return table


def normalize_batch(
    batch: pa.RecordBatch | pa.Table,
    columns: LogColumns,
    path: Path,
    offset: int,
    options: NormalizeOptions,
) -> pa.Table:
    """Normalize one block of a log to :data:`LOG_SCHEMA`.

    Args:
        batch: the raw block (columns named as in the file).
        columns: which columns hold which field.
        path: the file, named in errors.
        offset: data rows of the file before this block (for row numbers in errors).
        options: per-file rules (fixed domain, implicit rating, range, timestamp parsing).

    Returns:
        The block with columns ``user_id``, ``item_id``, ``rating``, ``timestamp``, ``domain``.

    Raises:
        DataError: empty id, non-numeric/missing/out-of-range rating, unparseable timestamp or
            empty domain (one line: file, column, value and data row).
    """
    where = _Batch(path, offset, options)
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    if options.drop_unrated and columns.rating is not None:
        table = _drop_unrated(table, columns.rating, where)
    n = table.num_rows
    user = _ids(table.column(columns.user).combine_chunks(), columns.user, where)
    item = _ids(table.column(columns.item).combine_chunks(), columns.item, where)
    if columns.rating is None:
        rating = np.full(n, options.implicit_rating, dtype=np.float64)
    else:
        rating = _ratings(table.column(columns.rating).combine_chunks(), columns.rating, where)
    stamps = np.zeros(n, dtype=np.int64)
    if columns.timestamp is not None:
        raw = table.column(columns.timestamp).combine_chunks()
        stamps, untimed = _timestamps(raw, columns.timestamp, where)
        options.counter.untimed_rows += int(untimed.sum())
    if options.domain is not None:
        domain = pa.repeat(pa.scalar(options.domain, pa.string()), n)
    elif columns.domain is not None:
        domain = _domains(table.column(columns.domain).combine_chunks(), columns.domain, where)
    else:
        raise DataError(f"{path}: no domain given; set a domain column or one file per domain.")
    arrays = [user, item, pa.array(rating.astype(np.float32)), pa.array(stamps), domain]
    return pa.Table.from_arrays(arrays, schema=LOG_SCHEMA)


def _concat(parts: list[pa.Table]) -> pa.Table:
    """Concatenate normalized blocks (an empty table when there are none)."""
    if not parts:
        return LOG_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def read_log_file(
    path: Path,
    columns: LogColumns,
    file_format: Literal["csv", "tsv", "parquet"],
    text: TextFormat,
    options: NormalizeOptions,
) -> pa.Table:
    """Read one log file in blocks into a normalized table (see :data:`LOG_SCHEMA`).

    Args:
        path: the file.
        columns: which columns hold which field.
        file_format: ``csv``/``tsv`` (parsed with ``text``) or ``parquet``.
        text: delimiter, quoting, header and encoding of text files.
        options: per-file normalization rules.

    Returns:
        The file's interactions; possibly empty (the caller refuses empty domains).

    Raises:
        DataError: see :func:`iter_text_batches` and :func:`normalize_batch`.
    """
    names = columns.names()
    if file_format == "parquet":
        batches = iter_parquet_batches(path, names)
    else:
        batches = iter_text_batches(path, names, text, options.counter)
    parts, offset = [], 0
    for batch in batches:
        if batch.num_rows:
            parts.append(normalize_batch(batch, columns, path, offset, options))
        offset += batch.num_rows
    return _concat(parts)


def text_format_for(
    file_format: Literal["csv", "tsv"],
    column_names: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> TextFormat:
    """The :class:`TextFormat` of a plain CSV (quoted) or TSV (unquoted) file."""
    if file_format == "csv":
        return TextFormat(",", True, column_names, encoding)
    return TextFormat("\t", False, column_names, encoding)
