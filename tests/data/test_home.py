"""Data home resolution, local download/extract (file:// URLs only) and the real shared data."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import pytest

from lightning_metarec.data import home
from lightning_metarec.data.home import (
    DATA_HOME_ENV,
    DATASETS,
    download_and_extract,
    find_movielens,
    get_data_home,
    load_movielens,
)
from lightning_metarec.errors import DataError
from tests.conftest import real_data_home

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = real_data_home() or Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_data_home_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_HOME_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def make_zip(tmp_path: Path, name: str = "ml-100k") -> tuple[Path, str]:
    """Zip the raw fixture folder ``name`` under a top folder ``name/``; return path and md5."""
    archive = tmp_path / "served" / f"{name}.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted((FIXTURES / name).iterdir()):
            zipped.write(file, f"{name}/{file.name}")
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def serve(monkeypatch: pytest.MonkeyPatch, archive: Path, md5: str, name: str = "ml-100k") -> str:
    """Point the registry entry ``name`` at a local archive; return its file:// URL."""
    url = archive.as_uri()
    entry = dataclasses.replace(DATASETS[name], url=url, md5=md5)
    monkeypatch.setitem(DATASETS, name, entry)
    return url


# --------------------------------------------------------------------------- data home


def test_data_home_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "home" / ".cache" / "lightning_metarec"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_data_home() == tmp_path / "xdg" / "lightning_metarec"
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "explicit") == tmp_path / "explicit"
    assert get_data_home("~/data") == tmp_path / "home" / "data"
    monkeypatch.setenv(DATA_HOME_ENV, "~/from-env")
    assert get_data_home() == tmp_path / "home" / "from-env"


def test_env_variable_used_by_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_HOME_ENV, str(FIXTURES))
    data = load_movielens("ml-1m", download=False)
    assert len(data.interactions) == 4
    assert "ratings.dat" in data.source


def test_raw_fixture_layout_is_found() -> None:
    assert find_movielens("ml-100k", FIXTURES) == FIXTURES / "ml-100k" / "u.data"
    assert len(load_movielens("ml-100k", FIXTURES, download=False).interactions) == 4


def test_recbole_form_preferred(tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_bytes(b"1\t2\t3\t4\n")
    (folder / "ml-100k.inter").write_bytes(
        b"user_id:token\titem_id:token\trating:float\nu\ti\t5\nu\tj\t4\n"
    )
    data = load_movielens("ml-100k", tmp_path, download=False)
    assert data.interactions["user_id"].tolist() == ["u", "u"]


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="ml-100k, ml-1m") as error:
        load_movielens("ml-20m", tmp_path)
    assert "'ml-20m'" in str(error.value)


# --------------------------------------------------------------------------- offline errors


def test_offline_message_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_movielens("ml-100k", tmp_path / "empty", download=False)
    message = str(error.value)
    assert "\n" not in message
    assert DATA_HOME_ENV in message
    assert str(tmp_path / "empty") in message
    assert DATASETS["ml-100k"].url in message
    assert "ml-100k/u.data" in message


def test_failed_download_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = serve(monkeypatch, tmp_path / "nowhere" / "ml-1m.zip", "0" * 32, "ml-1m")
    with pytest.raises(DataError) as error:
        load_movielens("ml-1m", tmp_path / "data")
    message = str(error.value)
    assert "\n" not in message
    assert DATA_HOME_ENV in message and str(tmp_path / "data") in message and url in message
    assert "failed" in message and "by hand" in message
    assert not list((tmp_path / "data").iterdir())  # no .part left behind


# --------------------------------------------------------------------------- download


def test_download_and_extract(tmp_path: Path) -> None:
    archive, md5 = make_zip(tmp_path)
    target = tmp_path / "data"
    assert download_and_extract(archive.as_uri(), md5, target) == target
    assert (target / "ml-100k" / "u.data").read_bytes() == (
        FIXTURES / "ml-100k/u.data"
    ).read_bytes()
    assert not (target / "ml-100k.zip.part").exists()


def test_download_checksum_mismatch(tmp_path: Path) -> None:
    archive, md5 = make_zip(tmp_path)
    target = tmp_path / "data"
    wrong = "f" * 32
    with pytest.raises(DataError) as error:
        download_and_extract(archive.as_uri(), wrong, target)
    message = str(error.value)
    assert "\n" not in message
    assert wrong in message and md5 in message
    assert not (target / "ml-100k.zip.part").exists()
    assert not (target / "ml-100k").exists()


def test_download_not_a_zip(tmp_path: Path) -> None:
    bogus = tmp_path / "ml-100k.zip"
    bogus.write_bytes(b"<html>not found</html>")
    md5 = hashlib.md5(bogus.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="not a valid zip"):
        download_and_extract(bogus.as_uri(), md5, tmp_path / "data")


def test_download_refuses_escaping_member(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../outside.txt", "x")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="outside"):
        download_and_extract(archive.as_uri(), md5, tmp_path / "data")
    assert not (tmp_path / "outside.txt").exists()


def test_load_downloads_when_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    archive, md5 = make_zip(tmp_path, "ml-1m")
    serve(monkeypatch, archive, md5, "ml-1m")
    data = load_movielens("ml-1m", tmp_path / "data")
    assert len(data.interactions) == 4
    assert data.items.loc["3158", "title"] == "Café au Lait (Métisse) (1993)"
    assert (tmp_path / "data" / "ml-1m" / "ratings.dat").is_file()


def test_registry() -> None:
    assert set(DATASETS) == {"ml-100k", "ml-1m"}
    assert DATASETS["ml-100k"].md5 == "0e33842e24a9c977be4e0107933c0723"
    assert DATASETS["ml-1m"].md5 == "c4d9eecfca2ab87c1945afe126590906"
    assert all(d.url.startswith("https://files.grouplens.org/") for d in DATASETS.values())
    assert all(d.rating_range == (1, 5) for d in DATASETS.values())
    assert home.DOWNLOAD_TIMEOUT > 0


# --------------------------------------------------------------------------- real data


def require_shared(name: str) -> Path:
    if not (SHARED / name / f"{name}.inter").is_file():
        pytest.skip(f"shared MovieLens data not present at {SHARED}")
    return SHARED


def test_shared_ml100k() -> None:
    data = load_movielens("ml-100k", require_shared("ml-100k"), download=False)
    inter = data.interactions
    assert len(inter) == 100_000
    assert inter["user_id"].nunique() == 943
    assert inter["item_id"].nunique() == 1682
    assert len(data.items) == 1682
    assert data.users is not None and len(data.users) == 943
    assert inter["rating"].between(1, 5).all()
    assert (data.items["genres"].map(len) > 0).all()


def test_shared_ml1m_crlf() -> None:
    data = load_movielens("ml-1m", require_shared("ml-1m"), download=False)
    inter = data.interactions
    assert len(inter) == 1_000_209
    assert inter["user_id"].nunique() == 6040
    assert inter["item_id"].nunique() == 3706
    assert len(data.items) == 3883
    assert not inter["item_id"].str.contains("\r").any()
    assert not data.items["title"].str.contains("\r").any()
    assert not any("\r" in g for genres in data.items["genres"] for g in genres)
    assert data.items.loc["Toy Story (1995)", "genres"] == ["Animation", "Children's", "Comedy"]
    assert data.users is not None
    assert not data.users["occupation"].str.contains("\r").any()
