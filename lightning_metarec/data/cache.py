"""Parquet cache of parsed interaction logs, keyed by the source files and the reader options.

A source that parsed its files once writes four files under ``get_data_home()/cache``:

* ``<key>.parquet``: the interactions, one row each, as integer codes: ``user`` (row of the
  users file), ``item`` (row of the items file), ``domain`` (index into the summary's
  ``domains``), plus ``rating`` (float32) and ``timestamp`` (int64). Codes read back far faster
  than strings and turn into pandas id columns by one ``take`` each;
* ``<key>.users.parquet``: ``user_id`` of each user code;
* ``<key>.items.parquet``: the item side table (``item_id``, ``title``, ``genres``), one row
  per item code;
* ``<key>.json``: the load summary (domain names, per-domain counts, duplicates, ...),
  written last, so an entry counts as complete only once it exists.

``<key>`` is the SHA-1 of the reader name, the resolved path, size and modification time (ns)
of every source file, the reader options and :data:`CACHE_VERSION`. Changing a file (its size
or mtime) or an option therefore makes a new entry; stale entries are never read, and may be
deleted by hand at any time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lightning_metarec.data.home import get_data_home

__all__ = [
    "CACHE_VERSION",
    "CacheEntry",
    "CachedLog",
    "cache_entry",
    "cache_key",
    "read_cache",
    "write_cache",
]

log = logging.getLogger(__name__)

#: Bumped whenever the cached layout or the parsing rules change, to invalidate old entries.
CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheEntry:
    """The files of one cache entry.

    Attributes:
        interactions: ``<key>.parquet``.
        users: ``<key>.users.parquet``.
        items: ``<key>.items.parquet``.
        meta: ``<key>.json``, the load summary; its presence marks the entry complete.
    """

    interactions: Path
    users: Path
    items: Path
    meta: Path

    def exists(self) -> bool:
        """Whether all files are present."""
        return all(p.is_file() for p in (self.meta, self.interactions, self.users, self.items))


@dataclass(frozen=True)
class CachedLog:
    """The tables of one cache entry (see the module docstring for their columns)."""

    interactions: pa.Table
    users: pa.Table
    items: pa.Table
    meta: dict[str, Any]


def _fingerprint(path: Path) -> list[Any]:
    """Resolved path, size and mtime (ns) of a source file."""
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def cache_key(reader: str, files: Sequence[Path], options: Mapping[str, Any]) -> str:
    """Return the hex SHA-1 naming the cache entry of one parse.

    Args:
        reader: name of the reader (class name of the source).
        files: every source file read, in reading order.
        options: every option that changes the parsed result (JSON-serializable values).

    Returns:
        40 hex digits.
    """
    payload = {
        "version": CACHE_VERSION,
        "reader": reader,
        "files": [_fingerprint(Path(f)) for f in files],
        "options": dict(options),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def cache_entry(key: str, data_dir: str | os.PathLike[str] | None = None) -> CacheEntry:
    """Return the paths of entry ``key`` under ``<data home>/cache`` (nothing is created).

    Args:
        key: from :func:`cache_key`.
        data_dir: explicit data home (see :func:`~lightning_metarec.data.home.get_data_home`).
    """
    folder = get_data_home(data_dir) / "cache"
    return CacheEntry(
        interactions=folder / f"{key}.parquet",
        users=folder / f"{key}.users.parquet",
        items=folder / f"{key}.items.parquet",
        meta=folder / f"{key}.json",
    )


def read_cache(entry: CacheEntry) -> CachedLog | None:
    """Read a complete cache entry.

    Args:
        entry: the entry's paths.

    Returns:
        The tables, or ``None`` when the entry is absent or unreadable (a warning is logged and
        the caller parses the source again).
    """
    if not entry.exists():
        return None
    try:
        meta = json.loads(entry.meta.read_text(encoding="utf-8"))
        return CachedLog(
            interactions=pq.read_table(entry.interactions),
            users=pq.read_table(entry.users),
            items=pq.read_table(entry.items),
            meta=meta,
        )
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.warning("ignoring unreadable cache entry %s (%s)", entry.interactions, exc)
        return None


def _write_atomic(target: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``target`` in one rename."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_cache(entry: CacheEntry, tables: CachedLog) -> bool:
    """Write a cache entry (each file atomically; the summary last).

    Args:
        entry: the entry's paths (the folder is created).
        tables: the coded interactions, users, items and the summary (JSON-serializable).

    Returns:
        ``True`` when written; ``False`` when the folder is not writable (a warning is logged
        and loading goes on without a cache).
    """
    try:
        entry.meta.parent.mkdir(parents=True, exist_ok=True)
        for path, table in (
            (entry.interactions, tables.interactions),
            (entry.users, tables.users),
            (entry.items, tables.items),
        ):
            _write_atomic(path, lambda p, t=table: pq.write_table(t, p))
        text = json.dumps(tables.meta, sort_keys=True)
        _write_atomic(entry.meta, lambda p: p.write_text(text, encoding="utf-8"))
    except OSError as exc:
        log.warning("could not write the cache %s (%s); loading without cache", entry.meta, exc)
        return False
    return True
