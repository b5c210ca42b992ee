"""Command line: ``python -m lightning_metarec fit|validate|test|predict --config x.yaml``."""

from __future__ import annotations

import logging
import sys
from typing import Any

from lightning.pytorch.cli import ArgsType, LightningCLI

from lightning_metarec import __version__
from lightning_metarec.data.datamodule import MetaRecDataModule
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks.base import MetaRecTask

__all__ = ["MetaRecCLI", "main"]

log = logging.getLogger("lightning_metarec")


class MetaRecCLI(LightningCLI):
    """LightningCLI that links data sizes into the model and tests the best model after fit."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        """Link ``data.schema`` -> ``model.init_args.schema``; add ``--test_after_fit``."""
        parser.link_arguments("data.schema", "model.init_args.schema", apply_on="instantiate")
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="after fit, evaluate the test users with the best checkpoint (by the "
            "validation metric) and print the results table",
        )

    def after_fit(self) -> None:
        """Test the best checkpoint on the test users (model selection used val users only)."""
        if not self.config.get(self.subcommand, {}).get("test_after_fit", True):
            return
        callback = self.trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "") if callback else ""
        if not best:
            log.warning("no best checkpoint recorded; testing the final weights")
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)


def main(args: ArgsType = None) -> MetaRecCLI | None:
    """Run the CLI; user errors print one line to stderr and exit with status 2.

    Args:
        args: command-line arguments (default ``sys.argv[1:]``), e.g. ``["fit", "--config",
            "configs/ml100k_maml.yaml"]``.
    """
    logging.basicConfig(format="%(message)s")
    log.setLevel(logging.INFO)
    try:
        return MetaRecCLI(
            MetaRecTask,
            MetaRecDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            trainer_defaults={"inference_mode": False},
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"version": f"lightning_metarec {__version__}"},
            args=args,
        )
    except MetaRecError as err:
        print(f"lightning_metarec: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
