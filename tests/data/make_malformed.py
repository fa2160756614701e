"""Regenerate the malformed data-file corpus in tests/data/malformed/ (deterministic; run from the repo root).

Each file is a real file a careless or unlucky user could hand to `tuning-advisor probe --data`;
tests/probing/test_malformed_data.py says what each must give (a dataset, or a ProbeError naming the problem).
"""
from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent / "malformed"


def rows(n: int = 60, labels=("pos", "neg")) -> list[tuple[str, str]]:
    words = "good bad great awful fine okay love hate movie food service day night".split()
    rng = random.Random(0)
    return [(" ".join(rng.sample(words, 4)) + f" {i}", labels[i % len(labels)]) for i in range(n)]


def csv_text(pairs, header=("text", "label"), sep=",", newline="\n") -> str:
    lines = [sep.join(header)] + [f"{t}{sep}{lab}" for t, lab in pairs]
    return newline.join(lines) + newline


def jsonl_text(pairs) -> str:
    return "".join(json.dumps({"text": t, "label": lab}, ensure_ascii=False) + "\n" for t, lab in pairs)


def files() -> dict[str, bytes]:
    good = csv_text(rows())
    out: dict[str, bytes] = {
        "empty.csv": b"",
        "header_only.csv": b"text,label\n",
        "whitespace_only.csv": b"  \n\n\t \n",
        "ragged_rows.csv": (good + "one,two,three,four\n" + "x,pos\n").encode(),
        "unclosed_quote.csv": (good + '"this quote never closes,pos\nmore,neg\n').encode(),
        "wrong_columns.csv": csv_text(rows(), header=("body", "tag")).encode(),
        "semicolon_separated.csv": csv_text(rows(), sep=";").encode(),
        "one_class.csv": csv_text(rows(labels=("pos",))).encode(),
        "all_labels_missing.csv": csv_text(rows(labels=("NaN", "N/A", "NULL", "None", "", "nan", "#N/A"))).encode(),
        "free_text_labels.csv": csv_text([(t, f"label number {i}") for i, (t, _) in enumerate(rows(300))]).encode(),
        "binary_junk.csv": random.Random(1).randbytes(4096),
        "png_renamed.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa",
        "latin1.csv": csv_text([(t + " café naïve", lab) for t, lab in rows()]).encode("latin-1"),
        "utf8_bom.csv": b"\xef\xbb\xbf" + good.encode(),
        "utf16_le_bom.csv": good.encode("utf-16"),
        "utf16_be_bom.tsv": b"\xfe\xff" + csv_text(rows(), sep="\t").encode("utf-16-be"),
        "utf32_bom.csv": good.encode("utf-32"),
        "utf16_no_bom.csv": good.encode("utf-16-le"),
        "broken_utf16_bom.csv": b"\xff\xfe" + good.encode("utf-16-le")[:-1] + b"\x00\xd8",
        "windows_crlf.csv": csv_text(rows(), newline="\r\n").encode(),
        "nul_bytes.csv": good.replace("good", "go\x00od").encode(),
        "duplicate_columns.csv": ("text,text,label\n" + "".join(f"{t},{t},{lab}\n" for t, lab in rows())).encode(),
        "huge_single_field.csv": (good + "word " * 60000 + ",pos\n").encode(),
        "missing_and_case_labels.csv": csv_text([(t, ["POS", "pos", " pos ", "neg", "NaN", "N/A", "NULL", "None"][i % 8])
                                                 for i, (t, _) in enumerate(rows(80))]).encode(),
        "unicode_forms_labels.csv": csv_text([(t, [unicodedata.normalize("NFC", "négatif"), unicodedata.normalize("NFD", "négatif"),
                                                   "positif"][i % 3]) for i, (t, _) in enumerate(rows(60))]).encode(),
        "utf8_bom.jsonl": b"\xef\xbb\xbf" + jsonl_text(rows()).encode(),
        "jsonl_broken_line.jsonl": (jsonl_text(rows()[:30]) + '{"text": "cut off mid-wri\n' + jsonl_text(rows()[30:])).encode(),
        "jsonl_all_broken.jsonl": b"this is not json\n{neither: is this}\n[1, 2\n",
        "jsonl_not_objects.jsonl": b"[1, 2]\n\"text\"\n42\n",
        "json_not_a_list.json": b'"just a string"',
        "json_list_of_numbers.json": b"[1, 2, 3]",
        "json_truncated.json": json.dumps([{"text": t, "label": lab} for t, lab in rows()]).encode()[:500],
        "json_columns_mismatch.json": b'{"text": ["a", "b", "c"], "label": ["x"]}',
        "json_deeply_nested.json": b"[" * 50000 + b"]" * 50000,
        "json_columns.json": json.dumps({"text": [t for t, _ in rows()], "label": [lab for _, lab in rows()]}).encode(),
        "numbers_as_labels.jsonl": "".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, (t, _) in enumerate(rows())).encode(),
        "no_extension": good.encode(),
        "spreadsheet.xlsx": b"PK\x03\x04\x14\x00\x06\x00" + bytes(64),
        "directory.csv/.gitkeep": b"",
    }
    return out


if __name__ == "__main__":
    for name, content in files().items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    print(f"wrote {len(files())} files to {HERE}")
