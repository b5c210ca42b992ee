"""Readers for the original GroupLens MovieLens releases (ml-100k, ml-1m, ml-latest CSV).

Ids are kept exactly as written in the files (numeric GroupLens ids as str), so they differ
from the RecBole atomic versions of the same data (e.g. ml-1m there uses ``1m_``-prefixed user
ids and titles as item ids).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd

from lightning_metarec.data.readers.recbole import (
    _build_interactions,
    _build_items,
    _build_users,
    _empty_items,
    _read_csv,
    _require_file,
    _split_tokens,
)
from lightning_metarec.data.table import InteractionData, check_columns
from lightning_metarec.errors import DataError

__all__ = ["ML100K_GENRES", "read_ml1m_raw", "read_ml100k_raw", "read_movielens_csv"]

PathLike = str | os.PathLike[str]

#: The 19 genre flags of ML-100K ``u.item``, in file order (spelled as in the RecBole files).
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

_RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
_RATING_DTYPES = {"user_id": str, "item_id": str, "rating": "float64", "timestamp": "float64"}
_GROUPLENS_ENCODING = "latin-1"
#: Separator bytes tried, in order, to stand in for ``::`` in ml-1m ``.dat`` files.
_DAT_SEPARATORS = (b"\t", b"\x1f", b"\x1e")


def _read_plain(path: Path, sep: str, names: list[str], data: bytes | None = None) -> pd.DataFrame:
    """Read a headerless latin-1 GroupLens file with every column as str (empty -> ``""``)."""
    return _read_csv(
        path,
        data,
        encoding=_GROUPLENS_ENCODING,
        dtype=dict.fromkeys(names, str),
        sep=sep,
        header=None,
        names=names,
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
    ).fillna("")


def _read_ratings(
    path: Path, sep: str, rating_range: tuple[float, float] | None, data: bytes | None = None
) -> pd.DataFrame:
    """Read a headerless ``user item rating timestamp`` file into the interaction table."""
    frame = _read_csv(
        path,
        data,
        encoding=_GROUPLENS_ENCODING,
        dtype=_RATING_DTYPES,
        float_columns=("rating", "timestamp"),
        sep=sep,
        header=None,
        names=_RATING_COLUMNS,
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        na_values={"rating": [""], "timestamp": [""]},
    )
    return _build_interactions(
        frame["user_id"], frame["item_id"], frame["rating"], frame["timestamp"], path, rating_range
    )


def _dat_bytes(path: Path) -> tuple[bytes, str]:
    """Load an ml-1m ``.dat`` file with ``::`` replaced by a single byte absent from it."""
    data = _require_file(path).read_bytes()
    for sep in _DAT_SEPARATORS:
        if sep not in data:
            return data.replace(b"::", sep), sep.decode("ascii")
    raise DataError(f"{path}: contains tab and control separators; cannot rewrite '::' safely.")


def _source(paths: list[Path]) -> str:
    """Describe the files read, for :attr:`InteractionData.source`."""
    return ", ".join(str(p) for p in paths)


# --------------------------------------------------------------------------- ml-100k


def read_ml100k_raw(
    directory: PathLike, rating_range: tuple[float, float] | None = (1, 5)
) -> InteractionData:
    """Read the GroupLens ML-100K release: ``u.data`` plus optional ``u.item`` and ``u.user``.

    Args:
        directory: the unzipped ``ml-100k`` folder.
        rating_range: inclusive rating bounds, or ``None`` to skip the range check.

    Returns:
        Interactions; items titled as in ``u.item`` (with year) and genres from the 19 flags;
        users with ``age``, ``gender``, ``occupation``.

    Raises:
        DataError: missing ``u.data``, malformed line, non-numeric/NaN/out-of-range rating.
    """
    folder = Path(directory)
    data_path = _require_file(folder / "u.data")
    interactions = _read_ratings(data_path, "\t", rating_range)
    paths = [data_path]
    items = _empty_items()
    users: pd.DataFrame | None = None
    if (item_path := folder / "u.item").is_file():
        items = _read_ml100k_items(item_path)
        paths.append(item_path)
    if (user_path := folder / "u.user").is_file():
        frame = _read_plain(user_path, "|", ["user_id", "age", "gender", "occupation", "zip"])
        users = _build_users(frame, "user_id", ["age", "gender", "occupation"], user_path)
        paths.append(user_path)
    return InteractionData(interactions, items, users, _source(paths))


def _read_ml100k_items(path: Path) -> pd.DataFrame:
    """Read ``u.item``: id|title|release|video release|URL|19 genre flags."""
    flag_names = [f"flag_{i}" for i in range(len(ML100K_GENRES))]
    names = ["item_id", "title", "release", "video_release", "url", *flag_names]
    frame = _read_plain(path, "|", names)
    flags = (frame[flag_names].apply(lambda col: col.str.strip()) == "1").to_numpy()
    joined = pd.Series("", index=frame.index)
    for j, genre in enumerate(ML100K_GENRES):
        joined = joined + np.where(flags[:, j], genre + " ", "")
    return _build_items(frame["item_id"], frame["title"], _split_tokens(joined), path)


# --------------------------------------------------------------------------- ml-1m


def read_ml1m_raw(
    directory: PathLike, rating_range: tuple[float, float] | None = (1, 5)
) -> InteractionData:
    """Read the GroupLens ML-1M release: ``ratings.dat``, optional ``movies.dat``/``users.dat``.

    Fields are ``::``-separated, latin-1. Genres are ``|``-separated.

    Args:
        directory: the unzipped ``ml-1m`` folder.
        rating_range: inclusive rating bounds, or ``None`` to skip the range check.

    Returns:
        Interactions with item titles/genres and users' ``age``, ``gender``, ``occupation``
        (the numeric codes of the release, as str).

    Raises:
        DataError: missing ``ratings.dat``, malformed line, non-numeric/NaN/out-of-range rating.
    """
    folder = Path(directory)
    ratings_path = folder / "ratings.dat"
    data, sep = _dat_bytes(ratings_path)
    interactions = _read_ratings(ratings_path, sep, rating_range, data)
    paths = [ratings_path]
    items = _empty_items()
    users: pd.DataFrame | None = None
    if (movies_path := folder / "movies.dat").is_file():
        data, sep = _dat_bytes(movies_path)
        frame = _read_plain(movies_path, sep, ["item_id", "title", "genres"], data)
        genres = _split_tokens(frame["genres"], "|")
        items = _build_items(frame["item_id"], frame["title"], genres, movies_path)
        paths.append(movies_path)
    if (users_path := folder / "users.dat").is_file():
        data, sep = _dat_bytes(users_path)
        names = ["user_id", "gender", "age", "occupation", "zip"]
        frame = _read_plain(users_path, sep, names, data)
        users = _build_users(frame, "user_id", ["age", "gender", "occupation"], users_path)
        paths.append(users_path)
    return InteractionData(interactions, items, users, _source(paths))


# --------------------------------------------------------------------------- ml-latest CSV


def read_movielens_csv(
    directory: PathLike,
    rating_range: tuple[float, float] | None = (0.5, 5),
    encoding: str = "utf-8",
) -> InteractionData:
    """Read a GroupLens CSV release (ml-latest, ml-latest-small, ml-25m, ...).

    Reads ``ratings.csv`` (``userId,movieId,rating,timestamp``, with header) and, if present,
    ``movies.csv`` (``movieId,title,genres``; quoted titles may contain commas; genres
    ``|``-separated, ``(no genres listed)`` -> no genre). These releases have no user file.

    Args:
        directory: the unzipped release folder.
        rating_range: inclusive rating bounds, or ``None`` to skip the range check.
        encoding: text encoding of the CSV files.

    Returns:
        Interactions and item side information; ``users`` is ``None``.

    Raises:
        DataError: missing ``ratings.csv``, missing column, undecodable byte, non-numeric,
            NaN or out-of-range rating.
    """
    folder = Path(directory)
    ratings_path = _require_file(folder / "ratings.csv")
    interactions = _read_csv_ratings(ratings_path, encoding, rating_range)
    paths = [ratings_path]
    items = _empty_items()
    if (movies_path := folder / "movies.csv").is_file():
        items = _read_csv_movies(movies_path, encoding)
        paths.append(movies_path)
    return InteractionData(interactions, items, None, _source(paths))


def _read_csv_ratings(
    path: Path, encoding: str, rating_range: tuple[float, float] | None
) -> pd.DataFrame:
    """Read ``ratings.csv`` into the interaction table."""
    dtype = {"userId": str, "movieId": str, "rating": "float64", "timestamp": "float64"}
    frame = _read_csv(
        path,
        encoding=encoding,
        dtype=dtype,
        float_columns=("rating", "timestamp"),
        keep_default_na=False,
        na_values={"rating": [""], "timestamp": [""]},
    )
    check_columns(frame, ("userId", "movieId", "rating"), str(path))
    timestamps = frame["timestamp"] if "timestamp" in frame.columns else None
    return _build_interactions(
        frame["userId"], frame["movieId"], frame["rating"], timestamps, path, rating_range
    )


def _read_csv_movies(path: Path, encoding: str) -> pd.DataFrame:
    """Read ``movies.csv`` into the item side table."""
    dtype = dict.fromkeys(["movieId", "title", "genres"], str)
    frame = _read_csv(path, encoding=encoding, dtype=dtype, keep_default_na=False)
    check_columns(frame, ("movieId", "title", "genres"), str(path))
    genres = _split_tokens(frame["genres"], "|", empty=("(no genres listed)",))
    return _build_items(frame["movieId"], frame["title"], genres, path)
