"""Chat rendering shared by LLM.chat and Tokenizer.apply_chat_template.

Rendering is the engine's own Jinja interpreter (C++), driven exactly like the OpenAI server's
/v1/chat/completions: text parts flattened ("string" content format), the tokenizer's BOS/EOS
strings as ``bos_token`` / ``eos_token``, ``tools`` and ``chat_template_kwargs`` as template
variables, and for ``continue_final_message`` the prompt cut right after the final message.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Mapping, Optional, Sequence, Union

from pagellm import _C

__all__ = ["ChatMessage", "Conversation", "resolve_chat_template", "validate_messages",
           "render_chat"]

ChatMessage = Mapping[str, Any]
Conversation = Sequence[ChatMessage]

_MAX_TEMPLATE_BYTES = 1 << 20


def resolve_chat_template(chat_template: Union[str, os.PathLike, None],
                          tokenizer: Optional[Any]) -> str:
    """The template source to use.

    ``chat_template`` may be None (the tokenizer's default template), the name of one of the
    tokenizer's named templates (e.g. "tool_use"), a path to a Jinja file, or the template text.
    ``tokenizer`` is a ``_C.Tokenizer`` or None.
    """
    if chat_template is None:
        source = tokenizer.chat_template if tokenizer is not None else None
        if not source:
            raise ValueError(
                "This model has no chat template, so a conversation cannot be formatted; pass "
                "chat_template= (a Jinja template or a path to one, e.g. templates/completion.jinja "
                "for base models) or use LLM.generate.")
        return source
    if isinstance(chat_template, os.PathLike):
        return _read_template(os.fspath(chat_template))
    if not isinstance(chat_template, str):
        raise TypeError(f"chat_template must be a string or a path, got {type(chat_template).__name__}.")
    if tokenizer is not None and chat_template in tokenizer.chat_templates:
        return tokenizer.chat_templates[chat_template]
    if "{" not in chat_template and "\n" not in chat_template and os.path.isfile(chat_template):
        return _read_template(chat_template)
    return chat_template


def _read_template(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read(_MAX_TEMPLATE_BYTES + 1)
    if len(data) > _MAX_TEMPLATE_BYTES:
        raise ValueError(f"chat template {path} is larger than {_MAX_TEMPLATE_BYTES} bytes.")
    return data.decode("utf-8")


@functools.lru_cache(maxsize=16)
def _parsed(source: str) -> Any:
    return _C.ChatTemplate(source)


def validate_messages(messages: Any) -> list[dict]:
    """Checks a conversation like the server does (same wording); returns it as a list of dicts."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise ValueError("'messages' must be a non-empty list of messages.")
    out = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, Mapping):
            raise ValueError(f"'{where}' must be an object.")
        if not isinstance(m.get("role"), str):
            raise ValueError(f"'{where}.role' must be a string.")
        content = m.get("content")
        if content is None:
            if m["role"] != "assistant":  # assistant messages with tool calls may have none
                raise ValueError(f"'{where}.content' is required.")
        elif not isinstance(content, str):
            if isinstance(content, (bytes, Mapping)) or not isinstance(content, Sequence):
                raise ValueError(f"'{where}.content' must be a string or a list of content parts.")
            for part in content:
                if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                    raise ValueError(f"'{where}.content' parts must be objects with a 'type'.")
                if part["type"] != "text":
                    raise ValueError(f"content part type '{part['type']}' is not supported by this "
                                     "text-only model.")
                if not isinstance(part.get("text"), str):
                    raise ValueError(f"'{where}.content' text parts need a string 'text'.")
        out.append(dict(m))
    return out


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be JSON-serializable: {e}") from None


def render_chat(source: str, messages: Any, tokenizer: Optional[Any], *,
                add_generation_prompt: bool, continue_final_message: bool = False,
                flatten_text_content: bool = True, tools: Optional[list] = None,
                chat_template_kwargs: Optional[Mapping[str, Any]] = None,
                validate: bool = True) -> str:
    """Renders one conversation to prompt text (``tokenizer``: a ``_C.Tokenizer`` or None)."""
    if validate:
        messages = validate_messages(messages)
    if tools is not None and (isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence)):
        raise ValueError("'tools' must be a list.")
    if chat_template_kwargs is not None and not isinstance(chat_template_kwargs, Mapping):
        raise ValueError("'chat_template_kwargs' must be an object.")
    return _parsed(source).render_chat(
        _json(messages, "messages"), tokenizer,
        add_generation_prompt=add_generation_prompt,
        continue_final_message=continue_final_message,
        flatten_text_content=flatten_text_content,
        tools_json=_json(list(tools) if tools is not None else None, "tools"),
        chat_template_kwargs_json=_json(dict(chat_template_kwargs or {}), "chat_template_kwargs"))
