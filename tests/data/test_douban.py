"""DoubanRatings: the quoted tab-separated review files of Zhu et al. (movie, book, music)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lightning_metarec.data.home import DATA_HOME_ENV
from lightning_metarec.data.sources import DoubanRatings, item_domains
from lightning_metarec.errors import DataError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "douban"
BOOK_HEADER = '"user_id"\t"book_id"\t"rating"\t"labels"\t"comment"\t"time"\t"ID"\n'


@pytest.fixture(autouse=True)
def _data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "home"))


def one_line(error: pytest.ExceptionInfo[DataError], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, (part, message)
    return message


def copy_fixture(tmp_path: Path, *domains: str) -> Path:
    folder = tmp_path / "douban"
    folder.mkdir(exist_ok=True)
    for domain in domains:
        name = f"{domain}reviews_cleaned.txt"
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def book_row(*fields: str) -> str:
    return "\t".join(f'"{f}"' for f in fields) + "\n"


def test_reads_three_domains() -> None:
    source = DoubanRatings(str(FIXTURES), cache=False)
    data = source.load()
    inter = data.interactions
    assert list(inter.columns) == ["user_id", "item_id", "rating", "timestamp", "domain"]
    assert inter["rating"].dtype == np.float32
    assert inter["timestamp"].dtype == np.int64
    assert inter["domain"].unique().tolist() == ["book", "movie", "music"]
    # numeric item ids collide across domains (1292052 is a book and a movie): prefixed
    movie = inter[inter["domain"] == "movie"]
    assert movie["item_id"].tolist() == [
        "movie:1292052",
        "movie:1292052",
        "movie:1291546",
        "movie:1295644",
    ]
    assert movie["user_id"].tolist() == ["1001", "1002", "1001", "1004"]
    assert movie["rating"].tolist() == [5, 4, 3, 2]
    # date, date-time (the comment before it spans a tab and a line break), and empty time
    assert movie["timestamp"].tolist() == [1349740800, 1358281865, 1393718400, 0]
    assert item_domains(data)["book:1292052"] == "book"
    text = source.describe()
    assert "1 rows without rating dropped" in text  # user 1003 wrote a comment only
    assert "1 rows without time set to timestamp 0" in text
    assert "item ids prefixed" in text


def test_yaml_config() -> None:
    from jsonargparse import ArgumentParser

    from lightning_metarec.data.sources import InteractionSource

    parser = ArgumentParser()
    parser.add_argument("--source", type=InteractionSource)
    config = parser.parse_string(
        "source:\n  class_path: lightning_metarec.data.sources.DoubanRatings\n"
        f"  init_args: {{directory: {FIXTURES}, domains: [movie, book], cache: false}}\n"
    )
    source = parser.instantiate_classes(config).source
    assert isinstance(source, DoubanRatings)
    assert source.load().interactions["domain"].unique().tolist() == ["movie", "book"]


def test_domain_subset(tmp_path: Path) -> None:
    inter = DoubanRatings(str(FIXTURES), domains=["book", "music"], cache=False).load()
    assert sorted(inter.interactions["domain"].unique()) == ["book", "music"]
    folder = copy_fixture(tmp_path, "book", "music")
    inter = DoubanRatings(str(folder), cache=False).load().interactions
    assert sorted(inter["domain"].unique()) == ["book", "music"]


def test_missing_listed_file_and_unknown_domain(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path, "book")
    with pytest.raises(DataError) as error:
        DoubanRatings(str(folder), domains=["book", "movie"]).load()
    one_line(error, "moviereviews_cleaned.txt", "file not found")
    with pytest.raises(DataError) as error:
        DoubanRatings(str(folder), domains=["book", "tv"])
    one_line(error, "unknown Douban domain(s) 'tv'", "book, movie, music")


def test_empty_folder_and_single_domain(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        DoubanRatings(str(tmp_path)).load()
    one_line(error, "no Douban review file found", "bookreviews_cleaned.txt")
    folder = copy_fixture(tmp_path, "book")
    with pytest.raises(DataError) as error:
        DoubanRatings(str(folder), cache=False).load()
    one_line(error, "needs at least two domains: found only 'book'")


def test_malformed_row_skipped_and_counted(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path, "movie")
    rows = [book_row("1001", "7", "4", "", "", "2011-05-20", "1"), book_row("1002", "8", "5")]
    (folder / "bookreviews_cleaned.txt").write_text(BOOK_HEADER + "".join(rows))
    source = DoubanRatings(str(folder), cache=False)
    inter = source.load().interactions
    assert inter[inter["domain"] == "book"]["item_id"].tolist() == ["7"]  # no collision: raw ids
    assert "1 malformed rows skipped" in source.describe()


def test_header_only_file_is_an_empty_domain(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path, "movie")
    (folder / "bookreviews_cleaned.txt").write_text(BOOK_HEADER)
    with pytest.raises(DataError) as error:
        DoubanRatings(str(folder), cache=False).load()
    one_line(error, "bookreviews_cleaned.txt", "domain 'book' would be empty")


def test_bad_time_and_rating(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path, "movie")
    book = folder / "bookreviews_cleaned.txt"
    book.write_text(BOOK_HEADER + book_row("1001", "7", "4", "", "", "last week", "1"))
    with pytest.raises(DataError) as error:
        DoubanRatings(str(folder), cache=False).load()
    one_line(error, "bookreviews_cleaned.txt", "column 'time'", "'last week' at data row 1")
    book.write_text(BOOK_HEADER + book_row("1001", "7", "four", "", "", "2011-05-20", "1"))
    with pytest.raises(DataError) as error:
        DoubanRatings(str(folder), cache=False).load()
    one_line(error, "column 'rating'", "non-numeric value 'four' at data row 1")


def test_renamed_item_column(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path, "movie")
    header = BOOK_HEADER.replace("book_id", "bid")
    (folder / "bookreviews_cleaned.txt").write_text(header + book_row("1001", "7", "4"))
    with pytest.raises(DataError) as error:
        DoubanRatings(str(folder), cache=False).load()
    one_line(
        error, "bookreviews_cleaned.txt", "missing column(s) 'book_id'", "found 'user_id', 'bid'"
    )
