"""The examples run end to end against the stories260K model."""

from __future__ import annotations

import re
from pathlib import Path

from testutil import REPO_ROOT, python_env, run_python

EXAMPLES = REPO_ROOT / "examples"


def test_offline_inference_example(stories_hf: Path) -> None:
    env = python_env({"PAGELLM_MODEL": str(stories_hf)})
    run = run_python([str(EXAMPLES / "offline_inference.py")], env=env)
    assert run.returncode == 0, run.stderr
    generated = re.findall(r"Generated text: '(.+)'", run.stdout)
    assert re.findall(r"Prompt:\s+'(.+)'", run.stdout) == ["Once upon a time", "Lily wanted to",
                                                           "The little dog", "One day, Tom"]
    assert len(generated) == 4 and all(generated)
    again = run_python([str(EXAMPLES / "offline_inference.py"), "--max-tokens", "48"], env=env)
    assert again.stdout == run.stdout  # seeded sampling is reproducible


def test_chat_example(stories_hf: Path) -> None:
    run = run_python([str(EXAMPLES / "chat.py"), "--max-tokens", "24"],
                     env=python_env({"PAGELLM_MODEL": str(stories_hf)}))
    assert run.returncode == 0, run.stderr
    assert len(re.findall(r"^Assistant: \S", run.stdout, re.M)) == 2
    assert re.findall(r"^Prompt: '(.+)' -> '.+'$", run.stdout, re.M) == ["<s>Lily liked", "<s>The sun was"]
