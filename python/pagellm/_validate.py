"""Type checks with clear messages, shared by the public classes."""

from __future__ import annotations

import numbers
from typing import Any, Optional

INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def check_int(name: str, value: Any, *, optional: bool = False,
              lo: int = -INT32_MAX - 1, hi: int = INT32_MAX) -> Optional[int]:
    """Returns `value` as an int; TypeError for non-integers (bool and float included)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = "an integer or None" if optional else "an integer"
        raise TypeError(f"{name} must be {kind}, got {_describe(value)}.")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}.")
    return value


def check_float(name: str, value: Any) -> float:
    """Returns `value` as a float; TypeError for non-numbers (bool and str included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_describe(value)}.")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """Returns `value` if it is a bool; TypeError otherwise (no truthiness guessing)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}.")
    return value


def check_str(name: str, value: Any, *, optional: bool = False) -> Optional[str]:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        kind = "a string or None" if optional else "a string"
        raise TypeError(f"{name} must be {kind}, got {_describe(value)}.")
    return value


def check_token_ids(name: str, value: Any, vocab_size: Optional[int] = None) -> list[int]:
    """A list (or tuple) of token ids -> list[int]; TypeError naming the first bad entry,
    ValueError for ids outside [0, vocab_size) (or outside int32 without a vocab_size)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of token ids (integers), got {_describe(value)}.")
    out = []
    for i, t in enumerate(value):
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise TypeError(f"{name}[{i}] must be a token id (an integer), got {_describe(t)}.")
        t = int(t)
        bound = INT32_MAX + 1 if vocab_size is None else vocab_size
        if not 0 <= t < bound:
            raise ValueError(f"{name}[{i}]: token id {t} is outside the vocabulary [0, {bound}).")
        out.append(t)
    return out
