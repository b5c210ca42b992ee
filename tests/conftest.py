"""Shared fixtures: a seeded synthetic log for unit tests and the real ML-100K for end-to-end."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_metarec.data import InteractionData, MetaRecDataModule
from lightning_metarec.data.home import DATA_HOME_ENV

REPO = Path(__file__).resolve().parents[1]
GENRES = ["Action", "Comedy", "Drama", "Horror"]


def real_data_home() -> Path | None:
    """The data home holding ML-100K: $LIGHTNING_METAREC_DATA, else ../shared/data."""
    for candidate in (os.environ.get(DATA_HOME_ENV), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "ml-100k").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_home() -> Path:
    home = real_data_home()
    if home is None:
        pytest.skip(f"real MovieLens-100K not found: set {DATA_HOME_ENV}")
    return home


def make_table(
    num_users: int = 60, num_items: int = 200, per_user: int = 40, seed: int = 0
) -> InteractionData:
    """A small seeded log: every user rates ``per_user`` distinct items at distinct times."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(num_users), per_user)
    items = np.concatenate(
        [rng.choice(num_items, per_user, replace=False) for _ in range(num_users)]
    )
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in users],
            "item_id": [f"i{i}" for i in items],
            "rating": rng.integers(1, 6, len(users)).astype(np.float32),
            "timestamp": rng.permutation(len(users)).astype(np.int64),
        }
    )
    genre_lists = [
        [GENRES[i % 4]] + ([GENRES[(i + 1) % 4]] if i % 3 == 0 else []) for i in range(num_items)
    ]
    item_index = pd.Index([f"i{i}" for i in range(num_items)], name="item_id")
    items_df = pd.DataFrame(
        {"title": [f"Movie {i}" for i in range(num_items)], "genres": genre_lists}, index=item_index
    )
    users_df = pd.DataFrame(
        {"gender": rng.choice(["M", "F"], num_users), "age": rng.choice(["18", "25"], num_users)},
        index=pd.Index([f"u{u}" for u in range(num_users)], name="user_id"),
    )
    return InteractionData(frame, items_df, users_df, source="synthetic")


class SyntheticDataModule(MetaRecDataModule):
    """The real DataModule fed by :func:`make_table` instead of files."""

    def __init__(self, table_seed: int = 0, **kwargs: object) -> None:
        kwargs.setdefault("target_domain", "Comedy")
        kwargs.setdefault("support_size", 5)
        kwargs.setdefault("query_size", 4)
        kwargs.setdefault("num_negatives", 9)
        kwargs.setdefault("train_negatives", 1)
        kwargs.setdefault("batch_size", 4)
        kwargs.setdefault("val_fraction", 0.2)
        kwargs.setdefault("test_fraction", 0.2)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.table_seed = table_seed

    def load_table(self) -> InteractionData:
        return make_table(seed=self.table_seed)


@pytest.fixture
def synthetic_table() -> InteractionData:
    return make_table()


@pytest.fixture(params=["rating", "ranking"])
def synthetic_dm(request: pytest.FixtureRequest) -> SyntheticDataModule:
    dm = SyntheticDataModule(task_kind=request.param)
    dm.setup("fit")
    dm.setup("test")
    return dm
