"""Recommendation metrics built on torchmetrics."""

from lightning_metarec.metrics.collection import build_metrics
from lightning_metarec.metrics.retrieval import HitRateAtK, NDCGAtK, empty_queries

__all__ = ["HitRateAtK", "NDCGAtK", "build_metrics", "empty_queries"]
