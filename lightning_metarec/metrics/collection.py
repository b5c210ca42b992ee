"""The metric set of each task kind, as one torchmetrics ``MetricCollection``."""

from __future__ import annotations

from collections.abc import Sequence

from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, MetricCollection

from lightning_metarec.metrics.retrieval import Gain, HitRateAtK, NDCGAtK

__all__ = ["build_metrics"]


def build_metrics(
    kind: str, ks: Sequence[int] = (10,), gain: Gain = "exponential"
) -> MetricCollection:
    """Metrics keyed ``ndcg@K``, ``hr@K``, ``mae``, ``rmse``.

    ``rating``: MAE and RMSE of the predicted ratings, NDCG@K over each user's query items with
    the true rating as graded relevance (``indexes`` = task), and HR@K (meaningful once
    unrated candidates are added, ``sampled``/``full``; under ``query_only`` every candidate is
    relevant, so the task does not log it). ``ranking``: HR@K and NDCG@K of each query
    positive among the user's sampled negatives (``indexes`` = one per positive).

    Args:
        kind: ``"rating"`` or ``"ranking"``.
        ks: cut-offs.
        gain: NDCG gain for graded relevance.
    """
    metrics: dict[str, Metric | MetricCollection] = {f"ndcg@{k}": NDCGAtK(k, gain=gain) for k in ks}
    if kind not in ("rating", "ranking"):
        raise ValueError(f"unknown task kind {kind!r}; use 'rating' or 'ranking'")
    metrics.update({f"hr@{k}": HitRateAtK(k) for k in ks})
    if kind == "rating":
        metrics["mae"] = MeanAbsoluteError()
        metrics["rmse"] = MeanSquaredError(squared=False)
    return MetricCollection(metrics, compute_groups=False)
