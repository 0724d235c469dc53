"""Reads a JSONL export (the file named by the first argument) the way its users read it, and
prints what each reader found as one JSON object:

- "datasets": `datasets.load_dataset("json", data_files=FILE, split="train")`, the rows and
  their feature types;
- "doccano": what doccano 1.8.4's own JSONL import makes of it (`doccano_import.py`): each
  example's text, metadata (the other fields) and spans `[start, end, type, text]`, the parse
  and validation errors, and how many labels were given and kept.
"""

import json
import os
import sys
import tempfile


def hf(path, workdir):
    import datasets

    dataset = datasets.load_dataset("json", data_files=path, split="train", cache_dir=os.path.join(workdir, "hf"))
    return {"features": {name: str(feature) for name, feature in dataset.features.items()}, "rows": list(dataset)}


def doccano(path):
    import doccano_import

    # Nested entities need doccano's "Allow overlapping entity" project setting; with the
    # default (off) doccano keeps, per text, the spans that do not overlap an earlier one.
    read = doccano_import.read(path, allow_overlapping=True)
    read["labels_kept_without_overlapping"] = doccano_import.read(path, allow_overlapping=False)["labels_kept"]
    return read


def main():
    path = sys.argv[1]
    with tempfile.TemporaryDirectory() as workdir:
        print(json.dumps({"datasets": hf(path, workdir), "doccano": doccano(path)}, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
