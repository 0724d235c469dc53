"""Reads a W3C Web Annotation export with PyLD: flattens it under the Web Annotation context
(served from contexts/anno.jsonld, a copy of the W3C's, so nothing is fetched), turns it into
RDF (N-Quads), and checks each annotation's selectors against the document texts: the
TextPositionSelector's start and end index code points (as Python strings do) and must give
the TextQuoteSelector's `exact`, with its `prefix` before and its `suffix` after. Prints a JSON
summary on stdout.

Input on stdin: {"export": <the export, as Nishan wrote it>, "texts": {<target source>: <text>}}."""

import json
import pathlib
import sys

from pyld import jsonld

OA = "http://www.w3.org/ns/oa#"
AS = "http://www.w3.org/ns/activitystreams#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SCHEMA = "http://schema.org/"
RDF_VALUE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#value"
CONTEXTS = {"http://www.w3.org/ns/anno.jsonld": pathlib.Path(__file__).parent / "contexts" / "anno.jsonld"}


def loader(url, options=None):
    path = CONTEXTS.get(url)
    if path is None:
        raise jsonld.JsonLdError("refusing to fetch " + url, "jsonld.LoadDocumentError", code="loading document failed")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": json.loads(path.read_text(encoding="utf-8"))}


def first(node, key, field="@value"):
    values = node.get(key) or []
    return values[0].get(field) if values else None


def main():
    jsonld.set_document_loader(loader)
    given = json.load(sys.stdin)
    export, texts = given["export"], given["texts"]
    nodes = {n["@id"]: n for n in jsonld.flatten(export)}
    quads = jsonld.to_rdf(export, {"format": "application/n-quads"})
    out = {"quads": len(quads.splitlines()), "annotations": [], "failures": [], "collection": None}
    for node in nodes.values():
        types = node.get("@type", [])
        if AS + "OrderedCollection" in types:
            out["collection"] = {"types": types, "label": first(node, RDFS + "label"),
                                 "total": int(first(node, AS + "totalItems"))}
        if OA + "Annotation" not in types:
            continue
        body = nodes.get(first(node, OA + "hasBody", "@id"), {})
        target = nodes[first(node, OA + "hasTarget", "@id")]
        source = first(target, OA + "hasSource", "@id")
        quote = position = None
        for ref in target.get(OA + "hasSelector", []):
            selector = nodes[ref["@id"]]
            if OA + "TextQuoteSelector" in selector.get("@type", []):
                quote = selector
            if OA + "TextPositionSelector" in selector.get("@type", []):
                position = selector
        exact = first(quote, OA + "exact")
        start, end = int(first(position, OA + "start")), int(first(position, OA + "end"))
        text = texts[source]
        if text[start:end] != exact:
            out["failures"].append(f"{node['@id']}: text[{start}:{end}] is {text[start:end]!r}, exact is {exact!r}")
        if not text[:start].endswith(first(quote, OA + "prefix")) or not text[end:].startswith(first(quote, OA + "suffix")):
            out["failures"].append(f"{node['@id']}: prefix or suffix do not surround the quote")
        out["annotations"].append({
            "id": node["@id"],
            "motivation": first(node, OA + "motivatedBy", "@id"),
            "body": body.get("@id"),
            "bodyTypes": body.get("@type", []),
            "label": first(body, RDFS + "label"),
            "value": first(body, RDF_VALUE),
            "alternateNames": [v["@value"] for v in body.get(SCHEMA + "alternateName", [])],
            "sameAs": [v["@id"] for v in body.get(SCHEMA + "sameAs", [])],
            "source": source,
            "exact": exact,
            "start": start,
            "end": end,
        })
    out["annotations"].sort(key=lambda a: (a["source"], a["start"], -a["end"]))
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
