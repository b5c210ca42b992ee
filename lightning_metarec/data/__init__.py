"""Readers, domains, cold-start splits, episodes and the LightningDataModule."""

from lightning_metarec.data.datamodule import MetaRecDataModule
from lightning_metarec.data.episodes import Episode, EpisodeBatch
from lightning_metarec.data.home import DATA_HOME_ENV, get_data_home, load_movielens
from lightning_metarec.data.table import InteractionData

__all__ = [
    "DATA_HOME_ENV",
    "Episode",
    "EpisodeBatch",
    "InteractionData",
    "MetaRecDataModule",
    "get_data_home",
    "load_movielens",
]
