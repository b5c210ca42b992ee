"""benchmarks/compare.py: rows and the Markdown table (mean ± std over seeds, chosen columns)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _compare():
    spec = importlib.util.spec_from_file_location("compare", REPO / "benchmarks" / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_has_the_spec_columns_mean_and_population_std() -> None:
    compare = _compare()
    columns = ("mae", "ndcg@3")
    rows = []
    for seed, (mae, ndcg, pop) in enumerate([(0.70, 0.80, 0.90), (0.74, 0.84, 0.92)]):
        metrics = {
            "test/mae": mae,
            "test/ndcg@3": ndcg,
            "test/popularity/mae": pop,
            "test/users": 50.0,
        }
        rows += compare._rows("MeLU", metrics, seed, "query_only", 10.0, "popularity", columns)
    caption = {"query_only": ["ml-1m, 50 cold-start test users; support K=rest"]}
    table = compare.to_markdown(pd.DataFrame(rows), caption, [0, 1], columns)
    assert "| model | mae | ndcg@3 | users | wall s / run |" in table
    assert "| MeLU | 0.7200 ± 0.0200 | 0.8200 ± 0.0200 | 50 | 10 |" in table
    assert "| popularity | 0.9100 ± 0.0100 | - | 50 | 0 |" in table  # no popularity ndcg given
    assert "ml-1m, cold-start test users (per row: users column); support K=rest; mean" in table


def test_caption_generalises_the_target_domain_when_runs_differ() -> None:
    compare = _compare()
    lines = [
        f"ml-100k, target domain '{d}', {n} cold-start test users; candidates: each query item "
        f"among the same 50 sampled unrated {d} items (sampled-50)"
        for d, n in (("Comedy", 84), ("Sci-Fi", 30))
    ]
    assert compare.caption_of(lines[:1]) == (
        "ml-100k, target domain 'Comedy', cold-start test users (per row: users column); "
        "candidates: each query item among the same 50 sampled unrated Comedy items (sampled-50)"
    )
    assert compare.caption_of(lines) == (
        "ml-100k, the row's target domain, cold-start test users (per row: users column); "
        "candidates: each query item among the same 50 sampled unrated target-domain items "
        "(sampled-50)"
    )


def test_identical_popularity_rows_are_merged_and_different_ones_kept() -> None:
    compare = _compare()
    columns = ("rmse",)
    rows = []
    for seed in (0, 1):
        for name, pop in (("a", 1.0 + seed), ("b", 1.0 + seed), ("c", 2.0 + seed)):
            metrics = {"test/rmse": 0.5, "test/popularity/rmse": pop, "test/users": 10.0}
            rows += compare._rows(
                name, metrics, seed, "sampled", 1.0, f"popularity [{name}]", columns
            )
    frame = compare.merge_identical_baselines(pd.DataFrame(rows), columns)
    baselines = frame[frame["model"].str.startswith("popularity")]
    assert sorted(baselines["model"].unique()) == ["popularity [a; b]", "popularity [c]"]
    assert len(baselines) == 4  # two baselines x two seeds
    assert len(frame) == 10  # three runs x two seeds + four baseline rows


@pytest.mark.parametrize("spec", sorted((REPO / "benchmarks").glob("compare_*.yaml")))
def test_every_spec_names_an_existing_config_and_known_protocols(spec: Path) -> None:
    content = yaml.safe_load(spec.read_text())
    assert (REPO / content["base_config"]).is_file()
    assert set(content["protocols"]) <= {"query_only", "sampled", "full"}
    assert all(
        run["model"]["class_path"].startswith("lightning_metarec.tasks.") for run in content["runs"]
    )


HEAD_ONLY_NAMES = ("MeLU", "ANIL", "head")
ADAPTING_TASKS = ("MAMLTask", "MetaSGDTask", "ReptileTask")


@pytest.mark.parametrize("spec", sorted((REPO / "benchmarks").glob("compare_*.yaml")))
def test_only_rows_named_head_only_adapt_the_head(spec: Path) -> None:
    """A row's init_args are merged over the base config's, so a row that does not set ``adapt``
    inherits it: MeLU's base config (adapt: head) once made "MetaSGD" and "FOMAML" head-only."""
    content = yaml.safe_load(spec.read_text())
    base = yaml.safe_load((REPO / content["base_config"]).read_text())
    inherited = base["model"].get("init_args", {}).get("adapt", "all")
    for run in content["runs"]:
        if not run["model"]["class_path"].endswith(ADAPTING_TASKS):
            continue
        adapt = run["model"].get("init_args", {}).get("adapt", inherited)
        head_only = any(word in run["name"] for word in HEAD_ONLY_NAMES)
        assert adapt == ("head" if head_only else "all"), run["name"]


def test_saved_runs_are_skipped_on_resume_and_tabled_with_their_captions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    compare = _compare()
    spec = {
        "base_config": "configs/ml1m_melu.yaml",
        "protocols": ["query_only"],
        "metrics": ["rmse"],
        "runs": [{"name": "b", "model": {}}, {"name": "a", "model": {}}],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    fitted: list[tuple[str, int]] = []

    def fake_run(spec, run, seed, out, columns):  # the real fit is covered by the CLI tests
        fitted.append((run["name"], seed))
        metrics = {"test/rmse": 1.0 + seed, "test/popularity/rmse": 2.0, "test/users": 5.0}
        rows = compare._rows(run["name"], metrics, seed, "query_only", 3.0, "popularity", columns)
        return [{**r, "caption": "ml-1m, 5 cold-start test users; K=rest"} for r in rows]

    monkeypatch.setattr(compare, "_run_one", fake_run)
    argv = ["compare.py", "--spec", str(tmp_path / "spec.yaml"), "--out", str(tmp_path)]
    monkeypatch.setattr("sys.argv", [*argv, "--seeds", "0", "--only", "a"])
    compare.main()  # an interrupted comparison: only run a, seed 0, was saved
    monkeypatch.setattr("sys.argv", [*argv, "--seeds", "0", "1", "--resume"])
    compare.main()
    assert fitted == [("a", 0), ("b", 0), ("b", 1), ("a", 1)]  # seed-major, (a, 0) not twice
    table = (tmp_path / "results.md").read_text()
    assert "| a | 1.5000 ± 0.5000 | 5 | 3 |" in table
    assert "| popularity | 2.0000 ± 0.0000 | 5 | 0 |" in table
    assert table.index("| b |") < table.index("| a |") < table.index("| popularity |")  # spec order
    assert "ml-1m, cold-start test users (per row: users column); K=rest" in table
    assert "skipped: a seed 0" in capsys.readouterr().out


def test_a_row_missing_a_seed_says_so() -> None:
    compare = _compare()
    rows = []
    for seed in (0, 1):
        metrics = {"test/rmse": 1.0, "test/popularity/rmse": 2.0, "test/users": 5.0}
        rows += compare._rows("a", metrics, seed, "full", 1.0, "popularity", ("rmse",))
    rows += compare._rows("b", metrics, 0, "full", 1.0, "popularity", ("rmse",))
    frame = pd.DataFrame(rows).drop_duplicates(["model", "seed"])
    table = compare.to_markdown(frame, {"full": ["x"]}, [0, 1], ("rmse",))
    assert "| a | 1.0000 ± 0.0000 |" in table
    assert "| b (without seed 1) | 1.0000 ± 0.0000 |" in table


def test_each_spec_gets_its_own_output_folder_by_default() -> None:
    compare = _compare()
    assert compare.default_out(Path("benchmarks/compare_ml1m.yaml")) == Path("results/ml1m")
    assert compare.default_out(Path("benchmarks/compare_ml100k.yaml")) == Path("results/ml100k")
    assert compare.default_out(Path("my_spec.yaml")) == Path("results/my_spec")
