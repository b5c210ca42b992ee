import pytest
import torch

from lightning_metarec.models import MFScorer
from lightning_metarec.tasks import GlobalModelTask


def _task(dm, **kwargs) -> GlobalModelTask:
    torch.manual_seed(0)
    return GlobalModelTask(schema=dm.schema, embed_dim=8, hidden_dims=(16,), **kwargs)


def _episode(dm):
    return next(iter(dm.val_dataloader())).episode(0)


@pytest.mark.parametrize("model", ["melu", "mf"])
def test_finetuning_fits_the_support_set_without_touching_the_global_model(
    synthetic_dm, model
) -> None:
    ep = _episode(synthetic_dm)
    plain = _task(synthetic_dm, model=model)
    lr = 0.5 if model == "melu" else 0.05
    tuned = _task(synthetic_dm, model=model, finetune_steps=10, finetune_lr=lr)
    before = {k: v.clone() for k, v in tuned.state_dict().items()}
    _, plain_scores = plain.meta_learn(ep, train=False)
    _, tuned_scores = tuned.meta_learn(ep, train=False)
    assert torch.allclose(plain_scores, plain.score_without_adaptation(ep))
    assert not torch.allclose(plain_scores, tuned_scores)
    assert all(torch.equal(before[k], v) for k, v in tuned.state_dict().items())
    learner = tuned.finetuner.clone()
    start = float(tuned.loss(learner(*ep.support_inputs()), ep.support_target))
    for _ in range(10):
        learner.adapt(tuned.loss(learner(*ep.support_inputs()), ep.support_target))
    assert float(tuned.loss(learner(*ep.support_inputs()), ep.support_target)) < start


def test_training_loss_covers_support_and_query(synthetic_dm) -> None:
    task = _task(synthetic_dm)
    batch = next(iter(synthetic_dm.train_dataloader()))
    ep = batch.episode(0)
    loss, scores = task.meta_learn(ep, train=True)
    expected = task.loss(
        torch.cat((task.model(*ep.support_inputs()), task.model(*ep.query_inputs()))),
        torch.cat((ep.support_target, ep.query_target)),
    )
    assert torch.allclose(loss, expected) and scores.shape == ep.query_target.shape


def test_mf_score_is_biases_plus_dot_product() -> None:
    mf = MFScorer(3, 4, embed_dim=2, global_bias=3.0)
    with torch.no_grad():
        mf.user_factors.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        mf.item_factors.weight.copy_(torch.tensor([[2.0, 3.0], [0.0, 0.0], [1.0, 1.0], [4, 5]]))
        mf.user_bias.weight.fill_(0.5)
        mf.item_bias.weight.fill_(-0.25)
    out = mf(torch.tensor([0, 3]), torch.zeros(2, 1), torch.tensor([1, 2]), torch.zeros(2, 0))
    assert out.tolist() == pytest.approx([3.0 + 0.25 + 3.0, 3.0 + 0.25 + 9.0])
