"""MAML (second- or first-order, all parameters or head only) with learn2learn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from lightning_metarec.data.episodes import Episode
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks._learn2learn import l2l
from lightning_metarec.tasks.base import MetaRecTask

__all__ = ["MAMLTask"]

Adapt = Literal["all", "head"]


class MAMLTask(MetaRecTask):
    """Model-Agnostic Meta-Learning (Finn et al. 2017) via ``learn2learn.algorithms.MAML``.

    For each task a differentiable clone of the adapted parameters takes ``inner_steps``
    gradient steps on the support loss; the query loss of the adapted clone is the meta-loss.
    Validation and test adapt the same way (first-order, no graph kept) from the meta-learned
    initialization, which is never modified.

    Args:
        inner_lr: inner-loop (adaptation) learning rate.
        inner_steps: adaptation steps during meta-training.
        eval_inner_steps: adaptation steps at validation/test (default: ``inner_steps``).
        first_order: drop second-order terms of the meta-gradient (FOMAML).
        adapt: ``all`` parameters, or ``head`` only (MeLU's local update of the decision layers;
            ANIL-style: embeddings are meta-learned but fixed within a task).
        **kwargs: see :class:`~lightning_metarec.tasks.base.MetaRecTask`.
    """

    def __init__(
        self,
        inner_lr: float = 0.01,
        inner_steps: int = 1,
        eval_inner_steps: int | None = None,
        first_order: bool = False,
        adapt: Adapt = "all",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if adapt not in ("all", "head"):
            raise MetaRecError(f"adapt must be 'all' or 'head', got {adapt!r}")
        if inner_steps < 0 or (eval_inner_steps is not None and eval_inner_steps < 0):
            raise MetaRecError("inner_steps and eval_inner_steps must be >= 0")
        adapted = self.model if adapt == "all" else cast(nn.Module, self.model.head)
        self.maml = l2l.algorithms.MAML(
            adapted, lr=inner_lr, first_order=first_order, allow_unused=True
        )

    def _scorer(self, learner: nn.Module, inputs: tuple[Tensor, ...]) -> Tensor:
        """Scores of ``inputs`` by ``learner`` (the whole model, or the head on embeddings)."""
        if self.hparams["adapt"] == "all":
            return learner(*inputs)
        embed = cast(Callable[..., Tensor], self.model.embed)
        return learner(embed(*inputs)).squeeze(-1)

    def meta_learn(self, episode: Episode, train: bool) -> tuple[Tensor, Tensor]:
        """Adapt a clone on the support set, then score the query set with it."""
        hp = self.hparams
        steps = (
            hp["inner_steps"] if train or hp["eval_inner_steps"] is None else hp["eval_inner_steps"]
        )
        with torch.enable_grad():
            learner = self.maml.clone()
            for _ in range(steps):
                support = self._scorer(learner, episode.support_inputs())
                learner.adapt(
                    self.loss(support, episode.support_target),
                    first_order=None if train else True,
                )
            scores = self._scorer(learner, episode.query_inputs())
            loss = self.loss(scores, episode.query_target)
        if train:
            return loss, scores
        return loss.detach(), scores.detach()
