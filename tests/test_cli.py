"""End-to-end CLI runs on the real MovieLens-100K (no mocks: real Lightning, learn2learn, data)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_metarec import __version__
from lightning_metarec.main import main

REPO = Path(__file__).resolve().parents[1]


def _fast(data_home: Path, out: Path, config: str = "ml100k_maml.yaml") -> list[str]:
    return [
        "--config",
        str(REPO / "configs" / config),
        "--data.init_args.data_dir",
        str(data_home),
        "--data.init_args.download",
        "false",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "4",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger.init_args.save_dir",
        str(out),
        "--trainer.default_root_dir",
        str(out),
    ]


def test_version_and_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"lightning_metarec {__version__}"
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    assert "--data" in capsys.readouterr().out


def test_print_config_shows_both_configs(capsys, data_home) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(REPO / "configs" / "ml100k_maml.yaml"), "--print_config"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "lightning_metarec.tasks.MAMLTask" in out and "target_domain: Comedy" in out


@pytest.mark.parametrize("config", ["ml100k_maml.yaml", "ml100k_maml_ranking.yaml"])
def test_fit_tests_best_checkpoint_and_saved_config_rebuilds_model(
    tmp_path, data_home, capsys, config
) -> None:
    cli = main(["fit", *_fast(data_home, tmp_path, config)])
    assert cli is not None
    table = capsys.readouterr().out
    assert "Protocol: ml-100k, target domain 'Comedy'" in table
    for row in ("MAML (adapted)", "MAML, no adaptation", "popularity (target domain)"):
        assert row in table
    log_dir = Path(cli.trainer.log_dir)
    best = cli.trainer.checkpoint_callback.best_model_path
    assert Path(best).is_file() and (log_dir / "checkpoints" / "last.ckpt").is_file()
    after_fit = {
        k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test")
    }
    assert (log_dir / "results.csv").read_text().count("\n") == 4
    # the schema reached the model without being typed, and is stored for rebuilding
    assert torch.load(best, weights_only=False)["hyper_parameters"]["schema"]["num_items"] == 1682

    again = main(
        [
            "test",
            "--config",
            str(log_dir / "config.yaml"),
            "--ckpt_path",
            best,
            "--trainer.logger",
            "false",
            "--trainer.default_root_dir",
            str(tmp_path / "t"),
        ]
    )
    assert again is not None
    rerun = {k: float(v) for k, v in again.trainer.callback_metrics.items() if k.startswith("test")}
    assert rerun == pytest.approx(after_fit)


def _error(capsys, args: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_unknown_dataset_is_one_line(capsys, tmp_path, data_home) -> None:
    err = _error(capsys, ["fit", *_fast(data_home, tmp_path), "--data.init_args.dataset", "ml-5k"])
    assert "ml-5k" in err and "ml-100k" in err


def test_unknown_target_domain_lists_domains(capsys, tmp_path, data_home) -> None:
    err = _error(
        capsys, ["fit", *_fast(data_home, tmp_path), "--data.init_args.target_domain", "Anime"]
    )
    assert "'Anime'" in err and "Comedy" in err and "Western" in err


def test_missing_data_offline_names_variable_folder_and_url(capsys, tmp_path, data_home) -> None:
    args = _fast(data_home, tmp_path)
    args[args.index(str(data_home))] = str(tmp_path / "empty")
    err = _error(capsys, ["fit", *args])
    assert "LIGHTNING_METAREC_DATA" in err and str(tmp_path / "empty") in err
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in err


def test_a_model_refusing_its_options_is_one_line_not_jsonargparse_wall(
    capsys, tmp_path, data_home
) -> None:
    args = ["fit", *_fast(data_home, tmp_path), "--model", "lightning_metarec.tasks.ReptileTask"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--model.adapt", "head"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Does not validate" not in err and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "lightning_metarec: error: Reptile needs adapt: all (it only moves adapted weights, so "
        "the embeddings would never be trained with adapt: head)"
    )


def test_support_and_query_larger_than_any_history(capsys, tmp_path, data_home) -> None:
    err = _error(
        capsys, ["fit", *_fast(data_home, tmp_path), "--data.init_args.support_size", "400"]
    )
    assert "no user has at least support_size + query_size = 410" in err


def test_target_domain_without_eligible_users(capsys, tmp_path, data_home) -> None:
    err = _error(
        capsys, ["fit", *_fast(data_home, tmp_path), "--data.init_args.target_domain", "unknown"]
    )
    assert (
        "no user has at least support_size + query_size = 20 interactions in target domain "
        "'unknown'" in err
    )


def _bad_copy(data_home: Path, tmp_path: Path, edit) -> Path:
    """A data home whose ml-100k.inter is the real file passed through ``edit``."""
    folder = tmp_path / "home" / "ml-100k"
    folder.mkdir(parents=True)
    for ext in ("item", "user"):
        (folder / f"ml-100k.{ext}").write_bytes(
            (data_home / "ml-100k" / f"ml-100k.{ext}").read_bytes()
        )
    lines = (data_home / "ml-100k" / "ml-100k.inter").read_bytes().splitlines(keepends=True)
    (folder / "ml-100k.inter").write_bytes(b"".join(edit(lines)))
    return folder.parent


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda ls: [ls[0].replace(b"rating:float", b"score:float"), *ls[1:]], "'rating'"),
        (
            lambda ls: [ls[0], ls[1].replace(b"\t3\t", b"\tnan\t", 1), *ls[2:]],
            "value 'nan' at data row 1",
        ),
        (lambda ls: [ls[0], ls[1].replace(b"\t3\t", b"\t7\t", 1), *ls[2:]], "outside [1, 5]"),
        (
            lambda ls: [ls[0], b"196\t242\t3\t881250949\n", b"caf\xe9\t1\t3\t1\n", *ls[2:]],
            "as utf-8",
        ),
    ],
    ids=["misnamed-column", "nan-rating", "out-of-range", "latin-1-bytes"],
)
def test_bad_files_give_one_line_naming_the_file(
    capsys, tmp_path, data_home, edit, expected
) -> None:
    home = _bad_copy(data_home, tmp_path, edit)
    args = _fast(data_home, tmp_path)
    args[args.index(str(data_home))] = str(home)
    err = _error(capsys, ["fit", *args])
    assert "ml-100k.inter" in err and expected in err, err
