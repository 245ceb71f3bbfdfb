"""Prompt forms accepted by LLM.generate (vLLM's PromptType): text, token ids, or dicts."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Optional, Sequence, TypedDict, Union

from pagellm._validate import check_str, check_token_ids

__all__ = ["TextPrompt", "TokensPrompt", "PromptType", "ParsedPrompt", "parse_prompts"]


class _TextPromptBase(TypedDict):
    prompt: str


class TextPrompt(_TextPromptBase, total=False):
    """``{"prompt": "Once upon a time"}``, optionally with a prefix-cache ``cache_salt``."""

    cache_salt: str


class _TokensPromptBase(TypedDict):
    prompt_token_ids: list[int]


class TokensPrompt(_TokensPromptBase, total=False):
    """``{"prompt_token_ids": [1, 403, 407]}``; ``prompt`` (text for display) is optional."""

    prompt: str
    cache_salt: str


PromptType = Union[str, TextPrompt, TokensPrompt, Sequence[int]]

_PROMPT_KEYS = {"prompt", "prompt_token_ids", "cache_salt"}


@dataclass
class ParsedPrompt:
    text: Optional[str]                   # shown as RequestOutput.prompt
    token_ids: Optional[list[int]]        # None: tokenize `text`
    cache_salt: Optional[str] = None


def _is_token_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in value)


def _parse_one(p: Any, where: str) -> ParsedPrompt:
    if isinstance(p, str):
        return ParsedPrompt(p, None)
    if isinstance(p, dict):
        unknown = set(p) - _PROMPT_KEYS
        if unknown:
            raise ValueError(f"{where} has unsupported key(s) {sorted(unknown)}; a prompt dict holds "
                             "'prompt' or 'prompt_token_ids' (and optionally 'cache_salt').")
        salt = check_str(f"{where}['cache_salt']", p.get("cache_salt"), optional=True)
        text = check_str(f"{where}['prompt']", p.get("prompt"), optional=True)
        if "prompt_token_ids" in p:
            return ParsedPrompt(text, check_token_ids(f"{where}['prompt_token_ids']", p["prompt_token_ids"]), salt)
        if text is None:
            raise ValueError(f"{where} needs 'prompt' or 'prompt_token_ids'.")
        return ParsedPrompt(text, None, salt)
    if isinstance(p, (list, tuple)):
        return ParsedPrompt(None, check_token_ids(where, p))
    raise TypeError(f"{where} must be a string, a list of token ids or a prompt dict, got "
                    f"{type(p).__name__}.")


def parse_prompts(prompts: Any) -> list[ParsedPrompt]:
    """One prompt or a list of them -> ParsedPrompts, in order.

    A flat list of ints is ONE tokenized prompt (as in vLLM); a list of such lists is a batch.
    """
    if isinstance(prompts, (str, dict)):
        return [_parse_one(prompts, "prompt")]
    if isinstance(prompts, (list, tuple)):
        if prompts and _is_token_list(prompts):
            return [_parse_one(list(prompts), "prompt")]
        return [_parse_one(p, f"prompts[{i}]") for i, p in enumerate(prompts)]
    raise TypeError("prompts must be a string, a prompt dict, a list of token ids, or a list of "
                    f"those, got {type(prompts).__name__}.")
