#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets from the shared test data (../shared).

    fuzz/make_seeds.py SHARED_DIR OUT_DIR
    fuzz/make_seeds.py --synthetic OUT_DIR     (only the made-up inputs; fuzz/corpus holds them)

Real files are far larger than a useful fuzz input, so they are cut down while staying valid:
GGUF vocabularies keep their first tokens (and only the merges among them) and tensors shrink to
a few elements; safetensors tensors shrink the same way; tokenizer.json vocabularies keep their
first ids. Writes OUT_DIR/<target>/<name> files; missing shared files are skipped.
"""
import json
import os
import struct
import sys

KEEP_TOKENS = 600  # vocabulary entries kept in GGUF / tokenizer.json seeds
SMALL_DIM = 4      # tensor dimensions are cut to this


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def filler(n):
    """Deterministic non-zero bytes."""
    return bytes((i * 131 + 7) & 0xFF for i in range(n))


# ---- GGUF ----
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
          11: "<q", 12: "<d"}


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            return (et, [self.value(et) for _ in range(n)])
        return self.take(SCALAR[t])


def gguf_parse(b):
    r = Reader(b)
    assert b[:4] == b"GGUF"
    r.p = 4
    version, n_t, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    kv = []
    for _ in range(n_kv):
        k = r.string()
        t = r.take("<I")
        kv.append((k, t, r.value(t)))
    tensors = []
    for _ in range(n_t):
        name = r.string()
        nd = r.take("<I")
        ne = [r.take("<Q") for _ in range(nd)]
        gt = r.take("<I")
        r.take("<Q")
        tensors.append((name, ne, gt))
    return version, kv, tensors


def gguf_value_bytes(t, v):
    if t == 8:
        return struct.pack("<Q", len(v)) + v
    if t == 9:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gguf_value_bytes(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def gguf_write(version, kv, tensors, align=32):
    out = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv)))
    for k, t, v in kv:
        out += struct.pack("<Q", len(k)) + k + struct.pack("<I", t) + gguf_value_bytes(t, v)
    offset, datas = 0, []
    for name, ne, gt in tensors:
        n = 1
        for d in ne:
            n *= d
        nbytes = n * (2 if gt == 1 else 4)
        out += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", d) for d in ne) + struct.pack("<IQ", gt, offset)
        datas.append(filler(nbytes))
        offset += (nbytes + align - 1) // align * align
    out += b"\0" * (-len(out) % align)
    for d in datas:
        out += d + b"\0" * (-len(d) % align)
    return bytes(out)


def shrink_gguf(b, keep):
    version, kv, tensors = gguf_parse(b)
    tokens = next((v[1] for k, t, v in kv if k == b"tokenizer.ggml.tokens"), None)
    kept = set(tokens[:keep]) if tokens else set()
    new_kv = []
    for k, t, v in kv:
        if t == 9:
            et, items = v
            if k == b"tokenizer.ggml.merges":
                items = [m for m in items
                         if len(m.split(b" ", 1)) == 2 and m.split(b" ", 1)[0] in kept
                         and m.split(b" ", 1)[1] in kept and m.replace(b" ", b"", 1) in kept]
            else:
                items = items[:keep]
            v = (et, items)
        elif k.startswith(b"tokenizer.ggml.") and k.endswith(b"_token_id") and v >= keep:
            continue
        new_kv.append((k, t, v))
    new_tensors = [(n, [min(d, SMALL_DIM) for d in ne], gt if gt in (0, 1) else 0)
                   for n, ne, gt in tensors[:12]]
    return gguf_write(version, new_kv, new_tensors)


# ---- safetensors ----
def shrink_safetensors(b, dtype=None):
    (n,) = struct.unpack_from("<Q", b)
    header = json.loads(b[8:8 + n])
    out_header, data, offset = {}, bytearray(), 0
    for name, info in header.items():
        if name == "__metadata__":
            out_header[name] = info
            continue
        dt = dtype or info["dtype"]
        shape = [min(d, SMALL_DIM) for d in info["shape"]]
        count = 1
        for d in shape:
            count *= d
        nbytes = count * {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1}.get(dt, 4)
        out_header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        data += filler(nbytes)
        offset += nbytes
        if len(out_header) >= 12:
            break
    h = json.dumps(out_header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + bytes(data)


# ---- tokenizer.json ----
def shrink_tokenizer_json(text, keep):
    d = json.loads(text)
    model = d.get("model", {})
    vocab = model.get("vocab")
    if isinstance(vocab, dict):
        model["vocab"] = {k: v for k, v in vocab.items() if v < keep}
        kept = set(model["vocab"])
        merges = []
        for m in model.get("merges", []):
            a, b = m.split(" ", 1) if isinstance(m, str) else m
            if a in kept and b in kept and a + b in kept:
                merges.append(m)
        model["merges"] = merges
    d["added_tokens"] = d.get("added_tokens", [])[:8]
    return json.dumps(d, ensure_ascii=False)


def synthetic(out):
    """Small made-up inputs (no third-party data): committed under fuzz/corpus/."""
    # GGUF "llama" (SentencePiece) vocabulary: specials, byte fallback, a few pieces.
    pieces = [b"<unk>", b"<s>", b"</s>"] + [b"<0x%02X>" % i for i in range(256)]
    words = [b"\xe2\x96\x81", b"a", b"b", b"ab", b"\xe2\x96\x81a", b"\xe2\x96\x81ab", b"\xe2\x96\x81the", b"t",
             b"h", b"e", b"th", b"the", b"\xe2\x96\x81t"]
    tokens = pieces + words
    types = [2, 3, 3] + [6] * 256 + [1] * len(words)
    scores = [0.0] * len(pieces) + [-float(i) for i in range(len(words))]
    kv = [(b"general.architecture", 8, b"llama"), (b"tokenizer.ggml.model", 8, b"llama"),
          (b"tokenizer.ggml.tokens", 9, (8, tokens)), (b"tokenizer.ggml.scores", 9, (6, scores)),
          (b"tokenizer.ggml.token_type", 9, (5, types)), (b"tokenizer.ggml.bos_token_id", 4, 1),
          (b"tokenizer.ggml.eos_token_id", 4, 2), (b"tokenizer.ggml.unknown_token_id", 4, 0),
          (b"tokenizer.ggml.add_bos_token", 7, True), (b"general.alignment", 4, 32)]
    write(out, "gguf", "synthetic-llama", gguf_write(3, kv, [(b"token_embd.weight", [4, len(tokens)], 0),
                                                             (b"output_norm.weight", [4], 1)]))
    # GGUF "gpt2" (byte-level BPE) vocabulary with merges.
    byte_chars = [chr(c) for c in range(33, 127)] + [chr(c) for c in range(161, 173)] + \
        [chr(c) for c in range(174, 256)]
    extra = [chr(256 + i) for i in range(256 - len(byte_chars))]
    tokens = [c.encode() for c in byte_chars + extra] + \
        ["\u0120t".encode(), b"he", "\u0120the".encode(), b"<|endoftext|>"]
    merges = ["\u0120 t".encode(), b"h e", "\u0120t he".encode()]
    kv = [(b"general.architecture", 8, b"gpt2"), (b"tokenizer.ggml.model", 8, b"gpt2"),
          (b"tokenizer.ggml.pre", 8, b"gpt-2"), (b"tokenizer.ggml.tokens", 9, (8, tokens)),
          (b"tokenizer.ggml.token_type", 9, (5, [1] * (len(tokens) - 1) + [3])),
          (b"tokenizer.ggml.merges", 9, (8, merges)),
          (b"tokenizer.ggml.eos_token_id", 4, len(tokens) - 1)]
    write(out, "gguf", "synthetic-gpt2", gguf_write(3, kv, []))
    # safetensors: every dtype family, a scalar, metadata.
    header = {"__metadata__": {"format": "pt"},
              "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
              "c": {"dtype": "F16", "shape": [], "data_offsets": [32, 34]},
              "d": {"dtype": "I64", "shape": [1, 0], "data_offsets": [34, 34]},
              "e": {"dtype": "U8", "shape": [3], "data_offsets": [34, 37]}}
    h = json.dumps(header).encode()
    write(out, "safetensors", "synthetic", struct.pack("<Q", len(h)) + h + filler(37))
    # tokenizer.json: SentencePiece-style BPE with byte fallback (+ a config).
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for i in range(256):
        vocab["<0x%02X>" % i] = 3 + i
    for w in ["\u2581", "a", "b", "ab", "\u2581a", "\u2581ab"]:
        vocab[w] = len(vocab)
    tj = {"version": "1.0", "added_tokens": [
              {"id": 1, "content": "<s>", "special": True, "lstrip": False, "rstrip": False,
               "single_word": False, "normalized": False}],
          "normalizer": {"type": "Sequence", "normalizers": [
              {"type": "Prepend", "prepend": "\u2581"},
              {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
          "pre_tokenizer": None,
          "post_processor": {"type": "TemplateProcessing", "single": [
              {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
              "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
              "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
          "decoder": {"type": "Sequence", "decoders": [
              {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
              {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ",
                                                            "start": 1, "stop": 0}]},
          "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "byte_fallback": True,
                    "fuse_unk": True, "vocab": vocab, "merges": ["a b", "\u2581 a", "\u2581a b"]}}
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True,
           "chat_template": "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"}
    body = json.dumps(tj, ensure_ascii=False).encode()
    write(out, "tokenizer_json", "synthetic-spm", body)
    write(out, "tokenizer_json", "synthetic-spm+config", body + b"\0" + json.dumps(cfg).encode())
    # tokenizer_codec: each tokenizer in each mode.
    for tok in range(7):
        write(out, "tokenizer_codec", f"synthetic-{tok}-text",
              bytes([tok]) + "Hello world! héllo 日本語 🙂 <s> <|eot_id|>\n\t 123".encode())
        write(out, "tokenizer_codec", f"synthetic-{tok}-ids",
              bytes([tok | 2 << 3]) + bytes(range(1, 61)))
        write(out, "tokenizer_codec", f"synthetic-{tok}-stream",
              bytes([tok | 3 << 3 | 1 << 5]) + bytes(range(200, 248)))
    # jinja: statements, filters, macros, loops, namespaces.
    write(out, "jinja", "synthetic-features", """{%- set ns = namespace(n=0) -%}
{%- macro show(m, i) -%}[{{ i }}:{{ m.role|upper }}] {{ m.content if m.content is string else m.content|map(attribute='text')|join(' ') }}{%- endmacro -%}
{{ bos_token }}{% for m in messages if m.role != 'tool' %}{% set ns.n = ns.n + 1 %}{{ show(m, loop.index) }}
{% if m.tool_calls %}{{ m.tool_calls|tojson(indent=2) }}{% endif %}{% endfor %}
{%- if tools %}{{ tools|map(attribute='function.name')|list|tojson }}{% endif %}
{{ ns.n }} {{ "%s-%d"|format("x", 3) }} {{ (nested.k|length) // 2 }} {{ s.split(',')|reverse|join('+') }} {{ x|abs|round(1) }} {{ range(3)|sum }}
{% raw %}{{ raw }}{% endraw %}{{ raise_exception('stop') if n > 100 else strftime_now('%Y-%m-%d') }}
{%- if add_generation_prompt %}<|assistant|>{% endif %}""")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def main():
    if sys.argv[1] == "--synthetic":
        synthetic(sys.argv[2])
        return
    shared, out = sys.argv[1], sys.argv[2]
    synthetic(out)
    here = os.path.dirname(os.path.abspath(__file__))
    vocab_dir = os.path.join(shared, "tokenizers", "llama.cpp-vocab")
    ggufs = sorted(f for f in os.listdir(vocab_dir) if f.endswith(".gguf")) if os.path.isdir(vocab_dir) else []

    # gguf
    for f in ggufs:
        b = read(os.path.join(vocab_dir, f))
        write(out, "gguf", f, shrink_gguf(b, KEEP_TOKENS))
    model_gguf = read(os.path.join(shared, "models/stories260K/gguf/stories260K.gguf"))
    if model_gguf:
        write(out, "gguf", "stories260K.gguf", shrink_gguf(model_gguf, 512))

    # safetensors
    st = read(os.path.join(shared, "models/stories260K/hf/model.safetensors"))
    if st:
        write(out, "safetensors", "stories260K-f32", shrink_safetensors(st))
        write(out, "safetensors", "stories260K-bf16", shrink_safetensors(st, "BF16"))
        write(out, "safetensors", "stories260K-f16", shrink_safetensors(st, "F16"))

    # tokenizer_json: tokenizer.json + '\0' + tokenizer_config.json
    for sub, keep in [("models/stories260K/hf", 1 << 30), ("tokenizers/llama3", KEEP_TOKENS),
                      ("tokenizers/mistral7b", KEEP_TOKENS), ("tokenizers/qwen3", KEEP_TOKENS)]:
        tj = read(os.path.join(shared, sub, "tokenizer.json"))
        if tj is None:
            continue
        small = shrink_tokenizer_json(tj, keep).encode()
        name = sub.replace("/", "_")
        write(out, "tokenizer_json", name, small)
        cfg = read(os.path.join(shared, sub, "tokenizer_config.json"))
        if cfg is not None:
            c = json.loads(cfg)
            c.pop("added_tokens_decoder", None)
            write(out, "tokenizer_json", name + "+config", small + b"\0" + json.dumps(c).encode())

    # tokenizer_codec: byte 0 = tokenizer (bits 0-2), mode (bits 3-4), flags (bits 5-6)
    texts = []
    for f in sorted(os.listdir(vocab_dir)) if os.path.isdir(vocab_dir) else []:
        if f.endswith(".inp") and not texts:
            raw = read(os.path.join(vocab_dir, f)).decode("utf-8", "replace")
            texts = [t for t in raw.split("\n__ggml_vocab_test__\n") if t][:24]
    ids = []
    out_file = read(os.path.join(vocab_dir, "ggml-vocab-llama-spm.gguf.out")) if ggufs else None
    if out_file:
        ids = [[int(x) for x in line.split()] for line in out_file.decode().splitlines() if line.strip()][:20]
    for tok in range(7):
        for i, t in enumerate(texts):
            sel = tok | ((i % 2) << 3) | ((i % 4 // 2) << 5) | ((i % 8 // 4) << 6)
            write(out, "tokenizer_codec", f"text-{tok}-{i}", bytes([sel]) + t.encode())
        for i, seq in enumerate(ids):
            sel = tok | ((2 + i % 2) << 3) | ((i % 4 // 2) << 5)
            write(out, "tokenizer_codec", f"ids-{tok}-{i}",
                  bytes([sel]) + b"".join(struct.pack("<I", x)[:3] for x in seq))

    # jinja: chat templates from the shared tokenizer configs and the jinja test data
    for sub in ["tokenizers/llama3", "tokenizers/qwen3", "tokenizers/mistral7b", "models/stories260K/hf"]:
        cfg = read(os.path.join(shared, sub, "tokenizer_config.json"))
        if cfg:
            tmpl = json.loads(cfg).get("chat_template")
            if isinstance(tmpl, str):
                write(out, "jinja", sub.replace("/", "_"), tmpl)
    tdir = os.path.join(here, "..", "src", "jinja", "testdata", "templates")
    if os.path.isdir(tdir):
        for f in sorted(os.listdir(tdir)):
            write(out, "jinja", f, read(os.path.join(tdir, f)))


if __name__ == "__main__":
    main()
