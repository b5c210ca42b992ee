import pytest
import torch

from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks import ProtoNetTask
from lightning_metarec.tasks.protonet import class_means
from tests.conftest import SyntheticDataModule
from tests.tasks.test_maml import _episode, _trainer

SUPPORT = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0], [0.0, 6.0]])
LIKED = torch.tensor([True, True, False, False, False])
DEFAULTS = torch.tensor([[-1.0, -1.0], [5.0, 5.0]])


def _task(dm: SyntheticDataModule, **kwargs) -> ProtoNetTask:
    torch.manual_seed(0)
    return ProtoNetTask(schema=dm.schema, embed_dim=8, hidden_dims=(16,), **kwargs)


def test_prototypes_are_class_means_of_the_support_embeddings() -> None:
    protos = class_means(SUPPORT, LIKED, DEFAULTS, prior_weight=0.0)
    torch.testing.assert_close(protos, torch.tensor([[0.0, 4.0], [2.0, 0.0]]))
    # prior_weight = 1: one pseudo-row at the default in each class
    shrunk = class_means(SUPPORT, LIKED, DEFAULTS, prior_weight=1.0)
    torch.testing.assert_close(shrunk, torch.tensor([[-1 / 4, 11 / 4], [9 / 3, 5 / 3]]))


def test_a_missing_class_falls_back_to_its_default_prototype() -> None:
    defaults = DEFAULTS.clone().requires_grad_(True)
    all_liked = torch.ones(5, dtype=torch.bool)
    for weight in (0.0, 1.0):
        protos = class_means(SUPPORT, all_liked, defaults, prior_weight=weight)
        torch.testing.assert_close(protos[0], DEFAULTS[0])
        assert torch.isfinite(protos).all()
    protos.sum().backward()
    assert defaults.grad is not None and defaults.grad[0].abs().sum() > 0


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_score_is_liked_log_odds_of_the_distances(synthetic_dm, distance) -> None:
    task = _task(synthetic_dm, distance=distance)
    protos = torch.tensor([[0.0, 4.0], [2.0, 0.0]])  # not liked, liked
    query = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 1.0]])
    if distance == "euclidean":
        d_not, d_liked = ((query - protos[0]) ** 2).sum(1), ((query - protos[1]) ** 2).sum(1)
        expected = d_not - d_liked
    else:
        q, p = (torch.nn.functional.normalize(x, dim=-1) for x in (query, protos))
        expected = q @ p[1] - q @ p[0]
    torch.testing.assert_close(task.log_odds(protos, query), expected)
    assert task.classifier.prototypes is None  # no state (nor graph) kept on the module


def test_rating_classes_follow_like_threshold(synthetic_dm) -> None:
    targets = torch.tensor([1.0, 3.0, 3.5, 4.0, 5.0])
    task = _task(synthetic_dm, like_threshold=3.5)
    expected = [False, False, True, True, True] if task.kind == "rating" else [True] * 5
    assert task.liked(targets).tolist() == expected


def test_meta_learn_matches_a_hand_computation(synthetic_dm) -> None:
    task = _task(synthetic_dm, prior_weight=0.0)
    episodes = (ep for batch in synthetic_dm.val_dataloader() for ep in batch.episodes())
    ep = next(
        e for e in episodes if 0 < int(task.liked(e.support_target).sum()) < len(e.support_target)
    )
    loss, scores = task.meta_learn(ep, train=False)
    with torch.no_grad():
        support, query = task.encode(ep.support_inputs()), task.encode(ep.query_inputs())
        liked = task.liked(ep.support_target)
        pos, neg = support[liked].mean(0), support[~liked].mean(0)
        log_odds = ((query - neg) ** 2).sum(1) - ((query - pos) ** 2).sum(1)
        if task.kind == "ranking":
            expected = log_odds
        else:
            r_pos, r_neg = ep.support_target[liked].mean(), ep.support_target[~liked].mean()
            p = torch.sigmoid(log_odds)  # calibration starts at a=1, b=0
            expected = p * r_pos + (1 - p) * r_neg
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss, task.loss(expected, ep.query_target), rtol=1e-5, atol=1e-5)
    assert not scores.requires_grad and not loss.requires_grad


def test_one_class_support_uses_and_trains_the_default(synthetic_dm) -> None:
    task = _task(synthetic_dm, prior_weight=0.0)
    ep = _episode(synthetic_dm, "train")
    ep.support_target = torch.ones_like(ep.support_target) * 5.0  # all liked, both kinds
    loss, scores = task.meta_learn(ep, train=True)
    assert torch.isfinite(scores).all() and torch.isfinite(loss)
    loss.backward()
    assert task.default_prototypes.grad[0].abs().sum() > 0  # the missing "not liked" class
    assert task.default_prototypes.grad[1].abs().sum() == 0  # liked comes from the support


def test_noadapt_scores_with_the_default_prototypes(synthetic_dm) -> None:
    task = _task(synthetic_dm)
    ep = _episode(synthetic_dm)
    with torch.no_grad():
        log_odds = task.log_odds(task.default_prototypes, task.encode(ep.query_inputs()))
    scores = task.score_without_adaptation(ep)
    if task.kind == "ranking":
        torch.testing.assert_close(scores, log_odds)
    else:
        assert ((scores >= 3.0) & (scores <= 4.5)).all()  # between the default class ratings


def test_bad_options_are_refused(synthetic_dm) -> None:
    with pytest.raises(MetaRecError, match="distance"):
        _task(synthetic_dm, distance="manhattan")
    with pytest.raises(MetaRecError, match="prior_weight"):
        _task(synthetic_dm, prior_weight=-1.0)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_fit_then_test_logs_all_rows(synthetic_dm, distance) -> None:
    task = _task(synthetic_dm, distance=distance, projection_dim=None)
    trainer = _trainer(max_epochs=1, limit_train_batches=3)
    before = task.default_prototypes.detach().clone()
    trainer.fit(task, datamodule=synthetic_dm)
    assert not torch.equal(before, task.default_prototypes)  # prior_weight=1 trains them
    state = {k: v.clone() for k, v in task.state_dict().items()}
    metrics = trainer.test(task, datamodule=synthetic_dm, verbose=False)[0]
    assert all(torch.equal(state[k], v) for k, v in task.state_dict().items())
    for row in ("test", "test/noadapt", "test/popularity"):
        assert 0.0 <= metrics[f"{row}/ndcg@10"] <= 1.0
    extra = "rmse" if task.kind == "rating" else "hr@10"
    assert torch.isfinite(torch.tensor(metrics[f"test/{extra}"]))
