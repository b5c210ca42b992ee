"""LightningDataModule: real interaction logs -> cold-start episodes of a target domain."""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from lightning import LightningDataModule
from torch.utils.data import DataLoader

from lightning_metarec.data.domains import MultiGenreRule, assign_genre_domains
from lightning_metarec.data.encoded import DuplicateRule, EncodedLog, encode
from lightning_metarec.data.episodes import EpisodeCollator, EpisodeDataset, EpisodeSet
from lightning_metarec.data.home import load_movielens
from lightning_metarec.data.leakage import check_leakage
from lightning_metarec.data.sampling import NegativeSampler
from lightning_metarec.data.sharding import ShardedTaskSampler
from lightning_metarec.data.sources import InteractionSource, item_domains
from lightning_metarec.data.splits import (
    ColdStartSplit,
    SupportSelection,
    SupportSize,
    TaskSet,
    cold_start_split,
)
from lightning_metarec.data.table import InteractionData
from lightning_metarec.errors import DataError

__all__ = ["ALL_ITEMS", "MetaRecDataModule", "TaskKind"]

log = logging.getLogger(__name__)

TaskKind = Literal["rating", "ranking"]
Candidates = Literal["auto", "query_only", "sampled", "full"]

#: ``target_domain`` value that puts every item in one domain (pure user cold start, MeLU).
ALL_ITEMS = "all"


class MetaRecDataModule(LightningDataModule):
    """Cold-start meta-learning episodes from a MovieLens log, domains by genre.

    One task is one user in one domain: a support set of ``support_size`` interactions and a
    query set of the next ``query_size``. Meta-train tasks come from the source domains and from
    the target domain's meta-train users; validation and test tasks are the target-domain tasks
    of held-out (cold-start) users.

    Args:
        dataset: ``ml-100k`` or ``ml-1m`` (RecBole atomic or GroupLens raw files); with
            ``source``, only a label in the protocol line.
        source: any other log (Amazon reviews, Douban, a CSV/Parquet with a domain column),
            as ``class_path``/``init_args`` of an
            :class:`~lightning_metarec.data.sources.InteractionSource`; its ``domain`` column
            (category, file) defines the domains instead of genres.
        data_dir: folder holding ``<dataset>/``; default ``$LIGHTNING_METAREC_DATA`` or the user
            cache. Downloaded from GroupLens (checksum verified) when absent and ``download``.
        download: allow downloading a missing dataset.
        target_domain: the genre whose new users are evaluated, e.g. ``Comedy``; ``all``
            puts every item in one domain (pure user cold start, as in MeLU).
        multi_genre: domain of multi-genre movies: ``target_first`` (a movie with the target
            genre is in the target domain, else in its first genre) or ``first``.
        task_kind: ``rating`` (explicit ratings; MSE/MAE/RMSE and graded NDCG over the query
            items) or ``ranking`` (implicit feedback; each query item ranked among
            ``num_negatives`` sampled unrated target-domain items; HR/NDCG).
        support_size: K, interactions per support set, or ``rest``: all of a task's
            interactions but the query (variable length; MeLU's protocol; ``rating`` only).
        query_size: Q, interactions per query set.
        support_selection: ``time`` (earliest K, then the next Q; with ``rest`` the query is
            the latest Q) or ``random`` (seeded).
        query_start: position of the first query interaction (default K). A support-size
            sweep sets it to the largest K so every K is scored on the same query items.
        val_fraction: fraction of eligible target-domain users used for model selection.
        test_fraction: fraction of eligible target-domain users used only for the final test.
        eval_users_in_source_tasks: keep held-out users' source-domain tasks in meta-training
            (cross-domain cold start, default) or drop them (pure new-user cold start).
        min_target_interactions: evaluate only held-out users with at least this many
            target-domain interactions (default K + Q). Set it to the largest K + Q of a
            support-size sweep so every K is evaluated on the same users.
        max_interactions: drop tasks with more interactions, and held-out users with more
            target-domain interactions (MeLU keeps users with 13 to 100 ratings). None: no cap.
        overlap_only: draw val/test users only from users who also interact in a source
            domain (the EMCDR/PTUPCDR protocol; ``test_fraction`` is its beta).
        candidates: evaluation protocol (which items are ranked for a held-out user):
            ``query_only`` (the user's query items, graded by rating; comparable with MeLU/TaNP
            papers; HR saturates), ``sampled`` (each query item among the same
            ``num_negatives`` sampled unrated target-domain items), ``full`` (the query items
            among every target-domain item the user never rated, support negatives excluded).
            ``auto``: ``query_only`` for ``rating``, ``sampled`` for ``ranking``. Candidates
            are fixed at setup (seeded), so every model sees the same ones.
        num_negatives: sampled negatives per evaluation user (``sampled``), shared by that
            user's query items.
        train_negatives: sampled negatives per positive in support sets and training queries
            (``ranking``).
        duplicates: rule for repeated (user, item) pairs: ``last``, ``first`` (by time) or
            ``mean``.
        batch_size: tasks per batch.
        num_workers: DataLoader workers.
        seed: seed of the user split, random support selection and negative sampling.
    """

    def __init__(
        self,
        dataset: str = "ml-100k",
        source: InteractionSource | None = None,
        data_dir: str | Path | None = None,
        download: bool = True,
        target_domain: str = "Comedy",
        multi_genre: MultiGenreRule = "target_first",
        task_kind: TaskKind = "rating",
        support_size: SupportSize = 10,
        query_size: int = 10,
        support_selection: SupportSelection = "time",
        query_start: int | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        eval_users_in_source_tasks: bool = True,
        min_target_interactions: int | None = None,
        max_interactions: int | None = None,
        overlap_only: bool = False,
        candidates: Candidates = "auto",
        num_negatives: int = 99,
        train_negatives: int = 4,
        duplicates: DuplicateRule = "last",
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if support_size == "rest" and task_kind == "ranking":
            raise DataError(
                "support_size: rest is for task_kind: rating (MeLU's protocol); ranking needs a "
                "fixed support_size so every user gets the same number of support negatives"
            )
        self.save_hyperparameters(ignore=["source"])
        self.hparams["source"] = None if source is None else type(source).__name__
        # the object itself (under LightningCLI, hparams hold the config, not the instance)
        self.source = source
        self.episode_sets: dict[str, EpisodeSet] = {}

    # ------------------------------------------------------------------ data preparation
    def load_table(self) -> InteractionData:
        """Read the raw table: ``source`` if given, else the MovieLens ``dataset``."""
        if self.source is not None:
            return self.source.load()
        return load_movielens(
            self.hparams["dataset"], self.hparams["data_dir"], self.hparams["download"]
        )

    def item_domains(self, table: InteractionData) -> pd.Series:
        """Domain of each item: the table's ``domain`` column if any, else by genre.

        ``target_domain: all`` puts every item in one domain named ``all``.
        """
        target = self.hparams["target_domain"]
        if target == ALL_ITEMS:
            ids = table.interactions["item_id"].unique()
            return pd.Series(ALL_ITEMS, index=pd.Index(ids, name="item_id"), name="domain")
        if "domain" not in table.interactions.columns:
            return assign_genre_domains(table.items, target, self.hparams["multi_genre"])
        domains = item_domains(table)
        available = sorted(domains.unique())
        if target not in available:
            raise DataError(
                f"unknown target_domain {target!r}; available domains: {', '.join(available)}"
            )
        return domains

    def prepare_data(self) -> None:
        """Download the dataset if needed (rank 0 only, as Lightning calls it)."""
        self.load_table()

    @cached_property
    def log_(self) -> EncodedLog:
        """The encoded log (read and encoded once per process)."""
        table = self.load_table()
        return encode(table, self.item_domains(table), self.hparams["duplicates"])

    @cached_property
    def split(self) -> ColdStartSplit:
        """The cold-start split, checked for leakage."""
        hp = self.hparams
        split = cold_start_split(
            self.log_,
            hp["target_domain"],
            hp["support_size"],
            hp["query_size"],
            val_fraction=hp["val_fraction"],
            test_fraction=hp["test_fraction"],
            selection=hp["support_selection"],
            seed=hp["seed"],
            eval_users_in_source_tasks=hp["eval_users_in_source_tasks"],
            min_target_interactions=hp["min_target_interactions"],
            max_interactions=hp["max_interactions"],
            overlap_only=hp["overlap_only"],
            query_start=hp["query_start"],
        )
        check_leakage(self.log_, split, self.target, time_mode=hp["support_selection"] == "time")
        if hp["task_kind"] == "ranking" and hp["train_negatives"] > 0:
            split.train = self._with_unrated_items(split.train)
        return split

    def _with_unrated_items(self, tasks: TaskSet) -> TaskSet:
        """Drop (and count) training tasks whose user rated every item of the task's domain."""
        keep = self.sampler.unrated_counts(tasks.user, tasks.domain) > 0
        if not keep.all():
            log.info(
                "%d training tasks dropped: the user rated every item of the domain, so no "
                "negative can be sampled",
                int((~keep).sum()),
            )
        return tasks.subset(keep)

    @property
    def target(self) -> int:
        """Code of the target domain."""
        return self.log_.domains.index(self.hparams["target_domain"])

    @cached_property
    def sampler(self) -> NegativeSampler:
        """Negative sampler over the full log."""
        return NegativeSampler(self.log_)

    @cached_property
    def baseline_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Popularity and shrunk mean rating per item, from meta-train users' target history.

        Only meta-train users count, so no val/test interaction reaches a baseline. The mean is
        shrunk towards the global mean with a prior weight of 5 ratings.
        """
        log_ = self.log_
        rows = (log_.domain == self.target) & np.isin(log_.user, self.split.train_users)
        counts = np.bincount(log_.item[rows], minlength=log_.num_items).astype(np.float64)
        sums = np.bincount(log_.item[rows], weights=log_.rating[rows], minlength=log_.num_items)
        global_mean = float(log_.rating[rows].mean())
        return counts, (sums + 5.0 * global_mean) / (counts + 5.0)

    def source_history(self, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Each user's ``max_len`` most recent source-domain items, never target-domain ones.

        Returns:
            ``(items, mask)`` of shape (num_users, max_len), most recent first; padding has
            item 0 and mask 0.
        """
        log_ = self.log_
        rows = np.flatnonzero(log_.domain != self.target)
        order = rows[np.lexsort((-log_.timestamp[rows], log_.user[rows]))]
        users = log_.user[order]
        first = np.searchsorted(users, users, side="left")
        rank = np.arange(len(order)) - first
        keep = rank < max_len
        items = np.zeros((log_.num_users, max_len), dtype=np.int64)
        mask = np.zeros((log_.num_users, max_len), dtype=np.float32)
        items[users[keep], rank[keep]] = log_.item[order[keep]]
        mask[users[keep], rank[keep]] = 1.0
        return items, mask

    @property
    def schema(self) -> dict[str, Any]:
        """Sizes the model needs, known only after reading the data (linked by the CLI)."""
        log_ = self.log_
        return {
            "num_users": log_.num_users,
            "num_items": log_.num_items,
            "num_genres": len(log_.genres),
            "user_feature_cardinalities": list(log_.user_feature_cardinalities),
            "task_kind": self.hparams["task_kind"],
            "rating_mean": float(log_.rating.mean()),
        }

    @property
    def candidates(self) -> str:
        """The evaluation protocol in force (``auto`` resolved)."""
        chosen = str(self.hparams["candidates"])
        if chosen == "auto":
            return "sampled" if self.hparams["task_kind"] == "ranking" else "query_only"
        if chosen not in ("query_only", "sampled", "full"):
            raise DataError(f"unknown candidates {chosen!r}; use auto, query_only, sampled or full")
        return chosen

    def _eval_negatives(
        self, stage: str, users: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Fixed (support negatives, query negatives, query-negatives mask) of an eval split."""
        hp = self.hparams
        rng = np.random.default_rng((hp["seed"], ("val", "test", "predict").index(stage)))
        k = hp["support_size"] * hp["train_negatives"] if hp["task_kind"] == "ranking" else 0
        n = hp["num_negatives"] if self.candidates == "sampled" else 0
        # query negatives first: they do not change with K (support-size sweeps)
        both = self.sampler.without_replacement(users, self.target, n + k, rng)
        support_neg = both[:, n:] if k else None
        if self.candidates == "full":
            items, mask = self.sampler.all_unrated(users, self.target, support_neg)
            return support_neg, items, mask
        return support_neg, (both[:, :n] if n else None), None

    def _episode_set(self, stage: str) -> EpisodeSet:
        """Build (once) the arrays of split ``stage`` (train/val/test)."""
        if stage in self.episode_sets:
            return self.episode_sets[stage]
        tasks = getattr(self.split, stage)
        implicit = self.hparams["task_kind"] == "ranking"
        if stage == "train":
            episodes = EpisodeSet.from_tasks(self.log_, tasks, implicit)
        else:
            negatives = self._eval_negatives(stage, tasks.user)
            episodes = EpisodeSet.from_tasks(
                self.log_, tasks, implicit, *negatives, protocol=self.candidates
            )
        self.episode_sets[stage] = episodes
        return episodes

    def setup(self, stage: str) -> None:
        """Build the splits the stage needs (fit: train+val; validate; test; predict=test)."""
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for name in needed.get(stage, ("test",)):
            self._episode_set(name)
        log.info(self.describe())

    # ------------------------------------------------------------------ loaders
    def _rank_and_world(self) -> tuple[int, int]:
        """(global rank, world size) of the attached trainer, or (0, 1)."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return 0, 1
        if trainer._accelerator_connector.use_distributed_sampler:
            raise DataError(
                "set trainer.use_distributed_sampler: false (the CLI default): this DataModule "
                "shards tasks across processes itself, while Lightning's DistributedSampler "
                "would repeat evaluation users to pad uneven splits"
            )
        return trainer.global_rank, trainer.world_size

    def _loader(self, stage: str, shuffle: bool) -> DataLoader[Any]:
        hp = self.hparams
        episodes = self._episode_set(stage)
        rank, world = self._rank_and_world()
        sampler = ShardedTaskSampler(
            len(episodes), rank, world, shuffle=shuffle, seed=hp["seed"], drop_uneven=shuffle
        )
        popularity, item_mean = self.baseline_stats
        fresh = hp["task_kind"] == "ranking" and stage == "train"
        collate = EpisodeCollator(
            self.log_,
            episodes,
            popularity,
            item_mean,
            sampler=self.sampler if fresh else None,
            train_negatives=hp["train_negatives"],
            seed=hp["seed"],
        )
        return DataLoader(
            EpisodeDataset(episodes),
            batch_size=hp["batch_size"],
            sampler=sampler,
            collate_fn=collate,
            num_workers=hp["num_workers"],
            persistent_workers=hp["num_workers"] > 0,
        )

    def train_dataloader(self) -> DataLoader[Any]:
        """Meta-train tasks, shuffled."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader[Any]:
        """Target-domain tasks of validation users."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader[Any]:
        """Target-domain tasks of test users."""
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader[Any]:
        """Same tasks as :meth:`test_dataloader` (recommendations for the test users)."""
        return self._loader("test", shuffle=False)

    # ------------------------------------------------------------------ reporting
    @property
    def dataset_name(self) -> str:
        """The dataset name, or the source's class name."""
        source = self.source
        return str(self.hparams["dataset"]) if source is None else type(source).__name__

    def protocol(self) -> str:
        """One line stating the evaluation protocol, printed next to every number."""
        hp = self.hparams
        target = hp["target_domain"]
        candidates = {
            "query_only": "the user's query items only, graded by rating (query-only)",
            "sampled": f"each query item among the same {hp['num_negatives']} sampled unrated "
            f"{target} items (sampled-{hp['num_negatives']})",
            "full": f"the query items among all {target} items the user never rated (full)",
        }[self.candidates]
        return (
            f"{self.dataset_name}, target domain {target!r}, {len(self.split.test_users)} "
            f"cold-start test users; {self._support_line()}, query Q={hp['query_size']}; "
            f"candidates: {candidates}; seed {hp['seed']}"
        )

    def _support_line(self) -> str:
        """Support size (range for ``rest``), selection and query position, for the protocol."""
        hp = self.hparams
        lengths = self.split.test.support_lengths()
        if hp["support_size"] == "rest":
            size = (
                f"K=all but the query ({lengths.min()}-{lengths.max()}, mean {lengths.mean():.1f})"
            )
        else:
            size = f"K={hp['support_size']}"
        where = "" if hp["query_start"] is None else f"; query from position {hp['query_start']}"
        return f"support {size} ({hp['support_selection']}{where})"

    def describe(self) -> str:
        """Counts of users and tasks per split."""
        s = self.split
        return (
            f"{self.dataset_name}: {self.log_.num_users} users, {self.log_.num_items} items, "
            f"{len(self.log_.domains)} domains; tasks train={len(s.train)} val={len(s.val)} "
            f"test={len(s.test)}; target users train/val/test="
            f"{len(s.train_users)}/{len(s.val_users)}/{len(s.test_users)} "
            f"({s.dropped_target_users} not evaluable: too few or too many interactions)"
        )
