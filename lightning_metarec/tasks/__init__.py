"""LightningModules: a base owning the steps, one subclass per meta-learning algorithm."""

from lightning_metarec.tasks.base import MetaRecTask
from lightning_metarec.tasks.maml import MAMLTask

__all__ = ["MAMLTask", "MetaRecTask"]
