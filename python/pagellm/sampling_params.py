"""SamplingParams and BeamSearchParams, shaped like vLLM's (vllm.SamplingParams).

Every range check is the engine's own (C++ ``SamplingParams::Validate``), so a bad value raises
``ValueError`` with exactly the message the OpenAI server returns to clients; a value of the wrong
type raises ``TypeError``. Checks that depend on the engine (the vocabulary for ``logit_bias`` /
``stop_token_ids`` ids, and its limits on ``n``, ``logprobs``, stop strings) run again when a
request is submitted.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Optional, Union

from pagellm import _C
from pagellm._validate import (INT32_MAX, UINT64_MAX, check_bool, check_float, check_int,
                               check_token_ids)

__all__ = ["SamplingParams", "BeamSearchParams"]


@dataclass
class SamplingParams:
    """How to sample one request's tokens and when to stop (vLLM's fields and defaults).

    Args:
        n: Sequences returned for the prompt.
        best_of: Sequences generated (>= n); the n with the highest cumulative logprob are
            returned. Default: n.
        presence_penalty: [-2, 2]; > 0 favours tokens not generated yet.
        frequency_penalty: [-2, 2]; > 0 penalises tokens by how often they were generated.
        repetition_penalty: > 0; > 1 discourages tokens of the prompt and the output.
        temperature: >= 0; 0 is greedy.
        top_p: (0, 1]; nucleus sampling mass.
        top_k: Sample among the k most likely tokens; 0 or -1 disables it.
        min_p: [0, 1]; drop tokens below min_p times the most likely one's probability.
        seed: Seed of this request's generator (reproducible sampling); sample i of n draws
            from seed + i, so n=k with seed s equals k requests seeded s..s+k-1.
        stop: A string or a list of strings that end generation (not included in the text
            unless include_stop_str_in_output).
        stop_token_ids: Token ids that end generation (kept in token_ids).
        ignore_eos: Keep generating after EOS.
        max_tokens: Tokens generated per sequence at most; None: up to the context length.
        min_tokens: EOS and stop_token_ids cannot end a sequence before this many tokens.
        logprobs: Report the logprobs of each generated token plus this many most likely
            alternatives (0: only the chosen token).
        prompt_logprobs: The same for every prompt token.
        skip_special_tokens: Leave special tokens out of the text.
        include_stop_str_in_output: Keep the matched stop string at the end of the text.
        logit_bias: {token_id: bias in [-100, 100]} added to the logits.
        use_beam_search: Beam search with width best_of (or n); needs temperature 0.
        length_penalty: Beam search score = cumulative logprob / length ** length_penalty.
        truncate_prompt_tokens: Keep only the last k prompt tokens (left truncation).
    """

    n: int = 1
    best_of: Optional[int] = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: Optional[int] = None
    stop: Optional[Union[str, list[str]]] = None
    stop_token_ids: Optional[list[int]] = None
    ignore_eos: bool = False
    max_tokens: Optional[int] = 16
    min_tokens: int = 0
    logprobs: Optional[int] = None
    prompt_logprobs: Optional[int] = None
    skip_special_tokens: bool = True
    include_stop_str_in_output: bool = False
    logit_bias: Optional[dict[int, float]] = None
    use_beam_search: bool = False
    length_penalty: float = 1.0
    truncate_prompt_tokens: Optional[int] = None

    def __post_init__(self) -> None:
        # vLLM normalises stop and stop_token_ids to lists.
        if self.stop is None:
            self.stop = []
        elif isinstance(self.stop, str):
            self.stop = [self.stop]
        if self.stop_token_ids is None:
            self.stop_token_ids = []
        self._to_native()  # raises on a bad value; checked again when submitted

    def clone(self) -> "SamplingParams":
        """A deep copy (validated again)."""
        return SamplingParams(**{name: copy.deepcopy(getattr(self, name)) for name in SAMPLING_FIELDS})

    def _to_native(self, max_tokens: Optional[int] = None) -> Any:
        """Type-checks every field and returns the validated ``_C.SamplingParams``.

        ``max_tokens`` replaces a None ``self.max_tokens`` (the room left in the context).
        """
        p = _C.SamplingParams()
        p.n = check_int("n", self.n)
        p.best_of = check_int("best_of", self.best_of, optional=True)
        p.presence_penalty = check_float("presence_penalty", self.presence_penalty)
        p.frequency_penalty = check_float("frequency_penalty", self.frequency_penalty)
        p.repetition_penalty = check_float("repetition_penalty", self.repetition_penalty)
        p.temperature = check_float("temperature", self.temperature)
        p.top_p = check_float("top_p", self.top_p)
        p.top_k = check_int("top_k", self.top_k)
        p.min_p = check_float("min_p", self.min_p)
        p.seed = _check_seed(self.seed)
        p.stop = _check_stop(self.stop)
        p.stop_token_ids = check_token_ids("stop_token_ids", self.stop_token_ids)
        p.ignore_eos = check_bool("ignore_eos", self.ignore_eos)
        if self.max_tokens is None:
            p.max_tokens = INT32_MAX if max_tokens is None else max_tokens
        else:
            p.max_tokens = check_int("max_tokens", self.max_tokens, optional=True)
        p.min_tokens = check_int("min_tokens", self.min_tokens)
        p.logprobs = check_int("logprobs", self.logprobs, optional=True)
        p.prompt_logprobs = check_int("prompt_logprobs", self.prompt_logprobs, optional=True)
        p.skip_special_tokens = check_bool("skip_special_tokens", self.skip_special_tokens)
        p.include_stop_str_in_output = check_bool("include_stop_str_in_output",
                                                  self.include_stop_str_in_output)
        p.logit_bias = _check_logit_bias(self.logit_bias)
        p.use_beam_search = check_bool("use_beam_search", self.use_beam_search)
        p.length_penalty = check_float("length_penalty", self.length_penalty)
        truncate = check_int("truncate_prompt_tokens", self.truncate_prompt_tokens, optional=True)
        if truncate is not None and truncate < 1:
            raise ValueError(f"truncate_prompt_tokens must be at least 1, got {truncate}.")
        p.validate()  # ValueError with the engine's message
        return p


@dataclass
class BeamSearchParams:
    """Parameters of ``LLM.beam_search`` (vLLM's BeamSearchParams)."""

    beam_width: int
    max_tokens: int
    ignore_eos: bool = False
    temperature: float = 0.0
    length_penalty: float = 1.0
    include_stop_str_in_output: bool = False

    def to_sampling_params(self) -> SamplingParams:
        """The equivalent SamplingParams (use_beam_search=True, n = beam_width)."""
        return SamplingParams(n=self.beam_width, use_beam_search=True, temperature=self.temperature,
                              max_tokens=self.max_tokens, ignore_eos=self.ignore_eos,
                              length_penalty=self.length_penalty,
                              include_stop_str_in_output=self.include_stop_str_in_output)


def _check_seed(seed: Any) -> Optional[int]:
    seed = check_int("seed", seed, optional=True, lo=-(2**63), hi=UINT64_MAX)
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}.")
    return seed


def _check_stop(stop: Any) -> list[str]:
    if isinstance(stop, str):
        return [stop]
    if not isinstance(stop, (list, tuple)):
        raise TypeError(f"stop must be a string or a list of strings, got {type(stop).__name__}.")
    for i, s in enumerate(stop):
        if not isinstance(s, str):
            raise TypeError(f"stop[{i}] must be a string, got {type(s).__name__} {s!r}.")
    return list(stop)


def _check_logit_bias(bias: Any) -> list[tuple[int, float]]:
    if bias is None:
        return []
    if not isinstance(bias, dict):
        raise TypeError(f"logit_bias must be a dict {{token_id: bias}}, got {type(bias).__name__}.")
    out = []
    for token, value in bias.items():
        token = check_int("logit_bias key", token)
        out.append((token, check_float(f"logit_bias[{token}]", value)))
    return out


# SamplingParams fields a user may set (for error messages and introspection).
SAMPLING_FIELDS = tuple(f.name for f in dataclasses.fields(SamplingParams) if f.init)
