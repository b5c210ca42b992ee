"""Command line: ``python -m lightning_metarec fit|validate|test|predict --config x.yaml``."""

from __future__ import annotations

import logging
import netrc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonargparse import Namespace
from lightning import LightningModule, Trainer
from lightning.pytorch.cli import ArgsType, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from lightning_metarec import __version__
from lightning_metarec.callbacks import RNGStateCheckpoint, run_dir
from lightning_metarec.data.datamodule import MetaRecDataModule
from lightning_metarec.errors import MetaRecError
from lightning_metarec.precision import check_precision
from lightning_metarec.tasks.base import MetaRecTask

__all__ = ["MetaRecCLI", "MetaRecSaveConfig", "main", "wandb_mode"]

log = logging.getLogger("lightning_metarec")

_WANDB_MODES = {"dryrun": "offline", "run": "online"}


class MetaRecCLI(LightningCLI):
    """LightningCLI that links data sizes into the model and tests the best model after fit.

    Before the classes are built it also: decides the W&B mode (offline without credentials,
    see :func:`wandb_mode`), refuses offline + ``log_model``, and points ``--ckpt_path last``
    at the newest ``last.ckpt`` of the logger's folder. Before ``fit`` it refuses precision
    settings the task cannot train with (:func:`~lightning_metarec.precision.check_precision`).
    """

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

    def _subconfig(self) -> Namespace:
        return self.config[self.subcommand] if self.subcommand else self.config

    def before_instantiate_classes(self) -> None:
        """Settle the W&B mode and ``--ckpt_path last`` before anything is built."""
        config = self._subconfig()
        for logger in _class_configs(config.get("trainer.logger")):
            if logger.class_path.endswith(".WandbLogger"):
                _configure_wandb(logger.init_args)
        if config.get("ckpt_path") == "last":
            _continue_last_run(config)

    def before_fit(self) -> None:
        """Refuse a precision the task cannot meta-train with (one line, before any step)."""
        check_precision(self.trainer, self.model)

    def after_fit(self) -> None:
        """Test the best checkpoint on the test users (model selection used val users only)."""
        if not self.config.get(self.subcommand, {}).get("test_after_fit", True):
            return
        callback = self.trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "") if callback else ""
        if not best:
            log.warning("no best checkpoint recorded; testing the final weights")
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)


class MetaRecSaveConfig(SaveConfigCallback):
    """Save ``config.yaml`` beside the run's ``checkpoints/`` and send the config to W&B.

    Lightning's default writes to ``trainer.log_dir``, which for W&B is the ``save_dir`` shared
    by all runs; here each run keeps its own (see :func:`~lightning_metarec.callbacks.run_dir`).
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Write ``config.yaml`` once (rank 0) and log the config to W&B loggers."""
        if self.already_saved:
            return
        folder = Path(trainer.strategy.broadcast(str(run_dir(trainer))))
        if trainer.is_global_zero:
            folder.mkdir(parents=True, exist_ok=True)
            self.parser.save(
                self.config,
                str(folder / self.config_filename),
                skip_none=False,
                overwrite=self.overwrite,
                multifile=self.multifile,
            )
            self.save_config(trainer, pl_module, stage)
        self.already_saved = trainer.strategy.broadcast(True)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Log the full CLI config as ``cli`` in each W&B run's config.

        Lightning already logs the model and data hyperparameters; this adds the trainer,
        optimizer and callback settings.
        """
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_hyperparams({"cli": self.config.as_dict()})


# ---------------------------------------------------------------------------- W&B
def _class_configs(value: Any) -> Iterator[Namespace]:
    """The ``class_path``/``init_args`` namespaces in a logger or callbacks config value."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, Namespace) and isinstance(item.get("class_path"), str):
            yield item


def _has_wandb_credentials() -> bool:
    """An API key or identity token in the environment, or a netrc entry for the W&B host."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).netloc
    path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(requested: str | None = None, offline: bool = False) -> tuple[str, str]:
    """The W&B mode a run will use and why: ``online``, ``offline`` or ``disabled``.

    Precedence: the logger's ``mode``/``offline`` arguments, then ``WANDB_DISABLED`` and
    ``WANDB_MODE``, then credentials (``WANDB_API_KEY`` or a ``wandb login`` netrc entry):
    online with them, offline without. Reads no network.

    Args:
        requested: ``mode`` given to the logger (passed to ``wandb.init``), if any.
        offline: the logger's ``offline`` flag.
    """
    if requested:
        return _WANDB_MODES.get(requested, requested), f"mode={requested}"
    if offline:
        return "offline", "offline=true"
    if os.environ.get("WANDB_DISABLED", "").lower() in ("1", "true", "yes"):
        return "disabled", "WANDB_DISABLED"
    env = os.environ.get("WANDB_MODE", "").lower()
    if env:
        return _WANDB_MODES.get(env, env), f"WANDB_MODE={env}"
    if _has_wandb_credentials():
        return "online", "W&B credentials found"
    return "offline", "no W&B API key or login found"


def _configure_wandb(init_args: Namespace) -> None:
    """Pin the WandbLogger's mode; refuse offline + checkpoint upload; say offline in a line."""
    mode, reason = wandb_mode(init_args.get("mode"), bool(init_args.get("offline")))
    if mode != "offline":
        return
    if init_args.get("log_model"):
        raise MetaRecError(
            f"W&B runs offline ({reason}) but log_model={init_args.get('log_model')} uploads "
            "checkpoints: set --trainer.logger.init_args.log_model false, or log in "
            "(wandb login or WANDB_API_KEY) and run online"
        )
    init_args["mode"] = "offline"
    init_args["offline"] = False  # Lightning's flag would set WANDB_MODE for the whole process
    if init_args.get("settings") is None:
        init_args["settings"] = {"silent": True}  # this line says it all; no banner, no summary
    folder = Path(init_args.get("save_dir") or init_args.get("dir") or ".") / "wandb"
    log.info(
        "W&B offline (%s): run saved under %s; upload later with `wandb sync %s`",
        reason,
        folder,
        folder / "offline-run-*",
    )


def _finish_wandb(previous: Any, failed: bool) -> None:
    """Finish the W&B run this CLI started (so nothing lingers or hangs at exit)."""
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None)
    if wandb is not None and run is not None and run is not previous:
        wandb.finish(exit_code=1 if failed else 0)


# ---------------------------------------------------------------------------- resume
def _continue_last_run(config: Namespace) -> None:
    """``--ckpt_path last``: point ModelCheckpoint at the newest run folder holding ``last*.ckpt``.

    Loggers number a new folder per run (``version_N``, a new W&B id), so Lightning alone
    looks for ``last.ckpt`` in the new, empty folder. With a logger version given, only that
    run's folder is searched. Checkpoints continue in the found folder (the best-model record
    stays comparable); logs go to the logger's (new) run folder.
    """
    checkpoints = [
        cb
        for cb in _class_configs(config.get("trainer.callbacks"))
        if cb.class_path.endswith(".ModelCheckpoint") and not cb.init_args.get("dirpath")
    ]
    runs = _run_folders(config)
    if not checkpoints or runs is None:
        return
    root, folders = runs
    found = sorted(root.glob(f"{folders}/checkpoints/last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        return
    for callback in checkpoints:
        callback.init_args["dirpath"] = str(found[-1].parent)
    log.info("resuming from %s (new checkpoints are saved beside it)", found[-1])


def _run_folders(config: Namespace) -> tuple[Path, str] | None:
    """The logger's runs root and a pattern of its run folders (one if a version is given).

    ``None`` without a logger: checkpoints then go to the fixed ``default_root_dir``.
    """
    logger = next(_class_configs(config.get("trainer.logger")), None)
    if logger is None:
        return None
    init = logger.init_args
    wandb = logger.class_path.endswith(".WandbLogger")
    save_dir = init.get("save_dir") or config.get("trainer.default_root_dir") or "."
    root = Path(save_dir, str(init.get("project" if wandb else "name") or ""))
    version = init.get("version")
    if version is None and wandb:
        version = init.get("id")
    if version is None:
        return root, "*"
    return root, version if isinstance(version, str) else f"version_{version}"


def _user_error(err: BaseException) -> MetaRecError | None:
    """The project's own error behind ``err``, if any.

    jsonargparse wraps an exception raised while instantiating a class (a model refusing its
    options, for example) in a ``ValueError`` listing every subtype it tried; the cause chain
    still holds the original one-line :class:`MetaRecError`.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, MetaRecError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def main(args: ArgsType = None) -> MetaRecCLI | None:
    """Run the CLI; user errors print one line to stderr and exit with status 2.

    Args:
        args: command-line arguments (default ``sys.argv[1:]``), e.g. ``["fit", "--config",
            "configs/ml100k_maml.yaml"]``.
    """
    logging.basicConfig(format="%(message)s")
    log.setLevel(logging.INFO)
    previous_run = getattr(sys.modules.get("wandb"), "run", None)
    failed = True
    try:
        cli = MetaRecCLI(
            MetaRecTask,
            MetaRecDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            trainer_defaults={"inference_mode": False, "callbacks": [RNGStateCheckpoint()]},
            save_config_callback=MetaRecSaveConfig,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "lightning_metarec", "version": __version__},
            args=args,
        )
        failed = False
        return cli
    except (MetaRecError, ValueError) as err:
        user_error = _user_error(err)
        if user_error is None:
            raise
        print(f"lightning_metarec: error: {user_error}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        _finish_wandb(previous_run, failed)
