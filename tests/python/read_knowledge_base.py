"""Reads a knowledge-base export the way its users read it and prints what the readers found
as one JSON object. The first argument is the format (JSONL or CSV), the second the file:

- JSONL: `datasets.load_dataset("json", data_files=FILE, split="train")`, its rows and their
  feature types;
- CSV: `pandas.read_csv` (every column as text, empty cells as empty strings) and Python's own
  `csv.DictReader`, the rows of each, and each row's aliases split on " | ".
"""

import csv
import json
import os
import sys
import tempfile


def jsonl(path, workdir):
    import datasets

    dataset = datasets.load_dataset("json", data_files=path, split="train", cache_dir=os.path.join(workdir, "hf"))
    return {"features": {name: str(feature) for name, feature in dataset.features.items()}, "rows": list(dataset)}


def table(path):
    import pandas

    frame = pandas.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        "columns": list(frame.columns),
        "pandas": frame.to_dict(orient="records"),
        "csv": rows,
        "aliases": [[a for a in row["aliases"].split(" | ") if a] for row in rows],
    }


def main():
    fmt, path = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as workdir:
        found = jsonl(path, workdir) if fmt == "JSONL" else table(path)
        print(json.dumps(found, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
