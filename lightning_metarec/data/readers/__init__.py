"""Readers that turn rating files into :class:`~lightning_metarec.data.table.InteractionData`."""

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
    "ML100K_GENRES",
    "read_atomic_file",
    "read_atomic_header",
    "read_ml1m_raw",
    "read_ml100k_raw",
    "read_movielens_csv",
    "read_recbole",
]
