"""google-research/vmoe checkpoints: ``PREFIX.index`` and ``PREFIX.data-NNNNN-of-NNNNN``.

The format (docs/vmoe-checkpoints.md): every file is one MessagePack value. The index is
``{"shard_count": n, "index": tree, "version": "20220622"}`` whose tree (keys sorted at every
level) has at each leaf an IndexInfo (extension type 8): the global shape and dtype, the slices
the array was saved in and the data file of each. Data file ``s`` is
``{"__msgpack_array_chunk_a87ca2__": true, "<leaf>": [[[pieces...], slice], ...], ...}``
where ``<leaf>`` is the leaf's position in the tree's depth-first order, the pieces are 1-D
arrays (extension type 1: shape, dtype name, little-endian bytes) and the slice an extension
of type 6.

    arrays = read_checkpoint("vmoe_s32/ckpt")      # {"Encoder/encoder_norm/bias": array, ...}
    convert_checkpoint("vmoe_s32/ckpt", "s32.safetensors", names, expected)

``write_checkpoint`` writes the same format (as vmoe does, byte for byte), for tests and for
checkpoints made elsewhere.
"""
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from .msgpack import Ext, MsgpackError, packb, unpackb
from .safetensors import write_safetensors

VERSION = "20220622"
CHUNKS_MAGIC = "__msgpack_array_chunk_a87ca2__"
EXT_NDARRAY, EXT_SLICE_ND, EXT_INDEX_INFO = 1, 6, 8


IndexInfo = namedtuple("IndexInfo", "shape dtype slices shards")
IndexInfo.__doc__ = """A leaf of the index: the array's global shape and dtype, the slices it
was saved in ([(start, stop)] per axis) and the data file of each."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that lacks what the model needs."""


def data_path(prefix, shard, shard_count):
    """The path of data file ``shard`` (0-based) of ``shard_count``."""
    return f"{prefix}.data-{shard:05d}-of-{shard_count:05d}"


# -- reading -------------------------------------------------------------------------------

def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _slice_nd(payload):
    """[(start, stop), ...] from a SliceNd payload (one Slice payload per axis)."""
    axes = []
    for axis in unpackb(payload):
        start, stop, step = unpackb(axis)
        if step not in (None, 1):
            raise CheckpointError(f"a slice with step {step} (only contiguous slices are "
                                  "supported)")
        axes.append((start, stop))
    return tuple(axes)


def _dtype(name):
    name = _text(name)
    if name == "bfloat16":
        return "bfloat16"
    try:
        return np.dtype(name)
    except TypeError as error:
        raise CheckpointError(f"unknown dtype {name!r}") from error


def _index_info(payload):
    shaped, slices, shards = unpackb(payload)
    shape, dtype, _weak_type, _named_shape = unpackb(shaped)
    return IndexInfo(tuple(shape), _dtype(dtype), [_slice_nd(s) for s in slices],
                     list(shards))


def _ndarray(payload):
    shape, dtype, data = unpackb(payload)
    dtype = _dtype(dtype)
    if dtype == "bfloat16":
        # bfloat16 is the high half of a float32: widened exactly.
        bits = np.frombuffer(data, "<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    return np.frombuffer(data, dtype.newbyteorder("<")).reshape(shape)


def _flatten(tree, prefix=""):
    """[(name, leaf)] in depth-first order of the stored keys ("a/b/c" names)."""
    leaves = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            leaves += _flatten(value, name + "/")
        else:
            leaves.append((name, value))
    return leaves


def _read_value(path, ext_hook, what):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise CheckpointError(f"cannot read the checkpoint {what} {path!r}: "
                              f"{error.strerror}") from None
    try:
        return unpackb(data, ext_hook)
    except (MsgpackError, CheckpointError, ValueError, TypeError) as error:
        raise CheckpointError(f"the checkpoint {what} {path!r} is malformed: {error}") from None


def read_checkpoint(prefix):
    """Every array of the checkpoint at ``prefix``, by its "/"-joined name, in the tree's
    order; bfloat16 arrays come back as float32 (exactly)."""
    def index_ext(code, payload):
        return _index_info(payload) if code == EXT_INDEX_INFO else Ext(code, payload)

    index_path = f"{prefix}.index"
    index = _read_value(index_path, index_ext, "index")
    if not isinstance(index, dict) or not isinstance(index.get("shard_count"), int) \
            or not isinstance(index.get("index"), dict):
        raise CheckpointError(f"the checkpoint index {index_path!r} is malformed: expected a "
                              "map with 'shard_count' and 'index'")
    shard_count = index["shard_count"]
    leaves = _flatten(index["index"])
    for name, info in leaves:
        if not isinstance(info, IndexInfo):
            raise CheckpointError(f"the checkpoint index {index_path!r} is malformed: leaf "
                                  f"{name!r} is not an IndexInfo")

    def data_ext(code, payload):
        if code == EXT_NDARRAY:
            return _ndarray(payload)
        if code == EXT_SLICE_ND:
            return _slice_nd(payload)
        return Ext(code, payload)

    shards = []
    for shard in range(shard_count):
        path = data_path(prefix, shard, shard_count)
        data = _read_value(path, data_ext, "data file")
        if not isinstance(data, dict) or data.get(CHUNKS_MAGIC) is not True:
            raise CheckpointError(f"the checkpoint data file {path!r} is malformed: it lacks "
                                  f"the key {CHUNKS_MAGIC!r}")
        shards.append((path, data))

    arrays = {}
    for position, (name, info) in enumerate(leaves):
        dtype = np.dtype(np.float32) if info.dtype == "bfloat16" else info.dtype
        array = np.zeros(info.shape, dtype)
        covered = 0
        for axes, shard in zip(info.slices, info.shards):
            if not 0 <= shard < shard_count:
                raise CheckpointError(f"{name!r}: the index puts a slice in shard {shard} of "
                                      f"{shard_count}")
            path, data = shards[shard]
            chunk = next((c for c in data.get(str(position), []) if tuple(c[1]) == axes), None)
            where = "[" + ", ".join(f"{a}:{b}" for a, b in axes) + "]"
            if chunk is None:
                raise CheckpointError(f"{name!r}: slice {where} is missing from {path!r}")
            extents = tuple(b - a for a, b in axes)
            values = np.concatenate([np.ravel(p) for p in chunk[0]]) if chunk[0] else np.zeros(0)
            if values.size != int(np.prod(extents, dtype=np.int64)) or len(axes) != array.ndim:
                raise CheckpointError(f"{name!r}: slice {where} in {path!r} holds "
                                      f"{values.size} values")
            array[tuple(slice(a, b) for a, b in axes)] = values.reshape(extents)
            covered += values.size
        if covered != array.size:
            raise CheckpointError(f"{name!r}: its slices cover {covered} of {array.size} values")
        arrays[name] = array
    return arrays


# -- writing -------------------------------------------------------------------------------

def _slice_nd_payload(axes):
    return packb([packb([start, stop, None]) for start, stop in axes])


def _nest(names):
    """The tree of "/"-joined ``names`` with keys sorted at every level; leaves are names."""
    tree = {}
    for name in names:
        node = tree
        *path, last = name.split("/")
        for key in path:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise CheckpointError(f"{name!r} lies below the array {key!r}")
        if last in node:
            raise CheckpointError(f"{name!r} is both an array and a folder")
        node[last] = name

    def ordered(node):
        return {k: ordered(v) if isinstance(v, dict) else v for k, v in sorted(node.items())}
    return ordered(tree)


def write_checkpoint(prefix, arrays, shard_count=1, split_leading=1):
    """Writes ``arrays`` (a mapping of "/"-joined names to arrays) as a vmoe checkpoint with
    ``shard_count`` data files. Arrays whose first axis divides by ``split_leading`` are saved
    in that many slices along it (as an expert-partitioned save does); each slice goes to the
    data file holding the fewest bytes so far."""
    if shard_count < 1:
        raise CheckpointError(f"shard_count must be at least 1, got {shard_count}")
    tree = _nest(arrays)
    order = [name for name, _ in _flatten(tree)]
    filled = [0] * shard_count
    chunks = [{} for _ in range(shard_count)]
    infos = {}
    for position, name in enumerate(order):
        array = np.asarray(arrays[name])
        full = [(0, d) for d in array.shape]
        parts = [full]
        if array.ndim and split_leading > 1 and array.shape[0] % split_leading == 0:
            step = array.shape[0] // split_leading
            parts = [[(i, i + step)] + full[1:] for i in range(0, array.shape[0], step)]
        slices, shards = [], []
        for axes in sorted(parts):
            shard = min(range(shard_count), key=lambda s: (filled[s], s))
            piece = np.ascontiguousarray(array[tuple(slice(a, b) for a, b in axes)])
            filled[shard] += piece.nbytes
            flat = piece.reshape(-1).astype(piece.dtype.newbyteorder("<"))
            ndarray = Ext(EXT_NDARRAY, packb([[flat.size],
                                              array.dtype.name, flat.tobytes()]))
            chunks[shard].setdefault(str(position), []).append(
                [[ndarray], Ext(EXT_SLICE_ND, _slice_nd_payload(axes))])
            slices.append(axes)
            shards.append(shard)
        shaped = packb([list(array.shape), array.dtype.name, False, {}])
        infos[name] = Ext(EXT_INDEX_INFO, packb(
            [shaped, [_slice_nd_payload(axes) for axes in slices], shards]))

    def with_infos(node):
        return {k: with_infos(v) if isinstance(v, dict) else infos[v] for k, v in node.items()}

    with open(f"{prefix}.index", "wb") as f:
        f.write(packb({"shard_count": shard_count, "index": with_infos(tree),
                       "version": VERSION}))
    for shard in range(shard_count):
        entries = {CHUNKS_MAGIC: True}
        for position in sorted(chunks[shard], key=int):
            entries[position] = chunks[shard][position]
        with open(data_path(prefix, shard, shard_count), "wb") as f:
            f.write(packb(entries))


# -- conversion ----------------------------------------------------------------------------

def check_weights(arrays, expected, origin="the checkpoint"):
    """Raises CheckpointError unless every weight of ``expected`` (a mapping of names to
    shapes, or to objects with a ``shape``) is in ``arrays`` with that shape."""
    for name, want in expected.items():
        shape = tuple(getattr(want, "shape", want))
        if name not in arrays:
            raise CheckpointError(f"weight {name!r} is missing from {origin}")
        if tuple(arrays[name].shape) != shape:
            raise CheckpointError(f"weight {name!r} in {origin}: expected shape "
                                  f"{list(shape)}, got {list(arrays[name].shape)}")


def convert_checkpoint(prefix, output, names=None, expected=None):
    """Writes the arrays of the checkpoint at ``prefix`` to the .safetensors file ``output``:
    ``names`` maps each weight name of the model IR to its checkpoint name (a mapping, or a
    function of the checkpoint name returning the IR name or None to leave it out; default:
    every array under its checkpoint name), and ``expected`` (a mapping of IR names to shapes,
    e.g. ``{w.name: w.shape for w in model.weights}``) is checked before anything is written.
    Returns the arrays written."""
    arrays = read_checkpoint(prefix)
    if names is None:
        renamed = dict(arrays)
    elif isinstance(names, Mapping):
        renamed = {}
        for ir_name, ckpt_name in names.items():
            if ckpt_name not in arrays:
                raise CheckpointError(f"weight {ir_name!r}: {ckpt_name!r} is missing from the "
                                      f"checkpoint {prefix!r}")
            renamed[ir_name] = arrays[ckpt_name]
    else:
        renamed = {}
        for ckpt_name, array in arrays.items():
            ir_name = names(ckpt_name)
            if ir_name is not None:
                renamed[ir_name] = array
    if expected is not None:
        check_weights(renamed, expected, f"the checkpoint {prefix!r}")
    write_safetensors(output, {k: np.ascontiguousarray(v) for k, v in renamed.items()})
    return renamed
