"""Non-meta baselines on the same DataModule: a global model, optionally fine-tuned per user."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from lightning_metarec.data.episodes import Episode
from lightning_metarec.models import MFScorer
from lightning_metarec.tasks._learn2learn import l2l
from lightning_metarec.tasks.base import MetaRecTask

__all__ = ["GlobalModelTask"]


class GlobalModelTask(MetaRecTask):
    """One model trained on all meta-train interactions, no meta-learning.

    Training minimizes the loss on the support and query sets of every meta-train task together
    (plain supervised learning over the same interactions the meta-learners see). Evaluation
    scores a new user's candidates directly (``finetune_steps: 0``, the "global model" row) or
    after ``finetune_steps`` gradient steps on a copy fitted to the user's support set (the
    "fine-tuned" baseline, the strongest simple baseline in the cold-start literature).

    Args:
        model: ``melu`` (the same scorer as the meta-learners) or ``mf`` (biased matrix
            factorization).
        finetune_steps: SGD steps on each evaluated user's support set.
        finetune_lr: step size of that fine-tuning.
        **kwargs: see :class:`~lightning_metarec.tasks.base.MetaRecTask`.
    """

    def __init__(
        self,
        model: Literal["melu", "mf"] = "melu",
        finetune_steps: int = 0,
        finetune_lr: float = 0.05,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.finetuner = l2l.algorithms.MAML(self.model, lr=finetune_lr, allow_unused=True)

    def build_model(self) -> nn.Module:
        """MeLU scorer (default) or biased MF, from the data schema."""
        if self.hparams["model"] == "mf":
            schema = self.hparams["schema"]
            bias = schema["rating_mean"] if self.kind == "rating" else 0.0
            return MFScorer(
                schema["num_users"], schema["num_items"], self.hparams["embed_dim"], bias
            )
        return super().build_model()

    def meta_learn(self, episode: Episode, train: bool) -> tuple[Tensor, Tensor]:
        """Train: loss on support and query together. Eval: optionally fine-tune a copy."""
        if train:
            support = self.model(*episode.support_inputs())
            query = self.model(*episode.query_inputs())
            scores = torch.cat((support, query))
            targets = torch.cat((episode.support_target, episode.query_target))
            return self.loss(scores, targets), query
        with torch.enable_grad():
            learner = self.finetuner.clone()
            for _ in range(self.hparams["finetune_steps"]):
                support = learner(*episode.support_inputs())
                learner.adapt(self.loss(support, episode.support_target), first_order=True)
            scores = learner(*episode.query_inputs())
            loss = self.loss(scores, episode.query_target)
        return loss.detach(), scores.detach()
