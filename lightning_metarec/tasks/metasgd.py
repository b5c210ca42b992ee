"""Meta-SGD: MAML with meta-learned per-parameter inner learning rates, via learn2learn."""

from __future__ import annotations

from typing import Any

from lightning_metarec.tasks._learn2learn import l2l
from lightning_metarec.tasks.maml import Adapt, MAMLTask

__all__ = ["MetaSGDTask"]


class MetaSGDTask(MAMLTask):
    """Meta-SGD (Li et al. 2017) via ``learn2learn.algorithms.MetaSGD``.

    Identical to :class:`~lightning_metarec.tasks.maml.MAMLTask` (same inner loop, same
    evaluation) except that the adaptation step is ``p - lr_p * grad_p`` with one learned rate per
    element of every adapted parameter. The rates are parameters of the wrapper (``maml.lrs``),
    hence of this module: the outer optimizer updates them with the initialization. The query
    loss depends on them even with ``first_order: true`` (only the gradient is detached), so they
    are learned in both modes.

    Args:
        inner_lr: initial value of every learned inner learning rate.
        inner_steps: adaptation steps during meta-training.
        eval_inner_steps: adaptation steps at validation/test (default: ``inner_steps``).
        first_order: drop second-order terms of the meta-gradient.
        adapt: ``all`` parameters, or ``head`` only (learned rates only for the head).
        **kwargs: see :class:`~lightning_metarec.tasks.base.MetaRecTask`.
    """

    def __init__(
        self,
        inner_lr: float = 0.01,
        inner_steps: int = 1,
        eval_inner_steps: int | None = None,
        first_order: bool = False,
        adapt: Adapt = "all",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            inner_lr=inner_lr,
            inner_steps=inner_steps,
            eval_inner_steps=eval_inner_steps,
            first_order=first_order,
            adapt=adapt,
            **kwargs,
        )
        # swap MAML's wrapper for MetaSGD around the same adapted module
        self.maml = l2l.algorithms.MetaSGD(self.maml.module, lr=inner_lr, first_order=first_order)
