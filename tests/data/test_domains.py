import pandas as pd
import pytest

from lightning_metarec.data.domains import NO_GENRE, assign_genre_domains
from lightning_metarec.errors import DataError


def _items() -> pd.DataFrame:
    return pd.DataFrame(
        {"genres": [["Action", "Comedy"], ["Drama"], [], ["Comedy"], ["Action", "Drama"]]},
        index=["a", "b", "c", "d", "e"],
    )


def test_target_first_puts_every_target_genre_movie_in_target() -> None:
    domains = assign_genre_domains(_items(), "Comedy")
    assert domains.to_dict() == {
        "a": "Comedy",
        "b": "Drama",
        "c": NO_GENRE,
        "d": "Comedy",
        "e": "Action",
    }


def test_first_rule_uses_first_listed_genre() -> None:
    domains = assign_genre_domains(_items(), "Comedy", multi_genre="first")
    assert domains["a"] == "Action"
    assert domains["d"] == "Comedy"


def test_unknown_target_lists_available_domains() -> None:
    with pytest.raises(DataError) as err:
        assign_genre_domains(_items(), "Western")
    message = str(err.value)
    assert "'Western'" in message and "Action, Comedy, Drama" in message
    assert "\n" not in message
