"""Reader for the Douban movie/book/music review files of Zhu et al.

Layout and provenance: the "Douban dataset (rating, review, side information)" published by
Feng Zhu et al. with their cross-domain recommenders DTCDR (CIKM 2019) and GA-DTCDR (IJCAI
2020), distributed on Kaggle as ``fengzhujoey/douban-datasetratingreviewside-information`` and
used by many cross-domain papers since. The unzipped folder holds, among side files
(``users_cleaned.txt``, ``movies_cleaned.txt``, ``books_cleaned.txt``, ``music_cleaned.txt``):

* ``moviereviews_cleaned.txt``, ``bookreviews_cleaned.txt``, ``musicreviews_cleaned.txt``:
  tab-separated, every field in double quotes (quoted comments may contain tabs and line
  breaks), UTF-8, with a header line. The columns include ``user_id``, ``<domain>_id``
  (``movie_id``/``book_id``/``music_id``), ``rating`` (1-5 stars), ``labels`` (user tags,
  ``|``-separated), ``comment`` (review text), ``time`` (date, ``2012-10-09``, or date and
  time) and ``ID``; the book file is ordered ``user_id, book_id, rating, labels, comment,
  time, ID`` and the movie and music files add ``useful_num`` (movie also ``CategoryID``).
  Columns are found by name, so their order does not matter; only user, item, rating and
  time are parsed (the others are skipped unconverted).

This layout was established from public code that reads these files (loaders of several
cross-domain recommendation repositories); the raw data was not available offline, so the
fixtures under ``tests/fixtures/douban`` are hand-made in that layout.

The user ids are shared across the three files (one Douban account), which is what makes the
data cross-domain. Item ids are numbers per domain and collide across domains, so the sources
prefix them with the domain (``movie:1291546``) by default.

Reviews without stars (an empty ``rating``, which other loaders of these files also drop) are
dropped, rows without a time get timestamp 0, and rows with the wrong number of fields are
skipped; all three are counted in the source's ``describe()``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from lightning_metarec.data.readers.generic import (
    LogColumns,
    NormalizeOptions,
    TextFormat,
    read_log_file,
)

__all__ = ["DOUBAN_DOMAINS", "DOUBAN_FORMAT", "douban_columns", "read_douban_file"]

#: Domain -> (review file name, item id column).
DOUBAN_DOMAINS: dict[str, tuple[str, str]] = {
    "book": ("bookreviews_cleaned.txt", "book_id"),
    "movie": ("moviereviews_cleaned.txt", "movie_id"),
    "music": ("musicreviews_cleaned.txt", "music_id"),
}

#: Tab-separated, fully quoted, quoted values may span lines; malformed rows are skipped.
DOUBAN_FORMAT = TextFormat(delimiter="\t", quote=True, newlines_in_values=True, skip_invalid=True)


def douban_columns(domain: str) -> LogColumns:
    """The user/item/rating/time columns of the review file of ``domain``."""
    return LogColumns(
        user="user_id", item=DOUBAN_DOMAINS[domain][1], rating="rating", timestamp="time"
    )


def read_douban_file(
    path: Path,
    domain: str,
    rating_range: tuple[float, float] | None = (1, 5),
    options: NormalizeOptions | None = None,
) -> tuple[pa.Table, str]:
    """Read one Douban review file (``<domain>reviews_cleaned.txt``).

    Args:
        path: the review file.
        domain: ``"book"``, ``"movie"`` or ``"music"`` (names the item column and the domain).
        rating_range: inclusive rating bounds, or ``None`` to skip the check.
        options: normalization rules (its counter collects dropped/skipped rows).

    Returns:
        The normalized interactions and a description of the file and its columns.

    Raises:
        DataError: missing file or column, undecodable text, non-numeric or out-of-range
            rating, unparseable time (one line, naming the file, column and data row).
    """
    base = options or NormalizeOptions()
    rules = NormalizeOptions(
        domain=domain,
        rating_range=rating_range,
        drop_unrated=True,
        missing_timestamp_zero=True,
        counter=base.counter,
    )
    columns = douban_columns(domain)
    table = read_log_file(path, columns, "tsv", DOUBAN_FORMAT, rules)
    return table, f"{path} ({columns.describe()})"
