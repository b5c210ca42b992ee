"""Which precision settings meta-training supports, checked before the first step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning import LightningModule, Trainer

from lightning_metarec.errors import MetaRecError

__all__ = ["check_precision", "precision_problem"]

#: fp16 autocast with a GradScaler (``"16"`` is Lightning's legacy alias).
LOSS_SCALED = ("16-mixed", "16")


def precision_problem(precision: str, hparams: Mapping[str, Any]) -> str | None:
    """Why ``precision`` cannot meta-train a task with ``hparams``, or ``None`` if it can.

    Second-order MAML backpropagates the outer loss through the inner-loop gradients
    (Hessian-vector products). Under ``16-mixed`` the GradScaler scales only the outer loss:
    the inner gradients are taken unscaled in fp16 and the scaled second-order terms overflow,
    so steps are skipped or the meta-gradient is wrong. bf16 has fp32's range and needs no
    scaler; first-order MAML drops the second-order terms.

    Args:
        precision: the trainer's precision flag, e.g. ``"bf16-mixed"``.
        hparams: the task's hyperparameters (``first_order`` and ``inner_steps`` are read;
            tasks without ``first_order`` are not second-order MAML and always pass).
    """
    second_order = hparams.get("first_order") is False and hparams.get("inner_steps", 1) > 0
    if str(precision) not in LOSS_SCALED or not second_order:
        return None
    return (
        f"precision {precision!r} (fp16 with loss scaling) cannot meta-train second-order MAML: "
        "the scaled meta-gradient flows through unscaled fp16 inner-loop gradients; "
        "use --trainer.precision bf16-mixed, or set model.init_args.first_order: true"
    )


def check_precision(trainer: Trainer, module: LightningModule) -> None:
    """Raise :class:`MetaRecError` before fitting if the precision cannot train ``module``.

    Args:
        trainer: the configured trainer (its ``precision`` flag is read).
        module: the task (its ``hparams`` are read).

    Raises:
        MetaRecError: one line naming the precision and the two ways out.
    """
    problem = precision_problem(str(trainer.precision), module.hparams)
    if problem:
        raise MetaRecError(problem)
