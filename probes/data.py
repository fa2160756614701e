"""Load the user's data (CSV, JSONL, DataFrame), check it, split it, and profile it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from knowledge.errors import ProbeError

TEXT_COLUMN_GUESSES = ("text", "sentence", "content", "input", "review", "tweet", "document")
LABEL_COLUMN_GUESSES = ("label", "labels", "sentiment", "class", "category", "target", "intent")
PROMPT_COLUMN_GUESSES = ("prompt", "instruction", "question", "input", "source")
COMPLETION_COLUMN_GUESSES = ("completion", "response", "answer", "output", "target")


@dataclass(frozen=True)
class ProbeDataset:
    """Validated examples. Classification: texts + labels. Generation: texts are prompts, targets completions."""

    task_kind: str
    texts: list[str]
    labels: list[int] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    n_dropped_rows: int = 0
    warnings: list[str] = field(default_factory=list)
    source: str = "DataFrame"

    @property
    def n_rows(self) -> int:
        return len(self.texts)


def _read_table(path: Path):
    import pandas as pd

    if not path.is_file():
        raise ProbeError(f"Data file {str(path)!r} does not exist.")
    if path.stat().st_size == 0:
        raise ProbeError(f"Data file {str(path)!r} is empty.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False), None
        if suffix == ".json":
            return pd.read_json(path, dtype=False), None
        if suffix in (".csv", ".tsv", ".txt"):
            sep = "\t" if suffix == ".tsv" else ","
            try:
                return pd.read_csv(path, sep=sep, encoding="utf-8", dtype=str, keep_default_na=False), None
            except UnicodeDecodeError:
                frame = pd.read_csv(path, sep=sep, encoding="latin-1", dtype=str, keep_default_na=False)
                return frame, f"{path.name} is not valid UTF-8; read it as Latin-1. Check accented characters."
    except ValueError as error:
        raise ProbeError(f"Data file {str(path)!r} could not be parsed as {suffix[1:].upper()}: {error}") from None
    except Exception as error:  # pandas raises several parser errors
        raise ProbeError(f"Data file {str(path)!r} could not be read: {error}") from None
    raise ProbeError(f"Data file {str(path)!r}: expected a .csv, .tsv, .jsonl or .json file, got {suffix or 'no extension'!r}.")


def _pick(frame, given: Optional[str], guesses: tuple[str, ...], role: str, flag: str) -> str:
    columns = [str(c) for c in frame.columns]
    if given is not None:
        if given not in columns:
            from difflib import get_close_matches

            close = get_close_matches(given, columns, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ProbeError(f"{flag} {given!r} is not a column of the data. Columns: {columns}.{hint}")
        return given
    lowered = {c.lower(): c for c in columns}
    for guess in guesses:
        if guess in lowered:
            return lowered[guess]
    raise ProbeError(f"No {role} column given and none of {list(guesses)} found. Columns: {columns}. Pass {flag}.")


def load_dataset(
    data: Union[str, Path, "pandas.DataFrame"],  # noqa: F821
    text_column: Optional[str] = None,
    label_column: Optional[str] = None,
    prompt_column: Optional[str] = None,
    completion_column: Optional[str] = None,
    max_examples: Optional[int] = None,
    seed: int = 0,
) -> ProbeDataset:
    """Read and check the data. Generation when prompt/completion columns are given or found; else classification."""
    import pandas as pd

    warnings: list[str] = []
    if isinstance(data, pd.DataFrame):
        frame, source = data.copy(), "DataFrame"
    else:
        frame, note = _read_table(Path(data))
        source = str(data)
        if note:
            warnings.append(note)
    if len(frame) == 0:
        raise ProbeError(f"Data {source!r} has no rows.")

    lowered = {str(c).lower() for c in frame.columns}
    generation = prompt_column is not None or completion_column is not None or (
        text_column is None and label_column is None and "prompt" in lowered and ("completion" in lowered or "response" in lowered))
    if generation:
        first = _pick(frame, prompt_column, PROMPT_COLUMN_GUESSES, "prompt", "--prompt-column")
        second = _pick(frame, completion_column, COMPLETION_COLUMN_GUESSES, "completion", "--completion-column")
    else:
        first = _pick(frame, text_column, TEXT_COLUMN_GUESSES, "text", "--text-column")
        second = _pick(frame, label_column, LABEL_COLUMN_GUESSES, "label", "--label-column")

    frame = frame[[first, second]].copy()
    frame.columns = ["a", "b"]
    n_before = len(frame)
    frame["a"] = frame["a"].map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v).strip())
    frame["b"] = frame["b"].map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v).strip())
    frame = frame[(frame["a"] != "") & (frame["b"] != "")]
    n_dropped = n_before - len(frame)
    if n_dropped:
        warnings.append(f"Dropped {n_dropped} row(s) with an empty or missing {first!r} or {second!r}.")
    n_dupes = int(frame.duplicated().sum())
    if n_dupes:
        frame = frame.drop_duplicates()
        warnings.append(f"Dropped {n_dupes} exact duplicate row(s) so they cannot leak between train and eval.")
        n_dropped += n_dupes
    if len(frame) == 0:
        raise ProbeError(f"Data {source!r}: no usable rows left after dropping empty {first!r}/{second!r} values.")

    if max_examples is not None and len(frame) > max_examples:
        if generation:
            frame = frame.sample(n=max_examples, random_state=seed)
        else:
            from sklearn.model_selection import train_test_split

            counts = frame["b"].value_counts()
            stratify = frame["b"] if counts.min() >= 2 else None
            frame, _ = train_test_split(frame, train_size=max_examples, stratify=stratify, random_state=seed)
        warnings.append(f"Using a stratified sample of {max_examples} of {n_before} rows (--max-examples).")

    if generation:
        return ProbeDataset(task_kind="generation", texts=list(frame["a"]), targets=list(frame["b"]),
                            n_dropped_rows=n_dropped, warnings=warnings, source=source)

    label_names = sorted(frame["b"].unique())
    if len(label_names) < 2:
        raise ProbeError(f"Label column {second!r} has a single class ({label_names[0]!r}); classification needs at least two.")
    if len(label_names) > max(50, len(frame) // 5):
        raise ProbeError(f"Label column {second!r} has {len(label_names)} distinct values for {len(frame)} rows; "
                         "is it free text? For generation data pass --prompt-column and --completion-column.")
    index = {name: i for i, name in enumerate(label_names)}
    counts = frame["b"].value_counts()
    rare = [name for name, n in counts.items() if n < 2]
    if rare:
        warnings.append(f"Classes with a single example cannot be stratified: {rare[:5]}.")
    return ProbeDataset(task_kind="classification", texts=list(frame["a"]), labels=[index[v] for v in frame["b"]],
                        label_names=label_names, n_dropped_rows=n_dropped, warnings=warnings, source=source)


@dataclass(frozen=True)
class Split:
    train_indices: list[int]
    eval_indices: list[int]


def split_dataset(dataset: ProbeDataset, eval_fraction: float, eval_min: int, eval_max: int, min_train: int, seed: int = 0) -> Split:
    """Stratified (classification) train/eval split with a bounded eval size."""
    from sklearn.model_selection import train_test_split

    n = dataset.n_rows
    n_eval = int(min(eval_max, max(eval_min, round(n * eval_fraction))))
    if n - n_eval < min_train:
        raise ProbeError(f"The data has {n} usable examples; a probe needs at least {min_train + eval_min} "
                         f"({min_train} to train, {eval_min} to evaluate).")
    indices = list(range(n))
    stratify = None
    if dataset.task_kind == "classification":
        from collections import Counter

        counts = Counter(dataset.labels)
        if min(counts.values()) >= 2 and n_eval >= len(counts):
            stratify = dataset.labels
    train, evaluation = train_test_split(indices, test_size=n_eval, stratify=stratify, random_state=seed)
    return Split(train_indices=list(train), eval_indices=list(evaluation))


def load_dataset_upload(content: Optional[bytes], filename: Optional[str], first_column: Optional[str],
                        second_column: Optional[str], max_examples: int, max_upload_mb: float) -> ProbeDataset:
    """Data from an upload (bytes + file name) or, with no upload, the built-in sample. For the UI."""
    import tempfile

    if content is None:
        from probes.defaults import default_dataset_path

        return load_dataset(default_dataset_path(), text_column="text", label_column="sentiment", max_examples=max_examples)
    if len(content) > max_upload_mb * 2**20:
        raise ProbeError(f"The upload {filename!r} is {len(content) / 2**20:.1f} MB; the limit is {max_upload_mb:g} MB. "
                         "Use --max-examples with the CLI for larger files.")
    suffix = Path(filename or "upload.csv").suffix.lower()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"upload{suffix}"
        path.write_bytes(content)
        try:
            probe = load_dataset(path, text_column=first_column, label_column=second_column, max_examples=max_examples)
        except ProbeError as classification_error:
            try:  # the two columns may be prompt/completion pairs (generation data)
                probe = load_dataset(path, prompt_column=first_column, completion_column=second_column, max_examples=max_examples)
            except ProbeError:
                raise classification_error from None
        return ProbeDataset(**{**probe.__dict__, "source": filename or "upload"})
