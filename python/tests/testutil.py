"""Helpers for the pagellm tests: the shared data folder, child Python processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("PAGELLM_SHARED_DIR") or REPO_ROOT.parent / "shared")


def shared_file(relative: str) -> Path:
    """A path under the shared folder; skips the test with a message when it is absent."""
    path = shared_dir() / relative
    if not path.exists():
        pytest.skip(f"{path} not found (set PAGELLM_SHARED_DIR to the shared test data folder)")
    return path


STORIES_FORMATS = {
    "hf": "models/stories260K/hf",
    "gguf": "models/stories260K/gguf/stories260K.gguf",
    "llama2c": "models/stories260K/llama2c/stories260K.bin",
}


def python_env(extra: Optional[dict] = None) -> dict:
    """The environment for child Python processes: this process's sys.path as PYTHONPATH, so
    they import the same pagellm."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.update(extra or {})
    return env


def run_python(args: list, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=kwargs.pop("env", python_env()), **kwargs)
