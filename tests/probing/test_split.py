"""How methods are scored: the holdout split's size and stratification, k-fold below the threshold."""
import pandas as pd
import pytest

from knowledge.errors import ProbeError
from probes.data import load_dataset
from probes.settings import probe_settings
from probes.split import plan_evaluation, resolvable_difference

SETTINGS = probe_settings()


def _dataset(n, rare_every=10):
    rows = [{"text": f"t{i}", "label": "rare" if i % rare_every == 0 else "common"} for i in range(n)]
    return load_dataset(pd.DataFrame(rows))


def test_holdout_is_stratified_disjoint_and_sized_by_the_settings():
    dataset = _dataset(2000)
    split = plan_evaluation(dataset, SETTINGS)
    assert split.kind == "holdout" and len(split.eval_indices) == 500  # 25% of 2,000, within [50, 1000]
    assert not set(split.train_indices) & set(split.eval_indices) and len(split.train_indices) == 1500
    rare = dataset.label_names.index("rare")
    assert sum(dataset.labels[i] == rare for i in split.eval_indices) == 50  # exactly 10%
    first = split.eval_indices[:100]  # prefixes (the curve subset) are stratified too
    assert 8 <= sum(dataset.labels[i] == rare for i in first) <= 12


def test_fewer_rows_than_the_threshold_are_cross_validated():
    dataset = _dataset(60, rare_every=3)
    split = plan_evaluation(dataset, SETTINGS)
    assert split.kind == "kfold"
    first_repeat = [f for f in split.folds if f.repeat == 0]
    assert len(first_repeat) == SETTINGS.evaluation.kfold_folds
    assert sorted(i for f in first_repeat for i in f.eval_indices) == list(range(60))
    for fold in split.folds:
        assert not set(fold.train_indices) & set(fold.eval_indices)
    design = split.design(SETTINGS, n_repeats_run=1)
    assert design.n_eval_examples == 60 and design.n_train_examples == 48 and "cross-validation" in design.note


def test_too_few_rows_or_a_lonely_class_are_clear_errors():
    with pytest.raises(ProbeError, match="at least"):
        plan_evaluation(_dataset(6), SETTINGS)
    rows = [{"text": f"t{i}", "label": "a"} for i in range(20)] + [{"text": "x", "label": "b"}]
    with pytest.raises(ProbeError, match="2 examples of every class"):
        plan_evaluation(load_dataset(pd.DataFrame(rows)), SETTINGS)


def test_resolvable_difference_shrinks_with_the_square_root_of_the_examples():
    assert resolvable_difference(400, 0.15) == pytest.approx(1.959964 * (0.15 / 400) ** 0.5, abs=1e-4)
    assert resolvable_difference(1600, 0.15) == pytest.approx(resolvable_difference(400, 0.15) / 2, abs=1e-4)
