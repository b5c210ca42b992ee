"""Plain ``nn.Module`` scorers (no Lightning code)."""

from lightning_metarec.models.melu import MeLUScorer

__all__ = ["MeLUScorer"]
