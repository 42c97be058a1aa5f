"""Builds analogtorch's C++/CUDA extension with torch.utils.cpp_extension.

Install with `pip install --no-build-isolation .` (torch must already be installed: it is not a
build requirement, so pip never downloads it into an isolated build environment).

Environment:
  ANALOGTORCH_CUDA=auto|0|1  build the CUDA kernels: auto = when nvcc and a CUDA build of torch
                             are present (default); 1 = required (fails loudly otherwise); 0 = never.
  TORCH_CUDA_ARCH_LIST       CUDA architectures; defaults to Ampere and Hopper ("8.0;9.0") when no
                             GPU is visible.
  MAX_JOBS                   parallel compile jobs (ninja).
  ANALOGTORCH_DEBUG=1        -O0 -g, for debugging the kernels.
"""

import glob
import os
import shutil
import sys

from setuptools import find_packages, setup


def _locate_cuda_home() -> None:
    """Sets CUDA_HOME to the toolkit that holds nvcc's headers and libraries, when unset.

    torch guesses CUDA_HOME from the directory above `nvcc` on PATH, which is wrong when PATH holds
    a wrapper script (e.g. /usr/local/bin/nvcc): look for the toolkit's own layout instead.
    """
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return
    candidates = []
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    candidates += sorted(glob.glob("/usr/local/cuda*"))
    for home in candidates:
        if os.path.isfile(os.path.join(home, "include", "cuda_runtime.h")) and os.path.isfile(
            os.path.join(home, "bin", "nvcc")
        ):
            os.environ["CUDA_HOME"] = home
            return


_locate_cuda_home()

try:
    import torch
    from torch.utils import cpp_extension
except ImportError:  # pragma: no cover - reported to the user, not tested
    sys.exit(
        "analogtorch: torch must be installed before building (pip install torch==2.14.1), "
        "and the build run with --no-build-isolation."
    )

ROOT = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CUDA_ARCHS = "8.0;9.0"


def _want_cuda() -> bool:
    mode = os.environ.get("ANALOGTORCH_CUDA", "auto").strip().lower()
    if mode not in ("auto", "0", "1"):
        sys.exit(f"analogtorch: ANALOGTORCH_CUDA must be auto, 0 or 1, got {mode!r}")
    torch_has_cuda = torch.version.cuda is not None
    nvcc_found = cpp_extension.CUDA_HOME is not None
    if mode == "0":
        return False
    if mode == "1" and not (torch_has_cuda and nvcc_found):
        reasons = []
        if not torch_has_cuda:
            reasons.append(f"torch {torch.__version__} is a CPU-only build")
        if not nvcc_found:
            reasons.append("nvcc was not found (set CUDA_HOME)")
        sys.exit("analogtorch: ANALOGTORCH_CUDA=1 but the CUDA kernels cannot be built: " + "; ".join(reasons))
    return torch_has_cuda and nvcc_found


def _sources(pattern: str) -> list:
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern), recursive=True))


def _extensions() -> list:
    debug = os.environ.get("ANALOGTORCH_DEBUG") == "1"
    # No fast-math and no FMA contraction: the CPU and CUDA kernels must round identically.
    # -fno-trapping-math and -fno-math-errno change no result; they let the element loops vectorise.
    cxx_flags = ["-O0", "-g"] if debug else ["-O3"]
    cxx_flags += ["-ffp-contract=off", "-fno-trapping-math", "-fno-math-errno", "-fvisibility=hidden"]
    # at::parallel_for is inline OpenMP: without -fopenmp the CPU kernels would run on one thread.
    cxx_flags += ["-fopenmp"]
    include_dirs = [os.path.join(ROOT, "csrc", "include")]

    cpu_sources = ["csrc/ops.cpp", "csrc/python_module.cpp"] + _sources("csrc/cpu/*.cpp")
    extensions = [
        cpp_extension.CppExtension(
            "analogtorch._C",
            cpu_sources,
            include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx_flags},
            extra_link_args=["-fopenmp"],
        )
    ]
    if not _want_cuda():
        # An earlier in-place (editable) build may have left CUDA kernels registered against older
        # schemas: loading them beside the new CPU library would abort.
        for stale in glob.glob(os.path.join(ROOT, "analogtorch", "_C_cuda*.so")):
            os.remove(stale)
    else:
        if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
            os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_CUDA_ARCHS
        # Host code in .cu files (per-call constants such as read_time) must round as the CPU build does.
        nvcc_flags = ["-O3", "--fmad=false", "-lineinfo", "-Xcompiler", "-ffp-contract=off"]
        extensions.append(
            cpp_extension.CUDAExtension(
                "analogtorch._C_cuda",
                ["cuda/python_module_cuda.cpp"] + _sources("cuda/*.cu"),
                include_dirs=include_dirs,
                extra_compile_args={"cxx": cxx_flags, "nvcc": nvcc_flags},
            )
        )
    return extensions


setup(
    packages=find_packages(include=["analogtorch", "analogtorch.*"]),
    ext_modules=_extensions(),
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
