"""Recommendations for one new user: adapt a meta-trained checkpoint on the user's ratings.

Command line::

    python -m lightning_metarec.recommend --ckpt best.ckpt --ratings "Toy Story:5,Heat:4"
    python -m lightning_metarec.recommend --ckpt best.ckpt --ratings-file mine.csv --top-k 20

The data settings (dataset, target domain, ...) come from the checkpoint, or from ``--config``
(a training config or the ``config.yaml`` saved beside the checkpoints); the data is re-read
from the data home. Items are given by title (as listed, case-insensitive; a trailing
``(year)`` and a leading/trailing article are optional) or by raw item id.

The new user has no trained embedding. They get user code 0 in a private copy of the model
whose user-side inputs are reset to the population average: the id-embedding row is the mean
of all users' rows, each user feature's "unknown" row (code 0) the user-weighted mean of that
feature's rows, and the source-domain history (if the scorer has one) is empty. The task's own
adaptation (``meta_learn``, as at test time) then fits that neutral user to the given support
set, and every target-domain item the user did not give is scored.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import importlib
import re
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lightning_metarec.data.datamodule import MetaRecDataModule
from lightning_metarec.data.encoded import EncodedLog
from lightning_metarec.data.episodes import Episode
from lightning_metarec.errors import MetaRecError
from lightning_metarec.tasks.base import MetaRecTask

__all__ = ["Recommender", "main", "parse_ratings", "read_ratings_file"]

Rating = tuple[str, float | None]

_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>the|a|an|les|la|le|il|el|das|der|die)$")
_RATED = re.compile(r"^(?P<item>.*\S)\s*:\s*(?P<rating>[-+]?\d+(?:\.\d*)?)\s*$")


def _normalize(title: str) -> str:
    """Case-, year- and article-insensitive title key.

    ``"Usual Suspects, The (1995)"`` and ``"the usual suspects"`` share one key.
    """
    key = " ".join(_YEAR.sub("", title).lower().split())
    moved = _TRAILING_ARTICLE.match(key)
    return f"{moved['article']} {moved['rest']}" if moved else key


def parse_ratings(text: str) -> list[Rating]:
    """Parse ``"Toy Story:5,Heat:4"`` into ``[("Toy Story", 5.0), ("Heat", 4.0)]``.

    Titles may contain colons (the rating is after the last one) and commas (pieces are joined
    until one ends in ``:<number>``). Without any ``:<number>``, items are split on commas and
    have no rating (fine for ``ranking`` checkpoints).

    Raises:
        MetaRecError: a piece is left without a rating while others have one.
    """
    pieces = text.split(",")
    if not any(_RATED.match(p) for p in pieces):
        return [(p.strip(), None) for p in pieces if p.strip()]
    ratings: list[Rating] = []
    pending = ""
    for piece in pieces:
        pending = f"{pending},{piece}" if pending else piece
        if match := _RATED.match(pending):
            ratings.append((match["item"].strip(), float(match["rating"])))
            pending = ""
    if pending.strip():
        raise MetaRecError(f"--ratings: {pending.strip()!r} has no rating; write item:rating")
    return ratings


def read_ratings_file(path: str | Path) -> list[Rating]:
    """Read a CSV with an ``item`` column (title or raw id) and an optional ``rating`` column."""
    try:
        frame = pd.read_csv(path, dtype={"item": str})
    except (OSError, ValueError) as err:
        raise MetaRecError(f"cannot read ratings file {str(path)!r}: {err}") from None
    if "item" not in frame.columns:
        raise MetaRecError(
            f"ratings file {str(path)!r} needs an 'item' column (title or id) and optionally "
            f"'rating'; found columns {list(frame.columns)}"
        )
    ratings = frame["rating"] if "rating" in frame.columns else pd.Series([None] * len(frame))
    return [
        (str(item), None if pd.isna(rating) else float(rating))
        for item, rating in zip(frame["item"], ratings, strict=True)
    ]


class _ItemIndex:
    """Finds item codes by raw id, exact title or normalized title; suggests close titles."""

    def __init__(self, log_: EncodedLog) -> None:
        self.log_ = log_
        self.by_id = {str(raw): code for code, raw in enumerate(log_.item_ids)}
        self.by_title: dict[str, list[int]] = {}
        self.by_key: dict[str, list[int]] = {}
        for code, title in enumerate(log_.titles):
            self.by_title.setdefault(str(title).strip().lower(), []).append(code)
            self.by_key.setdefault(_normalize(str(title)), []).append(code)

    def find(self, name: str) -> list[int]:
        """Codes matching ``name`` (several when the title is ambiguous, none when unknown)."""
        if name in self.by_id:
            return [self.by_id[name]]
        return self.by_title.get(name.strip().lower()) or self.by_key.get(_normalize(name), [])

    def close(self, name: str) -> list[str]:
        """Up to three listed titles close to ``name``."""
        keys = difflib.get_close_matches(_normalize(name), list(self.by_key), n=3, cutoff=0.6)
        return [str(self.log_.titles[self.by_key[key][0]]) for key in keys]

    def describe(self, codes: list[int]) -> str:
        return ", ".join(f"{self.log_.titles[c]} [id {self.log_.item_ids[c]}]" for c in codes)


class Recommender:
    """A meta-trained task and its data, ready to adapt to new users.

    Args:
        task: the meta-trained task; a private copy is made (the original is not modified).
        datamodule: the data the task was trained on (same dataset and domains).

    Raises:
        MetaRecError: the data's sizes differ from the ones the task was trained with.
    """

    def __init__(self, task: MetaRecTask, datamodule: MetaRecDataModule) -> None:
        self.datamodule = datamodule
        self.log_ = datamodule.log_
        schema = task.hparams["schema"]
        found = (self.log_.num_users, self.log_.num_items)
        if (schema["num_users"], schema["num_items"]) != found:
            raise MetaRecError(
                f"the checkpoint was trained on {schema['num_users']} users and "
                f"{schema['num_items']} items, the data has {found[0]} and {found[1]}: use the "
                "data settings of the training run (--config <run folder>/config.yaml)"
            )
        self.task = copy.deepcopy(task).cpu().eval()
        _neutralize_user(self.task.model, self.log_, code=0)
        self.items = _ItemIndex(self.log_)

    @classmethod
    def from_checkpoint(
        cls,
        ckpt: str | Path,
        task_class: type[MetaRecTask] | None = None,
        config: str | Path | None = None,
        data_dir: str | Path | None = None,
    ) -> Recommender:
        """Load a task checkpoint and rebuild its data module.

        Args:
            ckpt: a checkpoint written during ``fit``.
            task_class: the task's class (default: the one the CLI recorded in the
                checkpoint, else ``model.class_path`` of ``config``).
            config: a CLI config whose ``data`` section builds the data module (default: the
                data settings stored in the checkpoint).
            data_dir: the data home, overriding the configured one.
        """
        if not Path(ckpt).is_file():
            raise MetaRecError(f"checkpoint {str(ckpt)!r} not found")
        stored = torch.load(ckpt, map_location="cpu", weights_only=True)
        task_class = task_class or _task_class(stored.get("hyper_parameters", {}), config)
        task = task_class.load_from_checkpoint(ckpt, map_location="cpu")
        overrides = {"data_dir": str(data_dir)} if data_dir is not None else {}
        if config is not None:
            datamodule = _datamodule_from_config(config, overrides)
        else:
            data_class = _stored_class(
                stored.get("datamodule_hyper_parameters", {}), MetaRecDataModule
            )
            datamodule = data_class.load_from_checkpoint(ckpt, **overrides)
        return cls(task, datamodule)  # a source history, if any, is in the checkpoint

    @property
    def target_domain(self) -> str:
        """Name of the domain recommendations come from."""
        return self.log_.domains[self.datamodule.target]

    def resolve(self, ratings: Sequence[Rating]) -> tuple[np.ndarray, np.ndarray]:
        """Item codes and ratings of ``ratings``; ranking tasks count every item as positive.

        Raises:
            MetaRecError: one line listing unknown items (with close titles), ambiguous titles
                (with their ids), missing or out-of-range ratings, or repeated items.
        """
        codes, problems = [], []
        for name, _ in ratings:
            found = self.items.find(name)
            if len(found) == 1:
                codes.append(found[0])
            elif found:
                problems.append(f"{name!r} is ambiguous ({self.items.describe(found)})")
            else:
                close = self.items.close(name)
                hint = f" (close: {'; '.join(close)})" if close else ""
                problems.append(f"unknown item {name!r}{hint}")
        if problems:
            raise MetaRecError("; ".join(problems) + "; give a listed title or a raw item id")
        if not codes:
            raise MetaRecError("no rated items given: pass --ratings or --ratings-file")
        if len(set(codes)) < len(codes):
            raise MetaRecError("an item is given more than once")
        return np.asarray(codes, dtype=np.int64), self._targets(ratings)

    def _targets(self, ratings: Sequence[Rating]) -> np.ndarray:
        if self.task.kind != "rating":
            return np.ones(len(ratings), dtype=np.float32)
        low, high = float(self.log_.rating.min()), float(self.log_.rating.max())
        bad = [f"{n!r}" for n, r in ratings if r is None or not low <= r <= high]
        if bad:
            raise MetaRecError(
                f"ratings must be numbers in [{low:g}, {high:g}] (item:rating); "
                f"check {', '.join(bad)}"
            )
        return np.asarray([r for _, r in ratings], dtype=np.float32)

    def episode(self, items: np.ndarray, targets: np.ndarray) -> Episode:
        """The new user's task: ``items`` as support, every other target-domain item as query.

        ``ranking`` tasks add ``train_negatives`` sampled target-domain items per positive to
        the support set (target 0), as in evaluation.
        """
        log_, hp = self.log_, self.datamodule.hparams
        domain_items = np.flatnonzero(log_.item_domain == self.datamodule.target)
        query = np.setdiff1d(domain_items, items)
        if self.task.kind != "rating":
            rng = np.random.default_rng(hp["seed"])
            n = min(len(query), hp["train_negatives"] * len(items))
            negatives = np.sort(rng.choice(query, n, replace=False))
            items = np.concatenate((items, negatives))
            targets = np.concatenate((targets, np.zeros(n, np.float32)))
        genres = torch.from_numpy(log_.item_genres)
        zeros = torch.zeros(len(query))
        values: dict[str, Any] = {
            "task_index": 0,
            "protocol": "full",  # every unrated target-domain item is a candidate
            "user": torch.tensor(0),
            "user_features": torch.zeros(log_.user_features.shape[1], dtype=torch.long),
            "support_item": torch.from_numpy(items),
            "support_genres": genres[items],
            "support_target": torch.from_numpy(targets),
            "query_item": torch.from_numpy(query),
            "query_genres": genres[query],
            "query_target": zeros,
            "query_popularity": zeros,
            "query_item_mean": zeros,
        }
        names = {f.name for f in fields(Episode)}
        return Episode(**{k: v for k, v in values.items() if k in names})

    def recommend(self, ratings: Sequence[Rating], top_k: int = 10) -> pd.DataFrame:
        """Top-``top_k`` target-domain items for a new user who gave ``ratings``.

        Returns:
            Columns ``rank`` (1 = best), ``item`` (raw id), ``title``, ``score`` (predicted
            rating, or logit for ``ranking`` tasks).
        """
        episode = self.episode(*self.resolve(ratings))
        with torch.inference_mode(False):
            scores = self.task.meta_learn(episode, train=False)[1].detach().float().numpy()
        query = episode.query_item.numpy()
        order = np.lexsort((query, -scores))[:top_k]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(order) + 1),
                "item": self.log_.item_ids[query[order]],
                "title": self.log_.titles[query[order]],
                "score": scores[order].astype(np.float64),
            }
        )

    def outside_target(self, ratings: Sequence[Rating]) -> list[str]:
        """Titles of given items that are not in the target domain."""
        codes = [self.items.find(name) for name, _ in ratings]
        return [
            str(self.log_.titles[c[0]])
            for c in codes
            if len(c) == 1 and self.log_.item_domain[c[0]] != self.datamodule.target
        ]


def _task_class(hparams: dict[str, Any], config: str | Path | None) -> type[Any]:
    """The task class recorded by the CLI in the checkpoint, else the config's model class."""
    if hparams.get("_class_path"):
        return _stored_class(hparams, MetaRecTask)
    model = _read_config(config).get("model") if config is not None else None
    if isinstance(model, dict) and model.get("class_path"):
        return _stored_class({"_class_path": model["class_path"]}, MetaRecTask)
    raise MetaRecError(
        "the checkpoint does not record its task class (saved outside the CLI): pass "
        "--config with the training config, or use Recommender.from_checkpoint(ckpt, MAMLTask)"
    )


def _stored_class(hparams: dict[str, Any], base: type[Any]) -> type[Any]:
    """The subclass of ``base`` named by a checkpoint's ``_class_path`` (written by the CLI).

    Only classes of this package or of modules already imported are resolved, as Lightning
    does, so a checkpoint cannot make this import arbitrary code.
    """
    path = hparams.get("_class_path")
    if not path:
        return base
    module, _, name = str(path).rpartition(".")
    if not module.startswith("lightning_metarec") and module not in sys.modules:
        raise MetaRecError(
            f"the checkpoint needs {path!r}: import {module} first, or use the Python API"
        )
    found = getattr(importlib.import_module(module), name, None)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise MetaRecError(f"the checkpoint names {path!r}, which is not a {base.__name__}")
    return found


def _neutralize_user(model: nn.Module, log_: EncodedLog, code: int) -> None:
    """Reset user ``code``'s inputs to the population average (see the module docstring)."""
    with torch.no_grad():
        user_embedding = getattr(model, "user_embedding", None)
        if isinstance(user_embedding, nn.Embedding):
            user_embedding.weight[code] = user_embedding.weight.mean(0)
        for i, emb in enumerate(getattr(model, "feature_embeddings", ())):
            counts = np.bincount(log_.user_features[:, i], minlength=emb.num_embeddings)
            weights = torch.from_numpy(counts.astype(np.float32))
            weights[0] = 0.0  # the unknown code itself does not count
            if weights.sum() > 0:
                emb.weight[0] = weights @ emb.weight / weights.sum()
        mask = getattr(model, "history_mask", None)
        if isinstance(mask, Tensor) and mask.ndim == 2:
            mask[code] = 0.0


def _read_config(config: str | Path) -> dict[str, Any]:
    """A YAML config file as a dict."""
    import yaml

    try:
        raw = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise MetaRecError(f"cannot read config {str(config)!r}: {err}") from None
    if not isinstance(raw, dict):
        raise MetaRecError(f"config {str(config)!r} is not a mapping of sections")
    return raw


def _datamodule_from_config(config: str | Path, overrides: dict[str, Any]) -> MetaRecDataModule:
    """Build the ``data`` section (class_path + init_args) of a CLI config file."""
    from jsonargparse import ArgumentParser

    raw = _read_config(config)
    if "data" not in raw:
        raise MetaRecError(f"config {str(config)!r} has no 'data' section")
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(MetaRecDataModule, "data", required=True)
    try:
        section = parser.parse_object({"data": raw["data"]})
    except Exception as err:  # jsonargparse reports type errors as ArgumentError
        raise MetaRecError(f"config {str(config)!r}, data section: {err}") from None
    for key, value in overrides.items():
        section[f"data.init_args.{key}"] = value
    datamodule = parser.instantiate_classes(section).data
    if not isinstance(datamodule, MetaRecDataModule):
        raise MetaRecError(f"config {str(config)!r}: data is not a MetaRecDataModule")
    return datamodule


def _arguments(args: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lightning_metarec.recommend",
        description="Top-K target-domain recommendations for one new user, after adapting a "
        "meta-trained checkpoint on their ratings.",
    )
    parser.add_argument("--ckpt", required=True, help="checkpoint written by fit")
    parser.add_argument(
        "--config", help="CLI config with the data settings (default: those in the checkpoint)"
    )
    parser.add_argument("--data-dir", help="data home (default: as configured)")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--ratings", help='"Title:rating,Title:rating" (titles or raw item ids)')
    given.add_argument("--ratings-file", help="CSV with columns item,rating")
    parser.add_argument("--top-k", type=int, default=10, help="recommendations (default 10)")
    return parser.parse_args(args)


def main(args: Sequence[str] | None = None) -> pd.DataFrame:
    """Print the top-K recommendations for one new user; user errors exit 2 with one line.

    Args:
        args: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The printed recommendations (see :meth:`Recommender.recommend`).
    """
    options = _arguments(args)
    try:
        if options.top_k < 1:
            raise MetaRecError(f"--top-k must be >= 1, got {options.top_k}")
        ratings = (
            parse_ratings(options.ratings)
            if options.ratings is not None
            else read_ratings_file(options.ratings_file)
        )
        recommender = Recommender.from_checkpoint(
            options.ckpt, config=options.config, data_dir=options.data_dir
        )
        table = recommender.recommend(ratings, options.top_k)
    except MetaRecError as err:
        print(f"lightning_metarec.recommend: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    _report(recommender, ratings, table)
    return table


def _report(recommender: Recommender, ratings: Sequence[Rating], table: pd.DataFrame) -> None:
    """Print the recommendations, with one note when given items lie outside the domain."""
    outside = recommender.outside_target(ratings)
    domain = recommender.target_domain
    if outside:
        print(
            f"note: {len(outside)} of {len(ratings)} given items are outside the target domain "
            f"{domain!r} ({'; '.join(outside)}); they are used for adaptation all the same",
            file=sys.stderr,
        )
    algorithm = type(recommender.task).__name__.removesuffix("Task")
    print(
        f"Top {len(table)} {domain} items for a new user ({algorithm}, adapted on "
        f"{len(ratings)} items):"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
