"""How good are the report's predictions? Probe on a small sample, predict the score at a larger data size,
then train the same methods on that larger size and compare.

    python benchmarks/extrapolation_check.py --small 1000 --large 4000 --epochs 1.0 --out benchmarks/results/extrapolation.json

Both suites use the same settings (learning-rate grids, fixed epochs per data fraction), and different random
stratified samples of the same tweet corpus, so the error includes sampling and evaluation noise (each eval set has
200-400 examples: a binomial standard error of about 2.5 points).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=4000)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--methods", nargs="+", default=["prompt_tuning", "lora"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from advisor.fusion import fuse_probe_results
    from advisor.knowledge import default_knowledge
    from probes import run_suite
    from probes.data import load_dataset
    from probes.defaults import default_dataset_path
    from probes.settings import probe_settings

    settings = probe_settings().model_copy(update={"curve_epochs_min": args.epochs, "curve_epochs_max": args.epochs})
    path = default_dataset_path()
    small = load_dataset(path, text_column="text", label_column="sentiment", max_examples=args.small, seed=1)
    large = load_dataset(path, text_column="text", label_column="sentiment", max_examples=args.large, seed=2)
    budget = 60.0  # minutes: generous, so the fixed epochs (not the clock) decide the training length
    small_suite = run_suite(small, budget_minutes=budget, methods=args.methods, settings=settings, cache_dir=None, progress=True)
    large_suite = run_suite(large, budget_minutes=budget, methods=args.methods, settings=settings, cache_dir=None, progress=True)

    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        for name, suite in (("small", small_suite), ("large", large_suite)):
            Path(args.out).with_name(Path(args.out).stem + f"-{name}-suite.json").write_text(suite.model_dump_json(indent=1))
    target_n = large_suite.curve_trials(args.methods[0])[-1].n_train_examples
    evidence = fuse_probe_results(small_suite, target_n, default_knowledge())
    rows = []
    for fit in evidence.fits:
        measured = large_suite.curve_trials(fit.method)[-1].final_metric
        rows.append({"method": fit.method, "probe_train_sizes": [n for n, _ in fit.measured],
                     "predicted_at_n": target_n, "predicted": fit.at_user_size.mean, "interval_80": [fit.at_user_size.low, fit.at_user_size.high],
                     "measured_longer_run": measured, "error": round(fit.at_user_size.mean - measured, 4),
                     "inside_interval": fit.at_user_size.low <= measured <= fit.at_user_size.high,
                     "selected_lr_small": small_suite.selected_learning_rates.get(fit.method),
                     "selected_lr_large": large_suite.selected_learning_rates.get(fit.method)})
        print(f"{fit.method}: predicted {fit.at_user_size.mean:.3f} [{fit.at_user_size.low:.3f}, {fit.at_user_size.high:.3f}] "
              f"at n={target_n}, measured {measured:.3f}, error {fit.at_user_size.mean - measured:+.3f}")
    order_predicted = sorted(rows, key=lambda r: -r["predicted"])[0]["method"]
    order_measured = sorted(rows, key=lambda r: -r["measured_longer_run"])[0]["method"]
    print(f"predicted winner {order_predicted}, measured winner {order_measured}; baseline small "
          f"{small_suite.baseline().final_metric:.3f}, large {large_suite.baseline().final_metric:.3f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows, "predicted_winner": order_predicted,
                                              "measured_winner": order_measured,
                                              "small_suite_s": small_suite.wall_time_s, "large_suite_s": large_suite.wall_time_s}, indent=2))


if __name__ == "__main__":
    main()
