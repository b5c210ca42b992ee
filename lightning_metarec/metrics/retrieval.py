"""Tie-aware NDCG@K and HR@K on torchmetrics' retrieval machinery.

torchmetrics groups predictions by ``indexes``, syncs them across processes and aggregates
per-query values; these subclasses only fix the per-query function where the stock one has a
pitfall for recommendation:

* ``RetrievalHitRate`` breaks ties by input order (``argsort``), so a constant-score model
  scores HR@1 = 1 when the positive happens to come first. :class:`HitRateAtK` returns the
  expectation over random tie-breaking instead.
* ``RetrievalNormalizedDCG`` is already tie-aware (McSherry & Najork 2008, as scikit-learn)
  with linear gain; :class:`NDCGAtK` adds the exponential gain ``2**rel - 1`` and refuses
  negative relevance.

Both count queries without a relevant item (skipped by default); see :func:`empty_queries`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics.retrieval import RetrievalHitRate, RetrievalNormalizedDCG
from torchmetrics.retrieval.base import RetrievalMetric
from torchmetrics.utilities.data import dim_zero_cat

__all__ = ["Gain", "HitRateAtK", "NDCGAtK", "empty_queries"]

Gain = Literal["linear", "exponential"]


def empty_queries(metric: RetrievalMetric) -> int:
    """Number of queries (distinct ``indexes``) seen by ``metric`` with no relevant item."""
    if not metric.indexes:
        return 0
    indexes = dim_zero_cat(metric.indexes)
    relevant = (dim_zero_cat(metric.target) > 0).float()
    _, group = torch.unique(indexes, return_inverse=True)
    hits = torch.zeros(int(group.max()) + 1, device=relevant.device).index_add_(0, group, relevant)
    return int((hits == 0).sum())


def _check_update(preds: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Detach and cast scores to fp32 (bf16/fp16 logits would create spurious ties)."""
    if bool((target < 0).any()):
        raise ValueError("graded relevance must be >= 0; got a negative target")
    return preds.detach().float(), target.detach()


class NDCGAtK(RetrievalNormalizedDCG):
    """Tie-aware NDCG@K with linear (``rel``) or exponential (``2**rel - 1``) gain.

    Args:
        top_k: cut-off K.
        gain: ``"exponential"`` (default; Burges et al. 2005, common in recommendation) or
            ``"linear"`` (the relevance itself; scikit-learn's ``ndcg_score``). Identical for
            binary relevance.
        empty_target_action: policy for a query with no relevant item; ``"skip"`` (default)
            leaves it out of the mean (count it with :func:`empty_queries`).
        **kwargs: passed to :class:`torchmetrics.retrieval.RetrievalNormalizedDCG`.
    """

    def __init__(
        self,
        top_k: int,
        gain: Gain = "exponential",
        empty_target_action: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(top_k=top_k, empty_target_action=empty_target_action, **kwargs)
        if gain not in ("linear", "exponential"):
            raise ValueError(f"gain must be 'linear' or 'exponential', got {gain!r}")
        self.gain = gain

    def update(self, preds: Tensor, target: Tensor, indexes: Tensor) -> None:
        """Add a batch; ``target`` is graded relevance (>= 0)."""
        preds, target = _check_update(preds, target)
        if self.gain == "exponential":
            target = torch.exp2(target.double()) - 1.0
        super().update(preds, target.float(), indexes)


class HitRateAtK(RetrievalHitRate):
    """HR@K = P(at least one relevant item in the top K) under uniformly random tie-breaking.

    Items scored strictly above the score group that straddles rank K are in the top K; from
    that group of ``t`` items holding ``r`` relevant ones, ``m`` slots are filled at random, so
    the chance of no relevant pick is ``C(t - r, m) / C(t, m)``.
    """

    def __init__(self, top_k: int, empty_target_action: str = "skip", **kwargs: Any) -> None:
        super().__init__(top_k=top_k, empty_target_action=empty_target_action, **kwargs)

    def update(self, preds: Tensor, target: Tensor, indexes: Tensor) -> None:
        """Add a batch; ``target`` > 0 marks relevant items."""
        preds, target = _check_update(preds, target)
        super().update(preds, (target > 0).long(), indexes)

    def _metric(self, preds: Tensor, target: Tensor) -> Tensor:
        k = min(int(self.top_k or preds.numel()), preds.numel())
        kth = torch.topk(preds, k).values[-1]
        above = preds > kth
        if bool(target[above].any()):
            return torch.tensor(1.0, device=preds.device)
        tied = preds == kth
        t, r = int(tied.sum()), int(target[tied].sum())
        m = k - int(above.sum())
        miss = torch.prod((t - r - torch.arange(m, dtype=torch.float64)) / (t - torch.arange(m)))
        return (1.0 - miss.clamp(min=0.0)).float().to(preds.device)
