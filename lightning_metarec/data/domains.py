"""Assign every item to exactly one domain (for MovieLens: by genre)."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from lightning_metarec.errors import DataError

__all__ = ["NO_GENRE", "MultiGenreRule", "assign_genre_domains", "available_genres"]

#: Domain of items that have no genre at all.
NO_GENRE = "(no genre)"

MultiGenreRule = Literal["target_first", "first"]


def available_genres(items: pd.DataFrame) -> list[str]:
    """Return the sorted genre names present in ``items['genres']``."""
    return sorted({g for genres in items["genres"] for g in genres})


def assign_genre_domains(
    items: pd.DataFrame, target_domain: str, multi_genre: MultiGenreRule = "target_first"
) -> pd.Series:
    """Map each item to one domain named after one of its genres.

    Domains partition the items, so an interaction belongs to exactly one domain and a
    target-domain interaction can never reappear in a source-domain task.

    Args:
        items: indexed by item id with a ``genres`` column of lists of genre names.
        target_domain: the genre whose cold-start users are evaluated.
        multi_genre: how a movie with several genres is assigned. ``"target_first"`` (default):
            a movie that carries the target genre belongs to the target domain, otherwise to its
            first listed genre; the target domain is then "every movie of that genre".
            ``"first"``: always the first listed genre (ML-100K lists genres alphabetically, so
            this favours e.g. Action over Comedy).

    Returns:
        A string Series indexed like ``items``; items without genres map to :data:`NO_GENRE`.

    Raises:
        DataError: if ``target_domain`` is not a genre of any item (the message lists them).
    """
    genres = available_genres(items)
    if target_domain not in genres:
        raise DataError(
            f"unknown target_domain {target_domain!r}; available domains: {', '.join(genres)}"
        )
    if multi_genre not in ("target_first", "first"):
        raise DataError(f"unknown multi_genre rule {multi_genre!r}; use 'target_first' or 'first'")
    first = items["genres"].map(lambda g: g[0] if len(g) else NO_GENRE)
    if multi_genre == "first":
        return first.astype(str).rename("domain")
    has_target = items["genres"].map(lambda g: target_domain in g).astype(bool)
    return first.where(~has_target, target_domain).astype(str).rename("domain")
