"""Tokenizer: the engine's tokenizer with a Hugging Face-like surface (encode, decode,
apply_chat_template, special token ids)."""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Sequence, Union

from pagellm import _C
from pagellm._validate import check_bool, check_str, check_token_ids
from pagellm.chat_utils import render_chat, resolve_chat_template

__all__ = ["Tokenizer", "get_tokenizer"]


class Tokenizer:
    """Text <-> token ids for a model (``LLM.get_tokenizer()``) or files (``get_tokenizer``).

    Encoding never fails on text (ill-formed UTF-8 is replaced); decoding an id outside
    [0, vocab_size) raises ValueError.
    """

    def __init__(self, native: Any) -> None:
        self._native = native

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], vocab_size: Optional[int] = None) -> "Tokenizer":
        """Loads a folder holding tokenizer.json (+ tokenizer_config.json), a tokenizer.json,
        a GGUF file, or a llama2.c tokenizer .bin (then ``vocab_size`` is required)."""
        return cls(_C.Tokenizer.from_file(os.fspath(os.path.expanduser(path)), vocab_size))

    # Encoding and decoding.

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of ``text``; with add_special_tokens the model's BOS (and EOS if it adds
        one). Special tokens written in the text are plain text."""
        check_str("text", text)
        return self._native.encode(text, check_bool("add_special_tokens", add_special_tokens), False)

    def decode(self, token_ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """The text of ``token_ids`` (special tokens left out unless skip_special_tokens=False)."""
        ids = check_token_ids("token_ids", token_ids)
        return self._native.decode(ids, check_bool("skip_special_tokens", skip_special_tokens))

    def batch_decode(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        """``{"input_ids": encode(text)}`` like a Hugging Face tokenizer call."""
        return {"input_ids": self.encode(text, add_special_tokens)}

    def convert_ids_to_tokens(self, ids: Union[int, Sequence[int]]) -> Union[str, list[str]]:
        """Vocabulary pieces ("▁the", "<0x0A>", "<s>")."""
        if isinstance(ids, int):
            return self._native.token_piece(ids)
        return [self._native.token_piece(i) for i in check_token_ids("ids", ids)]

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]) -> Union[Optional[int], list[Optional[int]]]:
        """Ids of vocabulary pieces (None for unknown pieces)."""
        if isinstance(tokens, str):
            return self._native.token_to_id(tokens)
        return [self._native.token_to_id(check_str("token", t)) for t in tokens]

    # Special tokens and sizes.

    @property
    def vocab_size(self) -> int:
        return self._native.vocab_size

    def __len__(self) -> int:
        return self._native.vocab_size

    @property
    def bos_token_id(self) -> Optional[int]:
        return self._native.bos_id

    @property
    def eos_token_id(self) -> Optional[int]:
        return self._native.eos_id

    @property
    def eos_token_ids(self) -> list[int]:
        """Every id that ends generation (EOS first, then end-of-turn tokens)."""
        return self._native.eos_ids

    @property
    def pad_token_id(self) -> Optional[int]:
        return self._native.pad_id

    @property
    def unk_token_id(self) -> Optional[int]:
        return self._native.unk_id

    @property
    def bos_token(self) -> Optional[str]:
        return self._native.bos_token

    @property
    def eos_token(self) -> Optional[str]:
        return self._native.eos_token

    @property
    def chat_template(self) -> Optional[str]:
        """The default chat template (None if the tokenizer has none)."""
        return self._native.chat_template

    @property
    def chat_templates(self) -> dict[str, str]:
        """Every named template (tokenizer_config.json list form, GGUF named templates)."""
        return self._native.chat_templates

    def apply_chat_template(self, conversation: Any, tools: Optional[list] = None,
                            chat_template: Union[str, os.PathLike, None] = None,
                            add_generation_prompt: bool = False,
                            continue_final_message: bool = False, tokenize: bool = True,
                            chat_template_kwargs: Optional[Mapping[str, Any]] = None,
                            **kwargs: Any) -> Union[str, list[int], list[str], list[list[int]]]:
        """Renders a conversation (or a list of them) like Hugging Face's apply_chat_template.

        Message contents are passed to the template as given (HF; LLM.chat flattens text parts
        like vLLM). Extra keyword arguments become template variables. With tokenize=True the
        prompt's token ids are returned (special tokens in the text are parsed, no BOS added:
        the template writes it), else the text.
        """
        check_bool("add_generation_prompt", add_generation_prompt)
        check_bool("continue_final_message", continue_final_message)
        check_bool("tokenize", tokenize)
        batched = isinstance(conversation, Sequence) and bool(conversation) and \
            isinstance(conversation[0], Sequence) and not isinstance(conversation[0], (str, Mapping))
        conversations = conversation if batched else [conversation]
        source = resolve_chat_template(chat_template, self._native)
        extra = dict(chat_template_kwargs or {})
        extra.update(kwargs)
        results: list[Any] = []
        for conv in conversations:
            text = render_chat(source, conv, self._native, add_generation_prompt=add_generation_prompt,
                               continue_final_message=continue_final_message,
                               flatten_text_content=False, tools=tools, chat_template_kwargs=extra)
            results.append(self._native.encode(text, False, True) if tokenize else text)
        return results if batched else results[0]

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, bos={self.bos_token!r}, eos={self.eos_token!r})"


def get_tokenizer(path: Union[str, os.PathLike], vocab_size: Optional[int] = None) -> Tokenizer:
    """Loads a tokenizer without a model (see Tokenizer.from_file)."""
    return Tokenizer.from_file(path, vocab_size)
