import math

import pytest
import torch

from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks import MatchingNetTask
from tests.conftest import SyntheticDataModule
from tests.tasks.test_maml import _episode, _trainer

QUERY = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
SUPPORT = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, -1.0], [-3.0, 0.0]])


def _task(dm: SyntheticDataModule, **kwargs) -> MatchingNetTask:
    torch.manual_seed(0)
    return MatchingNetTask(schema=dm.schema, embed_dim=8, hidden_dims=(16,), **kwargs)


def _hand_attention(temperature: float) -> torch.Tensor:
    rows = []
    for q in QUERY.tolist():
        cos = [
            (q[0] * s[0] + q[1] * s[1]) / (math.hypot(*q) * math.hypot(*s))
            for s in SUPPORT.tolist()
        ]
        e = [math.exp(c / temperature) for c in cos]
        rows.append([x / sum(e) for x in e])
    return torch.tensor(rows)


def test_attention_sums_to_one_and_prediction_is_the_weighted_sum(synthetic_dm) -> None:
    task = _task(synthetic_dm, temperature=0.5)
    attention = task.attention(QUERY, SUPPORT)
    torch.testing.assert_close(attention.sum(-1), torch.ones(3))
    expected = _hand_attention(0.5)
    torch.testing.assert_close(attention, expected)
    logits = task.attention_logits(QUERY, SUPPORT)
    if task.kind == "rating":
        ratings = torch.tensor([5.0, 1.0, 4.0, 2.0])
        weighted = [
            sum(a * y for a, y in zip(row, ratings.tolist(), strict=True))
            for row in expected.tolist()
        ]
        torch.testing.assert_close(task.predict(logits, ratings), torch.tensor(weighted))
    else:
        labels = torch.tensor([1.0, 0.0, 1.0, 0.0])
        mass = expected[:, 0] + expected[:, 2]  # attention on the positives
        torch.testing.assert_close(task.predict(logits, labels), torch.logit(mass))


def test_meta_learn_matches_a_hand_computation(synthetic_dm) -> None:
    task = _task(synthetic_dm, temperature=0.1)
    ep = _episode(synthetic_dm)
    loss, scores = task.meta_learn(ep, train=False)
    with torch.no_grad():
        q, s = task.encode(ep.query_inputs()), task.encode(ep.support_inputs())
        cos = torch.nn.functional.cosine_similarity(q[:, None], s[None], dim=-1)
        attention = torch.softmax(cos / 0.1, dim=-1)
        weighted = attention @ ep.support_target
        expected = weighted if task.kind == "rating" else torch.logit(weighted)
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(loss, task.loss(expected, ep.query_target), rtol=1e-4, atol=1e-4)
    assert not scores.requires_grad


def test_ranking_support_without_negatives_is_a_clear_error() -> None:
    dm = SyntheticDataModule(task_kind="ranking", train_negatives=0)
    dm.setup("fit")
    task = _task(dm)
    with pytest.raises(MetaRecError, match="train_negatives >= 1"):
        task.meta_learn(_episode(dm, "train"), train=True)


def test_noadapt_is_a_constant(synthetic_dm) -> None:
    task = _task(synthetic_dm)
    scores = task.score_without_adaptation(_episode(synthetic_dm))
    fill = synthetic_dm.schema["rating_mean"] if task.kind == "rating" else 0.0
    assert torch.all(scores == fill)


def test_bad_temperature_is_refused(synthetic_dm) -> None:
    with pytest.raises(MetaRecError, match="temperature"):
        _task(synthetic_dm, temperature=0.0)


@pytest.mark.parametrize("learn_temperature", [True, False])
def test_fit_then_test_logs_all_rows(synthetic_dm, learn_temperature) -> None:
    task = _task(synthetic_dm, learn_temperature=learn_temperature)
    before = float(task.log_inv_temperature.detach())
    trainer = _trainer(max_epochs=1, limit_train_batches=3)
    trainer.fit(task, datamodule=synthetic_dm)
    assert (float(task.log_inv_temperature.detach()) != before) == learn_temperature
    state = {k: v.clone() for k, v in task.state_dict().items()}
    metrics = trainer.test(task, datamodule=synthetic_dm, verbose=False)[0]
    assert all(torch.equal(state[k], v) for k, v in task.state_dict().items())
    for row in ("test", "test/noadapt", "test/popularity"):
        assert 0.0 <= metrics[f"{row}/ndcg@10"] <= 1.0
