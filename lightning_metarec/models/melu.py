"""MeLU-style scorer: id, genre and user-feature embeddings into an MLP decision head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["MeLUScorer"]


class MeLUScorer(nn.Module):
    """Scores (user, item) pairs; a plain ``nn.Module`` with no Lightning code.

    The input embedding concatenates an item-id embedding, the mean of the item's genre
    embeddings, a user-id embedding and one embedding per categorical user feature (as in MeLU,
    Lee et al. 2019, plus ids). ``head`` is the MLP decision layers, the part MeLU adapts in its
    local update (``adapt: head`` in the tasks).

    Args:
        num_users: number of user codes.
        num_items: number of item codes.
        num_genres: number of genres (columns of the multi-hot genre input).
        user_feature_cardinalities: codes per categorical user feature (0 = unknown).
        embed_dim: size of every embedding.
        hidden_dims: widths of the hidden layers of the decision head.
        use_user_id: include the user-id embedding (turn off for strict new-user settings
            where held-out users have no trained id embedding).
        output_bias: initial bias of the output unit (e.g. the mean rating).
        history_len: if > 0, add a user representation pooled (mean) from the item embeddings
            of the user's ``history_len`` most recent *source-domain* items, set with
            :meth:`set_history` (cross-domain cold start: a new target-domain user is known by
            what they did elsewhere). Stored as buffers, so checkpoints carry it.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        num_genres: int,
        user_feature_cardinalities: Sequence[int] = (),
        embed_dim: int = 32,
        hidden_dims: Sequence[int] = (64, 64),
        use_user_id: bool = True,
        output_bias: float = 0.0,
        history_len: int = 0,
    ) -> None:
        super().__init__()
        self.history: Tensor
        self.history_mask: Tensor
        self.history_len = history_len
        self.register_buffer("history", torch.zeros(num_users, history_len, dtype=torch.long))
        self.register_buffer("history_mask", torch.zeros(num_users, history_len))
        self.item_embedding = nn.Embedding(num_items, embed_dim)
        self.genre_embedding = nn.Linear(num_genres, embed_dim, bias=False)
        self.user_embedding = nn.Embedding(num_users, embed_dim) if use_user_id else None
        self.feature_embeddings = nn.ModuleList(
            nn.Embedding(card, embed_dim) for card in user_feature_cardinalities
        )
        for emb in (self.item_embedding, self.user_embedding, *self.feature_embeddings):
            if emb is not None:
                nn.init.normal_(emb.weight, std=0.1)
        parts = 2 + int(use_user_id) + int(history_len > 0) + len(user_feature_cardinalities)
        layers: list[nn.Module] = []
        width = parts * embed_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        out = nn.Linear(width, 1)
        nn.init.constant_(out.bias, output_bias)
        self.head = nn.Sequential(*layers, out)

    def embed(self, item: Tensor, genres: Tensor, user: Tensor, user_features: Tensor) -> Tensor:
        """Input representation of each pair, shape (N, parts * embed_dim).

        Args:
            item: item codes, shape (N,).
            genres: multi-hot genres, shape (N, num_genres).
            user: user codes, shape (N,).
            user_features: categorical user feature codes, shape (N, F).
        """
        genre_count = genres.sum(-1, keepdim=True).clamp(min=1.0)
        parts = [self.item_embedding(item), self.genre_embedding(genres) / genre_count]
        if self.user_embedding is not None:
            parts.append(self.user_embedding(user))
        if self.history_len:
            parts.append(self.pooled_history(user))
        parts += [emb(user_features[:, i]) for i, emb in enumerate(self.feature_embeddings)]
        return torch.cat(parts, dim=-1)

    def set_history(self, items: Tensor, mask: Tensor) -> None:
        """Set each user's source-domain history: item codes and validity, (num_users, H)."""
        self.history.copy_(items)
        self.history_mask.copy_(mask)

    def pooled_history(self, user: Tensor) -> Tensor:
        """Mean item embedding of each user's source history (zeros when empty), (N, D)."""
        mask = self.history_mask[user].unsqueeze(-1)
        summed = (self.item_embedding(self.history[user]) * mask).sum(1)
        return summed / mask.sum(1).clamp(min=1.0)

    def forward(self, item: Tensor, genres: Tensor, user: Tensor, user_features: Tensor) -> Tensor:
        """Score of each pair, shape (N,): a rating or a logit depending on the loss."""
        return self.head(self.embed(item, genres, user, user_features)).squeeze(-1)
