"""A minimal MessagePack codec (https://github.com/msgpack/msgpack/blob/master/spec.md):
enough for checkpoint files, in pure Python.

``unpackb(data)`` decodes one value: maps become dicts, arrays lists, str str, bin bytes,
extension types :class:`Ext` (or whatever ``ext_hook(code, payload)`` returns). ``packb(value)``
encodes dicts, lists/tuples, str, bytes, bool, None, int, float (as float64) and :class:`Ext`
in the smallest form the spec allows, as msgpack's reference implementation does.
"""
import struct
from collections import namedtuple

Ext = namedtuple("Ext", "code data")


class MsgpackError(ValueError):
    """Malformed or truncated MessagePack data."""


def unpackb(data, ext_hook=None):
    """The value ``data`` holds; it must hold exactly one."""
    reader = _Reader(memoryview(data), ext_hook)
    value = reader.value()
    if reader.at != len(data):
        raise MsgpackError(f"{len(data) - reader.at} bytes after the value at byte {reader.at}")
    return value


class _Reader:
    def __init__(self, data, ext_hook):
        self.data, self.at, self.ext_hook = data, 0, ext_hook

    def take(self, n):
        if self.at + n > len(self.data):
            raise MsgpackError(f"truncated: {n} bytes needed at byte {self.at}, "
                               f"{len(self.data) - self.at} left")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def unpack(self, fmt):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(">" + fmt)))[0]

    def value(self):
        byte = self.unpack("B")
        if byte <= 0x7F:
            return byte
        if byte >= 0xE0:
            return byte - 0x100
        if 0x80 <= byte <= 0x8F:
            return self.map(byte & 0x0F)
        if 0x90 <= byte <= 0x9F:
            return self.array(byte & 0x0F)
        if 0xA0 <= byte <= 0xBF:
            return self.str(byte & 0x1F)
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if byte in simple:
            return simple[byte]
        sized = {0xC4: ("B", self.bin), 0xC5: ("H", self.bin), 0xC6: ("I", self.bin),
                 0xD9: ("B", self.str), 0xDA: ("H", self.str), 0xDB: ("I", self.str),
                 0xDC: ("H", self.array), 0xDD: ("I", self.array),
                 0xDE: ("H", self.map), 0xDF: ("I", self.map)}
        if byte in sized:
            fmt, read = sized[byte]
            return read(self.unpack(fmt))
        numbers = {0xCA: "f", 0xCB: "d", 0xCC: "B", 0xCD: "H", 0xCE: "I", 0xCF: "Q",
                   0xD0: "b", 0xD1: "h", 0xD2: "i", 0xD3: "q"}
        if byte in numbers:
            return self.unpack(numbers[byte])
        if 0xC7 <= byte <= 0xC9:
            return self.ext(self.unpack({0xC7: "B", 0xC8: "H", 0xC9: "I"}[byte]))
        if 0xD4 <= byte <= 0xD8:
            return self.ext(1 << (byte - 0xD4))
        raise MsgpackError(f"unknown type byte 0x{byte:02x} at byte {self.at - 1}")

    def bin(self, n):
        return bytes(self.take(n))

    def str(self, n):
        try:
            return str(self.take(n), "utf-8")
        except UnicodeDecodeError as error:
            raise MsgpackError(f"a string that is not UTF-8 before byte {self.at}") from error

    def array(self, n):
        return [self.value() for _ in range(n)]

    def map(self, n):
        result = {}
        for _ in range(n):
            key = self.value()
            if isinstance(key, list):
                key = tuple(key)
            result[key] = self.value()
        return result

    def ext(self, n):
        code = self.unpack("b")
        payload = bytes(self.take(n))
        return self.ext_hook(code, payload) if self.ext_hook else Ext(code, payload)


def packb(value):
    """The MessagePack bytes of ``value``."""
    out = bytearray()
    _pack(value, out)
    return bytes(out)


def _sized(out, length, small, forms):
    """Writes the header of a container or string of ``length``: ``small`` (base, limit)
    for the fix- form, else the first of ``forms`` [(type byte, struct format)] that fits."""
    if small and length < small[1]:
        out.append(small[0] | length)
        return
    for byte, fmt in forms:
        if length < 1 << (8 * struct.calcsize(fmt)):
            out.append(byte)
            out += struct.pack(">" + fmt, length)
            return
    raise MsgpackError(f"a length of {length} does not fit MessagePack")


def _pack(value, out):
    if value is None:
        out.append(0xC0)
    elif value is True or value is False:
        out.append(0xC3 if value else 0xC2)
    elif isinstance(value, int):
        if 0 <= value <= 0x7F or -32 <= value < 0:
            out += struct.pack(">b" if value < 0 else ">B", value)
        elif value >= 0:
            for byte, fmt in ((0xCC, "B"), (0xCD, "H"), (0xCE, "I"), (0xCF, "Q")):
                if value < 1 << (8 * struct.calcsize(fmt)):
                    out.append(byte)
                    out += struct.pack(">" + fmt, value)
                    return
            raise MsgpackError(f"the integer {value} does not fit MessagePack")
        else:
            for byte, fmt in ((0xD0, "b"), (0xD1, "h"), (0xD2, "i"), (0xD3, "q")):
                if value >= -(1 << (8 * struct.calcsize(fmt) - 1)):
                    out.append(byte)
                    out += struct.pack(">" + fmt, value)
                    return
            raise MsgpackError(f"the integer {value} does not fit MessagePack")
    elif isinstance(value, float):
        out.append(0xCB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        _sized(out, len(data), (0xA0, 32), [(0xD9, "B"), (0xDA, "H"), (0xDB, "I")])
        out += data
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        _sized(out, len(data), None, [(0xC4, "B"), (0xC5, "H"), (0xC6, "I")])
        out += data
    elif isinstance(value, Ext):
        n = len(value.data)
        if n in (1, 2, 4, 8, 16):
            out.append(0xD4 + n.bit_length() - 1)
        else:
            _sized(out, n, None, [(0xC7, "B"), (0xC8, "H"), (0xC9, "I")])
        out += struct.pack(">b", value.code)
        out += value.data
    elif isinstance(value, (list, tuple)):
        _sized(out, len(value), (0x90, 16), [(0xDC, "H"), (0xDD, "I")])
        for item in value:
            _pack(item, out)
    elif isinstance(value, dict):
        _sized(out, len(value), (0x80, 16), [(0xDE, "H"), (0xDF, "I")])
        for key, item in value.items():
            _pack(key, out)
            _pack(item, out)
    else:
        raise MsgpackError(f"cannot encode a {type(value).__name__} as MessagePack")
