"""Probes: short, fair, real training trials on the user's own data and model.

``import probes`` stays light; torch, transformers and peft load only when a suite runs.
"""
from probes.result import CurvePoint, DataProfile, ProbeStatus, SuiteResult, TrialResult


def run_suite(*args, **kwargs):  # noqa: D401 - thin lazy wrapper
    """Run a probe suite; see ``probes.suite.run_suite`` for the arguments."""
    from probes.suite import run_suite as _run_suite

    return _run_suite(*args, **kwargs)


__all__ = ["run_suite", "SuiteResult", "TrialResult", "CurvePoint", "DataProfile", "ProbeStatus"]
