import pytest
import torch
from torch.func import functional_call

from lightning_metarec.tasks import MetaSGDTask
from tests.conftest import SyntheticDataModule
from tests.tasks.test_maml import _episode, _trainer


def _task(dm: SyntheticDataModule, **kwargs) -> MetaSGDTask:
    torch.manual_seed(0)
    return MetaSGDTask(schema=dm.schema, embed_dim=8, hidden_dims=(16,), **kwargs)


def _set_distinct_rates(task: MetaSGDTask) -> None:
    with torch.no_grad():
        for i, rate in enumerate(task.maml.lrs):
            rate.copy_(torch.rand_like(rate) * 0.1 + 0.01 * (i + 1))


def test_one_inner_step_uses_the_learned_per_parameter_rates(synthetic_dm) -> None:
    task = _task(synthetic_dm, inner_steps=1)
    _set_distinct_rates(task)
    ep = _episode(synthetic_dm)
    params = dict(task.model.named_parameters())
    support_loss = task.loss(task.model(*ep.support_inputs()), ep.support_target)
    grads = torch.autograd.grad(support_loss, list(params.values()))
    rates = dict(zip(params, task.maml.lrs, strict=True))
    expected = {
        name: (p - rates[name] * g).detach()
        for (name, p), g in zip(params.items(), grads, strict=True)
    }
    _, scores = task.meta_learn(ep, train=True)
    want = functional_call(task.model, expected, ep.query_inputs())
    torch.testing.assert_close(scores, want, rtol=1e-5, atol=1e-6)
    # the same step through learn2learn's clone, parameter by parameter
    learner = task.maml.clone()
    learner.adapt(task.loss(learner(*ep.support_inputs()), ep.support_target))
    for name, adapted in learner.module.named_parameters():
        torch.testing.assert_close(adapted, expected[name], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("first_order", [False, True])
def test_learned_rates_get_meta_gradients_and_are_optimized(synthetic_dm, first_order) -> None:
    task = _task(synthetic_dm, first_order=first_order)
    optimized = {
        id(p) for group in task.configure_optimizers().param_groups for p in group["params"]
    }
    assert all(id(rate) in optimized for rate in task.maml.lrs)
    loss, _ = task.meta_learn(_episode(synthetic_dm, "train"), train=True)
    loss.backward()
    assert all(rate.grad is not None for rate in task.maml.lrs)
    assert sum(float(rate.grad.abs().sum()) for rate in task.maml.lrs) > 0


def test_head_adaptation_learns_rates_for_the_head_only(synthetic_dm) -> None:
    task = _task(synthetic_dm, adapt="head")
    assert task.maml.module is task.model.head
    assert len(task.maml.lrs) == len(list(task.model.head.parameters()))


def test_fit_moves_the_rates_and_test_logs_all_rows(synthetic_dm) -> None:
    task = _task(synthetic_dm, inner_lr=0.05, eval_inner_steps=2)
    before = [rate.detach().clone() for rate in task.maml.lrs]
    trainer = _trainer(max_epochs=1, limit_train_batches=2)
    trainer.fit(task, datamodule=synthetic_dm)
    assert any(not torch.equal(b, r) for b, r in zip(before, task.maml.lrs, strict=True))
    state = {k: v.clone() for k, v in task.state_dict().items()}
    metrics = trainer.test(task, datamodule=synthetic_dm, verbose=False)[0]
    assert all(torch.equal(state[k], v) for k, v in task.state_dict().items())
    for row in ("test", "test/noadapt", "test/popularity"):
        assert 0.0 <= metrics[f"{row}/ndcg@10"] <= 1.0
