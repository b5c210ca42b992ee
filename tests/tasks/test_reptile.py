import copy

import pytest
import torch
from lightning import Callback

from lightning_metarec.data.episodes import EpisodeBatch
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks import ReptileTask
from tests.conftest import SyntheticDataModule
from tests.tasks.test_maml import _episode, _trainer

EPSILON = 0.5


class _SGDReptile(ReptileTask):
    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=EPSILON)


class _FirstBatch(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch: EpisodeBatch, batch_idx) -> None:
        self.batch = batch
        self.before = copy.deepcopy(pl_module.model)


def _task(dm: SyntheticDataModule, cls=ReptileTask, **kwargs) -> ReptileTask:
    torch.manual_seed(0)
    return cls(schema=dm.schema, embed_dim=8, hidden_dims=(16,), **kwargs)


def _sgd_adapted(model, task: ReptileTask, batch: EpisodeBatch, support_only: bool):
    """Independent inner loop: plain torch SGD on a deep copy."""
    ep = batch.episode(0)
    inputs, targets = ep.support_inputs(), ep.support_target
    if not support_only:
        inputs = tuple(torch.cat(pair) for pair in zip(inputs, ep.query_inputs(), strict=True))
        targets = torch.cat((targets, ep.query_target))
    clone = copy.deepcopy(model)
    opt = torch.optim.SGD(clone.parameters(), lr=task.hparams["inner_lr"])
    for _ in range(task.hparams["inner_steps"]):
        opt.zero_grad()
        task.loss(clone(*inputs), targets).backward()
        opt.step()
    return clone


@pytest.mark.parametrize("kind", ["rating", "ranking"])
@pytest.mark.parametrize("inner_data", ["support_query", "support"])
def test_one_step_moves_weights_epsilon_towards_the_adapted_weights(kind, inner_data) -> None:
    dm = SyntheticDataModule(task_kind=kind, batch_size=1)
    task = _task(dm, cls=_SGDReptile, inner_lr=0.1, inner_steps=3, inner_data=inner_data)
    spy = _FirstBatch()
    trainer = _trainer(max_steps=1, limit_val_batches=0, callbacks=[spy])
    trainer.fit(task, datamodule=dm)
    assert trainer.global_step == 1
    adapted = _sgd_adapted(spy.before, task, spy.batch, inner_data == "support")
    moved = 0.0
    for (name, new), old, ada in zip(
        task.model.named_parameters(),
        spy.before.parameters(),
        adapted.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(new - old, EPSILON * (ada - old), rtol=1e-4, atol=1e-6, msg=name)
        moved += float((new - old).detach().abs().sum())
    assert moved > 0


def test_adapted_weights_ignore_the_query_set_when_inner_data_is_support(synthetic_dm) -> None:
    task = _task(synthetic_dm, inner_data="support", inner_steps=2)
    ep = _episode(synthetic_dm, "train")
    first, _ = task.adapted_weights(ep)
    ep.query_target = torch.flip(ep.query_target, (0,))
    second, _ = task.adapted_weights(ep)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_head_adaptation_and_bad_inner_data_are_refused(synthetic_dm) -> None:
    with pytest.raises(MetaRecError, match="adapt: all"):
        _task(synthetic_dm, adapt="head")
    with pytest.raises(MetaRecError, match="inner_data"):
        _task(synthetic_dm, inner_data="query")


def test_fit_then_test_evaluates_without_changing_weights(synthetic_dm) -> None:
    task = _task(synthetic_dm, inner_steps=2, eval_inner_steps=2)
    trainer = _trainer(max_epochs=1, limit_train_batches=2)
    trainer.fit(task, datamodule=synthetic_dm)
    assert not task.automatic_optimization and trainer.global_step == 2
    state = {k: v.clone() for k, v in task.state_dict().items()}
    metrics = trainer.test(task, datamodule=synthetic_dm, verbose=False)[0]
    assert all(torch.equal(state[k], v) for k, v in task.state_dict().items())
    for row in ("test", "test/noadapt", "test/popularity"):
        assert 0.0 <= metrics[f"{row}/ndcg@10"] <= 1.0
