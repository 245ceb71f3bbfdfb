"""Builds pagellm._C with the project's CMake for `pip install .` (metadata: pyproject.toml).

Environment:
  CMAKE_ARGS         extra arguments for the CMake configure step (e.g. -DPAGELLM_NATIVE=ON)
  PAGELLM_JOBS       parallel build jobs (default: CMAKE_BUILD_PARALLEL_LEVEL, else all cores)
  PAGELLM_BUILD_DIR  CMake build folder (default: build-pip/cmake-<python tag>)
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
(ROOT / "build-pip").mkdir(exist_ok=True)  # setuptools' build_base and egg_base (below)


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures the whole project for this interpreter and builds only the module target."""

    def build_extension(self, ext: Extension) -> None:
        tag = sysconfig.get_config_var("SOABI") or f"py{sys.version_info[0]}{sys.version_info[1]}"
        build_dir = Path(os.environ.get("PAGELLM_BUILD_DIR") or ROOT / "build-pip" / f"cmake-{tag}")
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DPAGELLM_BUILD_PYTHON=ON",
            "-DPAGELLM_BUILD_TESTS=OFF",
            "-DPAGELLM_BUILD_BENCHMARKS=OFF",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        jobs = os.environ.get("PAGELLM_JOBS") or os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "pagellm_python",
                               "--parallel", jobs])
        built = sorted((build_dir / "python" / "pagellm").glob("_C*.so"))
        if not built:
            raise RuntimeError(f"the build produced no pagellm/_C module under {build_dir}")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], dest)


setup(
    ext_modules=[CMakeExtension("pagellm._C")],
    cmdclass={"build_ext": CMakeBuild},
    # Keep setuptools' scratch out of the CMake build folder `build/` and the source tree.
    options={"build": {"build_base": str(ROOT / "build-pip")},
             "egg_info": {"egg_base": str(ROOT / "build-pip")}},
)
