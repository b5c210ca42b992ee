import gc

import pytest
import torch
from lightning import Trainer

from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks import MAMLTask
from tests.conftest import SyntheticDataModule


def _task(dm: SyntheticDataModule, **kwargs) -> MAMLTask:
    torch.manual_seed(0)
    return MAMLTask(schema=dm.schema, embed_dim=8, hidden_dims=(16,), **kwargs)


def _episode(dm: SyntheticDataModule, stage: str = "val"):
    loader = dm.val_dataloader() if stage == "val" else dm.train_dataloader()
    return next(iter(loader)).episode(0)


def _trainer(**kwargs) -> Trainer:
    kwargs.setdefault("inference_mode", False)
    return Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def test_support_loss_falls_after_adaptation(synthetic_dm) -> None:
    task = _task(synthetic_dm, inner_lr=0.05)
    ep = _episode(synthetic_dm)
    learner = task.maml.clone()
    losses = []
    for _ in range(5):
        loss = task.loss(learner(*ep.support_inputs()), ep.support_target)
        losses.append(float(loss.detach()))
        learner.adapt(loss)
    assert losses[-1] < losses[0]


def _meta_grads(dm, first_order: bool) -> dict[str, torch.Tensor]:
    task = _task(dm, inner_lr=0.5, inner_steps=2, first_order=first_order)
    task.zero_grad()
    loss, _ = task.meta_learn(_episode(dm), train=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in task.model.named_parameters() if p.grad is not None}


def test_second_order_gradients_reach_outer_params_and_differ_from_first_order(
    synthetic_dm,
) -> None:
    second, first = _meta_grads(synthetic_dm, False), _meta_grads(synthetic_dm, True)
    for name in ("head.0.weight", "item_embedding.weight", "genre_embedding.weight"):
        assert second[name].abs().sum() > 0, name
    assert not torch.allclose(second["head.0.weight"], first["head.0.weight"])


def test_head_adaptation_wraps_only_the_decision_head(synthetic_dm) -> None:
    task = _task(synthetic_dm, adapt="head")
    assert task.maml.module is task.model.head
    loss, _ = task.meta_learn(_episode(synthetic_dm, "train"), train=True)
    loss.backward()
    assert task.model.item_embedding.weight.grad is not None  # meta-learned, not adapted


def test_evaluation_changes_no_parameter_and_repeats_exactly(synthetic_dm) -> None:
    task = _task(synthetic_dm, eval_inner_steps=3)
    before = {k: v.clone() for k, v in task.state_dict().items()}
    first = _trainer().validate(task, datamodule=synthetic_dm, verbose=False)[0]
    second = _trainer().validate(task, datamodule=synthetic_dm, verbose=False)[0]
    assert first == second
    after = task.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in task.parameters())


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


def test_memory_does_not_grow_with_evaluated_users(synthetic_dm) -> None:
    task = _task(synthetic_dm, eval_inner_steps=2)
    episodes = [ep for b in synthetic_dm.val_dataloader() for ep in b.episodes()]
    kept = []
    task.meta_learn(episodes[0], train=False)
    baseline = _live_tensors()
    for ep in episodes * 3:
        loss, scores = task.meta_learn(ep, train=False)
        del loss
        assert scores.grad_fn is None and not scores.requires_grad
        kept.append(scores)
    assert _live_tensors() - baseline <= len(kept)  # only the kept score vectors remain


def test_inference_mode_is_refused_with_a_clear_message(synthetic_dm) -> None:
    task = _task(synthetic_dm)
    with pytest.raises(MetaRecError, match="inference_mode: false"):
        _trainer(inference_mode=True).validate(task, datamodule=synthetic_dm, verbose=False)


def test_fit_then_test_logs_algorithm_and_baselines(synthetic_dm) -> None:
    task = _task(synthetic_dm, eval_inner_steps=2)
    trainer = _trainer(max_epochs=1, limit_train_batches=3)
    trainer.fit(task, datamodule=synthetic_dm)
    metrics = trainer.test(task, datamodule=synthetic_dm, verbose=False)[0]
    for row in ("test", "test/noadapt", "test/popularity"):
        assert f"{row}/ndcg@10" in metrics
        assert 0.0 <= metrics[f"{row}/ndcg@10"] <= 1.0
    extra = "rmse" if synthetic_dm.hparams.task_kind == "rating" else "hr@10"
    assert f"test/{extra}" in metrics


def test_predict_returns_adapted_scores(synthetic_dm) -> None:
    task = _task(synthetic_dm)
    out = _trainer().predict(task, datamodule=synthetic_dm)
    first = out[0]
    assert first["user"].shape == first["item"].shape == first["score"].shape


def test_missing_schema_is_a_clear_error() -> None:
    with pytest.raises(MetaRecError, match="schema"):
        MAMLTask()
