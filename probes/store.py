"""On-disk cache of suite results, keyed by data hash + model + settings + versions, and reading suite JSON files.

Results are stored as JSON (pydantic), never pickled, so a cache directory is safe to read back.
joblib.hash gives a stable key over the nested key material. A cached file must carry the key it is stored under
(``SuiteResult.cache_key``); a damaged, foreign or mismatched file is ignored, never trusted. Only suites whose every
trial ended on its own terms are stored (``SuiteResult.is_cacheable``): a failed, out-of-memory or cancelled trial
says something about that run, not about the methods.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from knowledge.errors import ProbeError
from probes.result import SuiteResult


def cache_key(material: dict[str, Any]) -> str:
    import joblib

    return joblib.hash(material)


def _cache_path(cache_dir: str, key: str) -> Path:
    return Path(cache_dir) / f"suite-{key}.json"


def load_cached(cache_dir: Optional[str], key: str) -> Optional[SuiteResult]:
    """The cached suite for ``key``, or None when there is none or the file is damaged, foreign or mismatched."""
    if not cache_dir:
        return None
    from knowledge.limits import input_limits

    path = _cache_path(cache_dir, key)
    try:
        if not path.is_file() or path.stat().st_size > input_limits().probe_results_max_bytes:
            return None
        result = SuiteResult.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None  # stale schema, a damaged or unreadable file: re-run rather than trust it
    if result.cache_key != key or not result.is_cacheable():
        return None  # a file copied or renamed under another key, or a result that should never have been stored
    return result


def save_cached(cache_dir: Optional[str], key: str, result: SuiteResult) -> Optional[str]:
    """Store ``result`` under ``key`` atomically (a unique temporary file, then os.replace).

    Returns why it was not stored (not cacheable, or the directory cannot be written), or None when it was.
    Never raises for a write failure: the finished suite is the caller's to keep; the cache is only a shortcut.
    """
    if not cache_dir:
        return "no cache directory"
    if not result.is_cacheable():
        unfinished = result.unfinished_trials()
        return (f"not cached: {len(unfinished)} trial(s) failed, ran out of memory or were cancelled"
                if unfinished else "not cached: no trials")
    from knowledge.userfiles import atomic_write_text

    stored = result if result.cache_key == key else result.model_copy(update={"cache_key": key})
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(_cache_path(cache_dir, key), stored.model_dump_json(indent=1))
    except OSError as error:
        return f"not cached: {type(error).__name__}: {error.strerror or error}"
    return None


def read_suite_json(path: str | Path, what: str = "--probe-results") -> SuiteResult:
    """A probe suite JSON file a user hands in ('probe --suite-json'), checked: size limit, JSON only, finite
    numbers, metrics within [0, 1], the suite schema. Raises ProbeError naming the file and the problem."""
    from knowledge.limits import input_limits
    from knowledge.userfiles import decode_user_text, find_non_finite, parse_user_json, read_user_bytes, short

    shown = f"{what} {short(str(path))}"
    data = read_user_bytes(path, what, input_limits().probe_results_max_bytes, ProbeError)
    expected = "expected a probe suite written by 'tuning-advisor probe --suite-json'"
    document = parse_user_json(decode_user_text(data, shown, ProbeError), shown, ProbeError, expected)
    if not isinstance(document, dict):
        raise ProbeError(f"{shown}: expected a JSON object (a probe suite written by 'tuning-advisor probe --suite-json'), "
                         f"got a {type(document).__name__}.")
    bad = find_non_finite(document)
    if bad:
        raise ProbeError(f"{shown}: {bad} is NaN or infinite; every measurement must be a finite number.")
    try:
        suite = SuiteResult.model_validate(document)
    except ValueError as error:
        raise ProbeError(f"{shown} is not a probe suite: {_first_problems(error)}") from None
    problem = _measurement_problem(suite)
    if problem:
        raise ProbeError(f"{shown}: {problem}")
    return suite


def _first_problems(error: ValueError, limit: int = 3) -> str:
    from pydantic import ValidationError

    from knowledge.userfiles import short

    if not isinstance(error, ValidationError):
        return short(str(error), 300)
    items = error.errors()
    shown = [f"{'.'.join(str(p) for p in item['loc']) or '(suite)'}: {item['msg']} (got {short(item.get('input'), 60)})"
             for item in items[:limit]]
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(shown) + more + "."


def _measurement_problem(suite: SuiteResult) -> Optional[str]:
    """A value no probe can have measured: a metric outside [0, 1] or a negative count, time or loss."""
    for trial in suite.trials:
        for point in trial.curve:
            if not 0.0 <= point.eval_metric <= 1.0:
                return f"trial {trial.trial_id!r} has eval_metric {point.eval_metric!r} at step {point.step}; expected 0 to 1."
            numbers = {"step": point.step, "examples_seen": point.examples_seen, "tokens_seen": point.tokens_seen,
                       "train_loss": point.train_loss or 0.0, "eval_loss": point.eval_loss or 0.0, "wall_time_s": point.wall_time_s}
            negative = [name for name, value in numbers.items() if value < 0]
            if negative:
                return f"trial {trial.trial_id!r} has a negative {negative[0]} at step {point.step}."
        if not 0.0 <= trial.data_fraction <= 1.0 or min(trial.n_train_examples, trial.n_eval_examples, trial.wall_time_s) < 0:
            return f"trial {trial.trial_id!r} has a data fraction outside 0 to 1 or a negative count or time."
    profile = suite.data_profile
    if min(profile.n_rows, profile.n_train, profile.n_eval) < 0 or suite.budget_minutes < 0 or suite.wall_time_s < 0:
        return "the data profile, budget or wall time holds a negative number."
    return None
