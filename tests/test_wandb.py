"""W&B, offline: a real fit writes a run; its history, config and test table are read back."""

from __future__ import annotations

import json
import logging
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.loggers.logger import DummyExperiment
from lightning.pytorch.utilities import rank_zero_only

from lightning_metarec.main import main, wandb_mode
from tests.test_predict import quick_fit_args

REPO = Path(__file__).resolve().parents[1]
WANDB_YAML = str(REPO / "configs" / "logger" / "wandb.yaml")


@pytest.fixture
def no_wandb_login(tmp_path, monkeypatch) -> Path:
    """No API key, no netrc, W&B files under tmp_path; a dead server URL in case of a bug."""
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DISABLED", "WANDB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no.netrc"))
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    for var, sub in (("WANDB_DIR", ""), ("WANDB_CONFIG_DIR", "cfg"), ("WANDB_CACHE_DIR", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _records(path: Path) -> Iterator[Any]:
    """Records of a ``run-*.wandb`` file (LevelDB-style log of protobuf ``Record``s)."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos, chunk = path.read_bytes(), 32768, 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):  # still being written: read again later
            return
        chunk, pos = chunk + data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # full or last fragment
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            chunk = b""
            yield record


def _read_run(run_dir: Path, timeout: float = 30.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(history: last value per key, config)`` of an offline run.

    ``wandb.finish()`` returns before the service has flushed the file: wait for its exit record.
    """
    (wandb_file,) = run_dir.glob("run-*.wandb")
    deadline = time.monotonic() + timeout
    while True:
        records = list(_records(wandb_file))
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            break
        assert time.monotonic() < deadline, f"{wandb_file} has no exit record"
        time.sleep(0.2)
    history: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history |= {
                i.key or "/".join(i.nested_key): json.loads(i.value_json)
                for i in record.history.item
            }
        elif kind == "config":
            config |= {i.key: json.loads(i.value_json) for i in record.config.update}
    return history, config


def test_offline_fit_logs_metrics_config_and_results_table(
    no_wandb_login, data_home, caplog
) -> None:
    out = no_wandb_login / "runs"
    args = [*quick_fit_args(data_home, out), "--trainer.logger", WANDB_YAML]
    args += ["--trainer.logger.init_args.save_dir", str(out)]
    with caplog.at_level(logging.INFO, logger="lightning_metarec"):
        cli = main(["fit", *args])
    assert cli is not None
    notes = [r.getMessage() for r in caplog.records if "W&B" in r.getMessage()]
    assert notes == [
        f"W&B offline (no W&B API key or login found): run saved under {out / 'wandb'}; "
        f"upload later with `wandb sync {out / 'wandb' / 'offline-run-*'}`"
    ]
    assert sys.modules["wandb"].run is None  # finished by main: nothing left to hang at exit

    logger = cli.trainer.logger
    assert isinstance(logger, WandbLogger)
    (run_dir,) = (out / "wandb").glob(f"offline-run-*-{logger.version}")
    history, config = _read_run(run_dir)
    expected = {
        k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")
    }
    assert not set(expected) - set(history), sorted(history)
    assert {k: history[k] for k in expected} == pytest.approx(expected)
    assert "val/rmse" in history
    assert config["inner_lr"] == 0.05 and config["schema"]["num_items"] == 1682
    assert config["target_domain"] == "Comedy"  # data hyperparameters too
    assert config["cli"]["trainer"]["max_epochs"] == 1  # and the whole CLI config

    assert history["test/results/_type"] == "table-file"
    table = json.loads((run_dir / "files" / history["test/results/path"]).read_text())
    # rating kind, query-only candidates: HR@10 is 1 by construction, so it is not a column
    assert table["columns"] == ["model", "ndcg@10", "mae", "rmse", "protocol"]
    rows = {row[0]: row for row in table["data"]}
    assert rows["MAML (adapted)"][3] == pytest.approx(expected["test/rmse"])
    assert set(rows) == {"MAML (adapted)", "MAML, no adaptation", "popularity (target domain)"}

    folder = out / "lightning_metarec" / logger.version  # per run, not the shared save_dir
    assert (folder / "config.yaml").is_file() and (folder / "results.md").is_file()
    assert Path(cli.trainer.checkpoint_callback.best_model_path).parent == folder / "checkpoints"


def test_offline_with_log_model_is_refused_before_training(
    no_wandb_login, data_home, capsys
) -> None:
    out = no_wandb_login / "runs"
    args = [*quick_fit_args(data_home, out), "--trainer.logger", WANDB_YAML]
    with pytest.raises(SystemExit) as exit_:
        main(["fit", *args, "--trainer.logger.init_args.log_model", "true"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert "W&B runs offline (no W&B API key or login found) but log_model=True" in err[0]
    assert not (out / "wandb").exists() and not list(out.rglob("*.ckpt"))


@pytest.mark.parametrize(
    ("env", "netrc", "requested", "expected"),
    [
        ({}, False, None, "offline"),
        ({}, True, None, "online"),
        ({"WANDB_API_KEY": "x" * 40}, False, None, "online"),
        ({"WANDB_API_KEY": "x" * 40, "WANDB_MODE": "offline"}, False, None, "offline"),
        ({"WANDB_MODE": "dryrun"}, True, None, "offline"),
        ({"WANDB_MODE": "online"}, False, None, "online"),
        ({"WANDB_MODE": "disabled"}, True, None, "disabled"),
        ({"WANDB_DISABLED": "true"}, True, None, "disabled"),
        ({"WANDB_API_KEY": "x" * 40}, False, "offline", "offline"),
    ],
)
def test_wandb_mode(no_wandb_login, monkeypatch, env, netrc, requested, expected) -> None:
    if netrc:
        path = no_wandb_login / "no.netrc"
        path.write_text(f"machine 127.0.0.1:9\n  login user\n  password {'k' * 40}\n")
        path.chmod(0o600)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert wandb_mode(requested)[0] == expected


def test_only_rank_zero_creates_the_run(no_wandb_login, monkeypatch) -> None:
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = WandbLogger(project="p", save_dir=str(no_wandb_login), mode="offline")
    assert isinstance(logger.experiment, DummyExperiment)
    logger.log_metrics({"test/rmse": 1.0}, step=0)
    logger.log_hyperparams({"a": 1})
    assert not (no_wandb_login / "wandb").exists()
