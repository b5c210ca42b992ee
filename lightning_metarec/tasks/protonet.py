"""Prototypical networks for recommendation: liked and not-liked prototypes per user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from lightning_metarec.data.episodes import Episode
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks._learn2learn import l2l
from lightning_metarec.tasks.base import MetaRecTask

__all__ = ["MetricLearningTask", "ProtoNetTask"]

Distance = Literal["euclidean", "cosine"]


class MetricLearningTask(MetaRecTask):
    """Base of the metric-based tasks: an encoder of (user, item) pairs, no inner loop.

    The encoder is the scorer's input representation ``self.model.embed(item, genres, user,
    user_features)`` (item id, genres and user context) followed by an optional linear
    projection. The scorer's decision head (``hidden_dims``) is built but unused.

    Args:
        projection_dim: width of a linear projection after the embedding, or ``None`` for the
            raw concatenated embedding.
        **kwargs: see :class:`~lightning_metarec.tasks.base.MetaRecTask`.
    """

    def __init__(self, projection_dim: int | None = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if projection_dim is not None and projection_dim < 1:
            raise MetaRecError(f"projection_dim must be >= 1 or null, got {projection_dim}")
        width = self._embed_width()
        self.projection: nn.Module = (
            nn.Identity() if projection_dim is None else nn.Linear(width, projection_dim)
        )
        self.feature_dim: int = width if projection_dim is None else projection_dim

    def _embed_width(self) -> int:
        """Width of ``self.model.embed`` (measured on one dummy pair)."""
        schema = self.hparams["schema"]
        long = torch.zeros(1, dtype=torch.long)
        dummy = (
            long,
            torch.zeros(1, schema["num_genres"]),
            long,
            torch.zeros(1, len(schema["user_feature_cardinalities"]), dtype=torch.long),
        )
        with torch.no_grad():
            return int(self.encode(dummy, project=False).shape[-1])

    def encode(self, inputs: tuple[Tensor, ...], project: bool = True) -> Tensor:
        """Features of ``(item, genres, user, user_features)`` rows, shape (N, feature_dim)."""
        features = cast(Callable[..., Tensor], self.model.embed)(*inputs)
        return self.projection(features) if project else features

    def encode_episode(self, episode: Episode) -> tuple[Tensor, Tensor]:
        """Encoded support and query rows (one encoder call, one embedding backward)."""
        support, query = episode.support_inputs(), episode.query_inputs()
        both = tuple(torch.cat(pair) for pair in zip(support, query, strict=True))
        features = self.encode(both)
        return features[: len(support[0])], features[len(support[0]) :]

    def _result(self, loss: Tensor, scores: Tensor, train: bool) -> tuple[Tensor, Tensor]:
        return (loss, scores) if train else (loss.detach(), scores.detach())


def class_means(values: Tensor, liked: Tensor, defaults: Tensor, prior_weight: float) -> Tensor:
    """Per-class means of ``values`` for classes 0 (not liked) and 1 (liked), shrunk to defaults.

    ``mean_c = (sum of class-c rows + prior_weight * defaults[c]) / (n_c + prior_weight)``; a
    class absent from ``values`` gets ``defaults[c]``. With ``prior_weight = 0`` a present
    class gets the plain mean of its rows (the prototype of Snell et al.).

    Args:
        values: (N, D) rows.
        liked: (N,) booleans, the class of each row.
        defaults: (2, D) default per class.
        prior_weight: pseudo-count of the default in each class mean (>= 0).
    """
    onehot = F.one_hot(liked.long(), 2).to(values.dtype)
    counts = onehot.sum(0)
    means = (onehot.T @ values + prior_weight * defaults) / (counts + prior_weight).clamp(
        min=1e-12
    )[:, None]
    return torch.where((counts > 0)[:, None], means, defaults)


class ProtoNetTask(MetricLearningTask):
    """Prototypical Networks (Snell et al. 2017) over two classes, liked and not liked.

    A user's support set defines two prototypes, the means of the encoded support pairs of each
    class (``ranking``: positives vs sampled negatives; ``rating``: rating >= ``like_threshold``
    vs below). Distances come from ``learn2learn.nn.PrototypicalClassifier`` (squared euclidean,
    or cosine with normalized features), and a query candidate's score is the log-odds of the
    liked class, ``d(q, not_liked) - d(q, liked)``: a rank score.

    * ``ranking``: the score is the logit; the training loss is binary cross-entropy on the
      query set (= the two-class cross-entropy of Snell et al.).
    * ``rating``: ``p = sigmoid(a * score + b)`` (``a``, ``b`` meta-learned, init 1 and 0) and
      the predicted rating is ``p * r_liked + (1 - p) * r_not``, where ``r_c`` is the mean support
      rating of class ``c``; trained with MSE. The prediction is increasing in the score, so it
      also ranks.

    A class missing from the support set (e.g. all ratings >= 4) falls back to a meta-learned
    default prototype (and default class rating, init ``like_threshold + 0.5`` and
    ``like_threshold - 1``). With ``prior_weight > 0`` every prototype is also shrunk towards the
    defaults (a pseudo-count), which trains them on every task; ``prior_weight: 0`` is the plain
    ProtoNet mean. The ``noadapt`` row scores with the default prototypes only.

    Args:
        distance: ``euclidean`` (squared, as Snell et al.) or ``cosine``.
        like_threshold: ``rating`` kind: ratings >= this are the liked class.
        prior_weight: pseudo-count of the default prototype in each class mean.
        projection_dim: see :class:`MetricLearningTask`.
        **kwargs: see :class:`~lightning_metarec.tasks.base.MetaRecTask`.
    """

    def __init__(
        self,
        distance: Distance = "euclidean",
        like_threshold: float = 4.0,
        prior_weight: float = 1.0,
        projection_dim: int | None = 64,
        **kwargs: Any,
    ) -> None:
        super().__init__(projection_dim=projection_dim, **kwargs)
        if distance not in ("euclidean", "cosine"):
            raise MetaRecError(f"distance must be 'euclidean' or 'cosine', got {distance!r}")
        if prior_weight < 0:
            raise MetaRecError(f"prior_weight must be >= 0, got {prior_weight}")
        self.classifier = l2l.nn.PrototypicalClassifier(distance=distance)
        self.default_prototypes = nn.Parameter(0.1 * torch.randn(2, self.feature_dim))
        self.default_ratings = nn.Parameter(
            torch.tensor([[like_threshold - 1.0], [like_threshold + 0.5]])
        )
        self.calibration = nn.Parameter(torch.tensor([1.0, 0.0]))

    def liked(self, targets: Tensor) -> Tensor:
        """Class of each support row: positive label, or rating >= ``like_threshold``."""
        if self.kind == "ranking":
            return targets > 0
        return targets >= self.hparams["like_threshold"]

    def prototypes(self, support: Tensor, liked: Tensor) -> Tensor:
        """(2, D) prototypes (row 0 not liked, row 1 liked) of encoded support rows."""
        return class_means(support, liked, self.default_prototypes, self.hparams["prior_weight"])

    def log_odds(self, prototypes: Tensor, query: Tensor) -> Tensor:
        """Liked-vs-not log-odds of encoded query rows: ``d(q, not) - d(q, liked)``.

        The classifier's forward, without storing the prototypes on the module.
        """
        classifier = self.classifier
        if classifier.normalize:  # cosine (the flag shadows the static method)
            prototypes = l2l.nn.PrototypicalClassifier.normalize(prototypes)
            query = l2l.nn.PrototypicalClassifier.normalize(query)
        logits = -classifier.distance(prototypes, query)
        return logits[:, 1] - logits[:, 0]

    def _scores(self, log_odds: Tensor, class_ratings: Tensor) -> Tensor:
        """Logits (``ranking``) or rating predictions (``rating``) from the log-odds."""
        if self.kind == "ranking":
            return log_odds
        p = torch.sigmoid(self.calibration[0] * log_odds + self.calibration[1])
        return p * class_ratings[1, 0] + (1.0 - p) * class_ratings[0, 0]

    def meta_learn(self, episode: Episode, train: bool) -> tuple[Tensor, Tensor]:
        """Prototypes from the support set, then score the query set by distance to them."""
        with torch.set_grad_enabled(train):
            support, query = self.encode_episode(episode)
            liked = self.liked(episode.support_target)
            log_odds = self.log_odds(self.prototypes(support, liked), query)
            ratings = class_means(
                episode.support_target[:, None],
                liked,
                self.default_ratings,
                self.hparams["prior_weight"],
            )
            scores = self._scores(log_odds, ratings)
            loss = self.loss(scores, episode.query_target)
        return self._result(loss, scores, train)

    def score_without_adaptation(self, episode: Episode) -> Tensor:
        """Scores with the default prototypes (and default class ratings) only."""
        with torch.no_grad():
            log_odds = self.log_odds(self.default_prototypes, self.encode(episode.query_inputs()))
            return self._scores(log_odds, self.default_ratings)
