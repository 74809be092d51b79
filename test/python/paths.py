"""Where the Python tests find the repository, the build and the modules they use; importing
it puts python/ (the package), test/reference and test/execution on sys.path."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("MOE_BUILD_DIR", os.path.join(ROOT, "build"))
ARTIFACTS = os.environ.get("MOE_TEST_ARTIFACTS_DIR",
                           os.path.join(BUILD, "test", "unit", "artifacts"))
os.environ.setdefault("MOE_RUNTIME_LIB", os.path.join(BUILD, "lib", "libmoe_runtime.so"))
for folder in ("python", os.path.join("test", "reference"), os.path.join("test", "execution")):
    if os.path.join(ROOT, folder) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, folder))


def moe_compile(mlir, so, *options):
    """Compiles the level-1 IR file ``mlir`` to the CPU artifact ``so`` with the build's
    moe-compile and its ``options`` (an error fails the test)."""
    import subprocess
    subprocess.run([os.path.join(BUILD, "bin", "moe-compile"), str(mlir), "-o", str(so),
                    *options], check=True)
    return so


def compile_text(text, directory, name="model", options=()):
    """Writes ``text`` to ``directory/name.mlir``, compiles it with moe-compile's
    ``options``; returns the artifact's path."""
    mlir = os.path.join(str(directory), name + ".mlir")
    with open(mlir, "w") as f:
        f.write(text)
    return moe_compile(mlir, os.path.join(str(directory), name + ".so"), *options)
