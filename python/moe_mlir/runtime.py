"""The runtime binding: :class:`Model` over the C API of libmoe_runtime.so (ctypes)."""
import ctypes
import os
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# moe_dtype_t values (runtime/moe_runtime.h) and the NumPy dtype holding each. bf16 has no
# NumPy type: its elements travel as their 16-bit patterns in uint16 arrays.
_DTYPES = {
    0: ("f16", np.dtype(np.float16)), 1: ("bf16", np.dtype(np.uint16)),
    2: ("f32", np.dtype(np.float32)), 3: ("f64", np.dtype(np.float64)),
    4: ("i8", np.dtype(np.int8)), 5: ("i16", np.dtype(np.int16)),
    6: ("i32", np.dtype(np.int32)), 7: ("i64", np.dtype(np.int64)),
    8: ("u8", np.dtype(np.uint8)), 9: ("u16", np.dtype(np.uint16)),
    10: ("u32", np.dtype(np.uint32)), 11: ("u64", np.dtype(np.uint64)),
    12: ("bool", np.dtype(np.bool_)),
}
_CODE_OF_NUMPY = {dtype: code for code, (name, dtype) in _DTYPES.items() if name != "bf16"}

# The results moe.route_stats names (docs/routers.md): what routing_statistics returns.
STATISTICS = ("expert_load", "dropped_tokens", "dropped_assignments", "importance_loss",
              "invalid_tokens")


class MoEError(Exception):
    """A failure the runtime reported; ``str(error)`` is its one-line message."""


TensorSpec = namedtuple("TensorSpec", "name role dtype shape")
TensorSpec.__doc__ = """An argument or result of a model's entry point: ``role`` is "input",
"weight" or "result"; ``dtype`` the runtime's name ("f32", "bf16", ...); ``shape`` a tuple."""


def runtime_library():
    """The path of libmoe_runtime.so: MOE_RUNTIME_LIB, else the repository's build/lib."""
    path = os.environ.get("MOE_RUNTIME_LIB") or os.path.join(_REPO, "build", "lib",
                                                              "libmoe_runtime.so")
    if not os.path.exists(path):
        raise MoEError(f"the moe runtime library {path!r} does not exist: build it with "
                       "scripts/build.sh or set MOE_RUNTIME_LIB")
    return path


_lib = None


def _library():
    """libmoe_runtime.so, loaded once, with the C API's signatures declared."""
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(runtime_library())
    model, size, status = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
    shape_p = ctypes.POINTER(ctypes.c_int64)
    signatures = {
        "moe_model_load": (model, [ctypes.c_char_p]),
        "moe_model_free": (None, [model]),
        "moe_model_last_error": (ctypes.c_char_p, [model]),
        "moe_model_num_args": (size, [model]),
        "moe_model_arg": (status, [model, size, ctypes.POINTER(ctypes.c_char_p),
                                   ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int),
                                   ctypes.POINTER(size), ctypes.POINTER(shape_p)]),
        "moe_model_bind_weights_file": (status, [model, ctypes.c_char_p]),
        "moe_model_bind_input": (status, [model, ctypes.c_char_p, ctypes.c_int, size, shape_p,
                                          ctypes.c_void_p]),
        "moe_model_bind_weight": (status, [model, ctypes.c_char_p, ctypes.c_int, size, shape_p,
                                           ctypes.c_void_p]),
        "moe_model_set_threads": (status, [model, ctypes.c_uint]),
        "moe_model_run": (status, [model]),
        "moe_model_last_device_ms": (status, [model, ctypes.POINTER(ctypes.c_double)]),
        "moe_model_num_results": (size, [model]),
        "moe_model_result": (status, [model, size, ctypes.POINTER(ctypes.c_char_p),
                                      ctypes.POINTER(ctypes.c_int), ctypes.POINTER(size),
                                      ctypes.POINTER(shape_p),
                                      ctypes.POINTER(ctypes.c_void_p)]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    _lib = lib
    return lib


def routing_statistics(results):
    """The routing statistics among ``results`` (a dict from :meth:`Model.run`): those of
    expert_load, dropped_tokens, dropped_assignments, importance_loss and invalid_tokens the
    model returns."""
    return {name: results[name] for name in STATISTICS if name in results}


class Model:
    """A compiled artifact (a ``.so`` from moe-compile) loaded with its weights and results.

    ``threads`` sets the threads :meth:`run` uses (default: MOE_NUM_THREADS, else the CPUs
    available); results are bitwise the same for every count. Not thread-safe: use one Model
    per thread. Use it as a context manager, or :meth:`close` it, to free it at once."""

    def __init__(self, artifact, threads=None):
        self._lib = _library()
        self._handle = self._lib.moe_model_load(os.fsencode(artifact))
        if not self._handle:
            raise MoEError(self._lib.moe_model_last_error(None).decode())
        self.path = os.fspath(artifact)
        self.args = [self._arg(i) for i in range(self._lib.moe_model_num_args(self._handle))]
        if threads is not None:
            self.set_threads(threads)

    # -- what the entry takes and returns --------------------------------------------------

    def _arg(self, index):
        name, role, dtype = ctypes.c_char_p(), ctypes.c_int(), ctypes.c_int()
        rank, shape = ctypes.c_size_t(), ctypes.POINTER(ctypes.c_int64)()
        self._check(self._lib.moe_model_arg(self._handle, index, name, role, dtype, rank,
                                            shape))
        return TensorSpec(name.value.decode(), "weight" if role.value == 1 else "input",
                          _DTYPES[dtype.value][0], tuple(shape[i] for i in range(rank.value)))

    @property
    def inputs(self):
        """The input arguments (bound on every run), in call order."""
        return [arg for arg in self.args if arg.role == "input"]

    @property
    def weights(self):
        """The weight arguments (bound once), in call order."""
        return [arg for arg in self.args if arg.role == "weight"]

    # -- binding and running ---------------------------------------------------------------

    def bind_weights(self, source):
        """Binds every weight: from a ``.safetensors`` file (a path), or from a mapping of
        names to arrays. Tensors of other names are ignored; all or nothing for a file."""
        if isinstance(source, Mapping):
            missing = [w.name for w in self.weights if w.name not in source]
            if missing:
                raise MoEError(f"weights {', '.join(map(repr, missing))} are missing from the "
                               f"mapping (it has: {', '.join(map(repr, sorted(source))) or 'none'})")
            for weight in self.weights:
                self._bind(self._lib.moe_model_bind_weight, "weight", weight.name,
                           source[weight.name])
        else:
            self._check(self._lib.moe_model_bind_weights_file(self._handle,
                                                               os.fsencode(source)))

    def set_threads(self, threads):
        """The number of threads :meth:`run` uses, from 1 to 1024."""
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
            raise MoEError(f"the number of threads must be an integer in [1, 1024], got "
                           f"{threads!r}")
        self._check(self._lib.moe_model_set_threads(self._handle, int(min(threads, 2**32 - 1))))

    def run(self, inputs=None, **named):
        """Runs the model on ``inputs`` (a mapping of input names to arrays, or one array for
        a model with one input) and/or inputs given by keyword; returns a dict of every
        result by name (NumPy arrays that the caller owns)."""
        given = {}
        if isinstance(inputs, Mapping):
            given.update(inputs)
        elif inputs is not None:
            if len(self.inputs) != 1:
                raise MoEError(f"an array without a name needs a model with one input, but "
                               f"this one has {len(self.inputs)} "
                               f"({', '.join(repr(i.name) for i in self.inputs)})")
            given[self.inputs[0].name] = inputs
        given.update(named)
        for name, array in given.items():
            self._bind(self._lib.moe_model_bind_input, "input", name, array)
        self._check(self._lib.moe_model_run(self._handle))
        return self._results()

    __call__ = run

    def _bind(self, function, role, name, array):
        array = np.asarray(array, order="C")  # keeps rank 0, unlike ascontiguousarray
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        code = _CODE_OF_NUMPY.get(array.dtype)
        if code is None:
            raise MoEError(f"{role} {name!r}: NumPy dtype {array.dtype} has no runtime dtype "
                           f"(known: {', '.join(n for n, _ in _DTYPES.values())})")
        shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
        self._check(function(self._handle, name.encode(), code, array.ndim, shape,
                             array.ctypes.data_as(ctypes.c_void_p) if array.size else None))

    @property
    def last_device_ms(self):
        """For a GPU artifact on a device that measures it (CUDA events): the device time in
        milliseconds of the last run's kernel launches, copies excluded; else None."""
        if not self._handle:
            raise MoEError("the model is closed")
        milliseconds = ctypes.c_double()
        if self._lib.moe_model_last_device_ms(self._handle, ctypes.byref(milliseconds)) != 0:
            return None
        return milliseconds.value

    def _results(self):
        results = {}
        for index in range(self._lib.moe_model_num_results(self._handle)):
            name, dtype = ctypes.c_char_p(), ctypes.c_int()
            rank, shape = ctypes.c_size_t(), ctypes.POINTER(ctypes.c_int64)()
            data = ctypes.c_void_p()
            self._check(self._lib.moe_model_result(self._handle, index, name, dtype, rank,
                                                   shape, data))
            numpy_dtype = _DTYPES[dtype.value][1]
            dims = tuple(shape[i] for i in range(rank.value))
            count = int(np.prod(dims, dtype=np.int64))
            if count == 0:
                array = np.zeros(dims, numpy_dtype)
            else:
                buffer = (ctypes.c_char * (count * numpy_dtype.itemsize)).from_address(data.value)
                array = np.frombuffer(buffer, numpy_dtype).reshape(dims).copy()
            results[name.value.decode()] = array
        return results

    # -- lifetime and errors ---------------------------------------------------------------

    def _check(self, status):
        if status != 0:
            raise MoEError(self._lib.moe_model_last_error(self._handle).decode())

    def close(self):
        """Frees the model; later calls raise MoEError."""
        if getattr(self, "_handle", None):
            self._lib.moe_model_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __repr__(self):
        return f"moe_mlir.Model({self.path!r})"
