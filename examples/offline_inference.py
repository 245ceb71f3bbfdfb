#!/usr/bin/env python3
"""Offline batched inference with pagellm's vLLM-shaped API.

    python3 examples/offline_inference.py [--model PATH]

The model defaults to $PAGELLM_MODEL, else the stories260K test model in ../shared.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pagellm import LLM, SamplingParams

DEFAULT_MODEL = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "stories260K" / "hf"

PROMPTS = [
    "Once upon a time",
    "Lily wanted to",
    "The little dog",
    "One day, Tom",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("PAGELLM_MODEL") or str(DEFAULT_MODEL),
                        help="HF folder, .gguf file or llama2.c .bin (default: $PAGELLM_MODEL or "
                             "../shared stories260K)")
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()

    # Sampling as in vLLM's basic example; a seed makes the run reproducible.
    sampling_params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, seed=0)
    llm = LLM(model=args.model)
    outputs = llm.generate(PROMPTS, sampling_params)

    print("-" * 60)
    for output in outputs:
        prompt = output.prompt
        generated_text = output.outputs[0].text
        print(f"Prompt:    {prompt!r}\nGenerated text: {generated_text!r}")
        print("-" * 60)


if __name__ == "__main__":
    main()
