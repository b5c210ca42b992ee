import numpy as np
import torch

from lightning_metarec.tasks import MAMLTask


def test_history_holds_only_source_items_most_recent_first(synthetic_dm) -> None:
    items, mask = synthetic_dm.source_history(6)
    log_ = synthetic_dm.log_
    assert (log_.item_domain[items[mask > 0]] != synthetic_dm.target).all()
    user = int(np.flatnonzero(mask.sum(1) == 6)[0])
    rows = (log_.user == user) & (log_.domain != synthetic_dm.target)
    latest = log_.item[rows][np.argsort(-log_.timestamp[rows], kind="stable")][:6]
    assert items[user].tolist() == latest.tolist()


def test_source_history_changes_predictions_for_a_cold_user(synthetic_dm) -> None:
    torch.manual_seed(0)
    task = MAMLTask(schema=synthetic_dm.schema, embed_dim=8, hidden_dims=(16,), source_history=5)
    task.attach_history(synthetic_dm)
    ep = next(iter(synthetic_dm.test_dataloader())).episode(0)
    assert task.model.history_mask[ep.user].sum() > 0
    with_history = task.score_without_adaptation(ep)
    _, adapted = task.meta_learn(ep, train=False)
    task.model.history_mask[ep.user] = 0.0
    assert not torch.allclose(with_history, task.score_without_adaptation(ep))
    assert not torch.allclose(adapted, task.meta_learn(ep, train=False)[1])


def test_history_travels_in_the_checkpoint_state(synthetic_dm) -> None:
    task = MAMLTask(schema=synthetic_dm.schema, embed_dim=8, hidden_dims=(16,), source_history=5)
    task.attach_history(synthetic_dm)
    state = task.state_dict()
    assert torch.equal(state["model.history"], task.model.history)
