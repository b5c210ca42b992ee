import numpy as np
import pytest
import torch
from lightning import Trainer

from lightning_metarec.tasks import MAMLTask
from tests.conftest import SyntheticDataModule


def _test_batch(**kwargs):
    dm = SyntheticDataModule(**kwargs)
    dm.setup("test")
    return dm, next(iter(dm.test_dataloader()))


@pytest.mark.parametrize("kind", ["rating", "ranking"])
def test_full_excludes_support_rated_and_other_domain_items(kind: str) -> None:
    dm, batch = _test_batch(task_kind=kind, candidates="full")
    assert batch.protocol == "full"
    for i, ep in enumerate(batch.episodes()):
        cand = ep.query_item[ep.query_target == 0].numpy()
        support = set(ep.support_item.tolist())
        assert not support & set(cand.tolist())
        assert (dm.log_.item_domain[cand] == dm.target).all()
        assert not dm.sampler.is_rated(np.full(len(cand), int(ep.user)), cand).any()
        # every unrated target item is a candidate: catalog minus what the user rated/was shown
        pool = np.flatnonzero(dm.log_.item_domain == dm.target)
        unrated = pool[~dm.sampler.is_rated(np.full(len(pool), int(ep.user)), pool)]
        assert set(cand.tolist()) == set(unrated.tolist()) - support
        assert int(batch.query_mask[i].sum()) == len(ep.query_item)


def test_sampled_never_samples_a_rated_item() -> None:
    dm, batch = _test_batch(task_kind="rating", candidates="sampled", num_negatives=7)
    q = dm.hparams["query_size"]
    assert batch.query_item.shape[1] == q + 7
    negatives = batch.query_item[:, q:].numpy()
    assert not dm.sampler.is_rated(batch.user.numpy()[:, None], negatives).any()
    assert (batch.query_target[:, q:] == 0).all() and (batch.query_target[:, :q] > 0).all()


def _test_metrics(**kwargs) -> dict[str, float]:
    dm = SyntheticDataModule(**kwargs)
    torch.manual_seed(0)
    task = MAMLTask(schema=dm.schema, embed_dim=4, hidden_dims=(8,), ks=(4,))
    trainer = Trainer(
        accelerator="cpu",
        inference_mode=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return trainer.test(task, datamodule=dm, verbose=False)[0]


def test_query_only_with_q_items_has_hr_at_q_equal_one() -> None:
    metrics = _test_metrics(task_kind="ranking", candidates="query_only", query_size=4)
    assert metrics["test/hr@4"] == 1.0
    assert metrics["test/ndcg@4"] == pytest.approx(1.0)  # all query items equally relevant


def test_rating_kind_ranks_sampled_candidates_and_keeps_mae_on_rated_items() -> None:
    sampled = _test_metrics(task_kind="rating", candidates="sampled", num_negatives=9)
    query_only = _test_metrics(task_kind="rating", candidates="query_only")
    assert sampled["test/mae"] == pytest.approx(query_only["test/mae"])
    assert sampled["test/ndcg@4"] != pytest.approx(query_only["test/ndcg@4"])
    # HR@K: logged once unrated candidates compete, never when it is 1 by construction
    assert 0.0 <= sampled["test/hr@4"] < 1.0 and sampled["test/popularity/hr@4"] < 1.0
    assert not any(key.endswith("hr@4") for key in query_only)
