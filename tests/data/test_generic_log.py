"""InteractionLog: CSV/TSV/Parquet logs, configurable columns, cross-domain rules, YAML config."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_metarec.data.home import DATA_HOME_ENV
from lightning_metarec.data.sources import InteractionLog, InteractionSource, item_domains
from lightning_metarec.data.table import InteractionData
from lightning_metarec.errors import DataError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generic"
COLUMNS = ["user_id", "item_id", "rating", "timestamp", "domain"]
PER_DOMAIN = {
    "user_column": "user",
    "item_column": "item",
    "rating_column": "score",
    "timestamp_column": "ts",
}


@pytest.fixture(autouse=True)
def _data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "home"))


def assert_source_table(data: InteractionData) -> None:
    """The dtypes every source promises."""
    inter = data.interactions
    assert list(inter.columns) == COLUMNS
    assert inter["rating"].dtype == np.float32
    assert inter["timestamp"].dtype == np.int64
    for column in ("user_id", "item_id", "domain"):
        assert all(isinstance(v, str) for v in inter[column]), column
    assert data.items.index.name == "item_id"
    assert list(data.items.columns) == ["title", "genres"]
    assert set(data.items.index) == set(inter["item_id"])
    assert all(t == "" for t in data.items["title"])
    assert all(g == [] for g in data.items["genres"])
    assert data.users is None


def one_line(error: pytest.ExceptionInfo[DataError], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, (part, message)
    return message


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- reading


def test_csv_with_domain_column() -> None:
    source = InteractionLog(str(FIXTURES / "log.csv"), cache=False)
    data = source.load()
    assert_source_table(data)
    inter = data.interactions
    assert len(inter) == 7  # the repeated (u1, b1) pair is kept
    assert inter["user_id"].tolist() == ["u1", "u1", "u2", "u1", "u2", "u3", "u1"]
    assert inter["rating"].tolist() == [4, 5, 3, 2, 4.5, 1, 5]
    assert inter["timestamp"].tolist() == list(range(1000, 1007))
    assert inter["domain"].tolist() == ["books"] * 3 + ["movies"] * 3 + ["books"]
    assert "log.csv" in data.source
    text = source.describe()
    assert "1 duplicate (user, item) rows" in text
    assert "books: 4 rows, 2 users (2 shared), 2 items, ratings 3-5" in text
    assert "\n" not in text


def test_describe_before_load() -> None:
    assert InteractionLog(str(FIXTURES / "log.csv")).describe().endswith("not loaded yet")


def test_custom_columns_and_date_strings() -> None:
    source = InteractionLog(
        str(FIXTURES / "log_custom.tsv"),
        user_column="uid",
        item_column="iid",
        rating_column="stars",
        timestamp_column="when",
        domain_column="cat",
        cache=False,
    )
    inter = source.load().interactions
    assert inter["user_id"].tolist() == ["7", "7", "8", "7", "8"]
    assert inter["item_id"].tolist() == ["100", "101", "100", "200", "201"]
    stamps = inter["timestamp"].tolist()
    assert stamps[0] == 1349740800  # 2012-10-09 UTC
    assert stamps[1] == 1349740800 + 86400 + 8 * 3600 + 30 * 60
    assert stamps[2] == 1356994800  # 2013-01-01T00:00:00+01:00
    assert set(inter["domain"]) == {"book", "music"}


def test_files_per_domain_normalize_and_prefix() -> None:
    files = {"books": str(FIXTURES / "books.csv"), "movies": str(FIXTURES / "movies.csv")}
    source = InteractionLog(
        files_per_domain=files, rating_scale="normalize", cache=False, **PER_DOMAIN
    )
    data = source.load()
    assert_source_table(data)
    inter = data.interactions
    # books 3..5 and movies 6..10 both become 1..5
    assert inter["rating"].tolist() == [3.0, 5.0, 1.0, 3.0, 5.0, 1.0]
    # item '1' is in both domains, so every item id is prefixed
    assert inter["item_id"].tolist()[:4] == ["books:1", "books:2", "books:1", "movies:1"]
    assert item_domains(data)["movies:3"] == "movies"
    assert "item ids prefixed" in source.describe()
    assert "min-max scaled" in source.describe()


def test_item_ids_prefixed_always_and_raw_refused() -> None:
    prefixed = InteractionLog(str(FIXTURES / "log.csv"), item_ids="prefixed", cache=False)
    assert prefixed.load().interactions["item_id"].iloc[0] == "books:b1"
    files = {"books": str(FIXTURES / "books.csv"), "movies": str(FIXTURES / "movies.csv")}
    raw = InteractionLog(
        files_per_domain=files, item_ids="raw", rating_scale="normalize", cache=False, **PER_DOMAIN
    )
    with pytest.raises(DataError) as error:
        raw.load()
    one_line(error, "item id '1'", "books, movies", "item_ids")


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user": np.array([1, 2, 1, 2], dtype=np.int64),
            "item": [10.0, 11.0, 13.0, 12.0],  # integral floats lose their '.0'
            "stars": np.array([1, 2, 3, 4], dtype=np.int32),
            "when": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]),
            "kind": ["a", "a", "b", "b"],
        }
    )
    frame.to_parquet(tmp_path / "log.parquet")
    data = InteractionLog(
        str(tmp_path / "log.parquet"),
        user_column="user",
        item_column="item",
        rating_column="stars",
        timestamp_column="when",
        domain_column="kind",
        cache=False,
    ).load()
    assert_source_table(data)
    inter = data.interactions
    assert inter["user_id"].tolist() == ["1", "2", "1", "2"]
    assert inter["item_id"].tolist() == ["10", "11", "13", "12"]
    assert inter["timestamp"].iloc[0] == 1577836800
    assert inter["rating"].tolist() == [1, 2, 3, 4]


def test_implicit_feedback_without_timestamps() -> None:
    data = InteractionLog(
        str(FIXTURES / "log.csv"),
        rating_column=None,
        timestamp_column=None,
        implicit_rating=2.0,
        cache=False,
    ).load()
    assert set(data.interactions["rating"]) == {2.0}
    assert set(data.interactions["timestamp"]) == {0}


def test_headerless_gzip_and_glob(tmp_path: Path) -> None:
    lines = (FIXTURES / "log.csv").read_text().splitlines()[1:]
    with gzip.open(tmp_path / "part1.csv.gz", "wt") as handle:
        handle.write("\n".join(lines[:3]) + "\n")
    write(tmp_path / "part2.csv", "\n".join(lines[3:]) + "\n")
    source = InteractionLog(
        str(tmp_path / "part*.csv*"),
        column_names=["user_id", "item_id", "rating", "timestamp", "domain"],
        cache=False,
    )
    inter = source.load().interactions
    assert len(inter) == 7
    assert inter["timestamp"].tolist() == list(range(1000, 1007))


def test_compressed_with_header(tmp_path: Path) -> None:
    with open(FIXTURES / "log.csv", "rb") as raw, gzip.open(tmp_path / "log.csv.gz", "wb") as out:
        shutil.copyfileobj(raw, out)
    inter = InteractionLog(str(tmp_path / "log.csv.gz"), cache=False).load().interactions
    assert inter["item_id"].tolist()[:3] == ["b1", "b2", "b1"]


def test_timestamp_format(tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "user_id,item_id,rating,timestamp,domain\nu1,a,1,09/10/2012,x\nu1,b,1,10/10/2012,y\n",
    )
    inter = InteractionLog(path, timestamp_format="%d/%m/%Y", cache=False).load().interactions
    assert inter["timestamp"].tolist() == [1349740800, 1349740800 + 86400]


def test_yaml_class_path_instantiates_source() -> None:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_argument("--source", type=InteractionSource)
    config = parser.parse_string(
        f"""
source:
  class_path: lightning_metarec.data.sources.InteractionLog
  init_args:
    files_per_domain: {{books: {FIXTURES / "books.csv"}, movies: {FIXTURES / "movies.csv"}}}
    user_column: user
    item_column: item
    rating_column: score
    timestamp_column: ts
    rating_range: [1, 10]
    rating_scale: normalize
    cache: false
"""
    )
    source = parser.instantiate_classes(config).source
    assert isinstance(source, InteractionLog)
    assert source.rating_range == (1.0, 10.0)
    assert len(source.load().interactions) == 6


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        InteractionLog(str(tmp_path / "nope.csv")).load()
    one_line(error, "nope.csv", "file not found")


def test_glob_without_match(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        InteractionLog(str(tmp_path / "*.csv")).load()
    one_line(error, "no file matches")


def test_misnamed_column_names_found_columns() -> None:
    source = InteractionLog(str(FIXTURES / "log.csv"), user_column="userId", cache=False)
    with pytest.raises(DataError) as error:
        source.load()
    one_line(error, "log.csv", "'userId'", "found 'user_id', 'item_id'")


def test_missing_rating_column_is_an_error_not_implicit(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "user_id,item_id,domain\nu1,a,x\nu1,b,y\n")
    with pytest.raises(DataError) as error:
        InteractionLog(path, timestamp_column=None, cache=False).load()
    one_line(error, "'rating'", "found 'user_id', 'item_id', 'domain'")
    data = InteractionLog(path, rating_column=None, timestamp_column=None, cache=False).load()
    assert set(data.interactions["rating"]) == {1.0}


def test_single_domain_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", "user_id,item_id,rating,timestamp,domain\nu1,a,1,1,x\n")
    with pytest.raises(DataError) as error:
        InteractionLog(path, cache=False).load()
    one_line(error, "needs at least two domains: found only 'x'", "domain_column")


def test_empty_domain_file(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.csv", "user,item,score,ts\n")
    files = {"books": str(FIXTURES / "books.csv"), "movies": empty}
    with pytest.raises(DataError) as error:
        InteractionLog(files_per_domain=files, cache=False, **PER_DOMAIN).load()
    one_line(error, "empty.csv", "no interactions", "domain 'movies' would be empty")


def test_empty_domain_value(tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "user_id,item_id,rating,timestamp,domain\nu1,a,1,1,x\nu1,b,1,1,\n",
    )
    with pytest.raises(DataError) as error:
        InteractionLog(path, cache=False).load()
    one_line(error, "column 'domain'", "1 empty domain value", "data row 2")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", "non-numeric value 'abc' at data row 2"), ("", "is empty at data row 2")],
)
def test_bad_rating_value(tmp_path: Path, value: str, expected: str) -> None:
    path = write(
        tmp_path / "log.csv",
        f"user_id,item_id,rating,timestamp,domain\nu1,a,1,1,x\nu1,b,{value},1,y\n",
    )
    with pytest.raises(DataError) as error:
        InteractionLog(path, cache=False).load()
    one_line(error, "log.csv", "column 'rating'", expected)


def test_rating_out_of_range() -> None:
    with pytest.raises(DataError) as error:
        InteractionLog(str(FIXTURES / "log.csv"), rating_range=(1, 4), cache=False).load()
    one_line(error, "outside [1, 4]", "first: 5 at data row 2", "rating_range")


def test_unparseable_timestamp(tmp_path: Path) -> None:
    path = write(
        tmp_path / "log.csv",
        "user_id,item_id,rating,timestamp,domain\nu1,a,1,2012-01-01,x\nu1,b,1,yesterday,y\n",
    )
    with pytest.raises(DataError) as error:
        InteractionLog(path, cache=False).load()
    one_line(error, "column 'timestamp'", "'yesterday' at data row 2", "timestamp_format")


def test_mixed_rating_scales_refused() -> None:
    files = {"books": str(FIXTURES / "books.csv"), "movies": str(FIXTURES / "movies.csv")}
    with pytest.raises(DataError) as error:
        InteractionLog(files_per_domain=files, cache=False, **PER_DOMAIN).load()
    one_line(
        error,
        "'books' (ratings 3-5)",
        "'movies' (ratings 6-10)",
        "different rating scales",
        "rating_scale: normalize",
    )


def test_implicit_and_explicit_domains_are_mixed_scales(tmp_path: Path) -> None:
    clicks = write(tmp_path / "clicks.csv", "user,item,score,ts\nu1,9,1,1\nu2,9,1,1\n")
    files = {"books": str(FIXTURES / "books.csv"), "clicks": clicks}
    with pytest.raises(DataError) as error:
        InteractionLog(files_per_domain=files, cache=False, **PER_DOMAIN).load()
    one_line(error, "'clicks' (ratings 1-1)", "'books' (ratings 3-5)")


def test_no_shared_users_names_files_and_columns(tmp_path: Path) -> None:
    # the movies file was exported item,user: its "users" are item ids
    swapped = write(tmp_path / "movies.csv", "user,item,score,ts\n1,u1,8,1\n3,u2,10,1\n")
    files = {"books": str(FIXTURES / "books.csv"), "movies": swapped}
    with pytest.raises(DataError) as error:
        InteractionLog(
            files_per_domain=files, rating_scale="normalize", cache=False, **PER_DOMAIN
        ).load()
    one_line(
        error,
        "too few users shared",
        "'books' (",
        "books.csv; user column 'user', item column 'item') shares 0 of its 3 users",
        "'movies' (",
        "swapped",
        "min_user_overlap",
    )


def test_too_few_shared_users(tmp_path: Path) -> None:
    rows = [f"a{i},x{i % 7},1,1,A" for i in range(300)] + [
        f"b{i},y{i % 5},1,1,B" for i in range(300)
    ]
    rows[0] = "b0,x0,1,1,A"  # one shared user < 1% of 300
    path = write(
        tmp_path / "log.csv", "user_id,item_id,rating,timestamp,domain\n" + "\n".join(rows)
    )
    with pytest.raises(DataError) as error:
        InteractionLog(path, cache=False).load()
    one_line(error, "shares 1 of its 300 users with the other domains (need 3)")
    assert len(InteractionLog(path, min_user_overlap=0.0, cache=False).load().interactions) == 600


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "log.data"
    shutil.copy(FIXTURES / "log.csv", path)
    with pytest.raises(DataError) as error:
        InteractionLog(str(path), cache=False).load()
    one_line(error, "log.data", "set format")
    assert len(InteractionLog(str(path), format="csv", cache=False).load().interactions) == 7


def test_config_errors() -> None:
    with pytest.raises(DataError, match="exactly one of path"):
        InteractionLog()
    with pytest.raises(DataError, match="needs domain_column"):
        InteractionLog("x.csv", domain_column=None)
    with pytest.raises(DataError, match="unknown rating_scale"):
        InteractionLog("x.csv", rating_scale="clip")  # type: ignore[arg-type]
