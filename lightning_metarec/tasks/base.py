"""Base LightningModule: owns the train/val/test steps and metrics; algorithms own meta_learn."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from lightning import LightningModule
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812
from torchmetrics import CatMetric, MetricCollection

from lightning_metarec.data.episodes import Episode, EpisodeBatch
from lightning_metarec.errors import MetaRecError
from lightning_metarec.metrics import build_metrics, empty_queries
from lightning_metarec.metrics.retrieval import Gain, HitRateAtK, NDCGAtK
from lightning_metarec.models import MeLUScorer
from lightning_metarec.precision import check_precision

__all__ = ["BASELINES", "MetaRecTask"]

#: Rows evaluated beside the algorithm at test time, as ``test/<row>/<metric>``.
BASELINES = ("noadapt", "popularity")

_GROUP_STRIDE = 1 << 20  # ranking kind: query group id = task_index * stride + positive number


class MetaRecTask(LightningModule, ABC):
    """Shared steps for meta-learning recommenders over :class:`EpisodeBatch` batches.

    Subclasses implement :meth:`meta_learn` (adapt to one task's support set, score its query
    set) and may override :meth:`build_model` to plug in another ``nn.Module`` taking
    ``(item, genres, user, user_features)`` and returning one score per row.

    At test time three rows are evaluated on the same tasks and candidates: the algorithm,
    ``noadapt`` (the meta-learned model scoring without adaptation) and ``popularity`` (items
    ranked by meta-train users' interaction count in the target domain; its MAE/RMSE predict
    the item's shrunk mean training rating).

    Args:
        schema: data sizes from ``MetaRecDataModule.schema`` (linked by the CLI): num_users,
            num_items, num_genres, user_feature_cardinalities, task_kind, rating_mean.
        embed_dim: embedding size of the default scorer.
        hidden_dims: decision-head widths of the default scorer.
        use_user_id: give the default scorer a user-id embedding.
        ks: metric cut-offs (``ndcg@K``, ``hr@K``).
        ndcg_gain: ``exponential`` (2**rel - 1) or ``linear`` NDCG gain for graded relevance.
        lr: Adam learning rate, used only when no optimizer is configured (the CLI's
            ``optimizer:`` key overrides it).
        source_history: if > 0, the default scorer also pools the embeddings of each user's
            latest ``source_history`` source-domain items into a user representation (taken
            from the DataModule at setup; cross-domain cold start).
    """

    model: nn.Module
    metrics: nn.ModuleDict
    evaluated: nn.ModuleDict

    def __init__(
        self,
        schema: dict[str, Any] | None = None,
        embed_dim: int = 32,
        hidden_dims: Sequence[int] = (64, 64),
        use_user_id: bool = True,
        ks: Sequence[int] = (10,),
        ndcg_gain: Gain = "exponential",
        lr: float = 1e-3,
        source_history: int = 0,
    ) -> None:
        super().__init__()
        if schema is None:
            raise MetaRecError(
                "the task needs the data schema: pass schema=datamodule.schema "
                "(the CLI links it from data automatically)"
            )
        self.save_hyperparameters()
        self.kind: str = schema["task_kind"]
        self.model = self.build_model()
        self.metrics = nn.ModuleDict(
            {
                name: build_metrics(self.kind, ks, ndcg_gain)
                for name in ("val", "test", *(f"test_{b}" for b in BASELINES))
            }
        )
        # task indices scored per split, gathered across processes: guards against duplicates
        self.evaluated = nn.ModuleDict({"val": CatMetric(), "test": CatMetric()})
        self.eval_protocol = "query_only"  # candidates of the batches being evaluated

    # ------------------------------------------------------------------ extension points
    def build_model(self) -> nn.Module:
        """Build the scorer from ``self.hparams`` (override to plug in your own model)."""
        hp, schema = self.hparams, self.hparams["schema"]
        return MeLUScorer(
            num_users=schema["num_users"],
            num_items=schema["num_items"],
            num_genres=schema["num_genres"],
            user_feature_cardinalities=schema["user_feature_cardinalities"],
            embed_dim=hp["embed_dim"],
            hidden_dims=hp["hidden_dims"],
            use_user_id=hp["use_user_id"],
            output_bias=schema["rating_mean"] if self.kind == "rating" else 0.0,
            history_len=hp["source_history"],
        )

    def setup(self, stage: str) -> None:
        """Check the precision plugin; give the scorer users' source-domain history."""
        if stage == "fit" and self._trainer is not None:
            check_precision(self.trainer, self)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if self.hparams["source_history"] and datamodule is not None:
            self.attach_history(datamodule)

    def attach_history(self, datamodule: Any) -> None:
        """Copy ``datamodule.source_history`` into the scorer's history buffers."""
        items, mask = datamodule.source_history(self.hparams["source_history"])
        set_history = cast(Callable[[Tensor, Tensor], None], self.model.set_history)
        set_history(torch.from_numpy(items), torch.from_numpy(mask))

    @abstractmethod
    def meta_learn(self, episode: Episode, train: bool) -> tuple[Tensor, Tensor]:
        """Adapt to ``episode``'s support set and score its query set.

        Args:
            episode: one task.
            train: meta-training (the loss must carry gradients to the meta-parameters) or
                evaluation (return detached scores; never change meta-parameters).

        Returns:
            ``(query_loss, query_scores)``.
        """

    def loss(self, scores: Tensor, targets: Tensor) -> Tensor:
        """MSE on ratings (``rating``) or binary cross-entropy on logits (``ranking``).

        In the ``rating`` kind, target 0 marks an evaluation candidate that is not a rating
        (sampled/full negatives); those rows are left out of the MSE.
        """
        if self.kind == "rating":
            rated = targets > 0
            return F.mse_loss(scores[rated], targets[rated])
        return F.binary_cross_entropy_with_logits(scores, targets)

    def score_without_adaptation(self, episode: Episode) -> Tensor:
        """Scores of the query set by the meta-learned model itself (the ``noadapt`` row)."""
        with torch.no_grad():
            return self.model(*episode.query_inputs())

    # ------------------------------------------------------------------ steps
    def training_step(self, batch: EpisodeBatch, batch_idx: int) -> Tensor:
        """Mean query loss over the batch's tasks after adaptation."""
        losses = [self.meta_learn(ep, train=True)[0] for ep in batch.episodes()]
        loss = torch.stack(losses).mean()
        self.log("train/loss", loss, batch_size=len(batch), prog_bar=True)
        return loss

    def _check_grad_mode(self) -> None:
        if torch.is_inference_mode_enabled():
            raise MetaRecError(
                "evaluation adapts on each user's support set and needs gradients: "
                "set trainer.inference_mode: false (Trainer(inference_mode=False))"
            )

    def validation_step(self, batch: EpisodeBatch, batch_idx: int) -> None:
        """Adapt on each validation user's support set and score the query candidates."""
        self._check_grad_mode()
        self.eval_protocol = batch.protocol
        cast(CatMetric, self.evaluated["val"]).update(batch.task_index.float())
        losses = []
        for ep in batch.episodes():
            loss, scores = self.meta_learn(ep, train=False)
            losses.append(loss.detach())
            self._update(self._metrics("val"), ep, scores)
        self.log("val/loss", torch.stack(losses).mean(), batch_size=len(batch))

    def test_step(self, batch: EpisodeBatch, batch_idx: int) -> None:
        """Score each test user by the algorithm and by the baselines on the same candidates."""
        self._check_grad_mode()
        self.eval_protocol = batch.protocol
        cast(CatMetric, self.evaluated["test"]).update(batch.task_index.float())
        for ep in batch.episodes():
            _, scores = self.meta_learn(ep, train=False)
            self._update(self._metrics("test"), ep, scores)
            self._update(self._metrics("test_noadapt"), ep, self.score_without_adaptation(ep))
            self._update(
                self._metrics("test_popularity"), ep, ep.query_popularity, ep.query_item_mean
            )

    def predict_step(self, batch: EpisodeBatch, batch_idx: int) -> dict[str, Tensor]:
        """Adapted scores of every query candidate: ``{"user", "item", "score"}`` per row."""
        users, items, scores = [], [], []
        with torch.inference_mode(False):
            for ep in batch.episodes():
                users.append(ep.user.expand(ep.query_item.shape[0]))
                items.append(ep.query_item)
                scores.append(self.meta_learn(ep, train=False)[1])
        return {"user": torch.cat(users), "item": torch.cat(items), "score": torch.cat(scores)}

    # ------------------------------------------------------------------ metrics
    def _metrics(self, name: str) -> MetricCollection:
        return cast(MetricCollection, self.metrics[name])

    def _update(
        self, metrics: MetricCollection, ep: Episode, scores: Tensor, ratings: Tensor | None = None
    ) -> None:
        """Feed one task to ``metrics``; ``ratings`` overrides the regression predictions."""
        scores = scores.detach().float()
        ranked = self._ranking_groups(ep, scores)
        real = ep.query_target > 0
        for metric in metrics.values():
            if isinstance(metric, NDCGAtK | HitRateAtK):
                metric.update(*ranked)
            else:
                preds = scores if ratings is None else ratings.float()
                metric.update(preds[real], ep.query_target[real])

    def _ranking_groups(self, ep: Episode, scores: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(preds, target, indexes)`` for the retrieval metrics, by candidate protocol.

        ``query_only``: one group per task, its query items graded by their target (rating, or
        1 in the ``ranking`` kind). ``sampled``: one group per query item, holding it and the
        task's shared sampled negatives (binary relevance). ``full``: one group per task, all
        its candidates, query items relevant (binary).
        """
        target = ep.query_target
        task = torch.full_like(target, ep.task_index, dtype=torch.long)
        if ep.protocol == "query_only":
            return scores, target, task
        relevant = (target > 0).float()
        if ep.protocol == "full":
            return scores, relevant, task
        pos, neg = target > 0, target == 0
        n_pos, n_neg = int(pos.sum()), int(neg.sum())
        preds = torch.cat((scores[pos][:, None], scores[neg].expand(n_pos, n_neg)), dim=1)
        labels = torch.zeros_like(preds)
        labels[:, 0] = 1.0
        group = ep.task_index * _GROUP_STRIDE + torch.arange(n_pos, device=preds.device)
        return preds.flatten(), labels.flatten(), group[:, None].expand_as(preds).flatten()

    def _log_metrics(self, name: str, prefix: str) -> None:
        collection = self._metrics(name)
        values = collection.compute()
        if self.kind == "rating" and self.eval_protocol == "query_only":
            # every candidate is a rated query item: HR@K is 1 by construction, not a result
            values = {k: v for k, v in values.items() if not k.startswith("hr@")}
        self.log_dict({f"{prefix}/{k}": v for k, v in values.items()}, sync_dist=False)
        retrieval = [m for m in collection.values() if isinstance(m, NDCGAtK)]
        if retrieval and name in ("val", "test"):
            self.log(f"{prefix}/skipped_queries", float(empty_queries(retrieval[0])))
        collection.reset()

    def _log_evaluated(self, split: str) -> None:
        """Log ``<split>/users`` and refuse an evaluation that scored a task twice."""
        metric = cast(CatMetric, self.evaluated[split])
        if not metric.update_called:
            return
        seen = metric.compute().long()
        metric.reset()
        if seen.unique().numel() != seen.numel():
            raise MetaRecError(
                f"{split} evaluation scored some users more than once (a padding sampler?); "
                "metrics would be biased. Use the DataModule's own loaders with "
                "trainer.use_distributed_sampler: false"
            )
        self.log(f"{split}/users", float(seen.numel()))

    def on_validation_epoch_end(self) -> None:
        """Log ``val/<metric>`` and ``val/users``."""
        self._log_evaluated("val")
        self._log_metrics("val", "val")

    def on_test_epoch_end(self) -> None:
        """Log ``test/<metric>``, ``test/<baseline>/<metric>`` and ``test/users``."""
        self._log_evaluated("test")
        self._log_metrics("test", "test")
        for baseline in BASELINES:
            self._log_metrics(f"test_{baseline}", f"test/{baseline}")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam over all parameters (replaced by the CLI's ``optimizer:`` when given)."""
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])
