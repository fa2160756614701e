"""The linear probe: logistic regression (scikit-learn) on the frozen model's mean-pooled last hidden states.

A method in its own right (trains in seconds, serves at the base model's cost), so it is measured like the others:
on the suite's evaluation examples, per example. Its regularisation is chosen by cross-validation on the training
examples only (never on the evaluation split the methods are compared on). It keeps to its budget: features are
computed for as many training examples as the budget allows, and a fit that would run past its deadline is not
started.
"""
from __future__ import annotations

import time
from typing import Any, Optional, Sequence

from knowledge.method import Method

METHODS = (Method.LINEAR_PROBE,)


def frozen_features(model: Any, data: Any, indices: Sequence[int], batch_size: int, device: str):
    """Mean-pooled last hidden states (what sentence encoders are trained to produce), one row per index."""
    import numpy as np
    import torch

    from probes.batches import collate

    rows = []
    with torch.inference_mode():
        for start in range(0, len(indices), batch_size * 2):
            batch = collate(data, list(indices[start:start + batch_size * 2]), device)
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
            hidden = out.hidden_states[-1].float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            rows.append(((hidden * mask).sum(1) / mask.sum(1)).cpu().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0))


def fit_linear_probe(x_train, y_train, c_grid: Sequence[float], cv_folds: int, max_iter: int,
                     deadline: Optional[float] = None) -> tuple[Any, dict]:
    """Logistic regression with C picked by stratified k-fold CV on the training rows (plain fit at the middle C when
    a class has too few rows to cross-validate, or when the deadline leaves no time to); features standardised."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model(c):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))

    grid = list(c_grid)
    chosen, scores, note = grid[len(grid) // 2], {}, ""
    smallest_class = int(np.bincount(y_train).min(initial=0)) if len(y_train) else 0
    folds = min(cv_folds, smallest_class)
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        for c in grid:
            if deadline is not None and time.perf_counter() > deadline:
                note = "cross-validation cut short by the budget"
                break
            scores[c] = float(cross_val_score(model(c), x_train, y_train, cv=splitter).mean())
        if scores:
            chosen = max(scores, key=lambda c: (scores[c], -abs(np.log10(c))))
    else:
        note = f"a class has {smallest_class} training example(s): no cross-validation, C={chosen:g}"
    fitted = model(chosen).fit(x_train, y_train)
    return fitted, {"inverse_regularisation_c": chosen, "cv_accuracy_by_c": scores, "cv_folds": folds, **({"note": note} if note else {})}
