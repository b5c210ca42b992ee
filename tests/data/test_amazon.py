"""AmazonReviews: 2014/2018 5-core JSON lines and ratings-only CSVs, one category per domain."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from lightning_metarec.data.home import DATA_HOME_ENV
from lightning_metarec.data.readers.amazon import amazon_category, amazon_csv_order
from lightning_metarec.data.sources import AmazonReviews
from lightning_metarec.errors import DataError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "amazon"
BOOKS = str(FIXTURES / "reviews_Books_5.json")
MOVIES = str(FIXTURES / "Movies_and_TV_5.json")
ELECTRONICS = str(FIXTURES / "ratings_Electronics.csv")
MUSIC = str(FIXTURES / "Digital_Music.csv")


@pytest.fixture(autouse=True)
def _data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "home"))


def one_line(error: pytest.ExceptionInfo[DataError], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, (part, message)
    return message


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("reviews_Movies_and_TV_5.json.gz", "Movies_and_TV"),
        ("reviews_Books_5.json", "Books"),
        ("Movies_and_TV_5.json.gz", "Movies_and_TV"),
        ("Clothing_Shoes_and_Jewelry_5.jsonl", "Clothing_Shoes_and_Jewelry"),
        ("ratings_Books.csv", "Books"),
        ("Digital_Music.csv.gz", "Digital_Music"),
    ],
)
def test_category_from_file_name(name: str, category: str) -> None:
    assert amazon_category(name) == category


def test_csv_order_from_release_naming() -> None:
    assert amazon_csv_order(Path("ratings_Books.csv")) == "user_item"  # 2014
    assert amazon_csv_order(Path("Books.csv")) == "item_user"  # 2018
    assert amazon_csv_order(Path("Books.csv"), "user_item") == "user_item"


def test_reads_json_and_csv_releases() -> None:
    source = AmazonReviews([BOOKS, MOVIES, ELECTRONICS, MUSIC], cache=False)
    data = source.load()
    inter = data.interactions
    assert list(inter.columns) == ["user_id", "item_id", "rating", "timestamp", "domain"]
    assert inter["rating"].dtype == np.float32
    assert inter["timestamp"].dtype == np.int64
    assert inter["domain"].unique().tolist() == [
        "Books",
        "Movies_and_TV",
        "Electronics",
        "Digital_Music",
    ]
    books = inter[inter["domain"] == "Books"]
    assert books["user_id"].tolist()[:2] == ["A1F6404F1VG29J", "AN0N05A9LIJEQ"]
    assert books["item_id"].tolist()[0] == "000100039X"
    assert books["rating"].tolist() == [5, 3, 2, 4]
    assert books["timestamp"].iloc[0] == 1356566400
    movies = inter[inter["domain"] == "Movies_and_TV"]  # 2018 fields vote/style/image ignored
    assert movies["item_id"].tolist() == ["0005019281", "0005019281", "B00005JNBQ"]
    music = inter[inter["domain"] == "Digital_Music"]  # 2018 CSV: item,user,rating,timestamp
    assert music["user_id"].tolist() == ["A3SNPPKWQHPSNA", "A1F6404F1VG29J", "A1F6404F1VG29J"]
    assert music["item_id"].tolist() == ["B00000016W", "B00000016W", "5555991584"]
    electronics = inter[inter["domain"] == "Electronics"]  # 2014 CSV: user,item,...
    assert electronics["user_id"].iloc[0] == "A1F6404F1VG29J"
    assert set(data.items.index) == set(inter["item_id"])
    assert data.users is None
    assert "4 domains" in source.describe()


def test_gzip_and_domain_mapping(tmp_path: Path) -> None:
    for name in ("reviews_Books_5.json", "Movies_and_TV_5.json"):
        with open(FIXTURES / name, "rb") as raw, gzip.open(tmp_path / f"{name}.gz", "wb") as out:
            shutil.copyfileobj(raw, out)
    files = {
        "books": str(tmp_path / "reviews_Books_5.json.gz"),
        "tv": str(tmp_path / "Movies_and_TV_5.json.gz"),
    }
    inter = AmazonReviews(files, cache=False).load().interactions
    assert inter["domain"].value_counts().to_dict() == {"books": 4, "tv": 3}


def test_glob_in_file_list() -> None:
    inter = AmazonReviews([str(FIXTURES / "*.json")], cache=False).load().interactions
    assert sorted(inter["domain"].unique()) == ["Books", "Movies_and_TV"]


def test_shared_asin_gets_domain_prefix(tmp_path: Path) -> None:
    line = (
        '{"reviewerID": "A1F6404F1VG29J", "asin": "000100039X", "overall": 4.0, '
        '"unixReviewTime": 1}\n'
    )
    (tmp_path / "Kindle_Store_5.json").write_text(line)
    inter = AmazonReviews([BOOKS, str(tmp_path / "Kindle_Store_5.json")], cache=False).load()
    assert "Kindle_Store:000100039X" in set(inter.interactions["item_id"])
    assert "Books:000100039X" in set(inter.interactions["item_id"])


def test_swapped_csv_columns_refused_with_hint() -> None:
    source = AmazonReviews([BOOKS, MOVIES, MUSIC], csv_order="user_item", cache=False)
    with pytest.raises(DataError) as error:
        source.load()
    one_line(
        error,
        "'Digital_Music' (",
        "Digital_Music.csv (CSV read as user,item,rating,timestamp)",
        "shares 0 of its 2 users",
        "item ids of 'Digital_Music' are user ids in other domains",
        "swapped",
    )


def test_yaml_config_with_file_list_and_mapping() -> None:
    from jsonargparse import ArgumentParser

    from lightning_metarec.data.sources import InteractionSource

    parser = ArgumentParser()
    parser.add_argument("--source", type=InteractionSource)
    for files in (f"[{BOOKS}, {MOVIES}]", f"{{Books: {BOOKS}, Movies_and_TV: {MOVIES}}}"):
        config = parser.parse_string(
            "source:\n  class_path: lightning_metarec.data.sources.AmazonReviews\n"
            f"  init_args: {{files: {files}, csv_order: item_user, cache: false}}\n"
        )
        source = parser.instantiate_classes(config).source
        assert isinstance(source, AmazonReviews)
        assert source.load().interactions["domain"].nunique() == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS, str(tmp_path / "reviews_Toys_5.json.gz")]).load()
    one_line(error, "reviews_Toys_5.json.gz", "file not found")


def test_single_category_refused() -> None:
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS], cache=False).load()
    one_line(error, "needs at least two domains: found only 'Books'", "one file per category")


def test_empty_category_file(tmp_path: Path) -> None:
    (tmp_path / "reviews_Toys_5.json").write_text("")
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS, str(tmp_path / "reviews_Toys_5.json")], cache=False).load()
    one_line(error, "reviews_Toys_5.json", "domain 'Toys' would be empty")


def test_missing_field_and_bad_json(tmp_path: Path) -> None:
    no_rating = tmp_path / "Toys_5.json"
    no_rating.write_text(
        '{"reviewerID": "A1F6404F1VG29J", "asin": "T1", "overall": 4.0, "unixReviewTime": 1}\n'
        '{"reviewerID": "A1F6404F1VG29J", "asin": "T2", "unixReviewTime": 2}\n'
    )
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS, str(no_rating)], cache=False).load()
    one_line(error, "Toys_5.json", "column 'overall'", "first at data row 2")
    broken = tmp_path / "Games_5.json"
    broken.write_text('{"reviewerID": "A1", "asin": \n')
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS, str(broken)], cache=False).load()
    one_line(error, "Games_5.json", "cannot parse as Amazon JSON lines")


def test_rating_outside_stars(tmp_path: Path) -> None:
    path = tmp_path / "ratings_Toys.csv"
    path.write_text("A1F6404F1VG29J,T1,6.0,1\n")
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS, str(path)], cache=False).load()
    one_line(error, "ratings_Toys.csv", "outside [1, 5]", "first: 6 at data row 1")


def test_duplicate_category_and_unknown_suffix(tmp_path: Path) -> None:
    copy = tmp_path / "Books_5.json"
    shutil.copy(BOOKS, copy)
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS, str(copy)]).load()
    one_line(error, "category 'Books' is also given by")
    other = tmp_path / "reviews_Toys_5.xml"
    other.write_text("<x/>")
    with pytest.raises(DataError) as error:
        AmazonReviews([BOOKS, str(other)], cache=False).load()
    one_line(error, "reviews_Toys_5.xml", "not an Amazon review file")
