"""Reptile (first-order meta-learning by moving towards adapted weights) with learn2learn clones."""

from __future__ import annotations

from typing import Any, Literal, cast

import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor

from lightning_metarec.data.episodes import Episode, EpisodeBatch
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks.maml import Adapt, MAMLTask

__all__ = ["ReptileTask"]

InnerData = Literal["support_query", "support"]


class ReptileTask(MAMLTask):
    """Reptile (Nichol et al. 2018): meta-parameters move towards each task's adapted weights.

    Meta-training (manual optimization): for every task of the batch a clone of the model takes
    ``inner_steps`` plain SGD steps of size ``inner_lr`` on the task's data (support and query
    sets together by default, ``inner_data: support`` for the support set only); then every
    parameter receives the "gradient" ``theta - mean_over_tasks(theta_adapted)`` and the
    configured outer optimizer takes one step. With ``SGD(lr=epsilon)`` this is exactly
    Reptile's update ``theta <- theta + epsilon * mean(theta_adapted - theta)``; with Adam (the
    default) the same direction is rescaled per parameter. No second-order term and no graph
    through the inner loop is ever built.

    Validation and test are those of :class:`~lightning_metarec.tasks.maml.MAMLTask`: a clone is
    fine-tuned ``eval_inner_steps`` SGD steps on the support set and scores the query set.

    Args:
        inner_lr: inner-loop SGD step size (training and evaluation).
        inner_steps: inner SGD steps per task during meta-training (1 step is joint training on
            the tasks' data; Reptile needs several).
        eval_inner_steps: fine-tuning steps at validation/test (default: ``inner_steps``).
        inner_data: ``support_query`` (all of a training task's interactions) or ``support``.
        adapt: must be ``all``: Reptile only moves adapted weights, so with ``head`` the
            embeddings would never be trained.
        **kwargs: see :class:`~lightning_metarec.tasks.base.MetaRecTask`.
    """

    def __init__(
        self,
        inner_lr: float = 0.05,
        inner_steps: int = 5,
        eval_inner_steps: int | None = None,
        inner_data: InnerData = "support_query",
        adapt: Adapt = "all",
        **kwargs: Any,
    ) -> None:
        if adapt != "all":
            raise MetaRecError(
                "Reptile needs adapt: all (it only moves adapted weights, so the embeddings "
                "would never be trained with adapt: head)"
            )
        if inner_data not in ("support_query", "support"):
            raise MetaRecError(
                f"inner_data must be 'support_query' or 'support', got {inner_data!r}"
            )
        super().__init__(
            inner_lr=inner_lr,
            inner_steps=inner_steps,
            eval_inner_steps=eval_inner_steps,
            first_order=True,
            adapt=adapt,
            **kwargs,
        )
        self.automatic_optimization = False

    def _inner_data(self, episode: Episode) -> tuple[tuple[Tensor, ...], Tensor]:
        """Inputs and targets the inner loop trains on."""
        support = episode.support_inputs()
        if self.hparams["inner_data"] == "support":
            return support, episode.support_target
        query = episode.query_inputs()
        inputs = tuple(torch.cat((s, q)) for s, q in zip(support, query, strict=True))
        return inputs, torch.cat((episode.support_target, episode.query_target))

    def adapted_weights(self, episode: Episode) -> tuple[list[Tensor], Tensor]:
        """Weights after the inner loop on ``episode`` and the adapted query loss (detached).

        Returns:
            ``(weights, query_loss)``: one detached tensor per ``self.model`` parameter, in the
            order of ``self.model.parameters()``.
        """
        inputs, targets = self._inner_data(episode)
        with torch.enable_grad():
            learner = self.maml.clone()
            for _ in range(self.hparams["inner_steps"]):
                learner.adapt(self.loss(learner(*inputs), targets), first_order=True)
        with torch.no_grad():
            query_loss = self.loss(learner(*episode.query_inputs()), episode.query_target)
        return [p.detach() for p in learner.parameters()], query_loss

    def training_step(self, batch: EpisodeBatch, batch_idx: int) -> Tensor:
        """One Reptile meta-update from the batch's tasks; returns the mean adapted query loss."""
        params = list(self.model.parameters())
        targets = [torch.zeros_like(p) for p in params]
        losses = []
        for episode in batch.episodes():
            weights, loss = self.adapted_weights(episode)
            losses.append(loss)
            for target, weight in zip(targets, weights, strict=True):
                target.add_(weight, alpha=1.0 / len(batch))
        optimizer = cast(LightningOptimizer, self.optimizers())
        optimizer.zero_grad()
        for param, target in zip(params, targets, strict=True):
            param.grad = param.detach() - target
        optimizer.step()
        loss = torch.stack(losses).mean()
        self.log("train/loss", loss, batch_size=len(batch), prog_bar=True)
        return loss
