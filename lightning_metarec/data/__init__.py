"""Readers, domains, cold-start splits, episodes and the LightningDataModule."""

from lightning_metarec.data.datamodule import MetaRecDataModule
from lightning_metarec.data.episodes import Episode, EpisodeBatch
from lightning_metarec.data.home import DATA_HOME_ENV, get_data_home, load_movielens
from lightning_metarec.data.sources import (
    AmazonReviews,
    DoubanRatings,
    InteractionLog,
    InteractionSource,
    item_domains,
)
from lightning_metarec.data.table import InteractionData

__all__ = [
    "DATA_HOME_ENV",
    "AmazonReviews",
    "DoubanRatings",
    "Episode",
    "EpisodeBatch",
    "InteractionData",
    "InteractionLog",
    "InteractionSource",
    "MetaRecDataModule",
    "get_data_home",
    "item_domains",
    "load_movielens",
]
