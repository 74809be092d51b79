"""What a CUDA artifact's embedded fatbin holds, read without the CUDA toolkit (no cuobjdump
needed): its images (a cubin or PTX, and the chip of each) and, in each cubin, the kernels
with their shared and local memory, checked against the artifact's launch list.

    python3 fatbin.py ARTIFACT.so

prints one line per image, then one per kernel of the cubin (name, shared bytes, local bytes:
stack frames and spills), then whether every kernel the launch list names is in every cubin;
exits 1 where one is missing or the binary is not a fatbin.

The fatbin layout (as the CUDA toolkit's `fatbinary` writes it): a 16-byte header (magic
0xBA55ED50, version, header size, size of the images), then each image behind a header of its
own: kind (1 PTX, 2 cubin), its header size, the padded size of its payload, the chip at byte
28. A cubin is an ELF file whose sections `.text.K`, `.nv.shared.K` and `.nv.local.K` hold
kernel K's code, shared memory and local memory.
"""
import ctypes
import json
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "cubin"}


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
    found, at, end = [], header, header + size
    while at < end:
        kind, _, entry_header, padded = struct.unpack_from("<HHII", fatbin, at)
        chip = struct.unpack_from("<I", fatbin, at + 28)[0]
        payload = fatbin[at + entry_header:at + entry_header + padded]
        found.append((KINDS.get(kind, f"kind {kind}"), chip, payload))
        at += entry_header + padded
    return found


def cubin_kernels(elf):
    """{kernel: (shared bytes, local bytes)} of the cubin ``elf`` (64-bit ELF)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ValueError("the cubin is not a 64-bit ELF file")
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(index):
        name, _, _, _, offset, size = struct.unpack_from("<IIQQQQ", elf, shoff + index * shentsize)
        return name, offset, size

    _, strings_at, _ = section(shstrndx)
    sizes = {}
    for index in range(shnum):
        name_at, _, size = section(index)
        end = elf.index(b"\0", strings_at + name_at)
        sizes[elf[strings_at + name_at:end].decode()] = size
    return {name[len(".text."):]: (sizes.get(".nv.shared." + name[len(".text."):], 0),
                                   sizes.get(".nv.local." + name[len(".text."):], 0))
            for name in sizes if name.startswith(".text.")}


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    binary, signature = artifact_binary(argv[1])
    try:
        found = images(binary)
    except ValueError as error:
        print(f"{argv[1]}: {error}")
        return 1
    launched = sorted({launch["kernel"] for launch in signature.get("launches", [])})
    ok = True
    for kind, chip, payload in found:
        print(f"{kind} sm_{chip}, {len(payload)} bytes")
        if kind != "cubin":
            continue
        kernels = cubin_kernels(payload)
        for name in sorted(kernels):
            shared, local = kernels[name]
            print(f"  kernel {name}: {shared} bytes shared, {local} bytes local")
        missing = [name for name in launched if name not in kernels]
        if missing:
            print(f"  launched but not in the cubin: {', '.join(missing)}")
            ok = False
    if not any(kind == "cubin" for kind, _, _ in found):
        print("no cubin")
        ok = False
    if ok:
        print(f"every launched kernel ({len(launched)}) is in every cubin")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
