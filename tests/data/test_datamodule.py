import numpy as np
import pytest
import torch

from lightning_metarec.data.episodes import EpisodeBatch
from tests.conftest import SyntheticDataModule


def _first(loader) -> EpisodeBatch:
    return next(iter(loader))


def test_batches_have_padded_shapes_masks_and_task_indices(synthetic_dm) -> None:
    batch = _first(synthetic_dm.val_dataloader())
    b, s = batch.support_item.shape
    assert batch.support_genres.shape == (b, s, len(synthetic_dm.log_.genres))
    assert batch.support_mask.all() and batch.query_mask.all()
    assert batch.task_index.tolist() == list(range(b))
    assert batch.user_features.shape == (b, 2)
    ep = batch.episode(0)
    assert ep.query_inputs()[2].shape == ep.query_item.shape


def test_ranking_eval_candidates_are_query_items_plus_fixed_unrated_negatives() -> None:
    dm = SyntheticDataModule(task_kind="ranking")
    dm.setup("test")
    batch = _first(dm.test_dataloader())
    q = dm.hparams.query_size
    assert batch.query_item.shape[1] == q + dm.hparams.num_negatives
    assert (batch.query_target[:, :q] == 1).all() and (batch.query_target[:, q:] == 0).all()
    users = batch.user.numpy()[:, None]
    assert not dm.sampler.is_rated(users, batch.query_item[:, q:].numpy()).any()
    again = _first(dm.test_dataloader())
    assert torch.equal(batch.query_item, again.query_item)


def test_same_seed_same_training_batches() -> None:
    def batches(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        dm = SyntheticDataModule(task_kind="ranking", seed=seed)
        dm.setup("fit")
        return [b.support_item for b in dm.train_dataloader()]

    a, b = batches(0), batches(0)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_baseline_stats_use_only_meta_train_users() -> None:
    dm = SyntheticDataModule()
    dm.setup("fit")
    counts, _ = dm.baseline_stats
    log_ = dm.log_
    rows = (log_.domain == dm.target) & np.isin(log_.user, dm.split.train_users)
    assert counts.sum() == rows.sum()


@pytest.mark.parametrize("stage", ["fit", "validate", "test", "predict"])
def test_setup_for_every_stage(stage: str) -> None:
    dm = SyntheticDataModule()
    dm.setup(stage)
    assert dm.episode_sets
