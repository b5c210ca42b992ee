"""LightningModules: a base owning the steps, one subclass per meta-learning algorithm."""

from lightning_metarec.tasks.base import MetaRecTask
from lightning_metarec.tasks.baselines import GlobalModelTask
from lightning_metarec.tasks.maml import MAMLTask
from lightning_metarec.tasks.matching import MatchingNetTask
from lightning_metarec.tasks.metasgd import MetaSGDTask
from lightning_metarec.tasks.protonet import MetricLearningTask, ProtoNetTask
from lightning_metarec.tasks.reptile import ReptileTask

__all__ = [
    "GlobalModelTask",
    "MAMLTask",
    "MatchingNetTask",
    "MetaRecTask",
    "MetaSGDTask",
    "MetricLearningTask",
    "ProtoNetTask",
    "ReptileTask",
]
