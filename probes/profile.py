"""What the suite records about its inputs: a data profile, a hash of the data, package versions, the device."""
from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from typing import Any

from probes.result import DataProfile


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "accelerate", "scikit-learn", "tuning-advisor"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def data_hash(dataset: Any) -> str:
    digest = hashlib.sha256()
    for text, label in zip(dataset.texts, dataset.labels or dataset.targets):
        digest.update(text.encode("utf-8", "replace") + b"\x00" + str(label).encode("utf-8", "replace") + b"\x01")
    return digest.hexdigest()


def device_description(device: str) -> str:
    import torch

    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"cpu: {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def profile_data(dataset: Any, data: Any, train_indices: list[int], eval_indices: list[int]) -> DataProfile:
    import numpy as np

    lengths = np.array([len(ids) for ids in data.input_ids])
    train_texts = {dataset.texts[i] for i in train_indices}
    overlap = sum(1 for i in eval_indices if dataset.texts[i] in train_texts)
    counts: dict[str, int] = {}
    for label in dataset.labels:
        name = dataset.label_names[label]
        counts[name] = counts.get(name, 0) + 1
    warnings = list(dataset.warnings)
    if overlap:
        warnings.append(f"{overlap} eval text(s) also appear in train with a different label/completion.")
    if counts and min(counts.values()) < 0.05 * sum(counts.values()):
        warnings.append(f"Imbalanced labels: smallest class has {min(counts.values())} of {sum(counts.values())} examples.")
    return DataProfile(
        n_rows=dataset.n_rows, n_train=len(train_indices), n_eval=len(eval_indices), task_kind=dataset.task_kind,
        label_counts=counts, token_length_p50=float(np.percentile(lengths, 50)), token_length_p90=float(np.percentile(lengths, 90)),
        token_length_p99=float(np.percentile(lengths, 99)), n_duplicates=dataset.n_dropped_rows, n_train_eval_overlap=overlap,
        n_dropped_rows=dataset.n_dropped_rows, warnings=warnings)
