"""Progress of a running suite: a tqdm bar on the command line, or events for a callback (the UI's job runner).

The total is known from the start (the step plan) and never changes; events are ProgressEvent members."""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from probes.result import ProgressEvent, TrialResult

ProgressCallback = Callable[[dict[str, Any]], None]


class Progress:
    def __init__(self, progress: Union[bool, ProgressCallback, None]):
        self.callback: Optional[ProgressCallback] = progress if callable(progress) else None
        self.bar = None
        self.show = progress is True
        self.total_steps = 0

    def _emit(self, event: ProgressEvent, **fields: Any) -> None:
        if self.callback:
            self.callback({"event": event.value, **fields})

    def plan(self, total_steps: int, description: str) -> None:
        self.total_steps = total_steps
        if self.show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, unit="step", desc="probe", dynamic_ncols=True)
            self.bar.write(f"plan: {description}")
        self._emit(ProgressEvent.PLAN, n_steps=total_steps, phase=description)

    def phase(self, description: str) -> None:
        if self.bar is not None:
            self.bar.set_description(f"probe: {description}")
        elif self.show:
            print(f"probe: {description}", flush=True)
        self._emit(ProgressEvent.PHASE, phase=description)

    def step(self, trial_id: str, step: int, n_steps: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(trial_id, refresh=False)
        self._emit(ProgressEvent.STEP, trial_id=trial_id, step=step, n_steps=n_steps)

    def trial_done(self, trial: TrialResult) -> None:
        self._emit(ProgressEvent.TRIAL, trial=trial)
        if self.show:
            metric = "" if trial.final_metric is None else f" metric {trial.final_metric:.3f}"
            line = f"  {trial.trial_id}: {trial.status.value}{metric} {trial.message}".rstrip()
            (self.bar.write if self.bar is not None else print)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
