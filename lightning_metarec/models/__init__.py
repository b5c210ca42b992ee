"""Plain ``nn.Module`` scorers (no Lightning code)."""

from lightning_metarec.models.melu import MeLUScorer
from lightning_metarec.models.mf import MFScorer

__all__ = ["MFScorer", "MeLUScorer"]
