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


def fit_linear_probe(x_train, y_train, settings: Any, deadline: Optional[float] = None) -> tuple[Any, dict]:
    """Logistic regression with C picked by stratified k-fold CV on the training rows (plain fit at the middle C when
    a class has too few rows to cross-validate, when there are too many classes to search, or when the deadline
    leaves no time to); features standardised. ``settings``: probes.settings.LinearProbeSettings."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model(c):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))

    grid, cv_folds, max_iter = list(settings.c_grid), settings.cv_folds, settings.max_iter
    chosen, scores, note = grid[len(grid) // 2], {}, ""
    counts = np.bincount(y_train) if len(y_train) else np.zeros(0, dtype=int)
    smallest_class = int(counts[counts > 0].min()) if (counts > 0).any() else 0
    folds = min(cv_folds, smallest_class)
    if len(counts) > settings.max_classes_for_cv:  # each fit is costly with this many classes: one fit, no search
        folds, max_iter = 0, min(max_iter, 100)
        note = f"{len(counts)} classes: one fit at C={chosen:g}, at most {max_iter} iterations (no cross-validation)"
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        for c in grid:
            if deadline is not None and time.perf_counter() > deadline:
                note = "cross-validation cut short by the budget"
                break
            scores[c] = float(cross_val_score(model(c), x_train, y_train, cv=splitter).mean())
        if scores:
            chosen = max(scores, key=lambda c: (scores[c], -abs(np.log10(c))))
    elif not note:
        note = f"a class has {smallest_class} training example(s): no cross-validation, C={chosen:g}"
    fitted = model(chosen).fit(x_train, y_train)
    by_c = {f"{c:g}": round(v, 4) for c, v in scores.items()}  # string keys: the record round-trips through JSON
    return fitted, {"inverse_regularisation_c": chosen, "cv_accuracy_by_c": by_c, "cv_folds": folds, **({"note": note} if note else {})}
