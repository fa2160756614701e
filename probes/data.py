"""Load the user's data (CSV, JSONL, DataFrame), check it, split it, and profile it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from knowledge.errors import ProbeError
from knowledge.userfiles import short

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


# Readers by file suffix: the CSV separator, or the JSON flavour.
_FORMATS = {".csv": ",", ".txt": ",", ".tsv": "\t", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


def _where(source: str) -> str:
    """How messages name the data: "Data 'tickets.csv'" or "Data 'DataFrame'" (the UI replaces the latter)."""
    return f"Data {short(source)}"


def _read_table(path: Path):
    """The file as a DataFrame of strings plus warnings (encoding fallbacks, skipped lines); ProbeError otherwise."""
    from knowledge.limits import input_limits
    from knowledge.userfiles import read_user_bytes, user_file_size

    where = _where(str(path))
    size = user_file_size(path, "Data file", input_limits().data_file_max_bytes, ProbeError)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise ProbeError(f"{where}: expected a .csv, .tsv, .jsonl or .json file, got {suffix or 'no extension'!r}.")
    if size == 0:
        raise ProbeError(f"{where} is empty.")
    data = read_user_bytes(path, "Data file", input_limits().data_file_max_bytes, ProbeError)
    text, warnings = _decode(data, path.name, where)
    if not text.strip():
        raise ProbeError(f"{where} holds only whitespace.")
    try:
        if _FORMATS[suffix] == "jsonl":
            frame, skipped = _parse_jsonl(text, where)
            return frame, warnings + skipped
        if _FORMATS[suffix] == "json":
            return _parse_json(text, where), warnings
        frame = _parse_csv(text, _FORMATS[suffix], where, suffix)
    except ProbeError as error:
        if warnings:  # an encoding guess went before: say so, it is often the real problem (a binary file renamed)
            raise ProbeError(f"{error} Note: {warnings[0]}") from None
        raise
    return frame, warnings


def _decode(data: bytes, name: str, where: str) -> tuple[str, list[str]]:
    """Text from bytes: a byte-order mark (UTF-8/16/32) wins; then UTF-16 without a mark (NUL-byte pattern);
    then UTF-8; undecodable bytes fall back to Latin-1 (every byte is a character), with a warning. Text that is
    mostly control characters is a binary file, refused."""
    text, encoding, warnings = _decode_text(data, name, where)
    sample = text[:65536]
    controls = sum(1 for c in sample if (c < " " and c not in "\t\n\r") or "\x7f" <= c < "\xa0")
    if controls > 0.05 * len(sample):  # real text has next to none; binary files a quarter or more
        raise ProbeError(f"{where} does not look like text: read as {encoding}, {controls / len(sample):.0%} of its "
                         "characters are control characters. Is it a binary file (spreadsheet, image, archive)?")
    return text, warnings


def _decode_text(data: bytes, name: str, where: str) -> tuple[str, str, list[str]]:
    from knowledge.userfiles import bom_encoding

    encoding = bom_encoding(data)
    if encoding:
        try:
            return data.decode(encoding), encoding.upper(), []
        except UnicodeDecodeError as error:
            raise ProbeError(f"{where} starts with a {encoding.upper()} byte-order mark but is not valid "
                             f"{encoding.upper()} (byte {error.start}).") from None
    head = data[:4096]
    if len(head) >= 4 and head.count(0) >= len(head) // 4:  # ASCII text in UTF-16 has every other byte 0
        guess = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        try:
            return data.decode(guess), guess.upper(), [f"{short(name)} has no byte-order mark but looks like {guess.upper()}; read it as such."]
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "UTF-8", []
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1", [f"{short(name)} is not valid UTF-8; read it as Latin-1. Check accented characters."]


def _parse_csv(text: str, sep: str, where: str, suffix: str):
    import io

    import pandas as pd

    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ProbeError(f"{where} has no header row (no columns to read).") from None
    except (ValueError, pd.errors.ParserError) as error:  # ragged rows, an unclosed quote, ...
        detail = " ".join(str(error).split())
        raise ProbeError(f"{where} could not be parsed as {suffix[1:].upper()}: {short(detail, 200)}. "
                         "Every row needs the same number of fields; quote fields that hold the separator.") from None


def _parse_jsonl(text: str, where: str):
    """One JSON object per line; blank lines are ignored, broken lines skipped with a warning (all broken: error)."""
    import json

    import pandas as pd

    records, broken = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as error:
            broken.append(f"line {number}: {short(str(error), 80)}")
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            broken.append(f"line {number}: a JSON {type(record).__name__}, not an object")
    if not records:
        raise ProbeError(f"{where} holds no JSON object per line ({broken[0] if broken else 'no lines'}); "
                         'expected JSON Lines such as {"text": "...", "label": "..."}.')
    warnings = [f"Skipped {len(broken)} line(s) that are not a JSON object ({'; '.join(broken[:3])})."] if broken else []
    return pd.DataFrame.from_records(records), warnings


def _parse_json(text: str, where: str):
    """A list of objects (records) or an object of columns ({"text": [...], "label": [...]})."""
    import pandas as pd

    from knowledge.userfiles import parse_user_json

    expected = 'expected a list of objects such as [{"text": "...", "label": "..."}] or an object of columns'
    document = parse_user_json(text, where, ProbeError, expected)
    if isinstance(document, list):
        strays = [i for i, item in enumerate(document) if not isinstance(item, dict)]
        if strays:
            raise ProbeError(f"{where}: item {strays[0]} is a JSON {type(document[strays[0]]).__name__}; {expected}.")
        return pd.DataFrame.from_records(document)
    if isinstance(document, dict) and document and all(isinstance(v, (list, dict)) for v in document.values()):
        try:
            return pd.DataFrame(document)
        except ValueError as error:
            raise ProbeError(f"{where}: the columns do not line up ({short(str(error), 120)}); {expected}.") from None
    raise ProbeError(f"{where} holds a JSON {type(document).__name__}; {expected}.")


def _pick(frame, given: Optional[str], guesses: tuple[str, ...], role: str, flag: str, where: str):
    """The column for ``role``: the one named (else the first guess present); ProbeError lists the columns."""
    names = [str(c) for c in frame.columns]
    by_name = dict(zip(names, frame.columns))
    if given is not None:
        if given not in by_name:
            from difflib import get_close_matches

            close = get_close_matches(given, names, n=1) if len(given) <= 200 else []
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ProbeError(f"{where}: {flag} {short(given)} is not a column of the data. Columns: {short(names, 400)}.{hint}")
        chosen = given
    else:
        lowered = {name.lower(): name for name in reversed(names)}
        chosen = next((lowered[guess] for guess in guesses if guess in lowered), None)
        if chosen is None:
            raise ProbeError(f"{where}: no {role} column given and none of {list(guesses)} found. "
                             f"Columns: {short(names, 400)}. Pass {flag}.")
    if names.count(chosen) > 1:
        raise ProbeError(f"{where}: the {role} column {chosen!r} appears {names.count(chosen)} times; column names must be unique.")
    return by_name[chosen]


def _choose_columns(frame, text_column, label_column, prompt_column, completion_column, where: str):
    """(generation?, first column, second column): prompt/completion when named or found, else text/label."""
    lowered = {str(c).lower() for c in frame.columns}
    generation = prompt_column is not None or completion_column is not None or (
        text_column is None and label_column is None and "prompt" in lowered and ("completion" in lowered or "response" in lowered))
    if generation:
        return (True, _pick(frame, prompt_column, PROMPT_COLUMN_GUESSES, "prompt", "--prompt-column", where),
                _pick(frame, completion_column, COMPLETION_COLUMN_GUESSES, "completion", "--completion-column", where))
    return (False, _pick(frame, text_column, TEXT_COLUMN_GUESSES, "text", "--text-column", where),
            _pick(frame, label_column, LABEL_COLUMN_GUESSES, "label", "--label-column", where))


def _cell_text(value) -> str:
    """A cell as stripped text; None/NaN/NA are empty. Lone surrogates (only a DataFrame can hold them) become '?'
    so every example can be written to a JSON report."""
    if value is None or (isinstance(value, float) and value != value) or type(value).__name__ in ("NAType", "NaTType"):
        return ""
    text = str(value)
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text.strip()


def _missing_label_rows(labels, name: str) -> tuple[Any, list[str]]:
    """Rows whose label is a missing-value marker ("NaN", "N/A", "NULL", "None", ... in knowledge/limits.yaml)."""
    from knowledge.limits import input_limits

    tokens = {token.casefold() for token in input_limits().missing_label_tokens}
    missing = labels.map(lambda label: label.casefold() in tokens)
    n_missing = int(missing.sum())
    if not n_missing:
        return missing, []
    seen = sorted(set(labels[missing]))[:5]
    return missing, [f"Dropped {n_missing} row(s) whose {name!r} is a missing-value marker ({', '.join(map(repr, seen))}); "
                     "missing labels are not a class."]


def _merge_label_spellings(raw_labels, labels, name: str) -> tuple[Any, list[str]]:
    """One label per meaning: Unicode NFC + stripped (done by the caller) and, where only case differs, the most
    frequent spelling. Warns which spellings were merged."""
    import unicodedata

    import pandas as pd

    warnings = []
    forms: dict[str, set[str]] = {}
    pairs = pd.DataFrame({"raw": raw_labels.values, "clean": labels.values}).drop_duplicates()
    for raw, clean in zip(pairs["raw"], pairs["clean"]):
        forms.setdefault(clean, set()).add(raw)
    variants = {clean: raw for clean, raw in forms.items() if len(raw) > 1}
    if variants:
        shown = "; ".join(f"{' = '.join(sorted(map(ascii, raw)))} -> {ascii(clean)}" for clean, raw in list(variants.items())[:5])
        warnings.append(f"Merged {name!r} values that differ only in surrounding spaces or Unicode form (NFC): {shown}.")
    counts = labels.value_counts()
    by_fold: dict[str, list[str]] = {}
    for label in counts.index:
        by_fold.setdefault(unicodedata.normalize("NFC", label.casefold()), []).append(label)
    mapping = {}
    for spellings in (group for group in by_fold.values() if len(group) > 1):
        keep = sorted(spellings, key=lambda label: (-counts[label], label))[0]
        mapping.update({label: keep for label in spellings if label != keep})
        merged = ", ".join(f"{label!r} ({counts[label]})" for label in spellings)
        warnings.append(f"Merged {name!r} values that differ only in case: {merged} -> {keep!r} (the most frequent spelling).")
    return (labels.replace(mapping) if mapping else labels), warnings


def _clean_rows(frame, first, second, generation: bool) -> tuple[Any, int, list[str]]:
    """Two columns "a" (text/prompt) and "b" (label/completion) of clean text: empty rows, missing-label markers and
    exact duplicates dropped, label spellings merged. Returns (frame, rows dropped, warnings)."""
    import unicodedata

    table = frame[[first, second]].copy()
    table.columns = ["a", "b"]
    n_before, warnings = len(table), []
    table["a"] = table["a"].map(_cell_text)
    raw = table["b"].map(lambda v: "" if _cell_text(v) == "" else str(v))
    table["b"] = table["b"].map(_cell_text)
    if not generation:
        table["b"] = table["b"].map(lambda label: unicodedata.normalize("NFC", label).strip())
    keep = (table["a"] != "") & (table["b"] != "")
    if int((~keep).sum()):
        warnings.append(f"Dropped {int((~keep).sum())} row(s) with an empty or missing {str(first)!r} or {str(second)!r}.")
    table, raw = table[keep], raw[keep]
    if not generation and len(table):
        missing, notes = _missing_label_rows(table["b"], str(second))
        table, raw, warnings = table[~missing], raw[~missing], warnings + notes
        if len(table):
            labels, notes = _merge_label_spellings(raw, table["b"], str(second))
            table, warnings = table.assign(b=labels), warnings + notes
    n_dupes = int(table.duplicated().sum())
    if n_dupes:
        table = table.drop_duplicates()
        warnings.append(f"Dropped {n_dupes} exact duplicate row(s) so they cannot leak between train and eval.")
    return table, n_before - len(table), warnings


def _sample_rows(table, max_examples: Optional[int], generation: bool, seed: int, n_rows_read: int) -> tuple[Any, list[str]]:
    """At most ``max_examples`` rows: a stratified sample for classification where the classes allow one."""
    if max_examples is None or len(table) <= max_examples:
        return table, []
    if generation:
        return table.sample(n=max_examples, random_state=seed), [f"Using a random sample of {max_examples} of {n_rows_read} rows (--max-examples)."]
    from sklearn.model_selection import train_test_split

    counts = table["b"].value_counts()
    stratify = table["b"] if counts.min() >= 2 else None
    try:
        table, _ = train_test_split(table, train_size=max_examples, stratify=stratify, random_state=seed)
    except ValueError:  # fewer rows asked for than there are classes: a plain random sample
        table, _ = train_test_split(table, train_size=max_examples, random_state=seed)
        return table, [f"Using a random (not stratified) sample of {max_examples} of {n_rows_read} rows (--max-examples): "
                       f"too few rows for {len(counts)} classes."]
    return table, [f"Using a stratified sample of {max_examples} of {n_rows_read} rows (--max-examples)."]


def _classification_dataset(table, label_column: str, where: str, n_dropped: int, warnings: list[str], source: str) -> ProbeDataset:
    label_names = sorted(table["b"].unique())
    if len(label_names) < 2:
        raise ProbeError(f"{where}: label column {label_column!r} has a single class ({short(label_names[0])}); "
                         "classification needs at least two.")
    if len(label_names) > max(50, len(table) // 5):
        raise ProbeError(f"{where}: label column {label_column!r} has {len(label_names)} distinct values for {len(table)} rows; "
                         "is it free text? For generation data pass --prompt-column and --completion-column.")
    index = {name: i for i, name in enumerate(label_names)}
    rare = [name for name, n in table["b"].value_counts().items() if n < 2]
    if rare:
        warnings = [*warnings, f"Classes with a single example cannot be stratified: {short(rare[:5])}."]
    return ProbeDataset(task_kind="classification", texts=list(table["a"]), labels=[index[v] for v in table["b"]],
                        label_names=label_names, n_dropped_rows=n_dropped, warnings=warnings, source=source)


def load_dataset(
    data: Union[str, Path, "pandas.DataFrame"],  # noqa: F821
    text_column: Optional[str] = None,
    label_column: Optional[str] = None,
    prompt_column: Optional[str] = None,
    completion_column: Optional[str] = None,
    max_examples: Optional[int] = None,
    seed: int = 0,
) -> ProbeDataset:
    """Read and check the data. Generation when prompt/completion columns are given or found; else classification.

    Every problem is a ProbeError naming the data and what is wrong; what was repaired (dropped rows, merged label
    spellings, an encoding fallback) is listed in ``ProbeDataset.warnings``."""
    import pandas as pd

    if max_examples is not None and (isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1):
        raise ProbeError(f"max_examples must be a whole number of at least 1 (or None for all rows); got {short(max_examples)}.")
    if isinstance(data, pd.DataFrame):
        frame, source, warnings = data, "DataFrame", []
    else:
        source = str(data)
        frame, warnings = _read_table(Path(data))
    where = _where(source)
    if len(frame) == 0:
        raise ProbeError(f"{where} has no rows.")
    generation, first, second = _choose_columns(frame, text_column, label_column, prompt_column, completion_column, where)
    table, n_dropped, notes = _clean_rows(frame, first, second, generation)
    warnings = [*warnings, *notes]
    if len(table) == 0:
        raise ProbeError(f"{where}: no usable rows left after dropping empty {str(first)!r}/{str(second)!r} values"
                         + ("" if generation else " and missing-label markers") + ".")
    table, notes = _sample_rows(table, max_examples, generation, seed, len(frame))
    warnings = [*warnings, *notes]
    if generation:
        return ProbeDataset(task_kind="generation", texts=list(table["a"]), targets=list(table["b"]),
                            n_dropped_rows=n_dropped, warnings=warnings, source=source)
    return _classification_dataset(table, str(second), where, n_dropped, warnings, source)


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
