import math

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score

from lightning_metarec.metrics import HitRateAtK, NDCGAtK, build_metrics, empty_queries


def _ndcg(preds, target, k, gain="linear", index=None) -> float:
    metric = NDCGAtK(k, gain=gain)
    preds, target = torch.tensor(preds), torch.tensor(target, dtype=torch.float32)
    metric.update(
        preds, target, torch.zeros(len(preds), dtype=torch.long) if index is None else index
    )
    return float(metric.compute())


def _hr(preds, target, k, index=None) -> float:
    metric = HitRateAtK(k)
    preds, target = torch.tensor(preds), torch.tensor(target)
    metric.update(
        preds, target, torch.zeros(len(preds), dtype=torch.long) if index is None else index
    )
    return float(metric.compute())


def test_ndcg_hand_computed_linear_and_exponential() -> None:
    preds, rel = [0.9, 0.8, 0.1], [1.0, 3.0, 2.0]
    # ranking by score: rel 1, 3, 2; ideal: 3, 2, 1
    d = [1 / math.log2(i + 2) for i in range(3)]
    linear = (1 * d[0] + 3 * d[1] + 2 * d[2]) / (3 * d[0] + 2 * d[1] + 1 * d[2])
    expo = (1 * d[0] + 7 * d[1] + 3 * d[2]) / (7 * d[0] + 3 * d[1] + 1 * d[2])
    assert _ndcg(preds, rel, 3, "linear") == pytest.approx(linear, abs=1e-6)
    assert _ndcg(preds, rel, 3, "exponential") == pytest.approx(expo, abs=1e-6)
    top2 = (1 * d[0] + 3 * d[1]) / (3 * d[0] + 2 * d[1])
    assert _ndcg(preds, rel, 2, "linear") == pytest.approx(top2, abs=1e-6)


def test_ndcg_matches_sklearn_with_ties_on_random_queries() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(3, 30))
        preds = rng.integers(0, 4, n).astype(np.float32)  # many ties
        rel = rng.integers(0, 5, n).astype(np.float32)
        if rel.sum() == 0:
            continue
        k = int(rng.integers(1, n + 1))
        ref = ndcg_score(rel[None], preds[None], k=k, ignore_ties=False)
        assert _ndcg(preds.tolist(), rel.tolist(), k) == pytest.approx(ref, abs=1e-5)
        ref_exp = ndcg_score((2**rel - 1)[None], preds[None], k=k, ignore_ties=False)
        assert _ndcg(preds.tolist(), rel.tolist(), k, "exponential") == pytest.approx(
            ref_exp, abs=1e-5
        )


@pytest.mark.parametrize("transform", [lambda x: 3 * x - 7, torch.exp, lambda x: x**3 - 10])
def test_rank_metrics_invariant_to_increasing_transforms(transform) -> None:
    gen = torch.Generator().manual_seed(0)
    preds = torch.randn(200, generator=gen)  # includes negative logits
    target = (torch.rand(200, generator=gen) < 0.2).float()
    index = torch.arange(200) // 20
    base_n, base_h = (
        _ndcg(preds.tolist(), target.tolist(), 5, index=index),
        _hr(preds.tolist(), target.tolist(), 5, index=index),
    )
    t = transform(preds)
    assert _ndcg(t.tolist(), target.tolist(), 5, index=index) == pytest.approx(base_n, abs=1e-6)
    assert _hr(t.tolist(), target.tolist(), 5, index=index) == pytest.approx(base_h, abs=1e-6)


def test_constant_scores_give_the_tie_aware_expectation_not_input_order() -> None:
    # one positive among 100 candidates, positive first: a naive argsort says HR@1 = 1
    preds, target = [0.5] * 100, [1] + [0] * 99
    assert _hr(preds, target, 1) == pytest.approx(0.01)
    assert _hr(preds, target, 10) == pytest.approx(0.10)
    expected_ndcg = sum(1 / math.log2(i + 2) for i in range(10)) / 100
    assert _ndcg(preds, target, 10) == pytest.approx(expected_ndcg, abs=1e-6)
    # and the positive last gives exactly the same values
    assert _hr(preds, target[::-1], 10) == pytest.approx(0.10)


def test_hit_rate_partial_ties_hand_computed() -> None:
    # scores: 0.9 (neg), then four tied at 0.5 holding one positive; K=3 -> 2 slots of 4
    preds, target = [0.9, 0.5, 0.5, 0.5, 0.5, 0.1], [0, 1, 0, 0, 0, 0]
    assert _hr(preds, target, 3) == pytest.approx(1 - (3 / 4) * (2 / 3))
    # two positives in the tied group: P(no positive in 2 of 4) = (2/4)(1/3)
    preds, target = [0.9, 0.5, 0.5, 0.5, 0.5, 0.1], [0, 1, 1, 0, 0, 0]
    assert _hr(preds, target, 3) == pytest.approx(1 - (2 / 4) * (1 / 3))
    assert _hr([0.9, 0.5, 0.1], [1, 0, 0], 1) == 1.0
    assert _hr([0.9, 0.5, 0.1], [0, 0, 1], 2) == 0.0


def test_queries_without_relevant_items_are_skipped_and_counted() -> None:
    metric = NDCGAtK(2)
    preds = torch.tensor([0.9, 0.1, 0.8, 0.2])
    target = torch.tensor([1.0, 0.0, 0.0, 0.0])
    metric.update(preds, target, torch.tensor([0, 0, 1, 1]))
    assert float(metric.compute()) == pytest.approx(1.0)  # query 1 skipped, not scored 0
    assert empty_queries(metric) == 1


def test_negative_relevance_is_refused() -> None:
    with pytest.raises(ValueError, match="relevance must be >= 0"):
        _ndcg([0.1, 0.2], [1.0, -1.0], 2)


def test_scores_are_detached_and_cast_to_fp32() -> None:
    metric = NDCGAtK(2)
    preds = torch.tensor([0.5, 0.25, 0.125], dtype=torch.bfloat16, requires_grad=True)
    metric.update(preds, torch.tensor([0.0, 1.0, 0.0]), torch.zeros(3, dtype=torch.long))
    stored = metric.preds[0]
    assert stored.dtype == torch.float32 and not stored.requires_grad


def test_build_metrics_keys() -> None:
    rating = {"ndcg@5", "ndcg@10", "hr@5", "hr@10", "mae", "rmse"}
    assert set(build_metrics("rating", (5, 10))) == rating
    assert set(build_metrics("ranking", (10,))) == {"ndcg@10", "hr@10"}
    with pytest.raises(ValueError, match="unknown task kind"):
        build_metrics("clicks")


def test_rmse_is_root_of_mse() -> None:
    metrics = build_metrics("rating")
    preds, target = torch.tensor([3.0, 4.0, 1.0]), torch.tensor([4.0, 4.0, 3.0])
    metrics.update(preds, target, indexes=torch.zeros(3, dtype=torch.long))
    out = metrics.compute()
    assert float(out["rmse"]) == pytest.approx(math.sqrt(5 / 3))
    assert float(out["mae"]) == pytest.approx(1.0)
