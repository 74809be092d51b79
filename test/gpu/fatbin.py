"""What a CUDA artifact's embedded fatbin holds, read without the CUDA toolkit (no cuobjdump
needed): its images (a cubin or PTX, and the chip of each) and, in each cubin, the kernels
with their registers, shared memory and stack frame (local memory: spills and stack), checked
against the artifact's launch list.

    python3 fatbin.py ARTIFACT.so
        one line per image, one per kernel of each cubin, then whether every kernel the
        launch list names is in every cubin; exit status 1 where one is missing, the binary
        is not a fatbin or a cubin cannot be read
    python3 fatbin.py --cubin FILE.cubin [--ptxas-report REPORT]
        the kernels of one cubin; with ptxas -v's report of the same compile, checks that
        the registers and stack frames read here are the ones ptxas reported (exit status 1
        where they differ)

The fatbin layout (as the CUDA toolkit's `fatbinary` writes it): a 16-byte header (magic
0xBA55ED50, version, header size, size of the images), then each image behind a header of its
own: kind (1 PTX, 2 cubin) at byte 0, the header's size at 4, the payload's padded size at 8
(8 bytes), the chip at 28; a compressed payload is not read. A cubin is an ELF file: section
`.text.K` holds kernel K's code and `.nv.shared.K` its shared memory; the section `.nv.info`
holds per-kernel attributes, records of a format byte (4: a 16-bit size and that many bytes;
others: a 16-bit value), an attribute byte, and for EIATTR_REGCOUNT (0x2f) and
EIATTR_FRAME_SIZE (0x11) the kernel's symbol index and the value.
"""
import ctypes
import json
import re
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "cubin"}
EIFMT_SVAL = 4
EIATTR_FRAME_SIZE = 0x11
EIATTR_REGCOUNT = 0x2F
SHT_SYMTAB = 2


def artifact_binary(path):
    """The device binary and the signature (a dict) of the GPU artifact at ``path`` (a
    data-only shared object: ``moe_device_binary`` of ``moe_device_binary_size`` bytes and
    ``moe_signature_json``, docs/artifact-abi.md)."""
    lib = ctypes.CDLL(path)
    size = ctypes.c_uint64.in_dll(lib, "moe_device_binary_size").value
    binary = bytes((ctypes.c_char * size).in_dll(lib, "moe_device_binary"))
    # (A zero-terminated char array, not a pointer.)
    signature = ctypes.string_at(ctypes.addressof(ctypes.c_char.in_dll(lib, "moe_signature_json")))
    return binary, json.loads(signature)


def images(fatbin):
    """[(kind, chip, payload)] of ``fatbin``; raises ValueError if it is not one."""
    if len(fatbin) < 16:
        raise ValueError("shorter than a fatbin header")
    magic, _, header, size = struct.unpack_from("<IHHQ", fatbin, 0)
    if magic != FATBIN_MAGIC:
        raise ValueError(f"magic {magic:#x}, not a fatbin ({FATBIN_MAGIC:#x})")
    found, at, end = [], header, min(header + size, len(fatbin))
    while at + 32 <= end:
        kind, _, entry_header, padded = struct.unpack_from("<HHIQ", fatbin, at)
        chip = struct.unpack_from("<I", fatbin, at + 28)[0]
        if entry_header == 0 or at + entry_header + padded > end:
            raise ValueError(f"an image at byte {at} runs past the fatbin's end")
        payload = fatbin[at + entry_header:at + entry_header + padded]
        found.append((KINDS.get(kind, f"kind {kind}"), chip, payload))
        at += entry_header + padded
    return found


def _string(elf, at):
    """The zero-terminated string at byte ``at`` of ``elf``."""
    return elf[at:elf.index(b"\0", at)].decode()


def _sections(elf):
    """{name: (type, offset, size, link)} of the 64-bit ELF file ``elf``."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ValueError("the cubin is not a 64-bit ELF file (compressed?)")
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    headers = [struct.unpack_from("<IIQQQQI", elf, shoff + i * shentsize) for i in range(shnum)]
    strings = headers[shstrndx][4]
    return {_string(elf, strings + h[0]): (h[1], h[4], h[5], h[6]) for h in headers}, headers


def cubin_kernels(elf):
    """{kernel: {"registers", "shared", "frame"}} of the cubin ``elf``: registers per thread,
    bytes of shared memory, bytes of stack frame (local memory: spills and stack)."""
    sections, headers = _sections(elf)
    kernels = {name[len(".text."):]: {"registers": None, "shared": 0, "frame": 0}
               for name in sections if name.startswith(".text.")}
    for kernel, entry in kernels.items():
        entry["shared"] = sections.get(".nv.shared." + kernel, (0, 0, 0, 0))[2]
    # Symbol index -> name, for the attributes' kernel references.
    symbols = {}
    for kind, offset, size, link in sections.values():
        if kind != SHT_SYMTAB:
            continue
        strings = headers[link][4]
        for index in range(size // 24):
            at = struct.unpack_from("<I", elf, offset + index * 24)[0]
            symbols[index] = _string(elf, strings + at)
    if ".nv.info" in sections:
        _, offset, size, _ = sections[".nv.info"]
        at, end = offset, offset + size
        while at + 4 <= end:
            fmt, attribute, value = struct.unpack_from("<BBH", elf, at)
            payload = elf[at + 4:at + 4 + value] if fmt == EIFMT_SVAL else b""
            if attribute in (EIATTR_REGCOUNT, EIATTR_FRAME_SIZE) and len(payload) == 8:
                symbol, amount = struct.unpack("<II", payload)
                kernel = kernels.get(symbols.get(symbol))
                if kernel is not None:
                    kernel["registers" if attribute == EIATTR_REGCOUNT else "frame"] = amount
            at += 4 + (value if fmt == EIFMT_SVAL else 0)
    return kernels


def ptxas_kernels(report):
    """{kernel: (registers, stack frame bytes)} from ptxas -v's report."""
    found = {}
    for block in report.split("ptxas info    : Function properties for ")[1:]:
        name = block.split("\n", 1)[0].strip()
        frame = re.search(r"(\d+) bytes stack frame", block)
        registers = re.search(r"Used (\d+) registers", block)
        if frame and registers:
            found[name] = (int(registers.group(1)), int(frame.group(1)))
    return found


def print_kernels(kernels):
    for name in sorted(kernels):
        k = kernels[name]
        print(f"  kernel {name}: {k['registers']} registers, {k['shared']} bytes shared, "
              f"{k['frame']} bytes stack")


def main(argv):
    if len(argv) >= 3 and argv[1] == "--cubin":
        with open(argv[2], "rb") as f:
            kernels = cubin_kernels(f.read())
        print_kernels(kernels)
        if len(argv) == 5 and argv[3] == "--ptxas-report":
            with open(argv[4]) as f:
                reported = ptxas_kernels(f.read())
            differ = [name for name, (registers, frame) in reported.items()
                      if name not in kernels or kernels[name]["registers"] != registers
                      or kernels[name]["frame"] != frame]
            if differ or not reported:
                print(f"differ from ptxas's report: {', '.join(differ) or 'no kernels'}")
                return 1
            framed = sum(1 for k in kernels.values() if k["frame"])
            print(f"registers and stack frames as ptxas reported ({len(reported)} kernels, "
                  f"{framed} with a stack frame)")
        return 0
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    binary, signature = artifact_binary(argv[1])
    launched = sorted({launch["kernel"] for launch in signature.get("launches", [])})
    try:
        found = images(binary)
        ok = True
        for kind, chip, payload in found:
            print(f"{kind} sm_{chip}, {len(payload)} bytes")
            if kind != "cubin":
                continue
            kernels = cubin_kernels(payload)
            print_kernels(kernels)
            missing = [name for name in launched if name not in kernels]
            if missing:
                print(f"  launched but not in the cubin: {', '.join(missing)}")
                ok = False
    except ValueError as error:
        print(f"{argv[1]}: {error}")
        return 1
    if not any(kind == "cubin" for kind, _, _ in found):
        print("no cubin")
        ok = False
    if ok:
        print(f"every launched kernel ({len(launched)}) is in every cubin")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
