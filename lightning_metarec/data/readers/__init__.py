"""Readers that turn rating files into :class:`~lightning_metarec.data.table.InteractionData`."""

from lightning_metarec.data.readers.amazon import amazon_category, read_amazon_file
from lightning_metarec.data.readers.douban import DOUBAN_DOMAINS, read_douban_file
from lightning_metarec.data.readers.generic import LOG_SCHEMA, LogColumns, read_log_file
from lightning_metarec.data.readers.grouplens import (
    ML100K_GENRES,
    read_ml1m_raw,
    read_ml100k_raw,
    read_movielens_csv,
)
from lightning_metarec.data.readers.recbole import (
    ATOMIC_TYPES,
    read_atomic_file,
    read_atomic_header,
    read_recbole,
)

__all__ = [
    "ATOMIC_TYPES",
    "DOUBAN_DOMAINS",
    "LOG_SCHEMA",
    "ML100K_GENRES",
    "LogColumns",
    "amazon_category",
    "read_amazon_file",
    "read_atomic_file",
    "read_atomic_header",
    "read_douban_file",
    "read_log_file",
    "read_ml1m_raw",
    "read_ml100k_raw",
    "read_movielens_csv",
    "read_recbole",
]
