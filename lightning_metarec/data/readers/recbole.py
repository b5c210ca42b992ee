"""Readers for RecBole atomic files (``<name>.inter``, ``.item``, ``.user``).

An atomic file is tab-separated text whose first line is a header of ``name:type`` pairs, with
types ``token`` (a categorical id), ``token_seq`` (space-separated tokens), ``float`` and
``float_seq``. Line ends may be LF or CRLF.

This module also holds the small parsing helpers shared with :mod:`.grouplens` (file checks,
one-line decode/parse errors, numeric coercion, side-table builders).
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lightning_metarec.data.table import InteractionData, check_columns, check_ratings
from lightning_metarec.errors import DataError

__all__ = ["ATOMIC_TYPES", "read_atomic_file", "read_atomic_header", "read_recbole"]

#: Field types allowed in an atomic-file header.
ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")

#: Item-file columns holding the title / genres, in order of preference.
_TITLE_COLUMNS = ("movie_title", "title")
_GENRE_COLUMNS = ("genre", "class", "genres")

PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------- shared helpers


def _one_line(text: object) -> str:
    """Collapse any whitespace runs (newlines included) of ``text`` into single spaces."""
    return " ".join(str(text).split())


def _require_file(path: Path) -> Path:
    """Return ``path`` if it is a file, else raise a :class:`DataError` naming it."""
    if not path.is_file():
        raise DataError(
            f"{path}: file not found; check the folder and file name (the reader expects it there)."
        )
    return path


def _decode_error(path: Path, encoding: str, error: UnicodeDecodeError | None = None) -> DataError:
    """Build a one-line error locating the first byte of ``path`` that ``encoding`` rejects.

    Args:
        path: the file that failed to decode.
        encoding: the encoding it was read with.
        error: the original exception, used when re-decoding the whole file finds nothing.
    """
    data = path.read_bytes()
    try:
        data.decode(encoding)
        where = f"({_one_line(error) if error is not None else 'unknown reason'})"
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f"byte 0x{data[exc.start]:02x} at byte offset {exc.start} (line {line})"
    return DataError(
        f"{path}: cannot decode {where} as {encoding}; re-save the file as {encoding} or pass "
        "encoding='latin-1' (or the file's actual encoding) to the reader."
    )


def _numeric_error(path: Path, text: pd.DataFrame, columns: Iterable[str]) -> DataError | None:
    """Return an error naming the first non-numeric value of ``columns`` in ``text``, if any.

    Args:
        path: file named in the message.
        text: the table read with every column as str.
        columns: the columns that must be numeric.
    """
    for column in columns:
        raw: pd.Series = text[column].fillna("").astype(str)
        values = raw.str.strip()
        bad = pd.to_numeric(values.where(values != ""), errors="coerce").isna() & (values != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return DataError(
                f"{path}: column {column!r} has non-numeric value {values.iloc[row]!r} at data row "
                f"{row + 1}; fix the value or drop the row."
            )
    return None


def _read_csv(
    path: Path,
    data: bytes | None = None,
    *,
    encoding: str,
    dtype: Mapping[str, Any],
    float_columns: Iterable[str] = (),
    **kwargs: Any,
) -> pd.DataFrame:
    """Run the pandas C parser, turning every failure into a one-line :class:`DataError`.

    Args:
        path: the file to read (and to name in errors).
        data: already-loaded (e.g. separator-rewritten) bytes of ``path`` to parse instead.
        encoding: text encoding of the file.
        dtype: column dtypes; ``float_columns`` must map to ``"float64"``.
        float_columns: numeric columns; a value that is not a number is reported by name.
        **kwargs: further :func:`pandas.read_csv` arguments (``sep``, ``names``, ...).
    """

    def parse(types: Mapping[str, Any]) -> pd.DataFrame:
        source: Any = io.BytesIO(data) if data is not None else path
        with warnings.catch_warnings():
            # a first line with more fields than names would otherwise be silently truncated
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                source, engine="c", encoding=encoding, dtype=types, index_col=False, **kwargs
            )

    try:
        return parse(dtype)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from None
    except LookupError as exc:
        raise DataError(f"{path}: {_one_line(exc)}; pass a valid encoding name.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, pd.errors.ParserWarning) as exc:
        raise DataError(
            f"{path}: cannot parse ({_one_line(exc)}); check the separator and that every line "
            "has as many fields as the header."
        ) from None
    except ValueError as exc:
        text = parse(dict.fromkeys(dtype, str))
        error = _numeric_error(path, text, float_columns)
        raise (error or DataError(f"{path}: {_one_line(exc)}")) from None


def _to_timestamps(values: pd.Series, path: Path) -> np.ndarray:
    """Convert numeric timestamps to int64 seconds, refusing missing ones."""
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        raise DataError(
            f"{path}: column 'timestamp' has {bad.size} missing/NaN value(s) (first at data row "
            f"{int(bad[0]) + 1}); fill them or drop the timestamp column."
        )
    return np.rint(numbers).astype(np.int64)


def _build_interactions(
    users: pd.Series,
    items: pd.Series,
    ratings: pd.Series,
    timestamps: pd.Series | None,
    path: Path,
    rating_range: tuple[float, float] | None,
) -> pd.DataFrame:
    """Validate ratings/timestamps and assemble the normalized interaction table."""
    check_ratings(ratings, str(path), rating_range)
    stamps = (
        np.zeros(len(ratings), dtype=np.int64)
        if timestamps is None
        else _to_timestamps(timestamps, path)
    )
    return pd.DataFrame(
        {
            "user_id": users.to_numpy(dtype=object),
            "item_id": items.to_numpy(dtype=object),
            "rating": ratings.to_numpy(dtype=np.float32),
            "timestamp": stamps,
        }
    )


def _split_tokens(
    values: pd.Series, sep: str | None = None, empty: Iterable[str] = ()
) -> pd.Series:
    """Split each string of ``values`` into a list of tokens (an empty list for empty strings).

    Args:
        values: strings (NaN counts as empty).
        sep: separator; ``None`` splits on whitespace runs.
        empty: whole values that also mean "no tokens" (e.g. ``"(no genres listed)"``).
    """
    raw: pd.Series = values.fillna("").astype(str)
    text = raw.str.strip()
    lists = text.str.split(sep)
    blank = (text == "") | text.isin(list(empty))
    if blank.any():
        lists[blank] = pd.Series([[] for _ in range(int(blank.sum()))], index=lists.index[blank])
    return lists


def _unique_index(frame: pd.DataFrame, column: str, path: Path) -> pd.DataFrame:
    """Index ``frame`` by ``column``, refusing duplicate ids."""
    duplicated = frame[column].duplicated()
    if duplicated.any():
        first = frame[column][duplicated].iloc[0]
        raise DataError(
            f"{path}: column {column!r} repeats id {first!r} ({int(duplicated.sum())} duplicate "
            "row(s)); keep one row per id."
        )
    return frame.set_index(column)


def _build_items(ids: pd.Series, titles: pd.Series, genres: pd.Series, path: Path) -> pd.DataFrame:
    """Assemble the item side table: index ``item_id``, columns ``title`` and ``genres``."""
    frame = pd.DataFrame(
        {
            "item_id": ids.to_numpy(dtype=object),
            "title": titles.fillna("").to_numpy(dtype=object),
            "genres": genres.to_numpy(dtype=object),
        }
    )
    return _unique_index(frame, "item_id", path)


def _empty_items() -> pd.DataFrame:
    """Return an item table with no rows (no side information)."""
    index = pd.Index([], dtype=object, name="item_id")
    return pd.DataFrame({"title": [], "genres": []}, index=index, dtype=object)


def _build_users(
    frame: pd.DataFrame, id_column: str, features: list[str], path: Path
) -> pd.DataFrame:
    """Assemble the user side table: index ``user_id``, one str column per feature."""
    table = frame[[id_column, *features]].fillna("").astype(str)
    table = table.rename(columns={id_column: "user_id"})
    return _unique_index(table, "user_id", path)


# --------------------------------------------------------------------------- atomic files


def read_atomic_header(path: PathLike, encoding: str = "utf-8") -> dict[str, str]:
    """Read the ``name:type`` header of an atomic file.

    Args:
        path: the atomic file.
        encoding: its text encoding.

    Returns:
        Column name (type suffix stripped) -> atomic type, in file order.

    Raises:
        DataError: if the file is missing, empty, undecodable, or the header is malformed.
    """
    file = _require_file(Path(path))
    with file.open("rb") as handle:
        raw = handle.readline()
    try:
        line = raw.decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise _decode_error(file, encoding, exc) from None
    if not line.strip():
        raise DataError(f"{file}: empty header; the first line must list 'name:type' fields.")
    return _parse_header(line.split("\t"), file)


def _parse_header(fields: list[str], path: Path) -> dict[str, str]:
    """Turn ``name:type`` header fields into a name -> type mapping, checking each."""
    header: dict[str, str] = {}
    for field in fields:
        name, _, kind = field.strip().rpartition(":")
        if not name or kind not in ATOMIC_TYPES:
            raise DataError(
                f"{path}: bad header field {field.strip()!r}; each field must be 'name:type' with "
                f"type one of {', '.join(ATOMIC_TYPES)}."
            )
        if name in header:
            raise DataError(f"{path}: header repeats column {name!r}; rename one of them.")
        header[name] = kind
    return header


def _read_atomic(
    path: Path, encoding: str, text_columns: Iterable[str] | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read an atomic file with ``float`` columns as float64 and everything else as str.

    Args:
        path: the atomic file.
        encoding: its text encoding.
        text_columns: columns kept as str whatever their type; ``None`` keeps every column as str.

    Returns:
        The table (sequence columns still unsplit) and the header's name -> type mapping.
    """
    header = read_atomic_header(path, encoding)
    keep = set(header) if text_columns is None else set(text_columns)
    floats = [n for n, kind in header.items() if kind == "float" and n not in keep]
    dtype = {name: ("float64" if name in floats else str) for name in header}
    frame = _read_csv(
        path,
        encoding=encoding,
        dtype=dtype,
        float_columns=floats,
        sep="\t",
        header=None,
        skiprows=1,
        names=list(header),
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        na_values={name: [""] for name in floats},
    )
    strings = [n for n in header if n not in floats]
    if strings:
        frame[strings] = frame[strings].fillna("")
    return frame, header


def read_atomic_file(path: PathLike, encoding: str = "utf-8") -> pd.DataFrame:
    """Read any RecBole atomic file into a typed DataFrame.

    Column names lose their ``:type`` suffix. ``token`` columns are str, ``float`` columns
    float64 (empty -> NaN), ``token_seq`` columns lists of str split on spaces, ``float_seq``
    columns lists of float.

    Args:
        path: the atomic file (tab-separated, ``name:type`` header, LF or CRLF line ends).
        encoding: its text encoding.

    Returns:
        One row per data line, columns in header order.

    Raises:
        DataError: missing file, bad header, undecodable byte, malformed line or a non-numeric
            value in a ``float`` column (one line, naming the file).
    """
    file = Path(path)
    frame, header = _read_atomic(file, encoding, text_columns=())
    for name, kind in header.items():
        if kind == "token_seq":
            frame[name] = _split_tokens(frame[name])
        elif kind == "float_seq":
            frame[name] = _float_lists(frame[name], name, file)
    return frame


def _float_lists(values: pd.Series, column: str, path: Path) -> pd.Series:
    """Split space-separated numbers into lists of float, naming the first bad value."""
    tokens = _split_tokens(values)
    flat = tokens.explode().dropna()
    numbers = pd.to_numeric(flat, errors="coerce")
    if numbers.isna().any():
        bad = flat[numbers.isna()]
        raise DataError(
            f"{path}: column {column!r} has non-numeric value {bad.iloc[0]!r} at data row "
            f"{int(bad.index[0]) + 1}; fix the value or drop the row."
        )
    grouped = numbers.astype(float).groupby(level=0).agg(list)
    return grouped.reindex(values.index).apply(lambda x: x if isinstance(x, list) else [])


# --------------------------------------------------------------------------- RecBole datasets


def read_recbole(
    directory: PathLike,
    name: str,
    rating_range: tuple[float, float] | None = (1, 5),
    encoding: str = "utf-8",
) -> InteractionData:
    """Read a RecBole dataset: ``<name>.inter`` plus optional ``<name>.item`` / ``<name>.user``.

    The ``.inter`` file needs columns ``user_id``, ``item_id`` and ``rating``; ``timestamp`` is
    optional (0 when absent). Item titles come from ``movie_title`` (or ``title``; the id when
    neither exists), genres from ``genre``, ``class`` or ``genres`` split on spaces. User
    features are the ``token``/``float`` columns of the ``.user`` file except zip codes, kept
    as the strings written in the file.

    Args:
        directory: folder holding the atomic files.
        name: dataset name, the files' stem (e.g. ``"ml-100k"``).
        rating_range: inclusive rating bounds, or ``None`` to skip the range check.
        encoding: text encoding of all three files.

    Returns:
        The normalized interactions with item and user side tables.

    Raises:
        DataError: missing ``.inter`` file, missing column, undecodable byte, non-numeric,
            NaN or out-of-range rating (one line, naming the file).
    """
    folder = Path(directory)
    inter_path = _require_file(folder / f"{name}.inter")
    interactions = _read_recbole_inter(inter_path, encoding, rating_range)
    sources = [inter_path]
    items = _empty_items()
    users: pd.DataFrame | None = None
    if (item_path := folder / f"{name}.item").is_file():
        items = _read_recbole_items(item_path, encoding)
        sources.append(item_path)
    if (user_path := folder / f"{name}.user").is_file():
        users = _read_recbole_users(user_path, encoding)
        sources.append(user_path)
    source = ", ".join(str(p) for p in sources)
    return InteractionData(interactions, items, users, source)


def _read_recbole_inter(
    path: Path, encoding: str, rating_range: tuple[float, float] | None
) -> pd.DataFrame:
    """Read and normalize a ``.inter`` file."""
    frame, _ = _read_atomic(path, encoding, text_columns=("user_id", "item_id"))
    check_columns(frame, ("user_id", "item_id", "rating"), str(path))
    numeric = ["rating"] + (["timestamp"] if "timestamp" in frame.columns else [])
    for column in numeric:
        if not pd.api.types.is_float_dtype(frame[column]):
            error = _numeric_error(path, frame, [column])
            if error is not None:
                raise error
            frame[column] = pd.to_numeric(frame[column].replace("", np.nan))
    timestamps = frame["timestamp"] if "timestamp" in frame.columns else None
    return _build_interactions(
        frame["user_id"], frame["item_id"], frame["rating"], timestamps, path, rating_range
    )


def _read_recbole_items(path: Path, encoding: str) -> pd.DataFrame:
    """Read a ``.item`` file into the item side table."""
    frame, _ = _read_atomic(path, encoding)
    check_columns(frame, ("item_id",), str(path))
    title_column = next((c for c in _TITLE_COLUMNS if c in frame.columns), "item_id")
    genre_column = next((c for c in _GENRE_COLUMNS if c in frame.columns), None)
    genres = (
        _split_tokens(frame[genre_column])
        if genre_column is not None
        else _split_tokens(pd.Series("", index=frame.index))
    )
    return _build_items(frame["item_id"], frame[title_column], genres, path)


def _read_recbole_users(path: Path, encoding: str) -> pd.DataFrame:
    """Read a ``.user`` file into the user side table (categorical features as str)."""
    frame, header = _read_atomic(path, encoding)
    check_columns(frame, ("user_id",), str(path))
    features = [
        n
        for n, kind in header.items()
        if n != "user_id" and kind in ("token", "float") and "zip" not in n.lower()
    ]
    return _build_users(frame, "user_id", features, path)
