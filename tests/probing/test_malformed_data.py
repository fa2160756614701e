"""Every file in tests/data/malformed/ (regenerate with tests/data/make_malformed.py) gives a ProbeDataset or a
ProbeError naming the file and the problem, never another exception; and the same holds for random bytes and
random CSV-ish text (hypothesis)."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.errors import ProbeError
from knowledge.limits import input_limits
from probes.data import ProbeDataset, load_dataset

CORPUS = Path(__file__).resolve().parent.parent / "data" / "malformed"

# file -> a regex the ProbeError must match, or OK (a dataset) with the warning it must carry (None: no warning needed)
OK = "ok"
EXPECTED: dict[str, tuple[str, str | None]] = {
    "empty.csv": ("is empty", None),
    "header_only.csv": ("has no rows", None),
    "whitespace_only.csv": ("holds only whitespace", None),
    "ragged_rows.csv": ("could not be parsed as CSV: .*Expected 2 fields in line 62, saw 4", None),
    "unclosed_quote.csv": ("could not be parsed as CSV: .*EOF inside string", None),
    "wrong_columns.csv": (r"no text column given .* Columns: \['body', 'tag'\]. Pass --text-column", None),
    "semicolon_separated.csv": (r"no text column given .* Columns: \['text;label'\]", None),
    "one_class.csv": ("has a single class", None),
    "all_labels_missing.csv": ("no usable rows left after dropping empty .* and missing-label markers", None),
    "free_text_labels.csv": ("300 distinct values for 300 rows; is it free text", None),
    "binary_junk.csv": ("does not look like text: read as Latin-1", None),
    "png_renamed.csv": ("does not look like text", None),
    "broken_utf16_bom.csv": ("starts with a UTF-16 byte-order mark but is not valid UTF-16", None),
    "jsonl_all_broken.jsonl": ("holds no JSON object per line \\(line 1: ", None),
    "jsonl_not_objects.jsonl": ("holds no JSON object per line \\(line 1: a JSON list, not an object\\)", None),
    "json_not_a_list.json": ("holds a JSON str; expected a list of objects", None),
    "json_list_of_numbers.json": ("item 0 is a JSON int; expected a list of objects", None),
    "json_truncated.json": ("is not valid JSON \\(.*Unterminated string", None),
    "json_columns_mismatch.json": ("the columns do not line up", None),
    "json_deeply_nested.json": ("nests too deeply", None),
    "no_extension": ("expected a .csv, .tsv, .jsonl or .json file, got 'no extension'", None),
    "spreadsheet.xlsx": ("expected a .csv, .tsv, .jsonl or .json file, got '.xlsx'", None),
    "directory.csv": ("is a directory; expected a file", None),
    "latin1.csv": (OK, "not valid UTF-8; read it as Latin-1"),
    "utf8_bom.csv": (OK, None),
    "utf8_bom.jsonl": (OK, None),
    "utf16_le_bom.csv": (OK, None),
    "utf16_be_bom.tsv": (OK, None),
    "utf32_bom.csv": (OK, None),
    "utf16_no_bom.csv": (OK, "looks like UTF-16-LE"),
    "windows_crlf.csv": (OK, None),
    "nul_bytes.csv": (OK, None),
    "duplicate_columns.csv": (OK, None),
    "huge_single_field.csv": (OK, None),
    "jsonl_broken_line.jsonl": (OK, "Skipped 1 line\\(s\\) that are not a JSON object \\(line 31: "),
    "json_columns.json": (OK, None),
    "numbers_as_labels.jsonl": (OK, None),
    "missing_and_case_labels.csv": (OK, "Dropped 40 row\\(s\\) whose 'label' is a missing-value marker"),
    "unicode_forms_labels.csv": (OK, "differ only in surrounding spaces or Unicode form"),
}


def test_the_corpus_has_every_file_listed_and_at_least_20():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_malformed_file_gives_a_dataset_or_a_probe_error_naming_file_and_problem(name):
    expected, warning = EXPECTED[name]
    path = CORPUS / name
    try:
        dataset = load_dataset(path)
    except ProbeError as error:
        message = str(error)
        assert expected != OK, f"{name}: expected a dataset, got {message}"
        assert name in message, message
        assert re.search(expected, message), message
        assert "\n" not in message and len(message) < 700
        return
    assert expected == OK, f"{name}: expected an error matching {expected!r}, got a dataset"
    assert isinstance(dataset, ProbeDataset) and dataset.n_rows >= 2 and len(dataset.label_names) >= 2
    assert len(dataset.texts) == len(dataset.labels) and all(dataset.texts)
    assert not any(name.startswith("\ufeff") for name in dataset.label_names + dataset.texts[:1])  # BOM never leaks
    if warning:
        assert any(re.search(warning, w) for w in dataset.warnings), dataset.warnings


def test_decoded_files_give_the_same_examples_as_plain_utf8():
    plain = load_dataset(CORPUS / "windows_crlf.csv")
    for name in ("utf8_bom.csv", "utf16_le_bom.csv", "utf32_bom.csv", "utf16_no_bom.csv", "utf8_bom.jsonl", "utf16_be_bom.tsv"):
        other = load_dataset(CORPUS / name)
        assert (other.texts, other.labels, other.label_names) == (plain.texts, plain.labels, plain.label_names), name


def test_missing_markers_are_dropped_and_label_spellings_merged():
    dataset = load_dataset(CORPUS / "missing_and_case_labels.csv")
    assert dataset.label_names == ["neg", "pos"]  # not 'NaN', 'N/A', 'NULL', 'None', 'POS' or ' pos '
    merged = [w for w in dataset.warnings if "differ only in case" in w]
    assert merged and "'pos' (20), 'POS' (10) -> 'pos'" in merged[0]
    forms = load_dataset(CORPUS / "unicode_forms_labels.csv")
    assert forms.label_names == [unicodedata.normalize("NFC", "négatif"), "positif"]
    assert sum(label == 0 for label in forms.labels) == 40


def test_a_data_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    from knowledge import limits

    big = tmp_path / "big.csv"
    big.write_text("text,label\n" + "x,pos\ny,neg\n" * 100)
    small = input_limits().model_copy(update={"data_file_max_bytes": 64})
    monkeypatch.setattr(limits, "input_limits", lambda: small)
    import builtins

    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda file, *a, **k: pytest.fail("the file was opened") if str(file) == str(big)
                        else real_open(file, *a, **k))
    with pytest.raises(ProbeError, match="big.csv' is 1,211 bytes; the limit is 64 bytes"):
        load_dataset(big)


@pytest.mark.parametrize("max_examples", [0, -3, 1.5, "10"])
def test_max_examples_below_one_or_not_whole_is_a_clear_error(max_examples):
    with pytest.raises(ProbeError, match="max_examples must be a whole number of at least 1"):
        load_dataset(CORPUS / "windows_crlf.csv", max_examples=max_examples)


@pytest.mark.parametrize("max_examples", [1, 2, 3])
def test_max_examples_smaller_than_the_class_count_samples_without_stratifying(max_examples):
    dataset_or_error = None
    try:
        dataset_or_error = load_dataset(CORPUS / "windows_crlf.csv", max_examples=max_examples)
    except ProbeError as error:  # one row is one class: a clear error, not scikit-learn's traceback
        assert "single class" in str(error)
        return
    assert dataset_or_error.n_rows == max_examples


# -- fuzz -------------------------------------------------------------------------------------------------------

SUFFIXES = [".csv", ".tsv", ".jsonl", ".json", ".txt"]
MARKERS = ["NaN", "N/A", "NULL", "None", "nan", "", " ", "-", "?", "#N/A"]


def load_or_error(path: Path):
    """load_dataset's only allowed outcomes; returns the dataset or None (after checking the error names the file)."""
    try:
        return load_dataset(path)
    except ProbeError as error:
        assert path.name in str(error), str(error)
        return None


def check_dataset(dataset: ProbeDataset) -> None:
    tokens = {t.casefold() for t in input_limits().missing_label_tokens}
    assert len(dataset.texts) == len(dataset.labels) and all(t.strip() == t and t for t in dataset.texts)
    assert len(dataset.label_names) >= 2 and len(set(dataset.label_names)) == len(dataset.label_names)
    assert not any(label.casefold() in tokens for label in dataset.label_names)
    folded = [unicodedata.normalize("NFC", label.casefold()) for label in dataset.label_names]
    assert len(set(folded)) == len(folded)  # no two labels differ only in case or Unicode form
    assert set(dataset.labels) <= set(range(len(dataset.label_names)))
    "\n".join(dataset.warnings).encode("utf-8")  # writable into a JSON report (no lone surrogates)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES))
def test_fuzz_random_bytes_give_a_dataset_or_a_probe_error(tmp_path, content, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    dataset = load_or_error(path)
    if dataset is not None:
        check_dataset(dataset)


cell = st.one_of(st.text(max_size=12), st.sampled_from(MARKERS + ["pos", "POS", " pos", "neg", "Neg", "café",
                                                                   unicodedata.normalize("NFD", "café"), '"', '""', ",", "\n"]))


@st.composite
def csv_like(draw):
    sep = draw(st.sampled_from([",", "\t", ";"]))
    header = draw(st.sampled_from([["text", "label"], ["label", "text"], ["text", "label", "extra"], ["text"], ["a", "b"]]))
    n_rows = draw(st.integers(0, 30))
    lines = [sep.join(header)]
    for _ in range(n_rows):
        width = draw(st.sampled_from([len(header), len(header), len(header), len(header) + 1, max(len(header) - 1, 1)]))
        values = [draw(cell) for _ in range(width)]
        quote = draw(st.booleans())
        lines.append(sep.join('"' + v.replace('"', '""') + '"' if quote else v for v in values))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1"]))
    suffix = draw(st.sampled_from([".csv", ".tsv", ".txt"]))
    return newline.join(lines).encode(encoding, errors="replace"), suffix


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=csv_like())
def test_fuzz_csv_like_text_gives_a_dataset_or_a_probe_error(tmp_path, case):
    content, suffix = case
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    dataset = load_or_error(path)
    if dataset is not None:
        check_dataset(dataset)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(st.dictionaries(st.sampled_from(["text", "label", "prompt", "completion", "x"]),
                                        st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), cell,
                                                  st.lists(st.integers(), max_size=2)), max_size=4), max_size=25),
       lines=st.booleans())
def test_fuzz_json_records_give_a_dataset_or_a_probe_error(tmp_path, records, lines):
    import json

    path = tmp_path / ("fuzz.jsonl" if lines else "fuzz.json")
    path.write_text("\n".join(json.dumps(r) for r in records) if lines else json.dumps(records), encoding="utf-8")
    dataset = load_or_error(path)
    if dataset is not None and dataset.task_kind == "classification":
        check_dataset(dataset)
