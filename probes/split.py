"""How the methods are scored: one held-out split, or repeated k-fold cross-validation when the data are tiny.

Every method is scored on the same examples, so the advisor compares them pairwise. A holdout split is sized for
resolution within what the data allow (knowledge/probes.yaml ``evaluation``): the 95% paired interval of a
difference between two methods is about 2 * sqrt(d / n_eval) wide on each side, d being the share of examples on
which exactly one of the two is right. Below ``kfold_below_rows`` labelled rows a holdout would leave too few
examples to learn from or to score, so every row is scored once per repetition of stratified k-fold instead.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from knowledge.errors import ProbeError
from probes.result import EvaluationDesign

Z_95 = 1.959964


@dataclass(frozen=True)
class Fold:
    train_indices: list[int]
    eval_indices: list[int]
    fold: int
    repeat: int


@dataclass(frozen=True)
class EvaluationSplit:
    """``holdout``: train/eval indices (eval in a shuffled order: its prefixes are random subsets). ``kfold``: folds."""

    kind: str
    train_indices: list[int] = field(default_factory=list)
    eval_indices: list[int] = field(default_factory=list)
    folds: list[Fold] = field(default_factory=list)
    n_rows: int = 0

    def design(self, settings: Any, n_repeats_run: Optional[int] = None) -> EvaluationDesign:
        evaluation = settings.evaluation
        if self.kind == "holdout":
            n_eval = len(self.eval_indices)
            return EvaluationDesign(kind="holdout", n_eval_examples=n_eval, n_train_examples=len(self.train_indices),
                                    curve_eval_examples=min(n_eval, evaluation.curve_eval_examples),
                                    resolvable_difference=resolvable_difference(n_eval, evaluation.assumed_discordance))
        repeats = n_repeats_run if n_repeats_run is not None else len({f.repeat for f in self.folds})
        n_folds = len({f.fold for f in self.folds})
        per_fold_train = round(sum(len(f.train_indices) for f in self.folds) / max(len(self.folds), 1))
        return EvaluationDesign(kind="kfold", n_eval_examples=self.n_rows, n_train_examples=per_fold_train, n_folds=n_folds,
                                n_repeats=repeats, curve_eval_examples=0,
                                resolvable_difference=resolvable_difference(self.n_rows * max(repeats, 1) ** 0.5,
                                                                            evaluation.assumed_discordance),
                                note=f"{self.n_rows} labelled rows are too few for a held-out split: each is scored by "
                                     f"a model that did not train on it ({n_folds}-fold cross-validation)")


def resolvable_difference(n_eval: float, discordance: float) -> float:
    """Half-width of the 95% paired interval of an accuracy difference when a share ``discordance`` of the
    ``n_eval`` examples is right for exactly one of the two methods."""
    return round(Z_95 * math.sqrt(discordance / max(n_eval, 1)), 4)


def _stratified_order(labels: list[int], rng: random.Random) -> list[int]:
    """Indices shuffled so that every prefix is roughly stratified (round-robin over shuffled classes)."""
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for members in by_class.values():
        rng.shuffle(members)
    total = len(labels)
    keyed = []
    for members in by_class.values():
        for rank, i in enumerate(members):
            keyed.append(((rank + rng.random()) / len(members) * total, i))
    return [i for _, i in sorted(keyed)]


def _holdout(dataset: Any, settings: Any, seed: int) -> EvaluationSplit:
    evaluation = settings.evaluation
    n = dataset.n_rows
    n_eval = int(min(evaluation.max_examples, max(evaluation.min_examples, round(n * evaluation.fraction))))
    rng = random.Random(seed)
    order = _stratified_order(dataset.labels, rng) if dataset.task_kind == "classification" else rng.sample(range(n), n)
    eval_indices = order[:n_eval]
    train = order[n_eval:]
    rng.shuffle(train)
    return EvaluationSplit(kind="holdout", train_indices=train, eval_indices=eval_indices, n_rows=n)


def _kfold(dataset: Any, settings: Any, seed: int) -> EvaluationSplit:
    evaluation = settings.evaluation
    counts = Counter(dataset.labels)
    n_folds = min(evaluation.kfold_folds, min(counts.values()))
    if n_folds < 2:
        rare = [dataset.label_names[label] for label, c in counts.items() if c < 2]
        raise ProbeError(f"Cross-validation needs at least 2 examples of every class; {rare} have one. "
                         "Label more examples of them or drop those classes.")
    folds = []
    for repeat in range(evaluation.kfold_max_repeats):
        order = _stratified_order(dataset.labels, random.Random(seed + 1000 * repeat))
        parts = [order[k::n_folds] for k in range(n_folds)]
        for k in range(n_folds):
            train = [i for j, part in enumerate(parts) if j != k for i in part]
            random.Random(seed + repeat).shuffle(train)
            folds.append(Fold(train_indices=train, eval_indices=parts[k], fold=k, repeat=repeat))
    return EvaluationSplit(kind="kfold", folds=folds, n_rows=dataset.n_rows)


def plan_evaluation(dataset: Any, settings: Any, seed: int = 0) -> EvaluationSplit:
    """Holdout from ``kfold_below_rows`` rows up (classification) or always (generation), else repeated k-fold."""
    evaluation = settings.evaluation
    n = dataset.n_rows
    if dataset.task_kind == "classification" and n < evaluation.kfold_below_rows:
        if n < evaluation.min_rows:
            raise ProbeError(f"The data has {n} usable labelled rows; probes need at least {evaluation.min_rows} "
                             "(a few per class) to measure anything.")
        return _kfold(dataset, settings, seed)
    need = evaluation.min_examples + settings.min_train_examples
    if n < need:
        raise ProbeError(f"The data has {n} usable examples; a probe of generation data needs at least {need} "
                         f"({settings.min_train_examples} to train, {evaluation.min_examples} to evaluate).")
    return _holdout(dataset, settings, seed)
