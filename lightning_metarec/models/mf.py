"""Biased matrix factorization scorer (a non-meta baseline)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MFScorer"]


class MFScorer(nn.Module):
    """``score(u, i) = global_bias + b_u + b_i + <p_u, q_i>`` (Koren et al. 2009).

    Takes the same inputs as :class:`~lightning_metarec.models.MeLUScorer` and ignores genres and
    user features. A cold user's factors start at their (untrained or source-domain) values; the
    fine-tuned baseline adapts them on the support set.

    Args:
        num_users: number of user codes.
        num_items: number of item codes.
        embed_dim: number of latent factors.
        global_bias: initial global bias (e.g. the mean rating).
    """

    def __init__(
        self, num_users: int, num_items: int, embed_dim: int = 32, global_bias: float = 0.0
    ) -> None:
        super().__init__()
        self.user_factors = nn.Embedding(num_users, embed_dim)
        self.item_factors = nn.Embedding(num_items, embed_dim)
        self.user_bias = nn.Embedding(num_users, 1)
        self.item_bias = nn.Embedding(num_items, 1)
        self.global_bias = nn.Parameter(torch.tensor(float(global_bias)))
        for emb in (self.user_factors, self.item_factors):
            nn.init.normal_(emb.weight, std=0.05)
        for emb in (self.user_bias, self.item_bias):
            nn.init.zeros_(emb.weight)

    def forward(self, item: Tensor, genres: Tensor, user: Tensor, user_features: Tensor) -> Tensor:
        """Score of each (user, item) pair, shape (N,)."""
        dot = (self.user_factors(user) * self.item_factors(item)).sum(-1)
        bias = self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1)
        return self.global_bias + bias + dot
