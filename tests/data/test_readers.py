"""Readers on hand-made fixtures: every format, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_metarec.data.readers import (
    read_atomic_file,
    read_atomic_header,
    read_ml1m_raw,
    read_ml100k_raw,
    read_movielens_csv,
    read_recbole,
)
from lightning_metarec.data.table import InteractionData
from lightning_metarec.errors import DataError
from tests.conftest import real_data_home

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def assert_normalized(data: InteractionData) -> None:
    """Check the dtypes every reader promises."""
    inter = data.interactions
    assert list(inter.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert inter["rating"].dtype == np.float32
    assert inter["timestamp"].dtype == np.int64
    assert all(isinstance(v, str) for v in inter["user_id"])
    assert all(isinstance(v, str) for v in inter["item_id"])
    assert list(data.items.columns) == ["title", "genres"]
    assert data.items.index.name == "item_id"
    assert all(isinstance(i, str) for i in data.items.index)
    assert all(isinstance(g, list) for g in data.items["genres"])
    if data.users is not None:
        assert data.users.index.name == "user_id"
        assert all(isinstance(v, str) for v in data.users.to_numpy().ravel())


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def assert_one_line(error: pytest.ExceptionInfo[DataError], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message and "\r" not in message
    for part in parts:
        assert part in message, (part, message)
    return message


# --------------------------------------------------------------------------- RecBole


def test_recbole_lf_token_seq() -> None:
    data = read_recbole(FIXTURES / "recbole", "tiny")
    assert_normalized(data)
    inter = data.interactions
    assert len(inter) == 4
    assert inter["user_id"].tolist() == ["1", "1", "2", "3"]
    assert inter["rating"].tolist() == [4.0, 2.5, 5.0, 1.0]
    assert inter["timestamp"].iloc[0] == 881250949
    items = data.items
    assert items.loc["10", "title"] == "Toy Story"
    assert items.loc["10", "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc["20", "title"] == "Café Society"
    assert items.loc["30", "genres"] == ["unknown"]
    assert items.loc["40", "title"] == "NA"  # not parsed as a missing value
    assert items.loc["40", "genres"] == []
    assert data.users is not None
    assert list(data.users.columns) == ["age", "gender", "occupation"]
    assert data.users.loc["2"].tolist() == ["53", "F", "other"]
    assert "tiny.inter" in data.source and "tiny.user" in data.source


def test_recbole_crlf_titles_as_ids() -> None:
    data = read_recbole(FIXTURES / "recbole_crlf", "tiny1m")
    assert_normalized(data)
    inter = data.interactions
    assert inter["item_id"].tolist()[1] == "Metisse (Café au Lait) (1993)"
    assert inter["timestamp"].tolist() == [978300760, 978302109, 978298413]
    items = data.items
    assert items.loc["Toy Story (1995)", "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc["Misérables, Les (1995)", "genres"] == ["Drama", "Musical"]
    assert items.loc["Misérables, Les (1995)", "title"] == "Misérables, Les"
    assert not any("\r" in t for t in items["title"])
    assert not any("\r" in g for genres in items["genres"] for g in genres)
    assert data.users is not None
    # float-typed user features keep the text of the file ("1", not "1.0")
    assert data.users.loc["1m_1"].tolist() == ["1", "F", "10"]


def test_read_atomic_file_types() -> None:
    frame = read_atomic_file(FIXTURES / "recbole_crlf" / "tiny1m.item")
    assert list(frame.columns) == ["item_id", "movie_title", "release_year", "genre"]
    assert frame["release_year"].dtype == np.float64
    assert frame["genre"].iloc[2] == "Drama Musical"  # token: not split
    frame = read_atomic_file(FIXTURES / "recbole" / "tiny.item")
    assert frame["movie_title"].iloc[0] == ["Toy", "Story"]  # token_seq: split
    assert frame["class"].iloc[3] == []
    assert read_atomic_header(FIXTURES / "recbole" / "tiny.inter") == {
        "user_id": "token",
        "item_id": "token",
        "rating": "float",
        "timestamp": "float",
    }


def test_atomic_float_seq(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "x.item", b"item_id:token\temb:float_seq\na\t1 2.5\nb\t\n")
    frame = read_atomic_file(path)
    assert frame["emb"].tolist() == [[1.0, 2.5], []]


def test_recbole_without_side_files_or_timestamp(tmp_path: Path) -> None:
    inter = "user_id:token\titem_id:token\trating:float\nu\ti\t3\n"
    write_bytes(tmp_path / "d.inter", inter.encode())
    data = read_recbole(tmp_path, "d")
    assert data.interactions["timestamp"].tolist() == [0]
    assert data.users is None
    assert data.items.empty
    assert_normalized(data)


# --------------------------------------------------------------------------- GroupLens raw


def test_ml100k_raw() -> None:
    data = read_ml100k_raw(FIXTURES / "ml-100k")
    assert_normalized(data)
    assert len(data.interactions) == 4
    assert data.interactions["item_id"].tolist() == ["242", "302", "377", "377"]
    items = data.items
    assert items.loc["377", "title"] == "Café au Lait (1993)"  # latin-1 byte 0xe9
    assert items.loc["377", "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc["302", "genres"] == ["Crime", "Film-Noir", "Thriller"]
    assert items.loc["267", "genres"] == ["unknown"]
    assert data.users is not None
    assert data.users.loc["186"].tolist() == ["39", "F", "executive"]


def test_ml100k_genre_names_match_recbole() -> None:
    shared = (real_data_home() or Path("/nonexistent")) / "ml-100k"
    if not (shared / "ml-100k.item").is_file():
        pytest.skip("shared MovieLens data not present")
    from lightning_metarec.data.readers import ML100K_GENRES

    genres = read_recbole(shared, "ml-100k").items["genres"].explode().dropna()
    assert set(genres) == set(ML100K_GENRES)


def test_ml1m_raw() -> None:
    data = read_ml1m_raw(FIXTURES / "ml-1m")
    assert_normalized(data)
    inter = data.interactions
    assert inter["user_id"].tolist() == ["1", "1", "2", "2"]
    assert inter["timestamp"].iloc[3] == 978299941
    items = data.items
    assert items.loc["3158", "title"] == "Café au Lait (Métisse) (1993)"
    assert items.loc["661", "genres"] == ["Animation", "Children's", "Musical"]
    assert items.loc["1193", "title"] == "One Flew Over the Cuckoo's Nest (1975)"
    assert data.users is not None
    assert list(data.users.columns) == ["age", "gender", "occupation"]
    assert data.users.loc["2"].tolist() == ["56", "M", "16"]


def test_ml1m_raw_with_tab_in_title(tmp_path: Path) -> None:
    (tmp_path / "ratings.dat").write_bytes(b"1::5::3::100\n")
    (tmp_path / "movies.dat").write_bytes(b"5::Tab\tTitle (1999)::Drama|War\n")
    data = read_ml1m_raw(tmp_path)
    assert data.items.loc["5", "title"] == "Tab\tTitle (1999)"
    assert data.items.loc["5", "genres"] == ["Drama", "War"]


def test_movielens_csv() -> None:
    data = read_movielens_csv(FIXTURES / "ml-latest")
    assert_normalized(data)
    assert data.users is None
    assert data.interactions["rating"].tolist() == [4.0, 0.5, 3.5]
    items = data.items
    assert items.loc["3", "title"] == "American President, The (1995)"
    assert items.loc["3", "genres"] == ["Comedy", "Drama", "Romance"]
    assert items.loc["6", "title"].startswith("Amélie")
    assert items.loc["6", "genres"] == []


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_recbole(tmp_path, "nothing")
    assert_one_line(error, str(tmp_path / "nothing.inter"), "not found")
    with pytest.raises(DataError) as error:
        read_ml1m_raw(tmp_path)
    assert_one_line(error, str(tmp_path / "ratings.dat"))
    with pytest.raises(DataError) as error:
        read_ml100k_raw(tmp_path)
    assert_one_line(error, str(tmp_path / "u.data"))
    with pytest.raises(DataError) as error:
        read_movielens_csv(tmp_path)
    assert_one_line(error, str(tmp_path / "ratings.csv"))


def test_misnamed_column(tmp_path: Path) -> None:
    text = "user_id:token\titem:token\trating:float\nu\ti\t3\n"
    path = write_bytes(tmp_path / "d.inter", text.encode())
    with pytest.raises(DataError) as error:
        read_recbole(tmp_path, "d")
    assert_one_line(error, str(path), "'item_id'", "'item'")


def test_misnamed_csv_column(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "ratings.csv", b"user,movieId,rating,timestamp\n1,2,3,4\n")
    with pytest.raises(DataError) as error:
        read_movielens_csv(tmp_path)
    assert_one_line(error, str(path), "'userId'", "'user'")


def test_nan_rating(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "d.inter", (INTER_HEADER + "u\ti\t\t5\nu\tj\t3\t6\n").encode())
    with pytest.raises(DataError) as error:
        read_recbole(tmp_path, "d")
    assert_one_line(error, str(path), "'rating'", "NaN", "row 1")


def test_out_of_range_rating(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "u.data", b"1\t2\t3\t10\n1\t3\t7\t11\n")
    with pytest.raises(DataError) as error:
        read_ml100k_raw(tmp_path)
    assert_one_line(error, str(path), "'rating'", "7", "[1, 5]")
    assert len(read_ml100k_raw(tmp_path, rating_range=None).interactions) == 2


def test_non_numeric_rating(tmp_path: Path) -> None:
    path = write_bytes(
        tmp_path / "d.inter", (INTER_HEADER + "u\ti\t4\t5\nu\tj\tgood\t6\n").encode()
    )
    with pytest.raises(DataError) as error:
        read_recbole(tmp_path, "d")
    assert_one_line(error, str(path), "'rating'", "'good'", "row 2")
    path = write_bytes(tmp_path / "ratings.dat", b"1::2::3::4\n1::3::x::5\n")
    with pytest.raises(DataError) as error:
        read_ml1m_raw(tmp_path)
    assert_one_line(error, str(path), "'rating'", "'x'")


def test_missing_timestamp_value(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "ratings.csv", b"userId,movieId,rating,timestamp\n1,2,3,\n")
    with pytest.raises(DataError) as error:
        read_movielens_csv(tmp_path)
    assert_one_line(error, str(path), "'timestamp'")


def test_latin1_byte_in_utf8_atomic_file(tmp_path: Path) -> None:
    body = b"item_id:token\tmovie_title:token_seq\n1\tToy Story\n2\tCaf\xe9 Noir\n"
    path = write_bytes(tmp_path / "d.item", body)
    offset = body.index(b"\xe9")
    with pytest.raises(DataError) as error:
        read_atomic_file(path)
    message = assert_one_line(error, str(path), f"offset {offset}", "0xe9", "encoding='latin-1'")
    assert "line 3" in message
    assert read_atomic_file(path, encoding="latin-1")["movie_title"].iloc[1] == ["Café", "Noir"]


def test_latin1_byte_in_recbole_dataset(tmp_path: Path) -> None:
    write_bytes(tmp_path / "d.inter", (INTER_HEADER + "u\ti\t4\t5\n").encode())
    item = write_bytes(tmp_path / "d.item", b"item_id:token\tmovie_title:token\ni\tCaf\xe9\n")
    with pytest.raises(DataError) as error:
        read_recbole(tmp_path, "d")
    assert_one_line(error, str(item), "0xe9")
    data = read_recbole(tmp_path, "d", encoding="latin-1")
    assert data.items.loc["i", "title"] == "Café"


def test_latin1_byte_in_utf8_csv(tmp_path: Path) -> None:
    write_bytes(tmp_path / "ratings.csv", b"userId,movieId,rating,timestamp\n1,2,3,4\n")
    body = b"movieId,title,genres\n2,Caf\xe9,Drama\n"
    movies = write_bytes(tmp_path / "movies.csv", body)
    with pytest.raises(DataError) as error:
        read_movielens_csv(tmp_path)
    offset = body.index(b"\xe9")
    assert_one_line(error, str(movies), f"offset {offset}", "utf-8")


def test_bad_header(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "d.inter", b"user_id\titem_id:token\nu\ti\n")
    with pytest.raises(DataError) as error:
        read_atomic_file(path)
    assert_one_line(error, str(path), "'user_id'", "name:type")


def test_wrong_field_count(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "d.inter", (INTER_HEADER + "u\ti\t4\t5\t9\t9\n").encode())
    with pytest.raises(DataError) as error:
        read_atomic_file(path)
    assert_one_line(error, str(path))


def test_duplicate_item_id(tmp_path: Path) -> None:
    write_bytes(tmp_path / "d.inter", (INTER_HEADER + "u\ti\t4\t5\n").encode())
    item = write_bytes(tmp_path / "d.item", b"item_id:token\tmovie_title:token\ni\tA\ni\tB\n")
    with pytest.raises(DataError) as error:
        read_recbole(tmp_path, "d")
    assert_one_line(error, str(item), "'i'")


def test_interactions_are_plain_dataframe() -> None:
    data = read_recbole(FIXTURES / "recbole", "tiny")
    assert isinstance(data.interactions.index, pd.RangeIndex)
