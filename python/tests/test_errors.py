"""Errors become Python exceptions (never a crash): FileNotFoundError for missing files,
ValueError for bad values, TypeError for wrong types and unknown options; every engine option
is accepted by its Python name, the same set as the CLI flags."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import pagellm
from pagellm import LLM, SamplingParams, get_tokenizer


def test_missing_model_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LLM(model=str(tmp_path / "no-such-model"))
    with pytest.raises(FileNotFoundError, match="config.json"):
        LLM(model=str(tmp_path))  # an empty folder


def test_corrupt_model_raises_value_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF but not really")
    with pytest.raises(ValueError, match="junk.gguf"):
        LLM(model=junk)


def test_engine_option_errors(stories_hf: Path) -> None:
    model = str(stories_hf)
    with pytest.raises(ValueError) as e:
        LLM(model=model, block_size=0)
    assert str(e.value) == "block_size expects an integer in [1, 1024], got '0'"
    with pytest.raises(ValueError, match="cannot read a size from 'lots'"):
        LLM(model=model, kv_cache_memory="lots")
    with pytest.raises(TypeError, match="block_size must be an integer, got str '16'"):
        LLM(model=model, block_size="16")
    with pytest.raises(TypeError, match="max_num_seqs must be an integer, got float 1.5"):
        LLM(model=model, max_num_seqs=1.5)
    with pytest.raises(TypeError, match="enable_prefix_caching must be True or False"):
        LLM(model=model, enable_prefix_caching="yes")
    with pytest.raises(TypeError, match="unexpected keyword argument 'gpu_memory_utilization'"):
        LLM(model=model, gpu_memory_utilization=0.9)
    with pytest.raises(ValueError) as e:
        LLM(model=model, dtype="float8")
    assert str(e.value) == "dtype expects auto, f32, bf16 or f16, got 'float8'"
    with pytest.raises(ValueError) as e:
        LLM(model=model, quantization="awq")
    assert str(e.value) == "quantization expects none, q8_0 or q4_0, got 'awq'"
    with pytest.raises(TypeError, match="dtype"):
        LLM(model=model, dtype=16)


def test_every_engine_option_by_its_python_name(stories_hf: Path) -> None:
    values = {
        "tokenizer": str(stories_hf / "tokenizer.json"), "served_model_name": "stories",
        "max_model_len": 256, "block_size": 8, "kv_cache_memory": "64MiB", "num_blocks": 0,
        "enable_prefix_caching": False, "max_num_seqs": 4, "max_num_batched_tokens": 64,
        "enable_chunked_prefill": True, "priority_scheduling": True, "max_num_waiting": 100,
        "threads": 1, "seed": 7, "max_n": 4, "max_logprobs": 5, "max_stop_strings": 2,
        "max_stop_string_bytes": 10, "dtype": "bfloat16", "quantization": "none", "mmap": True,
    }
    options = set(pagellm.engine_options())
    # Every option is covered here (the negated CLI switch is an alias of enable_prefix_caching).
    assert options - {"no_enable_prefix_caching"} == set(values) | {"model"}
    llm = LLM(model=stories_hf, **values)
    try:
        config = llm.engine_config
        for name, value in values.items():
            if name != "kv_cache_memory":
                assert config[name] == value, name
        assert config["kv_cache_memory"] == 64 << 20
        assert llm.max_model_len == 256
        with pytest.raises(ValueError) as e:
            llm.generate("Once", SamplingParams(n=5), use_tqdm=False)
        assert str(e.value) == "n must be at most 4, got 5."
        outs = llm.generate(["Once"] * 6, SamplingParams(temperature=0, max_tokens=8), use_tqdm=False,
                            priority=[5, 4, 3, 2, 1, 0])
        assert len({o.outputs[0].text for o in outs}) == 1
    finally:
        llm.shutdown()


def test_python_options_are_the_cli_flags(pagellm_binary: Path) -> None:
    help_text = subprocess.run([str(pagellm_binary), "generate", "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    cli_flags = set(re.findall(r"--([a-z0-9-]+)", help_text))
    for name in pagellm.engine_options():
        assert name.replace("_", "-") in cli_flags, name


def test_prompt_errors(llm: LLM) -> None:
    with pytest.raises(TypeError, match="prompts must be"):
        llm.generate(5)
    with pytest.raises(TypeError, match=r"prompts\[0\] must be a string"):
        llm.generate([1.5])
    with pytest.raises(TypeError, match=r"prompt\['prompt'\] must be a string"):
        llm.generate({"prompt": 3})
    with pytest.raises(ValueError, match="unsupported key"):
        llm.generate({"text": "hi"})
    with pytest.raises(ValueError) as e:
        llm.generate([[1, 600]], use_tqdm=False)
    assert str(e.value) == "prompt token id 600 is outside the vocabulary [0, 512)"
    with pytest.raises(ValueError, match="empty"):
        llm.generate([[]], use_tqdm=False)
    with pytest.raises(ValueError, match="maximum context length is 512 tokens"):
        llm.generate([list(range(1, 500))], SamplingParams(max_tokens=100), use_tqdm=False)
    with pytest.raises(TypeError, match="sampling_params must be a SamplingParams"):
        llm.generate("x", {"temperature": 0})
    with pytest.raises(TypeError, match="use_tqdm must be True or False"):
        llm.generate("x", use_tqdm="no")
    # Nothing was left running, and the engine still works.
    assert llm.get_engine_stats()["num_running"] == 0
    assert llm.generate("Once", SamplingParams(max_tokens=3), use_tqdm=False)[0].finished


def test_tokenizer_errors(llm: LLM, tmp_path: Path) -> None:
    tok = llm.get_tokenizer()
    with pytest.raises(ValueError, match="600"):
        tok.decode([600])
    with pytest.raises(TypeError, match=r"token_ids\[1\] must be a token id"):
        tok.decode([1, "a"])
    with pytest.raises(TypeError, match="text must be a string"):
        tok.encode(b"bytes")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_tokenizer(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        get_tokenizer(tmp_path)


def test_tokenizer_basics(llm: LLM) -> None:
    tok = llm.get_tokenizer()
    assert (tok.vocab_size, len(tok), tok.bos_token_id, tok.eos_token_id) == (512, 512, 1, 2)
    assert (tok.bos_token, tok.eos_token) == ("<s>", "</s>")
    ids = tok.encode("Once upon a time")
    assert ids[0] == 1 and tok.encode("Once upon a time", add_special_tokens=False) == ids[1:]
    assert tok.decode(ids) == "Once upon a time"
    assert tok.decode(ids, skip_special_tokens=False).startswith("<s>")
    assert tok.convert_tokens_to_ids(tok.convert_ids_to_tokens(ids)) == ids
    assert tok("Lily")["input_ids"] == tok.encode("Lily")


def test_use_after_shutdown_raises(stories_hf: Path) -> None:
    llm = LLM(model=stories_hf)
    llm.shutdown()
    with pytest.raises(RuntimeError):
        llm.generate("Once", use_tqdm=False)


def test_tokenizer_files_of_every_format() -> None:
    from testutil import shared_file

    hf = get_tokenizer(shared_file("models/stories260K/hf"))
    gguf = get_tokenizer(shared_file("models/stories260K/gguf/stories260K.gguf"))
    tok_bin = shared_file("models/stories260K/llama2c/tok512.bin")
    with pytest.raises(ValueError, match="needs vocab_size"):
        get_tokenizer(tok_bin)
    llama2c = get_tokenizer(tok_bin, vocab_size=512)
    text = "Once upon a time, Lily saw a big red ball.\nShe said: \"Hi!\""
    ids = hf.encode(text)
    for tok in (gguf, llama2c):
        assert tok.encode(text) == ids
        assert tok.decode(ids) == text
