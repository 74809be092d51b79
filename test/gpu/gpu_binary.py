"""The bytes of the first object of a gpu.binary op in moe-opt's output (SPIR-V from
format=bin, PTX from the NVVM target's format=isa, a cubin from format=bin):

    python3 gpu_binary.py LOWERED.mlir OUT        (LOWERED.mlir: - for standard input)
"""
import re
import sys

_OBJECT = re.compile(r'(?:bin|assembly) = "((?:[^"\\]|\\.)*)"', re.S)


def string_bytes(text):
    """The bytes of an MLIR string literal's body: \\\\ and \\" for a backslash and a
    quote, \\XX for other bytes that are not printable, the rest as is."""
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1] in "\\\"":
            out += text[i + 1].encode()
            i += 2
        elif text[i] == "\\":
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
        else:
            out += text[i].encode()
            i += 1
    return bytes(out)


def module_attribute(mlir_text, name):
    """The string value of the module attribute ``name`` (moe.signature, moe.launches) in
    moe-opt's output, or None."""
    found = re.search(re.escape(name) + r' = "((?:[^"\\]|\\.)*)"', mlir_text)
    return string_bytes(found.group(1)).decode() if found else None


def first_object(mlir_text):
    """The bytes of the first gpu.object in ``mlir_text``, or None."""
    found = _OBJECT.search(mlir_text)
    return string_bytes(found.group(1)) if found else None


if __name__ == "__main__":
    source = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1]).read()
    data = first_object(source)
    if data is None:
        sys.exit(f"gpu_binary.py: no gpu.binary object in {sys.argv[1]}")
    with open(sys.argv[2], "wb") as f:
        f.write(data)
