"""Shared fixtures: the pagellm module, the ../shared test models and the published references.

Run from the repository root:  PYTHONPATH=build/python /usr/bin/python3 -m pytest python/tests
Environment: PAGELLM_SHARED_DIR (default ../shared beside the repository), PAGELLM_BINARY (the
C++ CLI, for the CLI comparisons; they skip without it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from testutil import STORIES_FORMATS, shared_file  # noqa: F401

try:
    import pagellm
except ImportError as e:  # a build problem: fail loudly, never skip
    raise ImportError(
        f"{e}\nThe pagellm module is not importable by {sys.executable}: build it "
        "(cmake -S . -B build -DPython3_EXECUTABLE=/usr/bin/python3 && ninja -C build "
        "pagellm_python) and run with PYTHONPATH=build/python, or `pip install .`.") from e


@pytest.fixture(scope="session")
def stories_hf() -> Path:
    return shared_file(STORIES_FORMATS["hf"])


@pytest.fixture(scope="session")
def greedy_reference() -> str:
    """The published greedy sample from BOS, without run.c's trailing speed report."""
    text = shared_file("models/stories260K/greedy-reference.txt").read_text(encoding="utf-8")
    pos = text.find("achieved tok/s")
    assert pos > 0, "greedy-reference.txt lost its run.c speed line; check the file"
    return text[:pos]


@pytest.fixture(scope="session")
def llm(stories_hf: Path):
    """One stories260K engine shared by the tests that only generate."""
    engine = pagellm.LLM(model=str(stories_hf), max_model_len=512)
    yield engine
    engine.shutdown()


@pytest.fixture(scope="session")
def pagellm_binary() -> Path:
    binary = os.environ.get("PAGELLM_BINARY")
    if not binary:
        pytest.skip("PAGELLM_BINARY is not set (point it at build/tools/pagellm for the CLI comparisons)")
    path = Path(binary)
    if not path.is_file():
        pytest.skip(f"PAGELLM_BINARY={binary} does not exist")
    return path


