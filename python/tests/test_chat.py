"""LLM.chat and Tokenizer.apply_chat_template: rendering like the server (and, model-free, like
Hugging Face's Jinja2 environment), tokenization of the rendered specials, and errors."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from pagellm import LLM, SamplingParams, get_tokenizer
from testutil import REPO_ROOT, shared_file

COMPLETION_TEMPLATE = REPO_ROOT / "templates" / "completion.jinja"
GREEDY = SamplingParams(temperature=0, max_tokens=24)

CONVERSATION = [
    {"role": "user", "content": "Once upon a time"},
    {"role": "assistant", "content": "there was a little girl"},
]

# A template with explicit turn markers, to see what add_generation_prompt / continue_final_message do.
TURNS_TEMPLATE = ("{% for m in messages %}[{{ m.role }}]{{ m.content }}</s>{% endfor %}"
                  "{% if add_generation_prompt %}[assistant]{% endif %}")


def test_chat_renders_with_the_template_and_generates_like_generate(llm: LLM) -> None:
    [out] = llm.chat(CONVERSATION, GREEDY, use_tqdm=False, chat_template=str(COMPLETION_TEMPLATE))
    # completion.jinja: BOS, then the contents joined by newlines.
    assert out.prompt == "<s>Once upon a time\nthere was a little girl"
    tok = llm.get_tokenizer()
    assert out.prompt_token_ids[0] == tok.bos_token_id        # "<s>" became the BOS token
    assert out.prompt_token_ids.count(tok.bos_token_id) == 1  # and no second BOS was added
    assert tok.decode(out.prompt_token_ids) == "Once upon a time\nthere was a little girl"
    [same] = llm.generate({"prompt_token_ids": out.prompt_token_ids}, GREEDY, use_tqdm=False)
    assert out.outputs[0].token_ids == same.outputs[0].token_ids
    assert out.outputs[0].text == same.outputs[0].text and out.outputs[0].text


def test_chat_template_as_text_path_or_pathlike(llm: LLM) -> None:
    source = COMPLETION_TEMPLATE.read_text()
    prompts = {o.prompt for t in (source, str(COMPLETION_TEMPLATE), COMPLETION_TEMPLATE)
               for o in llm.chat(CONVERSATION, GREEDY, use_tqdm=False, chat_template=t)}
    assert len(prompts) == 1


def test_chat_batch_keeps_order(llm: LLM) -> None:
    convs = [[{"role": "user", "content": text}] for text in ("Lily", "Tom and", "The cat")]
    outs = llm.chat(convs, GREEDY, use_tqdm=False, chat_template=str(COMPLETION_TEMPLATE))
    assert [o.prompt for o in outs] == ["<s>Lily", "<s>Tom and", "<s>The cat"]


def test_generation_prompt_and_continue_final_message(llm: LLM) -> None:
    def prompt(**kwargs) -> str:
        return llm.chat(CONVERSATION, SamplingParams(max_tokens=1), use_tqdm=False,
                        chat_template=TURNS_TEMPLATE, **kwargs)[0].prompt

    both = "[user]Once upon a time</s>[assistant]there was a little girl</s>"
    assert prompt() == both + "[assistant]"
    assert prompt(add_generation_prompt=False) == both
    # The final message is continued: the prompt stops right after its content.
    assert prompt(continue_final_message=True) == both[:-len("</s>")]


def test_text_parts_are_flattened_like_the_server(llm: LLM) -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "Once upon"},
                                          {"type": "text", "text": "a time"}]}]
    [out] = llm.chat(parts, GREEDY, use_tqdm=False, chat_template=str(COMPLETION_TEMPLATE))
    assert out.prompt == "<s>Once upon\na time"
    [raw] = llm.chat(parts, GREEDY, use_tqdm=False, chat_template="{{ messages[0].content[1].text }}",
                     chat_template_content_format="openai")
    assert raw.prompt == "a time"


def test_tools_and_template_kwargs_reach_the_template(llm: LLM) -> None:
    template = "{{ tools | length }} tools; {{ tools[0].function.name }}; {{ mood }}; {{ messages[0].content }}"
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    [out] = llm.chat([{"role": "user", "content": "Hi"}], SamplingParams(max_tokens=1), use_tqdm=False,
                     chat_template=template, tools=tools, chat_template_kwargs={"mood": "sunny"})
    assert out.prompt == "1 tools; get_weather; sunny; Hi"


def test_chat_errors(llm: LLM) -> None:
    with pytest.raises(ValueError, match="no chat template"):
        llm.chat(CONVERSATION, GREEDY, use_tqdm=False)  # stories260K has none
    bad = [
        ([], "'messages' must be a non-empty list of messages."),
        (["hi"], "'messages[0]' must be an object."),
        ([{"content": "hi"}], "'messages[0].role' must be a string."),
        ([{"role": "user"}], "'messages[0].content' is required."),
        ([{"role": "user", "content": 3}], "'messages[0].content' must be a string or a list of content parts."),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
         "content part type 'image_url' is not supported by this text-only model."),
    ]
    for messages, message in bad:
        with pytest.raises(ValueError) as e:
            llm.chat(messages, GREEDY, use_tqdm=False, chat_template=str(COMPLETION_TEMPLATE))
        assert str(e.value) == message
    with pytest.raises(ValueError, match="does not parse"):
        llm.chat(CONVERSATION, GREEDY, use_tqdm=False, chat_template="{% for %}")
    with pytest.raises(ValueError, match="final message's content was not found"):
        llm.chat(CONVERSATION, GREEDY, use_tqdm=False, chat_template="{{ 'nothing' }}",
                 continue_final_message=True)
    with pytest.raises(ValueError, match="empty"):
        llm.chat(CONVERSATION, GREEDY, use_tqdm=False, chat_template="")
    with pytest.raises(ValueError, match="exception from the template"):
        llm.chat(CONVERSATION, GREEDY, use_tqdm=False,
                 chat_template="{{ raise_exception('exception from the template') }}")


# Model-free rendering: a tokenizer alone, checked against Hugging Face's own template
# environment (Jinja2 sandbox, trim_blocks, lstrip_blocks, tojson keeping key order and
# non-ASCII text, raise_exception, strftime_now).

def hf_render(template: str, messages: list, tokenizer_config: dict, add_generation_prompt: bool,
              tools=None, **extra) -> str:
    jinja2 = pytest.importorskip("jinja2", reason="python3-jinja2 is the reference renderer")
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    special = {k: tokenizer_config[k] for k in ("bos_token", "eos_token")
               if isinstance(tokenizer_config.get(k), str)}
    return env.from_string(template).render(messages=messages, tools=tools, documents=None,
                                            add_generation_prompt=add_generation_prompt,
                                            **special, **extra)


QWEN_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "ville"}},
                   "required": ["city"]}}}]
QWEN_CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Wetter in Zürich?"},
    {"role": "assistant", "content": "",
     "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
    {"role": "tool", "content": "{\"temp\": 21}"},
    {"role": "assistant", "content": "<think>\nok\n</think>\n\n21 °C."},
    {"role": "user", "content": "Danke!"},
]


@pytest.mark.parametrize("name,conversation,tools,extra", [
    ("llama3", CONVERSATION + [{"role": "user", "content": "  and then?  "}], None, {}),
    ("qwen3", QWEN_CONVERSATION, QWEN_TOOLS, {}),
    ("qwen3", QWEN_CONVERSATION[:2], None, {"enable_thinking": False}),
])
def test_tokenizer_renders_like_hugging_face(name: str, conversation: list, tools, extra: dict) -> None:
    folder = shared_file(f"tokenizers/{name}")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    tok = get_tokenizer(folder)
    assert tok.chat_template == config["chat_template"]
    for add_generation_prompt in (True, False):
        ours = tok.apply_chat_template(conversation, tools=tools, tokenize=False,
                                       add_generation_prompt=add_generation_prompt, **extra)
        assert ours == hf_render(config["chat_template"], conversation, config, add_generation_prompt,
                                 tools=tools, **extra)
    # tokenize=True: the specials the template wrote are single tokens; no BOS is added.
    text = tok.apply_chat_template(conversation, tools=tools, tokenize=False, add_generation_prompt=True, **extra)
    ids = tok.apply_chat_template(conversation, tools=tools, add_generation_prompt=True, **extra)
    assert tok.decode(ids, skip_special_tokens=False) == text
    marker = "<|start_header_id|>" if name == "llama3" else "<|im_start|>"
    marker_id = tok.convert_tokens_to_ids(marker)
    assert marker_id is not None and ids.count(marker_id) == text.count(marker)
    if name == "llama3":
        assert ids.count(tok.bos_token_id) == 1  # the template's BOS only


def test_tokenizer_batch_and_named_template_errors() -> None:
    tok = get_tokenizer(shared_file("tokenizers/llama3"))
    convs = [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]]
    texts = tok.apply_chat_template(convs, tokenize=False)
    assert len(texts) == 2 and texts[0].endswith("a<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    no_template = get_tokenizer(shared_file("tokenizers/mistral7b"))
    if no_template.chat_template is None:
        with pytest.raises(ValueError, match="no chat template"):
            no_template.apply_chat_template(convs[0])


# The server, when the CLI has it: the same conversation through /tokenize and
# /v1/chat/completions gives the same prompt ids and the same greedy text.

def _post(port: int, path: str, body: dict) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server(pagellm_binary: Path):
    model = shared_file("models/stories260K/hf")
    help_text = subprocess.run([str(pagellm_binary), "--help"], capture_output=True, text=True).stderr
    if "serve" not in help_text:
        pytest.skip(f"{pagellm_binary} has no serve command")
    proc = subprocess.Popen([str(pagellm_binary), "serve", "--model", str(model), "--port", "0",
                             "--max-model-len", "512", "--chat-template", str(COMPLETION_TEMPLATE)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            port = int(m.group(1)) if m else port
            if "ready" in line:
                break
        if port is None:
            pytest.skip("the server did not start")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("messages", [
    CONVERSATION,
    [{"role": "user", "content": [{"type": "text", "text": "Lily"}, {"type": "text", "text": "and Tom"}]}],
])
def test_chat_equals_the_server(llm: LLM, server: int, messages: list) -> None:
    [out] = llm.chat(messages, GREEDY, use_tqdm=False, chat_template=str(COMPLETION_TEMPLATE))
    tokens = _post(server, "/tokenize", {"messages": messages})["tokens"]
    assert tokens == out.prompt_token_ids
    reply = _post(server, "/v1/chat/completions", {"messages": messages, "temperature": 0,
                                                   "max_tokens": GREEDY.max_tokens})
    assert reply["choices"][0]["message"]["content"] == out.outputs[0].text
