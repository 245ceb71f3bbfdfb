"""pagellm: a paged-attention LLM inference engine for CPUs, with vLLM's Python API.

    from pagellm import LLM, SamplingParams

    llm = LLM(model="path/to/model")  # HF folder, .gguf, or llama2.c .bin
    outputs = llm.generate(["Once upon a time"], SamplingParams(temperature=0.8, max_tokens=64))
    print(outputs[0].outputs[0].text)
"""

from pagellm import _C  # noqa: F401  (fails early with a clear ImportError if not built)
from pagellm.inputs import PromptType, TextPrompt, TokensPrompt
from pagellm.llm import LLM, engine_options
from pagellm.outputs import (BeamSearchOutput, BeamSearchSequence, CompletionOutput, Logprob,
                             RequestMetrics, RequestOutput)
from pagellm.sampling_params import BeamSearchParams, SamplingParams
from pagellm.tokenizer import Tokenizer, get_tokenizer

__version__ = "0.1.0"

__all__ = [
    "LLM", "SamplingParams", "BeamSearchParams", "RequestOutput", "CompletionOutput", "Logprob",
    "RequestMetrics", "BeamSearchOutput", "BeamSearchSequence", "PromptType", "TextPrompt",
    "TokensPrompt", "Tokenizer", "get_tokenizer", "engine_options", "__version__",
]
