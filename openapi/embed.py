#!/usr/bin/env python3
"""Embed the OpenAPI document in the binary: write a C file that holds its
bytes as they are, their length and a strong ETag (a SHA-256 prefix).

    embed.py openapi/exportd.json OUT.c

The document must parse as JSON with an "openapi" member, so a broken
document fails the build rather than a request."""

import hashlib
import json
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        data = f.read()
    doc = json.loads(data.decode("utf-8"))
    if not isinstance(doc, dict) or "openapi" not in doc:
        sys.exit("%s: not an OpenAPI document" % src)
    etag = hashlib.sha256(data).hexdigest()[:32]
    lines = ["/* Generated from openapi/exportd.json by openapi/embed.py. */",
             '#include "api/openapi.h"', "",
             "const char openapi_doc[] = {"]
    for i in range(0, len(data), 16):
        lines.append("\t" + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",")
    lines += ["\t0x00", "};", "",
              "const size_t openapi_doc_len = %d;" % len(data),
              'const char openapi_doc_etag[] = "\\"%s\\"";' % etag, ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
