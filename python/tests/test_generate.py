"""LLM.generate on the real stories260K model against independent references: the published
greedy sample (llama2.c's run.c), the first ids of the PyTorch reference, the C++ CLI; plus
prompt forms, n > 1, seeds, logprobs, stops and beam search."""

from __future__ import annotations

import math
import re
import subprocess

import pytest

from pagellm import LLM, BeamSearchParams, CompletionOutput, Logprob, RequestOutput, SamplingParams
from testutil import STORIES_FORMATS, shared_file

GREEDY_256 = SamplingParams(temperature=0, max_tokens=256)


@pytest.mark.parametrize("mmap", [False, True], ids=["copied", "mmap"])
@pytest.mark.parametrize("fmt", sorted(STORIES_FORMATS))
def test_greedy_from_bos_matches_published_sample(fmt: str, mmap: bool, greedy_reference: str) -> None:
    model = shared_file(STORIES_FORMATS[fmt])
    # The GGUF's context_length says 128; the model was trained on 512. mmap=True runs from the
    # mapped file instead of weights copied into memory (--mmap).
    llm = LLM(model=str(model), max_model_len=512, mmap=mmap)
    try:
        [out] = llm.generate("", GREEDY_256, use_tqdm=False)
    finally:
        llm.shutdown()
    assert out.prompt == ""
    assert out.prompt_token_ids == [llm.get_tokenizer().bos_token_id]  # BOS only
    [c] = out.outputs
    assert len(c.token_ids) == 256
    assert c.finish_reason == "length"
    assert c.text == greedy_reference


def test_greedy_ids_match_pytorch_reference(llm: LLM) -> None:
    line = shared_file("models/stories260K/hf/sample_greedy_pyref.txt").read_text().splitlines()[0]
    ref = [int(x) for x in re.findall(r"[0-9]+", line)]
    assert len(ref) > 10
    [out] = llm.generate("", SamplingParams(temperature=0, max_tokens=len(ref)), use_tqdm=False)
    assert out.outputs[0].token_ids == ref


@pytest.mark.parametrize("fmt", sorted(STORIES_FORMATS))
def test_greedy_matches_cli(fmt: str, pagellm_binary, greedy_reference: str) -> None:
    model = shared_file(STORIES_FORMATS[fmt])
    cli = subprocess.run([str(pagellm_binary), "generate", "--model", str(model), "--prompt", "",
                          "--temperature", "0", "--max-tokens", "256", "--max-model-len", "512"],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    llm = LLM(model=str(model), max_model_len=512)
    try:
        [out] = llm.generate([""], GREEDY_256, use_tqdm=False)
    finally:
        llm.shutdown()
    assert cli.stdout == out.outputs[0].text + "\n"


def test_prompt_forms_agree(llm: LLM) -> None:
    tok = llm.get_tokenizer()
    text = "Once upon a time"
    ids = tok.encode(text)
    assert ids[0] == tok.bos_token_id
    params = SamplingParams(temperature=0, max_tokens=12)
    outs = llm.generate([text, {"prompt": text}, ids, {"prompt_token_ids": ids}, tuple(ids)], params,
                        use_tqdm=False)
    assert [o.prompt for o in outs] == [text, text, None, None, None]
    assert all(o.prompt_token_ids == ids for o in outs)
    texts = {o.outputs[0].text for o in outs}
    assert len(texts) == 1 and texts.pop()
    # A flat list of ints is one prompt; a str alone is one prompt.
    assert len(llm.generate(ids, params, use_tqdm=False)) == 1
    [single] = llm.generate(text, params, use_tqdm=False)
    assert single.outputs[0].text == outs[0].outputs[0].text
    assert llm.generate([], params) == []


def test_outputs_shape_and_order(llm: LLM) -> None:
    prompts = ["Once upon a time", "Lily", "The sun", "One day"]
    params = [SamplingParams(temperature=0, max_tokens=m) for m in (3, 5, 7, 9)]
    outs = llm.generate(prompts, params, use_tqdm=False)
    assert [o.prompt for o in outs] == prompts
    assert len({o.request_id for o in outs}) == 4
    for o, m in zip(outs, (3, 5, 7, 9)):
        assert isinstance(o, RequestOutput) and o.finished
        [c] = o.outputs
        assert isinstance(c, CompletionOutput) and c.index == 0
        assert c.finish_reason in ("length", "stop")
        assert len(c.token_ids) <= m
        if c.finish_reason == "length":
            assert len(c.token_ids) == m and c.stop_reason is None
        assert c.logprobs is None and c.cumulative_logprob is None
        assert o.prompt_logprobs is None
        assert o.metrics.num_prompt_tokens == len(o.prompt_token_ids)
        assert o.metrics.num_generation_tokens == len(c.token_ids)
        assert o.metrics.finished_time >= o.metrics.first_token_time >= o.metrics.arrival_time
        # The text is what the tokens add to the prompt's text.
        tok = llm.get_tokenizer()
        assert tok.decode(o.prompt_token_ids + c.token_ids) == tok.decode(o.prompt_token_ids) + c.text
    # Each prompt alone gives the same as in the batch.
    for p, sp, o in zip(prompts, params, outs):
        assert llm.generate(p, sp, use_tqdm=False)[0].outputs[0].text == o.outputs[0].text


def test_wrong_number_of_sampling_params(llm: LLM) -> None:
    with pytest.raises(ValueError, match="must be the same"):
        llm.generate(["a", "b"], [SamplingParams(), SamplingParams(), SamplingParams()])


def test_n_returns_n_distinct_indexed_sequences(llm: LLM) -> None:
    [out] = llm.generate("Once upon a time", SamplingParams(n=4, temperature=1.0, max_tokens=24, seed=5),
                         use_tqdm=False)
    assert [c.index for c in out.outputs] == [0, 1, 2, 3]
    assert len({tuple(c.token_ids) for c in out.outputs}) > 1  # 24 sampled tokens each
    tok = llm.get_tokenizer()
    for c in out.outputs:
        assert tok.decode(out.prompt_token_ids + c.token_ids) == tok.decode(out.prompt_token_ids) + c.text


def test_seeds(llm: LLM) -> None:
    prompt = "Once upon a time"

    def sample(seed: int, n: int = 1) -> list[list[int]]:
        sp = SamplingParams(n=n, temperature=1.0, max_tokens=32, seed=seed)
        return [c.token_ids for c in llm.generate(prompt, sp, use_tqdm=False)[0].outputs]

    a = sample(1234)
    assert sample(1234) == a                       # same seed, same tokens
    assert sample(1235) != a                       # another seed, another sample
    # vLLM's convention: sample i of a seeded request draws from seed + i.
    assert sample(1234, n=3) == [sample(1234 + i)[0] for i in range(3)]
    # Seeded requests do not depend on what else runs in the batch.
    sp = SamplingParams(temperature=1.0, max_tokens=32, seed=1234)
    others = SamplingParams(temperature=1.0, max_tokens=32)
    outs = llm.generate([prompt, "Lily", prompt, "Tom"], [others, others, sp, others], use_tqdm=False)
    assert outs[2].outputs[0].token_ids == a[0]


def test_logprobs_shape(llm: LLM) -> None:
    k = 3
    [out] = llm.generate("Once upon a time", SamplingParams(temperature=0, max_tokens=8, logprobs=k,
                                                            prompt_logprobs=2), use_tqdm=False)
    [c] = out.outputs
    assert len(c.logprobs) == len(c.token_ids) == 8
    total = 0.0
    for token, position in zip(c.token_ids, c.logprobs):
        assert isinstance(position, dict)
        assert next(iter(position)) == token     # the chosen token first
        assert k <= len(position) <= k + 1
        chosen = position[token]
        assert isinstance(chosen, Logprob) and chosen.rank == 1  # greedy picks the most likely
        assert chosen.logprob <= 0
        assert sorted(lp.rank for lp in position.values()) == list(range(1, k + 1))
        assert all(isinstance(lp.decoded_token, str) for lp in position.values())
        total += chosen.logprob
    assert c.cumulative_logprob == pytest.approx(total, abs=1e-4)
    # The decoded tokens of the chosen ids spell the text.
    assert "".join(p[t].decoded_token for t, p in zip(c.token_ids, c.logprobs)) == c.text
    # Prompt logprobs: None for the first token, then the actual prompt token plus top 2.
    assert len(out.prompt_logprobs) == len(out.prompt_token_ids)
    assert out.prompt_logprobs[0] is None
    for token, position in zip(out.prompt_token_ids[1:], out.prompt_logprobs[1:]):
        assert token in position and 2 <= len(position) <= 3
        assert math.isfinite(position[token].logprob)


def test_logprobs_zero_reports_the_chosen_token_only(llm: LLM) -> None:
    [out] = llm.generate("Lily", SamplingParams(temperature=0, max_tokens=4, logprobs=0), use_tqdm=False)
    assert [list(p) for p in out.outputs[0].logprobs] == [[t] for t in out.outputs[0].token_ids]


def test_stop_strings_and_tokens(llm: LLM) -> None:
    greedy = llm.generate("Once upon a time", SamplingParams(temperature=0, max_tokens=40), use_tqdm=False)
    full = greedy[0].outputs[0]
    assert "." in full.text
    [out] = llm.generate("Once upon a time", SamplingParams(temperature=0, max_tokens=40, stop="."),
                         use_tqdm=False)
    c = out.outputs[0]
    assert c.finish_reason == "stop" and c.stop_reason == "."
    assert c.text == full.text[:full.text.index(".")]
    [out] = llm.generate("Once upon a time", SamplingParams(temperature=0, max_tokens=40, stop=["."],
                                                            include_stop_str_in_output=True), use_tqdm=False)
    assert out.outputs[0].text == full.text[:full.text.index(".") + 1]
    stop_id = full.token_ids[3]
    [out] = llm.generate("Once upon a time", SamplingParams(temperature=0, max_tokens=40,
                                                            stop_token_ids=[stop_id]), use_tqdm=False)
    c = out.outputs[0]
    assert c.finish_reason == "stop" and c.stop_reason == stop_id
    assert c.token_ids == full.token_ids[:full.token_ids.index(stop_id) + 1]


def test_eos_finishes_with_stop_and_no_stop_reason(llm: LLM, greedy_reference: str) -> None:
    # From BOS the greedy story reaches EOS before the context ends.
    [out] = llm.generate("", SamplingParams(temperature=0, max_tokens=None), use_tqdm=False)
    c = out.outputs[0]
    assert c.text.startswith(greedy_reference)
    if c.finish_reason == "stop":
        assert c.stop_reason is None
    else:  # ran to the end of the context
        assert len(out.prompt_token_ids) + len(c.token_ids) == llm.max_model_len


def test_max_tokens_none_fills_the_context(llm: LLM) -> None:
    [out] = llm.generate("Once", SamplingParams(temperature=0, max_tokens=None, ignore_eos=True),
                         use_tqdm=False)
    assert len(out.prompt_token_ids) + len(out.outputs[0].token_ids) == llm.max_model_len == 512


def test_truncate_prompt_tokens_keeps_the_end(llm: LLM) -> None:
    ids = llm.get_tokenizer().encode("Once upon a time there was a girl")
    [out] = llm.generate({"prompt_token_ids": ids}, SamplingParams(max_tokens=2, truncate_prompt_tokens=3),
                         use_tqdm=False)
    assert out.prompt_token_ids == ids[-3:]


def test_beam_search(llm: LLM) -> None:
    prompt = "Once upon a time"
    [res] = llm.beam_search([prompt], BeamSearchParams(beam_width=3, max_tokens=8))
    assert len(res.sequences) == 3
    prompt_ids = llm.get_tokenizer().encode(prompt)
    scores = []
    for seq in res.sequences:
        assert seq.tokens[:len(prompt_ids)] == prompt_ids
        assert seq.text.startswith(prompt)
        assert len(seq.logprobs) == len(seq.tokens) - len(prompt_ids)
        assert seq.cum_logprob == pytest.approx(
            sum(p[t].logprob for t, p in zip(seq.tokens[len(prompt_ids):], seq.logprobs)), abs=1e-4)
        # vLLM's score: cumulative logprob / sequence length (prompt included, EOS not).
        length = len(seq.tokens) - (seq.tokens[-1] == llm.get_tokenizer().eos_token_id)
        scores.append(seq.cum_logprob / length)
    assert scores == sorted(scores, reverse=True)  # best first
    assert len({tuple(s.tokens) for s in res.sequences}) == 3
    # Width 1 is greedy decoding.
    [one] = llm.beam_search([{"prompt": prompt}], BeamSearchParams(beam_width=1, max_tokens=8))
    [greedy] = llm.generate(prompt, SamplingParams(temperature=0, max_tokens=8), use_tqdm=False)
    assert one.sequences[0].tokens == prompt_ids + greedy.outputs[0].token_ids


def test_gil_is_released_while_generating(llm: LLM) -> None:
    import threading
    import time

    ticks = 0
    stop = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    start = time.monotonic()
    try:
        llm.generate(["Once"] * 16, SamplingParams(max_tokens=200, ignore_eos=True), use_tqdm=False)
    finally:
        stop.set()
        thread.join()
    elapsed = time.monotonic() - start
    # The ticker ran all along: at least a tick per 10 ms of generation.
    assert ticks >= elapsed * 100, (ticks, elapsed)


def test_concurrent_generate_from_threads(llm: LLM) -> None:
    from concurrent.futures import ThreadPoolExecutor

    prompts = ["Once upon a time", "Lily", "The dog", "Tom"]
    params = SamplingParams(temperature=0, max_tokens=32)
    expected = [o.outputs[0].text for o in llm.generate(prompts, params, use_tqdm=False)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: llm.generate(p, params, use_tqdm=False)[0].outputs[0].text, prompts))
    assert results == expected
