"""Loading and checking user data from real files."""
import json

import pandas as pd
import pytest

from advisor import ProbeError
from probes.data import load_dataset


def write_csv(path, rows, encoding="utf-8"):
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


def test_csv_jsonl_and_dataframe_give_the_same_examples(tmp_path):
    rows = [{"text": f"example {i}", "label": "a" if i % 2 else "b"} for i in range(20)]
    from_csv = load_dataset(write_csv(tmp_path / "d.csv", rows))
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    from_jsonl = load_dataset(tmp_path / "d.jsonl")
    from_frame = load_dataset(pd.DataFrame(rows))
    assert from_csv.texts == from_jsonl.texts == from_frame.texts
    assert from_csv.labels == from_jsonl.labels and from_csv.label_names == ["a", "b"]


def test_missing_column_lists_the_columns_that_exist(tmp_path):
    path = write_csv(tmp_path / "d.csv", [{"body": "x", "sentiment": "pos"}, {"body": "y", "sentiment": "neg"}])
    with pytest.raises(ProbeError) as error:
        load_dataset(path, text_column="text", label_column="sentiment")
    assert "'text' is not a column" in str(error.value) and "['body', 'sentiment']" in str(error.value)
    with pytest.raises(ProbeError, match="Did you mean 'sentiment'"):
        load_dataset(path, text_column="body", label_column="sentimnt")


def test_empty_file_single_class_and_free_text_labels_are_clear_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ProbeError, match="is empty"):
        load_dataset(tmp_path / "empty.csv")
    one = write_csv(tmp_path / "one.csv", [{"text": f"t{i}", "label": "same"} for i in range(10)])
    with pytest.raises(ProbeError, match="single class"):
        load_dataset(one)
    with pytest.raises(ProbeError, match="does not exist"):
        load_dataset(tmp_path / "missing.csv")
    with pytest.raises(ProbeError, match="expected a .csv"):
        (tmp_path / "d.parquet").write_text("x")
        load_dataset(tmp_path / "d.parquet")


def test_empty_texts_and_duplicates_are_dropped_with_warnings(tmp_path):
    rows = [{"text": "good", "label": "pos"}, {"text": "", "label": "neg"}, {"text": "bad", "label": None},
            {"text": "good", "label": "pos"}, {"text": "awful", "label": "neg"}]
    dataset = load_dataset(pd.DataFrame(rows))
    assert dataset.texts == ["good", "awful"]
    assert any("empty or missing" in w for w in dataset.warnings)
    assert any("duplicate" in w for w in dataset.warnings)


def test_undecodable_bytes_fall_back_to_latin1_with_a_warning(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9 ok,pos\nna\xefve bad,neg\n".encode("latin-1"))
    dataset = load_dataset(path)
    assert dataset.texts == ["café ok", "naïve bad"]
    assert any("Latin-1" in w for w in dataset.warnings)


def test_generation_columns_are_found(tmp_path):
    rows = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(30)]
    dataset = load_dataset(pd.DataFrame(rows))
    assert dataset.task_kind == "generation" and dataset.targets[0] == "answer 0"
