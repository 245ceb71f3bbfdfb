"""LLM: offline batched generation, shaped like vLLM's ``vllm.LLM``.

    from pagellm import LLM, SamplingParams
    llm = LLM(model="path/to/model")
    for out in llm.generate(["Once upon a time"], SamplingParams(temperature=0, max_tokens=32)):
        print(out.outputs[0].text)

The engine runs on its own C++ thread; every wait happens without the GIL, and Ctrl-C during
generate/chat aborts the submitted requests and raises KeyboardInterrupt (the LLM stays usable).
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Mapping, Optional, Sequence, Union

from pagellm import _C
from pagellm._progress import ProgressBar
from pagellm._validate import check_bool, check_int, check_str
from pagellm.chat_utils import render_chat, resolve_chat_template
from pagellm.inputs import ParsedPrompt, PromptType, parse_prompts
from pagellm.outputs import (BeamSearchOutput, BeamSearchSequence, RequestOutput,
                             request_output_from_native)
from pagellm.sampling_params import BeamSearchParams, SamplingParams
from pagellm.tokenizer import Tokenizer

__all__ = ["LLM", "engine_options"]


def engine_options() -> dict[str, str]:
    """Every engine option LLM() accepts (Python name -> help), the same set as the CLI flags."""
    return {name: help_text for name, _, _, help_text in _C.engine_flags()}


def _flag_text(name: str, value_name: str, value: Any) -> str:
    """An option value -> the command-line text the engine's flag table parses."""
    if value_name == "":  # a switch
        return "true" if check_bool(name, value) else "false"
    if value_name == "N":
        return str(check_int(name, value, lo=-(2**63), hi=2**64 - 1))
    if value_name == "BYTES":
        if isinstance(value, str):
            return value
        return str(check_int(name, value, lo=0, hi=2**64 - 1))
    if value_name == "PATH" and isinstance(value, os.PathLike):
        value = os.fspath(value)
    text = check_str(name, value)
    return os.path.expanduser(text) if value_name == "PATH" else text


def _make_config(options: Mapping[str, Any]) -> Any:
    flags = {py_name: (cli_name, value_name) for py_name, cli_name, value_name, _ in _C.engine_flags()}
    config = _C.EngineConfig()
    for name, value in options.items():
        if name not in flags:
            raise TypeError(f"LLM() got an unexpected keyword argument '{name}'; engine options "
                            f"are: {', '.join(sorted(flags))}.")
        cli_name, value_name = flags[name]
        try:
            config.set(name, _flag_text(name, value_name, value))
        except ValueError as e:
            raise ValueError(str(e).replace(f"--{cli_name}", name)) from None
    return config


class LLM:
    """A model loaded once for offline generation (vLLM's LLM).

    Args:
        model: A Hugging Face folder (config.json + safetensors + tokenizer.json), a .gguf file
            or a llama2.c .bin checkpoint.
        tokenizer: A tokenizer to use instead of the model's (tokenizer.json, a folder holding
            one, or a llama2.c tokenizer .bin).
        dtype: Weight matrices as "auto" (as stored in the checkpoint), "float32"/"f32",
            "bfloat16"/"bf16" or "float16"/"f16", converted once at load (norms stay f32).
        quantization: None (or "none"), "q8_0" or "q4_0": quantize the weight matrices at load
            (GGUF block formats; activations are quantized per row on the fly). Wins over dtype.
        block_size: Tokens per KV cache block.
        kv_cache_memory: KV cache size in bytes or as text ("512MiB", "4GiB"); engine default
            2 GiB, never more than max_num_seqs * max_model_len needs.
        num_blocks: KV cache blocks (overrides kv_cache_memory).
        max_num_seqs: Sequences running at once (engine default 256).
        max_num_batched_tokens: Token budget of one engine step (engine default 2048).
        max_model_len: Context length (None: the model's own).
        enable_prefix_caching: Reuse the KV blocks of common prompt prefixes.
        seed: Base seed of the generators of requests without a seed (0: random).
        threads: Compute threads (0: every core this process may use).
        **kwargs: Any other engine option by its Python name (the CLI flag with underscores):
            see ``pagellm.engine_options()`` -- served_model_name, enable_chunked_prefill,
            priority_scheduling, max_num_waiting, max_n, max_logprobs, max_stop_strings, ...

    Raises:
        FileNotFoundError: The model (or a file it needs) does not exist.
        ValueError: An option is out of range or the model files are invalid.
        TypeError: An unknown option or a value of the wrong type.
    """

    def __init__(self, model: Union[str, os.PathLike], tokenizer: Union[str, os.PathLike, None] = None,
                 dtype: Optional[str] = "auto", quantization: Optional[str] = None,
                 block_size: int = 16, kv_cache_memory: Union[int, str, None] = None,
                 num_blocks: Optional[int] = None, max_num_seqs: Optional[int] = None,
                 max_num_batched_tokens: Optional[int] = None, max_model_len: Optional[int] = None,
                 enable_prefix_caching: bool = True, seed: int = 0, threads: int = 0,
                 **kwargs: Any) -> None:
        options: dict[str, Any] = {
            "model": model, "tokenizer": tokenizer, "dtype": "auto" if dtype is None else dtype,
            "quantization": "none" if quantization is None else quantization, "block_size": block_size,
            "kv_cache_memory": kv_cache_memory, "num_blocks": num_blocks,
            "max_num_seqs": max_num_seqs, "max_num_batched_tokens": max_num_batched_tokens,
            "max_model_len": max_model_len, "enable_prefix_caching": enable_prefix_caching,
            "seed": seed, "threads": threads,
        }
        options = {k: v for k, v in options.items() if v is not None}
        options.update(kwargs)
        self._engine = _C.Engine(_make_config(options))
        native_tokenizer = self._engine.tokenizer
        self._tokenizer = Tokenizer(native_tokenizer) if native_tokenizer is not None else None
        self._request_counter = itertools.count()

    # Generation.

    def generate(self, prompts: Union[PromptType, Sequence[PromptType]],
                 sampling_params: Union[SamplingParams, Sequence[SamplingParams], None] = None,
                 use_tqdm: bool = True, *, priority: Optional[Sequence[int]] = None) -> list[RequestOutput]:
        """Generates for every prompt (batched together) and returns the outputs in prompt order.

        Args:
            prompts: A string, a list of token ids, a ``{"prompt": ...}`` /
                ``{"prompt_token_ids": [...]}`` dict, or a list of those. Text is tokenized with
                the model's BOS (as the tokenizer config says).
            sampling_params: One SamplingParams for all prompts or one per prompt (default:
                SamplingParams()).
            use_tqdm: Show a progress bar on stderr (only when it is a terminal).
            priority: Per-prompt priorities (lower runs first) for an engine started with
                priority_scheduling=True.
        """
        parsed = parse_prompts(prompts)
        return self._run(parsed, self._params_for(sampling_params, len(parsed)), use_tqdm, priority)

    def chat(self, messages: Any,
             sampling_params: Union[SamplingParams, Sequence[SamplingParams], None] = None,
             use_tqdm: bool = True, chat_template: Union[str, os.PathLike, None] = None,
             chat_template_content_format: str = "auto", add_generation_prompt: bool = True,
             continue_final_message: bool = False, tools: Optional[list] = None,
             chat_template_kwargs: Optional[Mapping[str, Any]] = None) -> list[RequestOutput]:
        """Generates replies to one conversation (a list of {"role", "content"} messages) or a
        list of conversations, rendered exactly like the OpenAI server's /v1/chat/completions.

        Args:
            chat_template: The template (text, a file path, or the name of one of the
                tokenizer's named templates); default the model's. Models without one need it
                (templates/completion.jinja suits base models).
            chat_template_content_format: "auto" or "string" (list-of-parts contents become their
                text parts joined by newlines, as the server does) or "openai" (parts passed to
                the template as given).
            add_generation_prompt: End with the template's assistant-turn opener.
            continue_final_message: Continue the final (assistant) message instead of starting a
                new one (implies no generation prompt).
            tools: Tool definitions, passed to the template as ``tools``.
            chat_template_kwargs: Extra template variables (e.g. {"enable_thinking": False}).

        RequestOutput.prompt holds the rendered conversation.
        """
        check_bool("add_generation_prompt", add_generation_prompt)
        check_bool("continue_final_message", continue_final_message)
        if chat_template_content_format not in ("auto", "string", "openai"):
            raise ValueError("chat_template_content_format must be 'auto', 'string' or 'openai', got "
                             f"{chat_template_content_format!r}.")
        native = self._require_tokenizer()._native
        batched = isinstance(messages, (list, tuple)) and bool(messages) and \
            isinstance(messages[0], (list, tuple))
        conversations = messages if batched else [messages]
        source = resolve_chat_template(chat_template, native)
        parsed = []
        for conv in conversations:
            text = render_chat(source, conv, native, add_generation_prompt=add_generation_prompt,
                               continue_final_message=continue_final_message,
                               flatten_text_content=chat_template_content_format != "openai",
                               tools=tools, chat_template_kwargs=chat_template_kwargs)
            # The template writes the special tokens: they are tokens, not text.
            ids = native.encode(text, False, True)
            if not ids:
                raise ValueError("The rendered prompt is empty.")
            parsed.append(ParsedPrompt(text, ids))
        return self._run(parsed, self._params_for(sampling_params, len(parsed)), use_tqdm, None)

    def beam_search(self, prompts: Union[PromptType, Sequence[PromptType]], params: BeamSearchParams,
                    use_tqdm: bool = False) -> list[BeamSearchOutput]:
        """Beam search with ``params.beam_width`` beams per prompt; the beams come best first,
        their ``tokens`` and ``text`` including the prompt (as in vLLM)."""
        if not isinstance(params, BeamSearchParams):
            raise TypeError(f"params must be a BeamSearchParams, got {type(params).__name__}.")
        sp = params.to_sampling_params()
        sp.logprobs = 0
        outputs = self.generate(prompts, sp, use_tqdm)
        tok = self._require_tokenizer()
        results = []
        for out in outputs:
            beams = []
            for c in out.outputs:
                tokens = out.prompt_token_ids + c.token_ids
                beams.append(BeamSearchSequence(
                    tokens=tokens, logprobs=c.logprobs or [],
                    cum_logprob=c.cumulative_logprob if c.cumulative_logprob is not None else 0.0,
                    text=tok.decode(tokens), finish_reason=c.finish_reason, stop_reason=c.stop_reason))
            results.append(BeamSearchOutput(beams))
        return results

    # Accessors.

    def get_tokenizer(self) -> Tokenizer:
        """The model's tokenizer (encode, decode, apply_chat_template, special token ids)."""
        return self._require_tokenizer()

    def get_default_sampling_params(self) -> SamplingParams:
        return SamplingParams()

    def get_engine_stats(self) -> dict[str, Any]:
        """Counters of the engine: running/waiting requests, KV blocks, prefix cache, steps."""
        return self._engine.stats()

    @property
    def max_model_len(self) -> int:
        return self._engine.max_model_len

    @property
    def engine_config(self) -> dict[str, Any]:
        """The engine's options after loading (Python names)."""
        return self._engine.config

    @property
    def model_config(self) -> dict[str, Any]:
        return self._engine.model_config

    def shutdown(self) -> None:
        """Stops the engine thread now (also done when the LLM is garbage collected)."""
        self._engine.shutdown()

    # Internals.

    def _require_tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            raise ValueError("this model has no tokenizer: pass prompts as token ids")
        return self._tokenizer

    @staticmethod
    def _params_for(sampling_params: Any, count: int) -> list[SamplingParams]:
        if sampling_params is None:
            return [SamplingParams()] * count
        if isinstance(sampling_params, SamplingParams):
            return [sampling_params] * count
        if isinstance(sampling_params, (list, tuple)):
            if len(sampling_params) != count:
                raise ValueError(f"The lengths of prompts ({count}) and sampling_params "
                                 f"({len(sampling_params)}) must be the same.")
            for i, sp in enumerate(sampling_params):
                if not isinstance(sp, SamplingParams):
                    raise TypeError(f"sampling_params[{i}] must be a SamplingParams, got "
                                    f"{type(sp).__name__}.")
            return list(sampling_params)
        raise TypeError("sampling_params must be a SamplingParams or a list of them, got "
                        f"{type(sampling_params).__name__}.")

    def _run(self, prompts: list[ParsedPrompt], params: list[SamplingParams], use_tqdm: bool,
             priority: Optional[Sequence[int]]) -> list[RequestOutput]:
        check_bool("use_tqdm", use_tqdm)
        if priority is not None and len(priority) != len(prompts):
            raise ValueError(f"The lengths of prompts ({len(prompts)}) and priority "
                             f"({len(priority)}) must be the same.")
        # Tokenize and validate everything before the first request is submitted.
        requests = []
        for i, (p, sp) in enumerate(zip(prompts, params)):
            if p.token_ids is not None:
                ids = p.token_ids
            else:
                ids = self._require_tokenizer()._native.encode(p.text, True, False)
            if sp.truncate_prompt_tokens is not None:
                ids = ids[-sp.truncate_prompt_tokens:]
            if sp.max_tokens is None:
                native = sp._to_native(max_tokens=max(1, self.max_model_len - len(ids)))
            else:
                native = sp._to_native()
            prio = 0 if priority is None else check_int(f"priority[{i}]", priority[i])
            requests.append((p, sp, ids, native, prio))
        streams = []
        bar = ProgressBar(len(requests), enabled=use_tqdm)
        try:
            # One batch, so every request is in the engine before its first step runs.
            streams = self._engine.submit_batch(
                [(str(next(self._request_counter)), ids, native, prio, p.cache_salt or "")
                 for p, _, ids, native, prio in requests])
            results = []
            for (p, sp, _, _, _), stream in zip(requests, streams):
                final = None
                while final is None:
                    out = stream.next()
                    if out is None:
                        raise RuntimeError(f"request {stream.request_id} ended without a final output")
                    if out["finished"]:
                        final = out
                result = request_output_from_native(
                    final, request_id=stream.request_id, prompt=p.text,
                    want_logprobs=sp.logprobs is not None,
                    want_prompt_logprobs=sp.prompt_logprobs is not None)
                results.append(result)
                bar.update(1, output_tokens=sum(len(c.token_ids) for c in result.outputs))
            return results
        except BaseException:
            # Ctrl-C or an error: nothing may keep running for outputs nobody will read.
            for stream in streams:
                if not stream.done:
                    self._engine.abort(stream.request_id)
            raise
        finally:
            bar.close()
