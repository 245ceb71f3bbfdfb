"""Ctrl-C during generate aborts the requests and raises KeyboardInterrupt (the LLM stays
usable); the progress bar is drawn on a terminal only. Both run in child processes so a stray
signal or terminal state cannot disturb the test session."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import textwrap
from pathlib import Path

from testutil import python_env, run_python

INTERRUPT_CHILD = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from pagellm import LLM, SamplingParams

    # Python keeps SIGINT ignored if it starts that way (as in a job a non-interactive shell puts
    # in the background): install Ctrl-C's usual handler, as an interactive session has it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    llm = LLM(model=sys.argv[1], max_model_len=512)
    long_run = SamplingParams(temperature=1.0, max_tokens=500, ignore_eos=True)
    result = {}

    def interrupt():
        time.sleep(0.5)
        result["sent"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    start = time.monotonic()
    try:
        llm.generate(["Once"] * 512, long_run, use_tqdm=False)
        result["interrupted"] = False
    except KeyboardInterrupt:
        result["interrupted"] = True
        result["latency"] = time.monotonic() - result["sent"]
    result["elapsed"] = time.monotonic() - start
    # The aborted requests leave the engine.
    deadline = time.monotonic() + 10
    while llm.get_engine_stats()["num_running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = llm.get_engine_stats()
    result["running_after"] = stats["num_running"] + stats["num_waiting"]
    result["kv_used_after"] = stats["kv_used_blocks"]
    [out] = llm.generate("", SamplingParams(temperature=0, max_tokens=40), use_tqdm=False)
    result["text_after"] = out.outputs[0].text
    print(json.dumps(result))
""")


def test_ctrl_c_aborts_generate_and_the_llm_stays_usable(stories_hf: Path, greedy_reference: str) -> None:
    child = run_python(["-c", INTERRUPT_CHILD, str(stories_hf)], timeout=600)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["interrupted"], result
    assert result["latency"] < 2.0, result        # polled every 50 ms while waiting
    assert result["running_after"] == 0, result
    assert result["kv_used_after"] == 0, result   # every aborted request's blocks were freed
    assert greedy_reference.startswith(result["text_after"]) and result["text_after"], result


PROGRESS_CHILD = textwrap.dedent("""
    import sys
    from pagellm import LLM, SamplingParams
    llm = LLM(model=sys.argv[1])
    outs = llm.generate(["Once", "Lily", "Tom", "The"], SamplingParams(max_tokens=8))
    print(len(outs))
""")


def test_no_progress_bar_when_stderr_is_not_a_terminal(stories_hf: Path) -> None:
    child = run_python(["-c", PROGRESS_CHILD, str(stories_hf)])
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "4"
    assert "Processed prompts" not in child.stderr
    assert child.stderr == ""


def test_progress_bar_on_a_terminal(stories_hf: Path) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", PROGRESS_CHILD, str(stories_hf)],
                                stdout=subprocess.PIPE, stderr=slave, env=python_env(), text=True)
        os.close(slave)
        slave = -1
        stdout, _ = proc.communicate(timeout=300)
        chunks = []
        while select.select([master], [], [], 0.5)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 0 and stdout.strip() == "4"
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert "Processed prompts" in terminal
    assert "4/4" in terminal and "100%" in terminal
