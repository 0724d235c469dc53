"""Reads a TEI P5 export with lxml, as an archive's pipeline would: parses the XML (failing on
anything that is not well-formed), collects the entries listed in the header and in standOff,
walks each document's stanzas (<lg>) and lines (<l>) with the names marked in them, and resolves
every `ref` against the xml:ids of the file. Prints what it found as JSON on stdout.

Input: the export on stdin."""

import json
import sys
from collections import Counter

from lxml import etree

TEI = "{http://www.tei-c.org/ns/1.0}"
XML = "{http://www.w3.org/XML/1998/namespace}"
NAME_TAGS = ("persName", "placeName", "orgName", "form")


def local(el):
    return etree.QName(el).localname


def main():
    root = etree.fromstring(sys.stdin.buffer.read())
    all_ids = [el.get(XML + "id") for el in root.iter() if el.get(XML + "id")]
    ids = set(all_ids)
    out = {
        "root": local(root),
        "namespace": etree.QName(root).namespace,
        "duplicateIds": sorted(i for i, n in Counter(all_ids).items() if n > 1),
        "entries": [],
        "documents": [],
        "unresolved": [],
    }
    for el in root.iter(TEI + "person", TEI + "place", TEI + "org", TEI + "nym"):
        ancestors = [local(a) for a in el.iterancestors()]
        out["entries"].append({
            "kind": local(el),
            "id": el.get(XML + "id"),
            "list": local(el.getparent()),
            "listType": el.getparent().get("type"),
            "in": "teiHeader" if "teiHeader" in ancestors else "standOff" if "standOff" in ancestors else None,
            "names": [[n.get("type"), n.text] for n in el if local(n) in NAME_TAGS],
            "idnos": {i.get("type"): i.text for i in el.findall(TEI + "idno")},
            "note": el.findtext(TEI + "note"),
        })
    documents = [root] if local(root) == "TEI" else root.findall(TEI + "TEI")
    for doc in documents:
        d = {
            "title": doc.findtext(f"{TEI}teiHeader/{TEI}fileDesc/{TEI}titleStmt/{TEI}title"),
            "lang": doc.get(XML + "lang"),
            "stanzas": [],
        }
        for lg in doc.iter(TEI + "lg"):
            stanza = {"n": lg.get("n"), "type": lg.get("type"), "lines": []}
            for line in lg.findall(TEI + "l"):
                names = []
                for el in line.iter(TEI + "persName", TEI + "placeName", TEI + "name"):
                    ref = el.get("ref")
                    if ref is not None and (not ref.startswith("#") or ref[1:] not in ids):
                        out["unresolved"].append(ref)
                    names.append({"tag": local(el), "type": el.get("type"), "ref": ref, "text": "".join(el.itertext())})
                stanza["lines"].append({"n": line.get("n"), "text": "".join(line.itertext()), "names": names})
            d["stanzas"].append(stanza)
        out["documents"].append(d)
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
