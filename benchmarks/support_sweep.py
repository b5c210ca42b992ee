"""Evaluate one checkpoint at several support sizes K on the same test users.

Usage::

    python benchmarks/support_sweep.py --config lightning_logs/ml100k_maml/version_0/config.yaml \\
        --ckpt lightning_logs/ml100k_maml/version_0/checkpoints/last.ckpt --sizes 1 3 5 10 20

Every K is evaluated on the same test users, the same query items and the same candidates:
the query starts at position ``max(K)`` of each user's target-domain history (``query_start``),
support = the user's first K interactions, and sampled negatives are drawn before support
negatives. So the rows differ only in how much support the new user gives. The user split is
drawn before eligibility filtering, so no K moves a training user into the test set. Prints a
Markdown table (one row per K) with the protocol.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lightning_metarec.main import main as cli

#: Metrics of the meta-learned model without adaptation, shown beside the adapted ones.
BASE = ("ndcg@10", "rmse")


def main() -> None:
    """Run the sweep and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 5, 10, 20])
    parser.add_argument("--out", type=Path, default=Path("results/support_sweep"))
    args = parser.parse_args()
    lines, protocol = [], ""
    for k in args.sizes:
        result = cli(
            [
                "test",
                "--config",
                str(args.config),
                "--ckpt_path",
                args.ckpt,
                "--data.init_args.support_size",
                str(k),
                "--data.init_args.query_start",
                str(max(args.sizes)),
                "--trainer.logger",
                "false",
                "--trainer.enable_progress_bar",
                "false",
                "--trainer.default_root_dir",
                str(args.out),
            ]
        )
        assert result is not None
        m = {key: float(v) for key, v in result.trainer.callback_metrics.items()}
        protocol = result.datamodule.protocol()  # type: ignore[union-attr]
        cells = [
            f"{m.get(f'test/{name}', float('nan')):.4f}"
            for name in ("ndcg@10", "hr@10", "mae", "rmse")
        ]
        cells += [f"{m.get(f'test/noadapt/{name}', float('nan')):.4f}" for name in BASE]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {int(m['test/users'])} |")
    print(f"\nSupport-size sweep; protocol of the last row: {protocol}\n")
    print("| K | ndcg@10 | hr@10 | mae | rmse | no adaptation: ndcg@10 | rmse | users |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines).replace("nan", "-"))


if __name__ == "__main__":
    main()
