"""GPU kernels run on the CPU: a gpu.module compiled by moe-opt to SPIR-V for OpenCL, turned
into SPIR bitcode by llvm-spirv-15 and run by an OpenCL implementation on the CPU (PoCL, Debian
pocl-opencl-icd), with real workgroups, workgroup memory and barriers.

    binary = compile_kernels("kernels/scale.mlir")          # SPIR bitcode
    with Device() as device:
        device.run(binary, "scale", [Buffer(data), np.int32(1000), np.float32(2)],
                   global_size=1024, local_size=64)          # data updated in place

Errors are OpenCLError naming the call and the OpenCL error code; no device is an error
("no OpenCL device: ..."), never a skipped test.
"""
import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np

from gpu_binary import first_object

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("MOE_BUILD_DIR", os.path.join(ROOT, "build"))

# The moe-opt pipeline of a gpu.module to a SPIR-V binary (a gpu.binary op) for OpenCL.
SPIRV_PIPELINE = (
    "builtin.module(spirv-attach-target{ver=v1.0 caps=Addresses,Int64,Kernel "
    "client_api=OpenCL},gpu.module(map-memref-spirv-storage-class{client-api=opencl}),"
    "convert-gpu-to-spirv{use-64bit-index=true},"
    "gpu.module(spirv.module(spirv-lower-abi-attrs,spirv-update-vce)),"
    "gpu-module-to-binary{format=bin})")


class OpenCLError(RuntimeError):
    """A failed OpenCL call, or no OpenCL device."""


def compile_kernels(mlir_path):
    """SPIR bitcode of the gpu.module in ``mlir_path``: moe-opt (SPIRV_PIPELINE), then
    llvm-spirv-15 -r."""
    moe_opt = os.path.join(BUILD, "bin", "moe-opt")
    lowered = subprocess.run([moe_opt, mlir_path, f"--pass-pipeline={SPIRV_PIPELINE}"],
                             capture_output=True, text=True)
    if lowered.returncode != 0:
        raise OpenCLError(f"moe-opt could not lower {mlir_path} to SPIR-V:\n{lowered.stderr}")
    spirv = first_object(lowered.stdout)
    if spirv is None:
        raise OpenCLError(f"no SPIR-V binary in moe-opt's output for {mlir_path}")
    return spir_bitcode(spirv)


def spir_bitcode(spirv):
    """SPIR bitcode (what PoCL builds) of a SPIR-V binary: llvm-spirv-15 -r."""
    translator = shutil.which("llvm-spirv-15")
    if not translator:
        raise OpenCLError("llvm-spirv-15 is not installed (scripts/bootstrap.sh installs it)")
    with tempfile.TemporaryDirectory() as work:
        spv, bc = os.path.join(work, "kernels.spv"), os.path.join(work, "kernels.bc")
        with open(spv, "wb") as f:
            f.write(spirv)
        subprocess.run([translator, "-r", spv, "-o", bc], check=True)
        with open(bc, "rb") as f:
            return f.read()


class Buffer:
    """A NumPy array passed to a kernel as a device buffer; copied back after the run."""

    def __init__(self, array):
        self.array = array


_P, _U, _I, _SZ, _UL = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_size_t, ctypes.c_ulong
_PP = ctypes.POINTER(_P)
_SIGNATURES = {
    "clGetPlatformIDs": (_I, [_U, _PP, ctypes.POINTER(_U)]),
    "clGetDeviceIDs": (_I, [_P, _UL, _U, _PP, ctypes.POINTER(_U)]),
    "clGetDeviceInfo": (_I, [_P, _U, _SZ, _P, ctypes.POINTER(_SZ)]),
    "clCreateContext": (_P, [_P, _U, _PP, _P, _P, ctypes.POINTER(_I)]),
    "clCreateCommandQueue": (_P, [_P, _P, _UL, ctypes.POINTER(_I)]),
    "clCreateProgramWithBinary": (_P, [_P, _U, _PP, ctypes.POINTER(_SZ),
                                       ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(_I),
                                       ctypes.POINTER(_I)]),
    "clBuildProgram": (_I, [_P, _U, _PP, ctypes.c_char_p, _P, _P]),
    "clGetProgramBuildInfo": (_I, [_P, _P, _U, _SZ, _P, ctypes.POINTER(_SZ)]),
    "clCreateKernel": (_P, [_P, ctypes.c_char_p, ctypes.POINTER(_I)]),
    "clCreateBuffer": (_P, [_P, _UL, _SZ, _P, ctypes.POINTER(_I)]),
    "clSetKernelArg": (_I, [_P, _U, _SZ, _P]),
    "clEnqueueNDRangeKernel": (_I, [_P, _P, _U, ctypes.POINTER(_SZ), ctypes.POINTER(_SZ),
                                    ctypes.POINTER(_SZ), _U, _P, _P]),
    "clEnqueueReadBuffer": (_I, [_P, _P, _U, _SZ, _SZ, _P, _U, _P, _P]),
    "clFinish": (_I, [_P]),
    "clReleaseMemObject": (_I, [_P]),
    "clReleaseKernel": (_I, [_P]),
    "clReleaseProgram": (_I, [_P]),
    "clReleaseCommandQueue": (_I, [_P]),
    "clReleaseContext": (_I, [_P]),
}
_DEVICE_TYPE_ALL, _DEVICE_NAME, _PROGRAM_BUILD_LOG = 0xFFFFFFFF, 0x102B, 0x1183
_MEM_READ_WRITE, _MEM_COPY_HOST_PTR = 1 << 0, 1 << 5


class Device:
    """The first OpenCL device of the first platform (PoCL's CPU device here)."""

    def __init__(self):
        try:
            self.cl = ctypes.CDLL("libOpenCL.so.1")
        except OSError as error:
            raise OpenCLError(f"no OpenCL device: {error} (scripts/bootstrap.sh installs "
                              "ocl-icd-libopencl1 and pocl-opencl-icd)") from None
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(self.cl, name)
            function.restype, function.argtypes = restype, argtypes
        count = _U()
        status = self.cl.clGetPlatformIDs(0, None, ctypes.byref(count))
        if status != 0 or count.value == 0:
            raise OpenCLError(f"no OpenCL device: no platform (clGetPlatformIDs: {status}; "
                              "scripts/bootstrap.sh installs pocl-opencl-icd)")
        platforms = (_P * count.value)()
        self._check(self.cl.clGetPlatformIDs(count.value, platforms, None), "clGetPlatformIDs")
        self.device, found = _P(), _U()
        status = self.cl.clGetDeviceIDs(platforms[0], _DEVICE_TYPE_ALL, 1,
                                        ctypes.byref(self.device), ctypes.byref(found))
        if status != 0 or found.value == 0:
            raise OpenCLError(f"no OpenCL device: the platform has none (clGetDeviceIDs: "
                              f"{status})")
        self.context = self._create("clCreateContext", None, 1, ctypes.byref(self.device),
                                    None, None)
        self.queue = self._create("clCreateCommandQueue", self.context, self.device, 0)

    @property
    def name(self):
        text = ctypes.create_string_buffer(256)
        self._check(self.cl.clGetDeviceInfo(self.device, _DEVICE_NAME, 256,
                                            ctypes.cast(text, _P), None), "clGetDeviceInfo")
        return text.value.decode()

    def _check(self, status, call):
        if status != 0:
            raise OpenCLError(f"{call} failed with OpenCL error {status}")

    def _create(self, call, *args):
        error = _I()
        handle = getattr(self.cl, call)(*args, ctypes.byref(error))
        if error.value != 0 or not handle:
            raise OpenCLError(f"{call} failed with OpenCL error {error.value}")
        return handle

    def run(self, bitcode, kernel, args, global_size, local_size):
        """Builds ``bitcode`` (SPIR), runs ``kernel`` over ``global_size`` work-items in
        workgroups of ``local_size`` with ``args`` (Buffer or NumPy scalars), waits, and copies
        every Buffer back into its array."""
        length, data = _SZ(len(bitcode)), ctypes.c_char_p(bitcode)
        status = _I()
        program = self._create("clCreateProgramWithBinary", self.context, 1,
                               ctypes.byref(self.device), ctypes.byref(length),
                               ctypes.byref(data), ctypes.byref(status))
        buffers = []
        try:
            if self.cl.clBuildProgram(program, 1, ctypes.byref(self.device), b"-x spir",
                                      None, None) != 0:
                raise OpenCLError(f"clBuildProgram failed:\n{self._build_log(program)}")
            handle = self._create("clCreateKernel", program, kernel.encode())
            try:
                for index, arg in enumerate(args):
                    if isinstance(arg, Buffer):
                        array = arg.array
                        memory = self._create("clCreateBuffer", self.context,
                                              _MEM_READ_WRITE | _MEM_COPY_HOST_PTR,
                                              array.nbytes, array.ctypes.data_as(_P))
                        buffers.append((memory, array))
                        value = _P(memory)
                        self._check(self.cl.clSetKernelArg(handle, index, ctypes.sizeof(_P),
                                                           ctypes.cast(ctypes.byref(value), _P)),
                                    "clSetKernelArg")
                    else:
                        scalar = np.asarray(arg)
                        self._check(self.cl.clSetKernelArg(handle, index, scalar.nbytes,
                                                           scalar.ctypes.data_as(_P)),
                                    "clSetKernelArg")
                work = (_SZ * 1)(global_size)
                group = (_SZ * 1)(local_size)
                self._check(self.cl.clEnqueueNDRangeKernel(self.queue, handle, 1, None, work,
                                                           group, 0, None, None),
                            "clEnqueueNDRangeKernel")
                for memory, array in buffers:
                    self._check(self.cl.clEnqueueReadBuffer(self.queue, memory, 1, 0,
                                                            array.nbytes,
                                                            array.ctypes.data_as(_P), 0,
                                                            None, None),
                                "clEnqueueReadBuffer")
            finally:
                self.cl.clReleaseKernel(handle)
        finally:
            for memory, _ in buffers:
                self.cl.clReleaseMemObject(memory)
            self.cl.clReleaseProgram(program)

    def _build_log(self, program):
        size = _SZ()
        self.cl.clGetProgramBuildInfo(program, self.device, _PROGRAM_BUILD_LOG, 0, None,
                                      ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value or 1)
        self.cl.clGetProgramBuildInfo(program, self.device, _PROGRAM_BUILD_LOG, size,
                                      ctypes.cast(log, _P), None)
        return log.value.decode(errors="replace")

    def close(self):
        if getattr(self, "queue", None):
            self.cl.clReleaseCommandQueue(self.queue)
            self.queue = None
        if getattr(self, "context", None):
            self.cl.clReleaseContext(self.context)
            self.context = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
