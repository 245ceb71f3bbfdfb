#!/usr/bin/env python3
# Reference renderer for the differential tests: renders Jinja chat templates the way Hugging Face
# transformers does (chat_template_utils._compile_jinja_template) so pagellm can compare output.
#
# Environment: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
# loopcontrols extension, a {% generation %} tag that renders its body (HF's AssistantTracker
# without the index bookkeeping), HF's tojson filter (json.dumps, ensure_ascii=False, no HTML
# escaping) and the raise_exception / strftime_now globals.
#
# Usage:
#   hf_render.py --version                 prints the jinja2 version
#   hf_render.py TEMPLATE_FILE CONTEXT_JSON   renders once; output on stdout, exit 1 + message on error
#   hf_render.py --batch                   reads JSON lines {"template", "context", "now"?} on stdin,
#                                          writes JSON lines {"ok": true, "output"} or
#                                          {"ok": false, "error"} on stdout, one per input line.
# "now" (seconds since the epoch, local time zone) makes strftime_now deterministic.
import json
import sys
from datetime import datetime

import jinja2
import jinja2.exceptions
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(jinja2.ext.Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(
            self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_env(now_holder):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        now = now_holder[0]
        dt = datetime.now() if now is None else datetime.fromtimestamp(now)
        return dt.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, now_holder, template, context, now=None):
    now_holder[0] = now
    return env.from_string(template).render(**context)


def main():
    now_holder = [None]
    env = make_env(now_holder)
    if len(sys.argv) == 2 and sys.argv[1] == "--version":
        print(jinja2.__version__)
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "--batch":
        out = sys.stdout
        for line in sys.stdin:
            if not line.strip():
                continue
            case = json.loads(line)
            try:
                result = {"ok": True, "output": render(env, now_holder, case["template"],
                                                       case.get("context", {}), case.get("now"))}
            except Exception as e:  # noqa: BLE001 - every failure is a result to compare
                result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            out.write(json.dumps(result) + "\n")
            out.flush()
        return 0
    if len(sys.argv) == 3:
        with open(sys.argv[1], encoding="utf-8", newline="") as f:
            template = f.read()
        with open(sys.argv[2], encoding="utf-8") as f:
            context = json.load(f)
        try:
            sys.stdout.write(render(env, now_holder, template, context))
        except Exception as e:  # noqa: BLE001
            sys.stderr.write(f"{type(e).__name__}: {e}\n")
            return 1
        return 0
    sys.stderr.write(__doc__ if __doc__ else "usage: hf_render.py --batch | TEMPLATE CONTEXT\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
