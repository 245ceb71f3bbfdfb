"""The results of LLM.generate / chat / beam_search, shaped like vLLM's (vllm.outputs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

__all__ = ["Logprob", "SampleLogprobs", "PromptLogprobs", "CompletionOutput", "RequestMetrics",
           "RequestOutput", "BeamSearchSequence", "BeamSearchOutput"]


@dataclass
class Logprob:
    """The log probability of one token at one position.

    Attributes:
        logprob: Natural log of the token's probability under the model's raw distribution
            (before penalties, temperature and top-k/p).
        rank: 1 for the most likely token.
        decoded_token: The text the token contributes (U+FFFD for an incomplete byte sequence).
    """

    logprob: float
    rank: Optional[int] = None
    decoded_token: Optional[str] = None


# Per generated token: {token_id: Logprob}, the chosen token first, then the top alternatives.
SampleLogprobs = list[dict[int, Logprob]]
# Per prompt token (None for the first, which has no context).
PromptLogprobs = list[Optional[dict[int, Logprob]]]


@dataclass
class CompletionOutput:
    """One generated sequence of a request.

    Attributes:
        index: 0..n-1 within the request.
        text: The generated text (the prompt is not included).
        token_ids: The generated token ids.
        cumulative_logprob: Sum of the chosen tokens' logprobs (None unless logprobs were asked
            for, or best_of / beam search needed them).
        logprobs: Per token {token_id: Logprob} when SamplingParams.logprobs is set, else None.
        finish_reason: "stop" (EOS, a stop string or stop token), "length" (max_tokens or the
            context length), "abort", or None while unfinished.
        stop_reason: The stop string or stop token id that ended it; None for EOS and length.
    """

    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: Optional[float]
    logprobs: Optional[SampleLogprobs]
    finish_reason: Optional[str] = None
    stop_reason: Union[int, str, None] = None

    def finished(self) -> bool:
        return self.finish_reason is not None


@dataclass
class RequestMetrics:
    """Timings (seconds on the engine's monotonic clock) and token counts of one request."""

    arrival_time: float = 0.0
    first_scheduled_time: float = 0.0
    first_token_time: float = 0.0
    last_token_time: float = 0.0
    finished_time: float = 0.0
    num_prompt_tokens: int = 0
    num_generation_tokens: int = 0
    num_cached_tokens: int = 0
    num_preemptions: int = 0

    @property
    def time_to_first_token(self) -> float:
        return self.first_token_time - self.arrival_time

    @property
    def e2e_latency(self) -> float:
        return self.finished_time - self.arrival_time


@dataclass
class RequestOutput:
    """Everything generated for one prompt.

    Attributes:
        request_id: The request's id ("0", "1", ... per LLM instance).
        prompt: The prompt text (for chat, the rendered conversation); None for token prompts.
        prompt_token_ids: The token ids the model saw.
        prompt_logprobs: When SamplingParams.prompt_logprobs is set, else None.
        outputs: The n CompletionOutputs.
        finished: True once every sequence finished.
        metrics: Timings and counts.
        num_cached_tokens: Prompt tokens served from the prefix cache.
    """

    request_id: str
    prompt: Optional[str]
    prompt_token_ids: list[int]
    prompt_logprobs: Optional[PromptLogprobs]
    outputs: list[CompletionOutput]
    finished: bool
    metrics: Optional[RequestMetrics] = None
    num_cached_tokens: Optional[int] = None


@dataclass
class BeamSearchSequence:
    """One beam: ``tokens`` and ``text`` include the prompt (as in vLLM)."""

    tokens: list[int]
    logprobs: list[dict[int, Logprob]] = field(default_factory=list)
    cum_logprob: float = 0.0
    text: Optional[str] = None
    finish_reason: Optional[str] = None
    stop_reason: Union[int, str, None] = None


@dataclass
class BeamSearchOutput:
    """The beams of one prompt, best first."""

    sequences: list[BeamSearchSequence]


def _logprobs_from_native(position: Optional[dict]) -> Optional[dict[int, Logprob]]:
    if position is None:
        return None
    return {token: Logprob(lp, rank, text) for token, (lp, rank, text) in position.items()}


def request_output_from_native(native: dict[str, Any], *, request_id: str, prompt: Optional[str],
                               want_logprobs: bool, want_prompt_logprobs: bool) -> RequestOutput:
    """Wraps the dict _C.OutputStream.next returns."""
    outputs = []
    for c in native["outputs"]:
        logprobs = [_logprobs_from_native(p) for p in c["logprobs"]] if want_logprobs else None
        outputs.append(CompletionOutput(index=c["index"], text=c["text"], token_ids=c["token_ids"],
                                        cumulative_logprob=c["cumulative_logprob"], logprobs=logprobs,
                                        finish_reason=c["finish_reason"], stop_reason=c["stop_reason"]))
    prompt_logprobs = None
    if want_prompt_logprobs:
        prompt_logprobs = [_logprobs_from_native(p) for p in native["prompt_logprobs"]]
    metrics = RequestMetrics(**native["metrics"])
    return RequestOutput(request_id=request_id, prompt=prompt,
                         prompt_token_ids=native["prompt_token_ids"],
                         prompt_logprobs=prompt_logprobs, outputs=outputs,
                         finished=native["finished"], metrics=metrics,
                         num_cached_tokens=metrics.num_cached_tokens)
