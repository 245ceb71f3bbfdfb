#!/usr/bin/env python3
"""A chat with pagellm's LLM.chat, rendered with the model's chat template like the server.

    python3 examples/chat.py [--model PATH] [--chat-template FILE]

The model defaults to $PAGELLM_MODEL, else the stories260K test model in ../shared. Base models
without a chat template (stories260K) use templates/completion.jinja, which lays the
conversation out as plain text for the model to continue.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pagellm import LLM, SamplingParams

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO_ROOT.parent / "shared" / "models" / "stories260K" / "hf"
COMPLETION_TEMPLATE = REPO_ROOT / "templates" / "completion.jinja"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("PAGELLM_MODEL") or str(DEFAULT_MODEL))
    parser.add_argument("--chat-template", default=None,
                        help="Jinja template file (default: the model's, else templates/completion.jinja)")
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()

    llm = LLM(model=args.model)
    chat_template = args.chat_template
    if chat_template is None and llm.get_tokenizer().chat_template is None:
        chat_template = str(COMPLETION_TEMPLATE)
    sampling_params = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=args.max_tokens, seed=1)

    conversation = [{"role": "user", "content": "Once upon a time, there was a cat named Tom."}]
    for follow_up in ["One day, Tom found a big red ball.", "Then"]:
        [output] = llm.chat(conversation, sampling_params, use_tqdm=False, chat_template=chat_template)
        reply = output.outputs[0].text
        print(f"User:      {conversation[-1]['content']}")
        print(f"Assistant: {reply.strip()}")
        conversation.append({"role": "assistant", "content": reply})
        conversation.append({"role": "user", "content": follow_up})

    # A batch of conversations in one call.
    conversations = [[{"role": "user", "content": text}] for text in ("Lily liked", "The sun was")]
    for output in llm.chat(conversations, sampling_params, chat_template=chat_template):
        print(f"Prompt: {output.prompt!r} -> {output.outputs[0].text!r}")


if __name__ == "__main__":
    main()
