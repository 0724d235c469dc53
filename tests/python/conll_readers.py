"""Reads a CONLL export (the file named by the first argument) the way its users read it, and
prints what each reader found as one JSON object:

- "spacy": `python -m spacy convert FILE DIR --converter ner`, the command spaCy's users run,
  then the `.spacy` file it wrote, loaded back: each document's tokens and entities;
- "datasets": the rows of a Hugging Face `datasets.Dataset` built by the parser of the Hub's
  `conll2003` loading script (one example per sentence, `line.split(" ")` into token, POS, chunk
  and NER columns, `-DOCSTART-` and blank lines ending a sentence), its NER column a ClassLabel;
- "seqeval": the entities seqeval finds in those rows' tags (`get_entities`), and the support per
  type of its strict IOB2 classification report.
"""

import json
import os
import subprocess
import sys
import tempfile


def spacy_docs(path, workdir):
    import spacy
    from spacy.tokens import DocBin

    out = os.path.join(workdir, "spacy")
    os.makedirs(out)
    cli = subprocess.run(
        [sys.executable, "-m", "spacy", "convert", path, out, "--converter", "ner", "--file-type", "spacy"],
        capture_output=True,
        text=True,
    )
    if cli.returncode != 0:
        raise SystemExit(f"spacy convert failed:\n{cli.stdout}\n{cli.stderr}")
    (written,) = os.listdir(out)
    docs = DocBin().from_disk(os.path.join(out, written)).get_docs(spacy.blank("xx").vocab)
    return {
        "cli": cli.stdout + cli.stderr,
        "docs": [
            {
                "tokens": [t.text for t in doc],
                "ents": [{"text": e.text, "label": e.label_, "start": e.start, "end": e.end} for e in doc.ents],
            }
            for doc in docs
        ],
    }


def conll2003_examples(path):
    """The `_generate_examples` of the Hub's conll2003 script, as it reads its files."""
    with open(path, encoding="utf-8") as f:
        guid = 0
        tokens, pos_tags, chunk_tags, ner_tags = [], [], [], []
        for line in f:
            if line.startswith("-DOCSTART-") or line == "" or line == "\n":
                if tokens:
                    yield {"id": str(guid), "tokens": tokens, "pos_tags": pos_tags, "chunk_tags": chunk_tags, "ner_tags": ner_tags}
                    guid += 1
                    tokens, pos_tags, chunk_tags, ner_tags = [], [], [], []
            else:
                splits = line.split(" ")
                tokens.append(splits[0])
                pos_tags.append(splits[1])
                chunk_tags.append(splits[2])
                ner_tags.append(splits[3].rstrip())
        if tokens:
            yield {"id": str(guid), "tokens": tokens, "pos_tags": pos_tags, "chunk_tags": chunk_tags, "ner_tags": ner_tags}


def hf_rows(path, workdir):
    import datasets

    names = sorted({tag for example in conll2003_examples(path) for tag in example["ner_tags"]})
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "pos_tags": datasets.Sequence(datasets.Value("string")),
            "chunk_tags": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        }
    )
    dataset = datasets.Dataset.from_generator(
        conll2003_examples, gen_kwargs={"path": path}, features=features, cache_dir=os.path.join(workdir, "hf")
    )
    label = dataset.features["ner_tags"].feature
    return [{"tokens": row["tokens"], "ner_tags": [label.int2str(t) for t in row["ner_tags"]]} for row in dataset]


def seqeval_view(rows):
    from seqeval.metrics import classification_report
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOB2

    tags = [row["ner_tags"] for row in rows]
    report = classification_report(tags, tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    return {
        "entities": [[[kind, start, end] for kind, start, end in get_entities(sentence)] for sentence in tags],
        "support": {kind: int(v["support"]) for kind, v in report.items() if not kind.endswith(" avg")},
    }


def main():
    path = sys.argv[1]
    with tempfile.TemporaryDirectory() as workdir:
        rows = hf_rows(path, workdir)
        print(json.dumps({"spacy": spacy_docs(path, workdir), "datasets": rows, "seqeval": seqeval_view(rows)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
