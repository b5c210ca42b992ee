"""Parquet cache of parsed sources: key, reuse without parsing, invalidation, failures."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from lightning_metarec.data import sources
from lightning_metarec.data.cache import cache_entry, cache_key
from lightning_metarec.data.home import DATA_HOME_ENV
from lightning_metarec.data.sources import AmazonReviews, DoubanRatings, InteractionLog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def _data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "home"))


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    shutil.copy(FIXTURES / "generic" / "log.csv", path)
    return path


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every parser of the sources fail, so a load can only come from the cache."""

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the source was parsed again")

    for name in ("read_log_file", "read_amazon_file", "read_douban_file"):
        monkeypatch.setattr(sources, name, fail)


def cache_files(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "cache").iterdir())


def test_key_depends_on_files_and_options(log_csv: Path) -> None:
    key = cache_key("InteractionLog", [log_csv], {"a": 1})
    assert len(key) == 40
    assert key == cache_key("InteractionLog", [log_csv], {"a": 1})
    assert key != cache_key("InteractionLog", [log_csv], {"a": 2})
    assert key != cache_key("AmazonReviews", [log_csv], {"a": 1})
    stat = log_csv.stat()
    os.utime(log_csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert key != cache_key("InteractionLog", [log_csv], {"a": 1})


def test_cached_parquet_is_readable(log_csv: Path) -> None:
    source = InteractionLog(str(log_csv))
    data = source.load()
    entry = cache_entry(source._key([log_csv]))
    codes = pd.read_parquet(entry.interactions)
    assert list(codes.columns) == ["user", "item", "rating", "timestamp", "domain"]
    users = pd.read_parquet(entry.users)["user_id"].to_numpy()
    items = pd.read_parquet(entry.items)
    assert (users[codes["user"]] == data.interactions["user_id"].to_numpy()).all()
    assert (items["item_id"].to_numpy()[codes["item"]] == data.interactions["item_id"]).all()
    assert list(items.columns) == ["item_id", "title", "genres"]


def test_first_load_writes_parquet_second_does_not_parse(
    log_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_source = InteractionLog(str(log_csv))
    first = first_source.load()
    assert first_source.summary is not None and not first_source.summary.from_cache
    key = first_source._key([log_csv])
    entry = cache_entry(key)
    assert entry.interactions == tmp_path / "home" / "cache" / f"{key}.parquet"
    assert cache_files(tmp_path / "home") == [
        f"{key}.items.parquet",
        f"{key}.json",
        f"{key}.parquet",
        f"{key}.users.parquet",
    ]

    no_parsing(monkeypatch)
    second_source = InteractionLog(str(log_csv))
    second = second_source.load()
    assert second_source.summary is not None and second_source.summary.from_cache
    pd.testing.assert_frame_equal(first.interactions, second.interactions)
    pd.testing.assert_frame_equal(first.items, second.items)
    assert second.source == first.source
    assert "read from" in second_source.describe()
    assert "1 duplicate (user, item) rows" in second_source.describe()


def test_unchanged_fingerprint_reuses_cache_without_reading(log_csv: Path) -> None:
    InteractionLog(str(log_csv)).load()
    stat = log_csv.stat()
    text = log_csv.read_text()
    log_csv.write_text(text.replace("u3,m2,1,", "u3,m2,2,"))  # same size
    os.utime(log_csv, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cached = InteractionLog(str(log_csv)).load().interactions
    assert cached["rating"].tolist()[5] == 1.0  # the cache, not the file, was read
    os.utime(log_csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    fresh = InteractionLog(str(log_csv)).load().interactions
    assert fresh["rating"].tolist()[5] == 2.0


def test_options_make_separate_entries(log_csv: Path, tmp_path: Path) -> None:
    InteractionLog(str(log_csv)).load()
    implicit = InteractionLog(str(log_csv), rating_column=None).load()
    assert set(implicit.interactions["rating"]) == {1.0}
    assert len(list((tmp_path / "home" / "cache").glob("*.json"))) == 2


def test_cache_disabled(log_csv: Path, tmp_path: Path) -> None:
    InteractionLog(str(log_csv), cache=False).load()
    assert not (tmp_path / "home" / "cache").exists()


def test_explicit_data_dir(log_csv: Path, tmp_path: Path) -> None:
    InteractionLog(str(log_csv), data_dir=str(tmp_path / "elsewhere")).load()
    assert len(list((tmp_path / "elsewhere" / "cache").glob("*.parquet"))) == 3


def test_corrupt_cache_is_parsed_again(
    log_csv: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = InteractionLog(str(log_csv)).load()
    parquet = cache_entry(InteractionLog(str(log_csv))._key([log_csv])).interactions
    parquet.write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING):
        again = InteractionLog(str(log_csv))
        data = again.load()
    assert "unreadable cache" in caplog.text
    assert again.summary is not None and not again.summary.from_cache
    pd.testing.assert_frame_equal(first.interactions, data.interactions)
    assert parquet.read_bytes() != b"not parquet"  # rewritten


def test_unwritable_cache_still_loads(log_csv: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    source = InteractionLog(str(log_csv), data_dir=str(blocker))
    assert len(source.load().interactions) == 7
    assert source.summary is not None and source.summary.cache is None


def test_amazon_and_douban_reuse_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    amazon_files = [
        str(FIXTURES / "amazon" / "reviews_Books_5.json"),
        str(FIXTURES / "amazon" / "Digital_Music.csv"),
    ]
    amazon = AmazonReviews(amazon_files).load()
    douban = DoubanRatings(str(FIXTURES / "douban")).load()
    no_parsing(monkeypatch)
    pd.testing.assert_frame_equal(
        AmazonReviews(amazon_files).load().interactions, amazon.interactions
    )
    again = DoubanRatings(str(FIXTURES / "douban"))
    pd.testing.assert_frame_equal(again.load().interactions, douban.interactions)
    assert again.summary is not None and again.summary.unrated_rows == 1
    assert again.summary.prefixed_items


def test_inconsistent_cache_meta_is_parsed_again(log_csv: Path) -> None:
    source = InteractionLog(str(log_csv))
    source.load()
    meta = cache_entry(source._key([log_csv])).meta
    meta.write_text('{"unexpected": 1}')
    again = InteractionLog(str(log_csv))
    assert len(again.load().interactions) == 7
    assert again.summary is not None and not again.summary.from_cache
