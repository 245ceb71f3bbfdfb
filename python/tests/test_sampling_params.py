"""SamplingParams: range errors carry the engine's own messages (the ones the server returns and
the CLI prints), wrong types raise TypeError, engine-dependent checks run at submit."""

from __future__ import annotations

import subprocess

import pytest

from pagellm import LLM, BeamSearchParams, SamplingParams
from testutil import shared_file

# (kwargs, message) -- the messages as written in src/sample/sampling_params.cc.
RANGE_ERRORS = [
    ({"n": 0}, "n must be at least 1, got 0."),
    ({"n": 2, "best_of": 1}, "best_of must be greater than or equal to n, got n=2 and best_of=1."),
    ({"temperature": -0.5}, "temperature must be non-negative, got -0.5."),
    ({"temperature": float("nan")}, "temperature must be non-negative, got nan."),
    ({"top_p": 0.0}, "top_p must be in (0, 1], got 0."),
    ({"top_p": 1.5}, "top_p must be in (0, 1], got 1.5."),
    ({"top_k": -2}, "top_k must be -1 (disable), 0 (disable) or at least 1, got -2."),
    ({"min_p": 1.5}, "min_p must be in [0, 1], got 1.5."),
    ({"presence_penalty": 3}, "presence_penalty must be in [-2, 2], got 3."),
    ({"frequency_penalty": -2.5}, "frequency_penalty must be in [-2, 2], got -2.5."),
    ({"repetition_penalty": 0}, "repetition_penalty must be greater than zero, got 0."),
    ({"logit_bias": {5: 101}}, "logit_bias values must be in [-100, 100], got 101."),
    ({"logit_bias": {-1: 1}}, "logit_bias has token id -1 outside the vocabulary [0, 9223372036854775807)."),
    ({"max_tokens": 0}, "max_tokens must be at least 1, got 0."),
    ({"min_tokens": -1}, "min_tokens must be non-negative, got -1."),
    ({"min_tokens": 5, "max_tokens": 4}, "min_tokens must be less than or equal to max_tokens=4, got 5."),
    ({"stop": ["ok", ""]}, "stop strings must not be empty."),
    ({"stop_token_ids": [-3]}, None),  # rejected by the type layer (ids are never negative)
    ({"logprobs": -1}, "logprobs must be in [0, 2147483647], got -1."),
    ({"prompt_logprobs": -2}, "prompt_logprobs must be in [0, 2147483647], got -2."),
    ({"length_penalty": float("inf")}, "length_penalty must be a finite number."),
    ({"use_beam_search": True, "temperature": 0.7}, "temperature must be 0 with beam search."),
]


@pytest.mark.parametrize("kwargs,message", RANGE_ERRORS, ids=[str(k) for k, _ in RANGE_ERRORS])
def test_range_errors_have_the_engine_messages(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as e:
        SamplingParams(**kwargs)
    if message is not None:
        assert str(e.value) == message


# (CLI flags, SamplingParams kwargs): the CLI validates through the same C++ function.
CLI_CASES = [
    (["--temperature", "-1"], {"temperature": -1}),
    (["--top-p", "2"], {"top_p": 2}),
    (["--top-k", "-5"], {"top_k": -5}),
    (["--min-p", "-0.25"], {"min_p": -0.25}),
    (["--n", "0"], {"n": 0}),
    (["--repetition-penalty", "-1"], {"repetition_penalty": -1}),
    (["--presence-penalty", "2.5"], {"presence_penalty": 2.5}),
    (["--max-tokens", "0"], {"max_tokens": 0}),
    (["--min-tokens", "8", "--max-tokens", "4"], {"min_tokens": 8, "max_tokens": 4}),
    (["--n", "3", "--best-of", "2"], {"n": 3, "best_of": 2}),
]


@pytest.mark.parametrize("flags,kwargs", CLI_CASES, ids=[" ".join(f) for f, _ in CLI_CASES])
def test_messages_equal_the_cli(flags: list, kwargs: dict, pagellm_binary) -> None:
    model = shared_file("models/stories260K/hf")
    cli = subprocess.run([str(pagellm_binary), "generate", "--model", str(model), "--prompt", "x", *flags],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode != 0
    cli_message = cli.stderr.strip().splitlines()[-1]
    with pytest.raises(ValueError) as e:
        SamplingParams(**kwargs)
    assert cli_message.endswith(": " + str(e.value)), cli.stderr


TYPE_ERRORS = [
    ({"temperature": "hot"}, "temperature must be a number, got str 'hot'."),
    ({"n": 1.5}, "n must be an integer, got float 1.5."),
    ({"n": "2"}, "n must be an integer, got str '2'."),
    ({"max_tokens": True}, "max_tokens must be an integer or None, got bool True."),
    ({"seed": 1.0}, "seed must be an integer or None, got float 1.0."),
    ({"ignore_eos": "yes"}, "ignore_eos must be True or False, got str 'yes'."),
    ({"stop": 5}, "stop must be a string or a list of strings, got int."),
    ({"stop": ["a", 1]}, "stop[1] must be a string, got int 1."),
    ({"stop_token_ids": [2, "3"]}, "stop_token_ids[1] must be a token id (an integer), got str '3'."),
    ({"logit_bias": [(1, 2.0)]}, "logit_bias must be a dict {token_id: bias}, got list."),
    ({"logit_bias": {"7": 1.0}}, "logit_bias key must be an integer, got str '7'."),
    ({"top_p": None}, "top_p must be a number, got NoneType None."),
]


@pytest.mark.parametrize("kwargs,message", TYPE_ERRORS, ids=[str(k) for k, _ in TYPE_ERRORS])
def test_wrong_types(kwargs: dict, message: str) -> None:
    with pytest.raises(TypeError) as e:
        SamplingParams(**kwargs)
    assert str(e.value) == message


def test_unknown_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="temprature"):
        SamplingParams(temprature=0.5)


def test_out_of_range_integers_and_seed() -> None:
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1."):
        SamplingParams(seed=-1)
    SamplingParams(seed=2**64 - 1)
    with pytest.raises(ValueError, match=r"n must be in \[-2147483648, 2147483647\]"):
        SamplingParams(n=2**40)


def test_defaults_and_normalisation() -> None:
    sp = SamplingParams()
    assert (sp.n, sp.temperature, sp.top_p, sp.top_k, sp.max_tokens, sp.logprobs) == (1, 1.0, 1.0, 0, 16, None)
    assert sp.stop == [] and sp.stop_token_ids == []
    assert SamplingParams(stop="\n").stop == ["\n"]
    for disabled in (0, -1):  # vLLM spells "no top-k" both ways
        assert SamplingParams(top_k=disabled).top_k == disabled
    sp = SamplingParams(temperature=0.5, stop=["a"], logit_bias={3: 1.0})
    clone = sp.clone()
    assert clone == sp and clone.stop is not sp.stop
    assert BeamSearchParams(beam_width=4, max_tokens=8).to_sampling_params().n == 4


def test_engine_limits_and_vocabulary_are_checked_at_submit(llm: LLM) -> None:
    sp = SamplingParams(n=129)  # fine on its own; above the engine's default max_n (128)
    with pytest.raises(ValueError) as e:
        llm.generate("Once", sp, use_tqdm=False)
    assert str(e.value) == "n must be at most 128, got 129."
    with pytest.raises(ValueError) as e:
        llm.generate("Once", SamplingParams(logit_bias={600: 1.0}), use_tqdm=False)
    assert str(e.value) == "logit_bias has token id 600 outside the vocabulary [0, 512)."
    with pytest.raises(ValueError) as e:
        llm.generate("Once", SamplingParams(stop_token_ids=[512]), use_tqdm=False)
    assert str(e.value) == "stop_token_ids has token id 512 outside the vocabulary [0, 512)."
    with pytest.raises(ValueError) as e:
        llm.generate("Once", SamplingParams(logprobs=21), use_tqdm=False)
    assert str(e.value) == "logprobs must be in [0, 20], got 21."
    # Mutating a valid SamplingParams is checked again when it is used.
    sp = SamplingParams()
    sp.temperature = -1
    with pytest.raises(ValueError, match="temperature must be non-negative, got -1."):
        llm.generate("Once", sp, use_tqdm=False)
    # The engine still works after refusing requests.
    assert llm.generate("Once", SamplingParams(max_tokens=2), use_tqdm=False)[0].finished
