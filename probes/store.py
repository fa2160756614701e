"""On-disk cache of suite results, keyed by data hash + model + settings + versions.

Results are stored as JSON (pydantic), never pickled, so a cache directory is safe to read back.
joblib.hash gives a stable key over the nested key material.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from probes.result import SuiteResult


def cache_key(material: dict[str, Any]) -> str:
    import joblib

    return joblib.hash(material)


def load_cached(cache_dir: Optional[str], key: str) -> Optional[SuiteResult]:
    if not cache_dir:
        return None
    path = Path(cache_dir) / f"suite-{key}.json"
    if not path.is_file():
        return None
    try:
        return SuiteResult.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # stale schema or a damaged file: re-run rather than trust it


def save_cached(cache_dir: Optional[str], key: str, result: SuiteResult) -> None:
    if not cache_dir:
        return
    directory = Path(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".suite-{key}.json.tmp"
    tmp.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(directory / f"suite-{key}.json")
