"""A probe suite running in a background thread, for UIs: progress snapshot, cancel, result or error."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from probes.result import SuiteResult


@dataclass
class ProbeJob:
    dataset: Any
    model: Optional[str] = None
    budget_minutes: float = 5.0
    gguf_file: Optional[str] = None
    cache_dir: Optional[str] = ".tuning_advisor_cache"
    steps_done: int = 0
    steps_planned: int = 0
    phase: str = "starting"
    trials_done: list[str] = field(default_factory=list)
    result: Optional[SuiteResult] = None
    error: Optional[str] = None
    started_at: float = field(default_factory=time.time)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _thread: Optional[threading.Thread] = None

    def _on_progress(self, event: dict) -> None:
        if event["event"] == "plan":
            self.steps_planned += event["n_steps"]
            self.phase = event["phase"]
        elif event["event"] == "step":
            self.steps_done += 1
        elif event["event"] == "trial":
            trial = event["trial"]
            metric = "" if trial.final_metric is None else f" {trial.final_metric:.3f}"
            self.trials_done.append(f"{trial.trial_id}: {trial.status.value}{metric} {trial.message}".strip())

    def _run(self) -> None:
        from knowledge.errors import AdvisorError
        from probes.suite import run_suite

        try:
            self.result = run_suite(self.dataset, model=self.model, budget_minutes=self.budget_minutes, gguf_file=self.gguf_file,
                                    cache_dir=self.cache_dir, progress=self._on_progress, should_cancel=self._cancel.is_set)
        except AdvisorError as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 - shown to the user, never a traceback in the page
            self.error = f"The probe failed: {type(error).__name__}: {error}"
        finally:
            self.phase = "cancelled" if self._cancel.is_set() else "finished"

    def start(self) -> "ProbeJob":
        self._thread = threading.Thread(target=self._run, daemon=True, name="probe-suite")
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def fraction_done(self) -> float:
        return min(self.steps_done / self.steps_planned, 1.0) if self.steps_planned else 0.0
