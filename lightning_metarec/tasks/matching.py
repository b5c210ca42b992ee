"""Matching networks for recommendation: cosine attention over a user's support interactions."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from lightning_metarec.data.episodes import Episode
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks.protonet import MetricLearningTask

__all__ = ["MatchingNetTask"]


class MatchingNetTask(MetricLearningTask):
    """Matching Networks (Vinyals et al. 2016) without full-context embeddings.

    Query candidates and support interactions are encoded by the same encoder (see
    :class:`~lightning_metarec.tasks.protonet.MetricLearningTask`); the attention of a query
    ``q`` on support row ``i`` is ``a(q, s_i) = softmax_i(cos(q, s_i) / temperature)`` and the
    prediction is ``sum_i a(q, s_i) * y_i``.

    * ``rating``: ``y_i`` are the support ratings, the prediction is a rating (MSE loss) and
      also the rank score.
    * ``ranking``: ``y_i`` are 1/0 labels, the prediction is the attention mass on the positives
      ``p``; the score is its logit, ``logsumexp`` of the attention logits over positives minus
      over negatives (exact and stable), and the loss is binary cross-entropy on ``p``. Every
      ranking support set needs sampled negatives (``data.train_negatives >= 1``).

    The ``noadapt`` row has nothing to attend to: it predicts ``rating_mean`` (``rating``) or a
    zero logit (``ranking``) for every candidate, i.e. chance-level ranking (ties are scored by
    expectation).

    Args:
        temperature: initial softmax temperature of the cosine similarities (1 as Vinyals et
            al.; cosines lie in [-1, 1], so a smaller one, e.g. 0.1, sharpens the attention).
        learn_temperature: meta-learn the temperature (as a log inverse temperature).
        projection_dim: see :class:`~lightning_metarec.tasks.protonet.MetricLearningTask`.
        **kwargs: see :class:`~lightning_metarec.tasks.base.MetaRecTask`.
    """

    def __init__(
        self,
        temperature: float = 1.0,
        learn_temperature: bool = True,
        projection_dim: int | None = 64,
        **kwargs: Any,
    ) -> None:
        super().__init__(projection_dim=projection_dim, **kwargs)
        if temperature <= 0:
            raise MetaRecError(f"temperature must be > 0, got {temperature}")
        log_inv = torch.tensor(-math.log(temperature))
        self.log_inv_temperature = nn.Parameter(log_inv, requires_grad=learn_temperature)

    def attention_logits(self, query: Tensor, support: Tensor) -> Tensor:
        """(Q, S) cosine similarities of encoded rows divided by the temperature."""
        cosine = F.normalize(query, dim=-1) @ F.normalize(support, dim=-1).T
        return cosine * self.log_inv_temperature.exp()

    def attention(self, query: Tensor, support: Tensor) -> Tensor:
        """(Q, S) attention ``a(q, s_i)`` of each query row over the support (rows sum to 1)."""
        return self.attention_logits(query, support).softmax(dim=-1)

    def predict(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Attended rating (``rating``) or logit of the attention mass on positives (``ranking``).

        Args:
            logits: (Q, S) attention logits from :meth:`attention_logits`.
            targets: (S,) support ratings or 1/0 labels.
        """
        if self.kind == "rating":
            return logits.softmax(dim=-1) @ targets
        positive = targets > 0
        if bool(positive.all()) or not bool(positive.any()):
            raise MetaRecError(
                "MatchingNet needs positives and sampled negatives in every ranking support "
                "set: set data.train_negatives >= 1"
            )
        return logits[:, positive].logsumexp(-1) - logits[:, ~positive].logsumexp(-1)

    def meta_learn(self, episode: Episode, train: bool) -> tuple[Tensor, Tensor]:
        """Attend from each query candidate over the support set and predict its target."""
        with torch.set_grad_enabled(train):
            support, query = self.encode_episode(episode)
            logits = self.attention_logits(query, support)
            scores = self.predict(logits, episode.support_target)
            loss = self.loss(scores, episode.query_target)
        return self._result(loss, scores, train)

    def score_without_adaptation(self, episode: Episode) -> Tensor:
        """A constant: ``rating_mean`` (``rating``) or a zero logit (``ranking``)."""
        fill = self.hparams["schema"]["rating_mean"] if self.kind == "rating" else 0.0
        return torch.full_like(episode.query_target, fill)
