"""Where MovieLens data lives on disk, and fetching it from GroupLens when it is absent.

The data home is, in order of precedence: an explicit ``data_dir``, the environment variable
``LIGHTNING_METAREC_DATA``, ``$XDG_CACHE_HOME/lightning_metarec`` or
``~/.cache/lightning_metarec``. A dataset ``<name>`` is looked up there as RecBole atomic
files (``<name>/<name>.inter``) first, then as the GroupLens release (``<name>/u.data`` or
``<name>/ratings.dat``), and otherwise downloaded and unzipped there.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from lightning_metarec.data.readers import read_ml1m_raw, read_ml100k_raw, read_recbole
from lightning_metarec.data.table import InteractionData
from lightning_metarec.errors import DataError

__all__ = [
    "DATASETS",
    "DATA_HOME_ENV",
    "DOWNLOAD_TIMEOUT",
    "MovieLensDataset",
    "download_and_extract",
    "find_movielens",
    "get_data_home",
    "load_movielens",
]

log = logging.getLogger(__name__)

#: Environment variable naming the data home.
DATA_HOME_ENV = "LIGHTNING_METAREC_DATA"
#: Seconds a download may stall (connect or read) before it is abandoned.
DOWNLOAD_TIMEOUT = 60.0
_CHUNK = 1 << 20

RawReader = Callable[[Path, tuple[float, float] | None], InteractionData]


@dataclass(frozen=True)
class MovieLensDataset:
    """A known GroupLens dataset: where to get it and how to read its raw release.

    Attributes:
        name: the dataset name and folder name (``ml-100k``).
        url: the GroupLens zip archive (its top folder is ``name``).
        md5: the GroupLens-published MD5 checksum of the zip.
        rating_range: inclusive rating scale.
        raw_file: the ratings file of the raw release that marks it as present.
        raw_reader: reads the raw release folder.
    """

    name: str
    url: str
    md5: str
    rating_range: tuple[float, float]
    raw_file: str
    raw_reader: RawReader = field(repr=False, compare=False)


#: Known dataset names -> their download and layout description.
DATASETS: dict[str, MovieLensDataset] = {
    "ml-100k": MovieLensDataset(
        name="ml-100k",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        md5="0e33842e24a9c977be4e0107933c0723",
        rating_range=(1, 5),
        raw_file="u.data",
        raw_reader=read_ml100k_raw,
    ),
    "ml-1m": MovieLensDataset(
        name="ml-1m",
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        md5="c4d9eecfca2ab87c1945afe126590906",
        rating_range=(1, 5),
        raw_file="ratings.dat",
        raw_reader=read_ml1m_raw,
    ),
}


def get_data_home(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder holding datasets (not created here).

    Args:
        data_dir: explicit folder; wins over the environment.

    Returns:
        ``data_dir``, else ``$LIGHTNING_METAREC_DATA``, else
        ``$XDG_CACHE_HOME/lightning_metarec`` (``~/.cache/lightning_metarec`` by default),
        with ``~`` expanded.
    """
    if data_dir is not None and str(data_dir):
        return Path(data_dir).expanduser()
    if env := os.environ.get(DATA_HOME_ENV):
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "lightning_metarec"


def _dataset(name: str) -> MovieLensDataset:
    """Look up a known dataset, refusing unknown names."""
    if name not in DATASETS:
        raise DataError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}. "
            "For other data set data.init_args.source to a lightning_metarec.data.sources "
            "class (AmazonReviews, DoubanRatings, InteractionLog; docs/data_sources.md)."
        )
    return DATASETS[name]


def find_movielens(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the file marking dataset ``name`` as present in the data home, or ``None``.

    Args:
        name: a key of :data:`DATASETS`.
        data_dir: explicit data home (see :func:`get_data_home`).

    Returns:
        ``<home>/<name>/<name>.inter`` if it exists (RecBole form), else the raw ratings file
        (``u.data`` / ``ratings.dat``) if it exists, else ``None``.
    """
    info = _dataset(name)
    folder = get_data_home(data_dir) / name
    for candidate in (folder / f"{name}.inter", folder / info.raw_file):
        if candidate.is_file():
            return candidate
    return None


def _read_found(info: MovieLensDataset, marker: Path) -> InteractionData:
    """Read the dataset whose marker file :func:`find_movielens` returned."""
    if marker.suffix == ".inter":
        return read_recbole(marker.parent, info.name, info.rating_range)
    return info.raw_reader(marker.parent, info.rating_range)


def _not_found(info: MovieLensDataset, home: Path, what: str) -> DataError:
    """Build the one-line error for a dataset that is neither on disk nor downloadable."""
    message = (
        f"{info.name} not found in {home} (set {DATA_HOME_ENV} or data_dir to a folder holding "
        f"{info.name}/{info.name}.inter or {info.name}/{info.raw_file}); {what}. "
        "Download it by hand and unzip it there."
    )
    return DataError(" ".join(message.split()))


def load_movielens(
    name: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> InteractionData:
    """Load a known MovieLens dataset from the data home, downloading it if absent.

    Args:
        name: ``"ml-100k"`` or ``"ml-1m"`` (see :data:`DATASETS`).
        data_dir: explicit data home (see :func:`get_data_home`).
        download: fetch the GroupLens zip when the data is not on disk.

    Returns:
        The dataset, read from RecBole atomic files if present, else from the raw release.

    Raises:
        DataError: unknown name; data absent and ``download=False`` or the download failed
            (one line naming the environment variable, the folder and the URL); checksum
            mismatch; unreadable files.
    """
    info = _dataset(name)
    home = get_data_home(data_dir)
    marker = find_movielens(name, home)
    if marker is None:
        if not download:
            raise _not_found(info, home, f"download=False, so {info.url} was not downloaded")
        try:
            download_and_extract(info.url, info.md5, home)
        except (OSError, http.client.HTTPException) as exc:
            raise _not_found(info, home, f"downloading {info.url} failed: {exc}") from exc
        marker = find_movielens(name, home)
        if marker is None:
            raise _not_found(info, home, f"the archive {info.url} did not contain it")
    return _read_found(info, marker)


def download_and_extract(url: str, md5: str, home: str | os.PathLike[str]) -> Path:
    """Download a zip archive, check its MD5 and unzip it into ``home``.

    The archive is written to ``<home>/<archive name>.part`` and deleted once extracted (or
    when the checksum does not match).

    Args:
        url: archive URL (``https://``, or ``file://`` in tests).
        md5: expected hex MD5 of the archive.
        home: folder to extract into (created if needed).

    Returns:
        ``home`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: network or disk failure (``urllib.error.URLError`` is an ``OSError``).
        http.client.HTTPException: the server broke off the transfer.
        DataError: checksum mismatch, not a zip, or an archive member escaping ``home``.
    """
    folder = Path(home).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{Path(urlparse(url).path).name or 'download.zip'}.part"
    log.info("Downloading %s to %s", url, part)
    try:
        digest = _fetch(url, part)
        if digest != md5.lower():
            raise DataError(
                f"{url}: checksum mismatch (md5 expected {md5.lower()}, got {digest}); the "
                f"download is corrupt or the file changed, so it was deleted. Retry, or "
                f"download it by hand and unzip it into {folder}."
            )
        _extract(part, folder, url)
    finally:
        part.unlink(missing_ok=True)
    return folder


def _fetch(url: str, target: Path) -> str:
    """Stream ``url`` to ``target`` and return the hex MD5 of the bytes written."""
    digest = hashlib.md5(usedforsecurity=False)
    with (
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response,
        target.open("wb") as out,
    ):
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _extract(archive: Path, home: Path, url: str) -> None:
    """Unzip ``archive`` into ``home``, refusing members that would land outside it."""
    root = home.resolve()
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                if not (root / member).resolve().is_relative_to(root):
                    raise DataError(
                        f"{url}: archive member {member!r} would be written outside {root}; "
                        "refusing to extract it."
                    )
            zipped.extractall(root)
    except zipfile.BadZipFile as exc:
        raise DataError(
            f"{url}: not a valid zip archive ({exc}); download it by hand and unzip it into {home}."
        ) from exc
    shutil.rmtree(root / "__MACOSX", ignore_errors=True)
