"""doccano's own JSONL import, run on a file: the import pipeline of doccano 1.8.4
(`backend/data_import/pipeline/` of its PyPI wheel), without its Django server.

What runs is doccano's code: `Reader` and `JSONLParser` (the parser doccano's factory picks for
the JSONL format, with its default "Auto" encoding detection by chardet), `ExampleMaker` with
`TextData` (the text and its metadata) and `LabelMaker` with `SpanLabel` (the `label` column,
each item validated as `[start_offset, end_offset, label]`), then `Spans.clean` (doccano drops
overlapping spans unless the project allows them). The Django models those modules import
(`examples.models`, `projects.models`, `label_types.models`, `labels.models`) are stood in for
by plain records, because nothing here saves to a database: what the test checks is what doccano
reads, which is decided before saving.

The wheel is fetched by scripts/test.sh (`pip download --no-deps -r tests/python/wheels.txt`)
into `<venv>/wheels/`; its modules are imported from inside the wheel (a zip archive).
"""

import glob
import os
import sys
import types


class _Record:
    """Stands in for a Django model: keeps the fields it was made with."""

    objects = None

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _stub(module, **classes):
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        sys.modules.setdefault(name, types.ModuleType(name))
    for attr, cls in classes.items():
        setattr(sys.modules[module], attr, cls)


def _models():
    def record(name):
        return type(name, (_Record,), {})

    project_type = types.SimpleNamespace(
        DOCUMENT_CLASSIFICATION="DocumentClassification",
        SEQUENCE_LABELING="SequenceLabeling",
        SEQ2SEQ="Seq2seq",
        INTENT_DETECTION_AND_SLOT_FILLING="IntentDetectionAndSlotFilling",
        IMAGE_CLASSIFICATION="ImageClassification",
        SPEECH2TEXT="Speech2text",
    )
    _stub("examples.models", Example=record("Example"))
    _stub("projects.models", Project=record("Project"), ProjectType=project_type)
    _stub(
        "label_types.models",
        LabelType=record("LabelType"),
        CategoryType=record("CategoryType"),
        SpanType=record("SpanType"),
        RelationType=record("RelationType"),
    )
    _stub(
        "labels.models",
        Label=record("Label"),
        Category=record("Category"),
        Span=record("Span"),
        Relation=record("Relation"),
        TextLabel=record("TextLabel"),
    )


def _wheel():
    wheels = sorted(glob.glob(os.path.join(sys.prefix, "wheels", "doccano-*.whl")))
    if not wheels:
        sys.exit(f"doccano's wheel is not in {sys.prefix}/wheels: scripts/test.sh downloads it")
    return wheels[-1]


def read(path, allow_overlapping):
    """What doccano's import makes of the file: each example's text, metadata and spans."""
    _models()
    sys.path.insert(0, _wheel() + "/backend")
    from data_import.pipeline.data import TextData
    from data_import.pipeline.label import SpanLabel
    from data_import.pipeline.label_types import LabelTypes
    from data_import.pipeline.labels import Spans
    from data_import.pipeline.makers import ExampleMaker, LabelMaker
    from data_import.pipeline.parsers import JSONLParser
    from data_import.pipeline.readers import DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN, FileName, Reader
    from label_types.models import SpanType
    from projects.models import Project

    name = os.path.basename(path)
    reader = Reader([FileName(full_path=path, generated_name=name, upload_name=name)], JSONLParser())
    project = Project(allow_overlapping=allow_overlapping)
    example_maker = ExampleMaker(
        project=project,
        data_class=TextData,
        column_data=DEFAULT_TEXT_COLUMN,
        exclude_columns=[DEFAULT_LABEL_COLUMN],
    )
    label_maker = LabelMaker(column=DEFAULT_LABEL_COLUMN, label_class=SpanLabel)
    examples, labels, given = [], [], 0
    for records in reader.batch(1000):
        given += sum(len(v) for v in records[DEFAULT_LABEL_COLUMN] if isinstance(v, list))
        examples += example_maker.make(records)
        spans = Spans(label_maker.make(records), LabelTypes(SpanType))
        spans.clean(project)
        labels += spans.labels
    by_example = {}
    for label in labels:
        by_example.setdefault(label.example_uuid, []).append(label)
    out = []
    for example in examples:
        spans = sorted(by_example.get(example.uuid, []), key=lambda s: (s.start_offset, -s.end_offset, s.label))
        out.append(
            {
                "text": example.text,
                "meta": example.meta,
                "spans": [[s.start_offset, s.end_offset, s.label, example.text[s.start_offset : s.end_offset]] for s in spans],
            }
        )
    errors = [str(e) for e in reader.errors + example_maker.errors + label_maker.errors]
    return {"examples": out, "errors": errors, "labels_given": given, "labels_kept": len(labels)}
