"""configs/ml1m_melu.yaml (MeLU-comparable preset) end to end through the CLI.

Run on the real MovieLens-100K (``--data.init_args.dataset ml-100k``) to stay fast; the preset's
own ML-1M run is ``benchmarks/compare_ml1m_melu.yaml``.
"""

from __future__ import annotations

import re

from lightning_metarec.main import main
from tests.test_cli import _fast


def test_melu_preset_variable_support_one_domain_ndcg_at_1_and_3(tmp_path, data_home, capsys):
    args = _fast(data_home, tmp_path, "ml1m_melu.yaml")
    cli = main(["fit", *args, "--data.init_args.dataset", "ml-100k"])
    assert cli is not None
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("Protocol:"))
    assert "target domain 'all'" in line and "query Q=10" in line and "(query-only)" in line
    low, high = map(int, re.search(r"K=all but the query \((\d+)-(\d+),", line).groups())
    assert 3 <= low < high <= 90  # users with 13 to 100 ratings, 10 of them held out
    dm = cli.datamodule
    assert dm.log_.domains == ["all"]
    lengths = dm.split.test.support_lengths() + 10
    assert lengths.min() >= 13 and lengths.max() <= 100
    m = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    for key in ("test/mae", "test/rmse", "test/ndcg@1", "test/ndcg@3", "test/noadapt/mae"):
        assert key in m
    assert m["test/mae"] != m["test/noadapt/mae"]  # the head adapted on each user's support
