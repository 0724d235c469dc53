"""Inter-annotator agreement by the reference implementations, for tests/it/agreement.rs.

Reads JSON on stdin: {"raters": [name, ...], "documents": [{"length": n, "words": [[start, end], ...],
"layers": {rater: [[start, end, type], ...]}}]}. Labels each word (and each character) itself: the
type of the rater's span covering most of it (the earliest-starting one on a tie), "O" when none;
a rater absent from a document's layers gives no labels there. Prints JSON with:
- Krippendorff's alpha (the `krippendorff` package, nominal) over the words, per document, per type
  (each word "this type" or not) and over characters;
- Cohen's kappa per pair (scikit-learn's cohen_kappa_score) over the words both raters labelled;
- Fleiss' kappa (statsmodels' fleiss_kappa over aggregate_raters) over the words every rater labelled;
- span F1 per pair and per type, exact and overlapping, computed here from the spans.
An undefined value (no variation, no units) is null.
"""

import json
import math
import sys

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa


def labels(units, spans, only=None):
    out = []
    for (us, ue) in units:
        best, label = 0, "O"
        for (s, e, t) in sorted(spans):
            if only is not None and t != only:
                continue
            covered = min(ue, e) - max(us, s)
            if covered > best:
                best, label = covered, t
        out.append(label)
    return out


def char_labels(length, spans):
    out = ["O"] * length
    for (s, e, t) in sorted(spans):
        for c in range(s, e):
            if out[c] == "O":
                out[c] = t
    return out


def alpha(rows):
    """rows: one list per rater (None = missing); nominal alpha or None when undefined."""
    values = sorted({v for row in rows for v in row if v is not None})
    if len(values) < 2:
        return None
    code = {v: i for i, v in enumerate(values)}
    data = np.array([[np.nan if v is None else code[v] for v in row] for row in rows], dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if pairable.sum() == 0:
        return None
    value = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    return None if math.isnan(value) else float(value)


def f1(a, b, overlap):
    if not a and not b:
        return None
    def found(xs, ys):
        if not overlap:
            return len(set(xs) & set(ys))
        return sum(1 for (s, e, t) in xs if any(t == u and s < f and d < e for (d, f, u) in ys))
    return (found(a, b), found(b, a), len(set(a)), len(set(b)))


def pooled(counts):
    counts = [c for c in counts if c is not None]
    if not counts:
        return None
    af, bf, at, bt = (sum(c[i] for c in counts) for i in range(4))
    if at + bt == 0:
        return None
    if at == 0 or bt == 0:
        return 0.0
    r, p = af / at, bf / bt
    return 0.0 if r + p == 0 else 2 * p * r / (p + r)


def main():
    data = json.load(sys.stdin)
    raters = data["raters"]
    docs = data["documents"]
    types = sorted({s[2] for d in docs for spans in d["layers"].values() for s in spans})
    for d in docs:
        d["layers"] = {r: [tuple(s) for s in spans] for r, spans in d["layers"].items()}
    compared = [d for d in docs if sum(r in d["layers"] for r in raters) >= 2]

    rows = {r: [] for r in raters}
    char_rows = {r: [] for r in raters}
    type_rows = {t: {r: [] for r in raters} for t in types}
    by_document = []
    for d in compared:
        units = [tuple(w) for w in d["words"]]
        doc_rows = []
        for r in raters:
            present = r in d["layers"]
            ls = labels(units, d["layers"][r]) if present else [None] * len(units)
            rows[r] += ls
            doc_rows.append(ls)
            cs = char_labels(d["length"], d["layers"][r]) if present else [None] * d["length"]
            char_rows[r] += cs
            for t in types:
                type_rows[t][r] += labels(units, d["layers"][r], only=t) if present else [None] * len(units)
        by_document.append(alpha(doc_rows))

    pairs = []
    for i in range(len(raters)):
        for j in range(i + 1, len(raters)):
            a, b = rows[raters[i]], rows[raters[j]]
            both = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
            kappa = None
            if both:
                xs, ys = zip(*both)
                if len(set(xs) | set(ys)) > 1:
                    k = cohen_kappa_score(list(xs), list(ys))
                    kappa = None if math.isnan(k) else float(k)
            docs_both = [d for d in compared if raters[i] in d["layers"] and raters[j] in d["layers"]]
            exact = pooled([f1(d["layers"][raters[i]], d["layers"][raters[j]], False) for d in docs_both])
            over = pooled([f1(d["layers"][raters[i]], d["layers"][raters[j]], True) for d in docs_both])
            pairs.append({"units": len(both), "cohenKappa": kappa, "f1Exact": exact, "f1Overlap": over})

    full = [k for k in range(len(rows[raters[0]])) if all(rows[r][k] is not None for r in raters)]
    fleiss = None
    if full:
        table = np.array([[rows[r][k] for r in raters] for k in full], dtype=object)
        codes = {v: i for i, v in enumerate(sorted(set(table.flatten())))}
        counts, _ = aggregate_raters(np.vectorize(codes.get)(table))
        value = fleiss_kappa(counts, method="fleiss")
        fleiss = None if math.isnan(value) else float(value)

    by_type = []
    for t in types:
        exact, over = [], []
        for i in range(len(raters)):
            for j in range(i + 1, len(raters)):
                for d in compared:
                    if raters[i] in d["layers"] and raters[j] in d["layers"]:
                        a = [s for s in d["layers"][raters[i]] if s[2] == t]
                        b = [s for s in d["layers"][raters[j]] if s[2] == t]
                        exact.append(f1(a, b, False))
                        over.append(f1(a, b, True))
        rows_t = [[None if v is None else (v if v == "O" else "T") for v in type_rows[t][r]] for r in raters]
        by_type.append({"type": t, "alpha": alpha(rows_t), "f1Exact": pooled(exact), "f1Overlap": pooled(over)})

    print(json.dumps({
        "alpha": alpha([rows[r] for r in raters]),
        "characterAlpha": alpha([char_rows[r] for r in raters]),
        "fleissKappa": fleiss,
        "fleissUnits": len(full),
        "pairs": pairs,
        "byType": by_type,
        "byDocument": by_document,
    }))


main()
