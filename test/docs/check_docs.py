"""Checks the generated dialect reference: every op, attribute and type has a
description with an `mlir` example. Usage: check_docs.py MoEDialect.md"""
import re
import sys

text = open(sys.argv[1]).read()
# Sections start at headings naming an op (`moe.x`) or an attribute (FooAttr).
sections = re.split(r"^(###\s+.*)$", text, flags=re.M)
missing, seen = [], 0
for heading, body in zip(sections[1::2], sections[2::2]):
    name = heading.strip("# ").strip()
    if not (name.startswith("`moe.") or name.endswith(("Attr", "Type"))):
        continue
    seen += 1
    if "```mlir" not in body:
        missing.append(name)
print(f"checked {seen} ops, attributes and types")
if missing:
    print("no example in: " + ", ".join(missing))
    sys.exit(1)
