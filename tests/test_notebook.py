"""notebooks/quickstart.ipynb runs headless, top to bottom, on the real ML-100K."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"
KERNEL = "lightning_metarec_test"


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec for this interpreter, found first via JUPYTER_PATH (nothing installed)."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL


def test_quickstart_runs_headless(tmp_path, data_home, kernel, monkeypatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("LIGHTNING_METAREC_DATA", str(data_home))
    monkeypatch.setenv("QUICKSTART_FAST", "1")
    monkeypatch.setenv("QUICKSTART_RUNS", str(tmp_path / "runs"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    for figure in ("learning_curves.png", "ndcg_vs_support_size.png"):  # Agg: saved, not shown
        assert (tmp_path / "runs" / figure).stat().st_size > 10_000
    text = "".join(o.get("text", "") for o in outputs)
    assert "| MAML (adapted) |" in text  # the results table of trainer.test
    last = notebook.cells[-1].outputs[-1]["data"]["text/plain"]
    assert "rank" in last and "title" in last and "Toy Story" not in last
    assert list((tmp_path / "runs" / "quickstart").glob("version_0/checkpoints/best-*.ckpt"))
