"""Reads a JSONL export (the file named by the first argument) the way its users read it, and
prints what each reader found as one JSON object:

- "datasets": `datasets.load_dataset("json", data_files=FILE, split="train")`, the rows and
  their feature types;
- "doccano": each line as doccano's JSONL import reads a sequence-labelling example: `text`,
  and `label` a list of `[start, end, type]` with integer offsets into the Python string (code
  points); the text of every span, and the lines that break that shape.
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
    spans, problems = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            example = json.loads(line)
            text, labels = example.get("text"), example.get("label")
            if not isinstance(text, str) or not isinstance(labels, list):
                problems.append(f"line {number}: no text or no label list")
                continue
            found = []
            for label in labels:
                ok = (
                    isinstance(label, list)
                    and len(label) == 3
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in label[:2])
                    and isinstance(label[2], str)
                    and 0 <= label[0] < label[1] <= len(text)
                )
                if not ok:
                    problems.append(f"line {number}: label {label!r} is not [start, end, type] within the text")
                    continue
                found.append([label[0], label[1], label[2], text[label[0] : label[1]]])
            spans.append(found)
    return {"spans": spans, "problems": problems}


def main():
    path = sys.argv[1]
    with tempfile.TemporaryDirectory() as workdir:
        print(json.dumps({"datasets": hf(path, workdir), "doccano": doccano(path)}, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
