import torch

from lightning_metarec.models import MeLUScorer


def test_scores_one_value_per_row_and_head_is_the_mlp() -> None:
    model = MeLUScorer(5, 7, 3, [4, 2], embed_dim=6, hidden_dims=(8,), output_bias=3.5)
    item, genres = torch.tensor([0, 6]), torch.tensor([[1.0, 0, 1], [0, 0, 0]])
    user, feats = torch.tensor([1, 4]), torch.tensor([[0, 1], [3, 0]])
    assert model.embed(item, genres, user, feats).shape == (
        2,
        5 * 6,
    )  # item, genres, user id, two user features
    assert model(item, genres, user, feats).shape == (2,)
    assert float(model.head[-1].bias) == 3.5


def test_without_user_id_embedding() -> None:
    model = MeLUScorer(5, 7, 3, [], embed_dim=4, use_user_id=False)
    out = model.embed(
        torch.tensor([1]), torch.zeros(1, 3), torch.tensor([0]), torch.zeros(1, 0).long()
    )
    assert out.shape == (1, 8)
