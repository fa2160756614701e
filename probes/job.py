"""Probe runs for UIs, and reading an uploaded data file.

The suite runs in a child process (``python -m probes.job <job dir>``), never a thread: a thread cannot interrupt a
model load or a long training step, a process can be stopped within a few seconds. The child writes its progress as
JSON lines to ``progress.jsonl`` and its outcome to ``result.json`` / ``error.json`` in a private job directory; the
parent polls. The dataset travels as plain JSON (never pickled).

Progress has a fixed total from the start: the step budget when the suite takes one (``budget_steps``), otherwise
the time budget in seconds. The total never changes during a run.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from knowledge.errors import ProbeError
from probes.data import (COMPLETION_COLUMN_GUESSES, LABEL_COLUMN_GUESSES, PROMPT_COLUMN_GUESSES,
                         TEXT_COLUMN_GUESSES, ProbeDataset, load_dataset)
from probes.result import ProgressEvent, SuiteResult

STOP_GRACE_S = 2.0          # after a cancel, how long the child may take to exit before it is killed
STEP_WRITE_INTERVAL_S = 0.25  # the child writes its step count at most this often
STATES = ("running", "finished", "failed", "cancelled")


def run_suite_accepts(parameter: str) -> bool:
    """Whether probes.suite.run_suite takes ``parameter`` (e.g. budget_steps), read from its signature."""
    import inspect

    from probes.suite import run_suite

    return parameter in inspect.signature(run_suite).parameters


@dataclass
class ProbeJob:
    """One probe suite in a child process. ``poll()`` reads its progress; ``cancel()`` stops it within seconds."""

    dataset: Any  # ProbeDataset or pandas DataFrame
    model: Optional[str] = None
    budget_minutes: float = 5.0
    budget_steps: Optional[int] = None
    gguf_file: Optional[str] = None
    cache_dir: Optional[str] = ".tuning_advisor_cache"
    state: str = "running"
    phase: str = "starting: loading the model"
    steps_done: int = 0
    trials_done: list[dict] = field(default_factory=list)
    result: Optional[SuiteResult] = None
    error: Optional[str] = None
    started_at: float = 0.0
    ended_at: Optional[float] = None
    _dir: Optional[Path] = None
    _process: Optional[subprocess.Popen] = None
    _offset: int = 0

    # -- parent side -------------------------------------------------------------------------------------------
    @property
    def total(self) -> float:
        """Fixed from the start: the step budget, or the time budget in seconds."""
        return float(self.budget_steps) if self.budget_steps else self.budget_minutes * 60.0

    @property
    def total_unit(self) -> str:
        return "steps" if self.budget_steps else "seconds"

    @property
    def elapsed_s(self) -> float:
        return (self.ended_at or time.time()) - self.started_at

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def fraction_done(self) -> float:
        if self.state == "finished":
            return 1.0
        done = self.steps_done if self.budget_steps else self.elapsed_s
        return max(0.0, min(done / self.total, 0.99))

    def start(self) -> "ProbeJob":
        if self.budget_steps and not run_suite_accepts("budget_steps"):
            raise ProbeError("This version of the probe suite takes a time budget only; leave the step budget empty.")
        dataset = self.dataset if isinstance(self.dataset, ProbeDataset) else load_dataset(self.dataset)
        self._dir = Path(tempfile.mkdtemp(prefix="tuning-advisor-probe-"))
        (self._dir / "dataset.json").write_text(json.dumps(dataclasses.asdict(dataset)), encoding="utf-8")
        spec = {"model": self.model, "budget_minutes": self.budget_minutes, "budget_steps": self.budget_steps,
                "gguf_file": self.gguf_file, "cache_dir": self.cache_dir}
        (self._dir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                                            os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        log = open(self._dir / "worker.log", "wb")
        self.started_at = time.time()
        self._process = subprocess.Popen([sys.executable, "-m", "probes.job", str(self._dir)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log.close()
        return self

    def poll(self) -> "ProbeJob":
        """Read new progress lines; when the child has exited, read its outcome."""
        if self.state != "running" or self._dir is None or self._process is None:
            return self
        self._read_progress()
        code = self._process.poll()
        if code is not None:
            self._read_progress()
            self._finish(code)
        return self

    def wait(self, timeout_s: float) -> "ProbeJob":
        """Poll until the run ends or ``timeout_s`` passes (for scripts and tests)."""
        deadline = time.time() + timeout_s
        while self.poll().running and time.time() < deadline:
            time.sleep(0.1)
        return self

    def cancel(self) -> "ProbeJob":
        """Stop the child (SIGTERM), and kill it if it has not exited after STOP_GRACE_S. Nothing of the run is kept."""
        if self.state != "running" or self._process is None:
            return self
        self._process.terminate()
        try:
            self._process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=STOP_GRACE_S)
        self.state, self.phase, self.ended_at = "cancelled", "cancelled", time.time()
        self._cleanup()
        return self

    def _read_progress(self) -> None:
        path = self._dir / "progress.jsonl"
        if not path.exists():
            return
        with path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode("utf-8").splitlines():
            event = json.loads(line)
            if event["event"] == "steps":
                self.steps_done = event["done"]
            elif event["event"] == "phase":
                self.phase = event["phase"]
            elif event["event"] == "trial":
                self.trials_done.append(event["trial"])

    def _finish(self, exit_code: int) -> None:
        self.ended_at = time.time()
        result, error = self._dir / "result.json", self._dir / "error.json"
        if result.exists():
            self.result = SuiteResult.model_validate_json(result.read_text(encoding="utf-8"))
            self.state, self.phase = "finished", "finished"
        else:
            self.state, self.phase = "failed", "failed"
            self.error = (json.loads(error.read_text(encoding="utf-8"))["message"] if error.exists() else
                          f"The probe process ended without a result (exit code {exit_code}; a negative code means it "
                          "was killed, for example for running out of memory).")
        self._cleanup()

    def _cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


# -- child side ------------------------------------------------------------------------------------------------
class _ProgressWriter:
    """run_suite's progress callback: appends JSON lines (steps throttled, trials and phases always)."""

    def __init__(self, path: Path):
        self.handle = path.open("a", encoding="utf-8")
        self.steps = 0
        self.last_write = 0.0

    def write(self, event: dict) -> None:
        self.handle.write(json.dumps(event) + "\n")
        self.handle.flush()

    def __call__(self, event: dict) -> None:
        kind = ProgressEvent(event["event"])
        if kind == ProgressEvent.STEP:
            self.steps += 1
            if time.monotonic() - self.last_write >= STEP_WRITE_INTERVAL_S:
                self.last_write = time.monotonic()
                self.write({"event": "steps", "done": self.steps})
        elif kind in (ProgressEvent.PLAN, ProgressEvent.PHASE):
            self.write({"event": "phase", "phase": event["phase"]})
        elif kind == ProgressEvent.TRIAL:
            trial = event["trial"]
            self.write({"event": "steps", "done": self.steps})
            self.write({"event": "trial", "trial": {"trial_id": trial.trial_id, "method": trial.method, "phase": trial.phase.value,
                                                    "status": trial.status.value, "metric": trial.final_metric,
                                                    "message": trial.message}})


def _worker(job_dir: Path) -> int:
    from knowledge.errors import AdvisorError
    from probes.suite import run_suite

    spec = json.loads((job_dir / "spec.json").read_text(encoding="utf-8"))
    dataset = ProbeDataset(**json.loads((job_dir / "dataset.json").read_text(encoding="utf-8")))
    writer = _ProgressWriter(job_dir / "progress.jsonl")
    options = {"budget_steps": spec["budget_steps"]} if spec.get("budget_steps") else {}
    try:
        result = run_suite(dataset, model=spec["model"], budget_minutes=spec["budget_minutes"], gguf_file=spec["gguf_file"],
                           cache_dir=spec["cache_dir"], progress=writer, **options)
    except AdvisorError as error:
        message = str(error)
    except Exception as error:  # noqa: BLE001 - shown to the user as one line; the traceback goes to the log
        import traceback

        traceback.print_exc()
        message = f"The probe failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")
    else:
        partial = job_dir / "result.json.part"
        partial.write_text(result.model_dump_json(), encoding="utf-8")
        partial.replace(job_dir / "result.json")
        return 0
    (job_dir / "error.json").write_text(json.dumps({"message": message}), encoding="utf-8")
    return 1


# -- uploads ---------------------------------------------------------------------------------------------------
UPLOAD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class UploadTable:
    """An uploaded file read into a table of strings, with guessed columns for the pickers."""

    frame: Any  # pandas DataFrame
    filename: str
    warnings: list[str]
    kind: str  # "classification" (text + label) or "generation" (prompt + completion)
    first_column: Optional[str]
    second_column: Optional[str]

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def _guess(columns: list[str], guesses: tuple[str, ...], avoid: Optional[str] = None) -> Optional[str]:
    lowered = {c.lower(): c for c in columns if c != avoid}
    return next((lowered[g] for g in guesses if g in lowered), None)


def guess_columns(columns: list[str], kind: Optional[str] = None) -> tuple[str, Optional[str], Optional[str]]:
    """(kind, first, second): prompt/completion when such columns exist (or kind says so), else text/label."""
    prompt = _guess(columns, PROMPT_COLUMN_GUESSES)
    completion = _guess(columns, COMPLETION_COLUMN_GUESSES, avoid=prompt)
    if kind == "generation" or (kind is None and prompt and completion and prompt.lower() == "prompt"):
        return "generation", prompt, completion
    text = _guess(columns, TEXT_COLUMN_GUESSES)
    return "classification", text, _guess(columns, LABEL_COLUMN_GUESSES, avoid=text)


def _parse_message(error: Exception, suffix: str) -> str:
    """A pandas parser message without byte offsets, file paths or C-level wording."""
    text = str(error)
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if fields:
        expected, line, seen = fields.groups()
        return f"line {line} has {seen} fields but the header has {expected}; check the delimiter and quoting"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return ("it is not valid JSON Lines (one JSON object per line)" if suffix != ".json"
                else "it is not a JSON list of records")
    return "it is not a readable table"


def read_upload(content: bytes, filename: str, max_upload_mb: float) -> UploadTable:
    """Read an uploaded CSV/TSV/JSONL/JSON into strings; ProbeError messages name the file, never a temp path."""
    import pandas as pd

    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ProbeError(f"{filename}: expected a .csv, .tsv, .jsonl or .json file, got {suffix or 'no extension'}.")
    if not content.strip():
        raise ProbeError(f"{filename} is empty.")
    if len(content) > max_upload_mb * 2**20:
        raise ProbeError(f"{filename} is {len(content) / 2**20:.1f} MB; the limit is {max_upload_mb:g} MB.")
    warnings: list[str] = []
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            frame = pd.read_json(io.BytesIO(content), lines=suffix != ".json", dtype=False).astype(str)
        else:
            sep = "\t" if suffix == ".tsv" else ","
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                text = content.decode("latin-1")
                warnings.append(f"{filename} is not valid UTF-8; it was read as Latin-1. Check accented characters.")
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except Exception as error:  # noqa: BLE001 - pandas raises several parser error types
        raise ProbeError(f"{filename} could not be read: {_parse_message(error, suffix)}.") from None
    if frame.empty:
        raise ProbeError(f"{filename} has a header but no rows.")
    kind, first, second = guess_columns([str(c) for c in frame.columns])
    return UploadTable(frame=frame, filename=filename, warnings=warnings, kind=kind, first_column=first, second_column=second)


def dataset_from_upload(table: UploadTable, kind: str, first: Optional[str], second: Optional[str],
                        max_examples: int) -> ProbeDataset:
    """Build the probe dataset from the chosen columns; messages name the file and speak of the pickers."""
    if not first or not second:
        roles = "text and label" if kind == "classification" else "prompt and completion"
        raise ProbeError(f"{table.filename}: choose the {roles} columns (columns in the file: {', '.join(table.columns)}).")
    if first == second:
        raise ProbeError(f"{table.filename}: the two columns must differ (both are {first!r}).")
    names = ({"text_column": first, "label_column": second} if kind == "classification"
             else {"prompt_column": first, "completion_column": second})
    try:
        dataset = load_dataset(table.frame, max_examples=max_examples, **names)
    except ProbeError as error:
        message = str(error).replace("Data 'DataFrame'", table.filename)
        message = re.sub(r"\s*For generation data pass --prompt-column and --completion-column\.",
                         " If it is a completion, choose 'prompt and completion' as the kind of data.", message)
        raise ProbeError(message) from None
    return dataclasses.replace(dataset, source=table.filename, warnings=[*table.warnings, *[
        w.replace(" (--max-examples)", "") for w in dataset.warnings]])


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1])))
