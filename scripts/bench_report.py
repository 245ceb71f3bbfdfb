#!/usr/bin/env python3
"""Regenerates docs/benchmarks.md: pagellm against llama.cpp on the same GGUF files, side by side.

    python3 scripts/bench_report.py --llama-cpp /tmp/llama.cpp/build/bin [--threads 2] [--quick]

For every row of the table (a model shape and a weight type) it writes a random-weight GGUF with
`pagellm make-model` (once; --models-dir keeps them), then runs, back to back so both see the same
machine state:
  - llama-bench -p 512 -n 128 (prefill pp512 and batch-1 decode tg128 tokens/s) and
    `pagellm bench latency --input-len 512 --output-len 128`;
  - llama-batched-bench -npp 128 -ntg 128 -npl 32 (S = all tokens / all time) and
    `pagellm bench throughput --num-prompts 32 --input-len 128 --output-len 128 --concurrency 32`.
The memory-read bandwidth (kernels_bench ReadBaseline, 2 threads) is measured before and after;
the decode roofline of a row is bandwidth / bytes of weights read per token (every tensor but the
token embedding table, of which a decode step reads one row; a tied output head reads it whole).
Only ratios measured in the same run are meaningful: these machines are shared and noisy.

llama.cpp is not part of this repository: build it yourself (e.g. under /tmp) and pass its bin/.
"""

import argparse
import datetime
import json
import os
import platform
import re
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (preset, weight type) rows of the table.
ROWS = [
    ("qwen2.5-0.5b", "bf16"),
    ("qwen2.5-0.5b", "q4_0"),
    ("qwen2.5-0.5b", "q4_k_m"),  # Q4_K_M with Q5_0 / Q8_0 for rows of 896 (not whole 256-blocks)
    ("tinyllama-1.1b", "bf16"),
    ("tinyllama-1.1b", "q8_0"),
    ("tinyllama-1.1b", "q4_0"),
    ("tinyllama-1.1b", "q4_k_m"),  # llama.cpp's Q4_K_M recipe (make-model's simplified copy)
    ("tinyllama-1.1b", "q5_k_m"),  # llama.cpp's Q5_K_M recipe (likewise)
]

# ggml type id -> (values per block, bytes per block); only what make-model writes.
GGML_TYPES = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 20: (32, 18),
              10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210)}


def log(msg):
    print(f"[bench-report] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log(" ".join(cmd))
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-4000:] + res.stderr[-4000:])
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}")
    return res


def gguf_tensor_bytes(path):
    """{tensor name: bytes} from a GGUF file's tensor table (the metadata is skipped)."""
    with open(path, "rb") as f:
        data = f.read(64 << 20)  # the header of our files is far smaller
    off = 0

    def take(fmt):
        nonlocal off
        vals = struct.unpack_from("<" + fmt, data, off)
        off += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def skip_string():
        nonlocal off
        n = take("Q")
        off += n

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def skip_value(t):
        nonlocal off
        if t in scalar:
            off += struct.calcsize("<" + scalar[t])
        elif t == 8:
            skip_string()
        elif t == 9:
            et, n = take("I"), take("Q")
            for _ in range(n):
                skip_value(et)
        else:
            raise ValueError(f"{path}: unknown GGUF value type {t}")

    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    off = 4
    _version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    for _ in range(n_kv):
        skip_string()
        skip_value(take("I"))
    sizes = {}
    for _ in range(n_tensors):
        n = take("Q")
        name = data[off:off + n].decode()
        off += n
        dims = [take("Q") for _ in range(take("I"))]
        gtype = take("I")
        take("Q")  # offset
        elems = 1
        for d in dims:
            elems *= d
        per_block, block_bytes = GGML_TYPES[gtype]
        sizes[name] = elems // per_block * block_bytes
    return sizes


def decode_bytes_per_token(sizes):
    total = sum(sizes.values())
    if "output.weight" in sizes:
        total -= sizes.get("token_embd.weight", 0)
    return total


def read_bandwidth(kernels_bench):
    res = run([kernels_bench, "--benchmark_filter=ReadBaseline", "--benchmark_min_time=0.5"])
    m = re.search(r"read baseline \(2 threads, 1 GiB\): ([0-9.]+) GB/s", res.stdout)
    if not m:
        raise SystemExit("kernels_bench did not print its read baseline")
    return float(m.group(1))


def make_model(pagellm, models_dir, preset, wtype):
    out = os.path.join(models_dir, f"{preset}-{wtype}")
    path = os.path.join(out, "model.gguf")
    if not os.path.exists(path):
        run([pagellm, "make-model", "--out", out, "--preset", preset, "--format", "gguf",
             "--dtype", "bf16", "--gguf-type", wtype, "--quiet"])
    return path


def llama_bench(bin_dir, model, threads, repeat, pp, tg, mmap):
    res = run([os.path.join(bin_dir, "llama-bench"), "-m", model, "-t", str(threads), "-p", str(pp),
               "-n", str(tg), "-r", str(repeat), "-mmp", "1" if mmap else "0", "-o", "json"])
    out = {}
    for r in json.loads(res.stdout):
        key = f"pp{pp}" if r["n_gen"] == 0 else f"tg{tg}"
        out[key] = (r["avg_ts"], r["stddev_ts"])
    return out


def pagellm_latency(pagellm, model, threads, repeat, pp, tg, tmp, mmap):
    run([pagellm, "bench", "latency", model, "--threads", str(threads), "--input-len", str(pp),
         "--output-len", str(tg), "--repeat", str(repeat), "--max-model-len", str(pp + tg + 16),
         "--profile", "--output-json", tmp] + (["--mmap"] if mmap else []))
    with open(tmp) as f:
        res = json.load(f)["results"]
    out = {r["test"]: (r["tokens_per_second_mean"], r["tokens_per_second_std"]) for r in res}
    out["profile"] = {r["test"]: r["profile"] for r in res}
    return out


MATMULS = ("qkv matmul", "wo matmul", "gate_up matmul", "down matmul", "lm_head matmul")


def profile_row(p):
    """Decode profile summary: ms per forward, shares of matmuls / attention / the rest, the
    matmuls' weight GB/s as a share of the read baseline, ms per step outside the forward."""
    ops = {o["op"]: o for o in p["ops"]}
    fwd = p["forward_seconds"]
    mm_s = sum(ops[m]["seconds"] for m in MATMULS if m in ops)
    mm_b = sum(ops[m]["weight_bytes"] for m in MATMULS if m in ops)
    attn = ops.get("attention", {"seconds": 0})["seconds"]
    step = p["timed_seconds"] / p["timed_steps"]
    return dict(ms=1e3 * fwd / p["forwards"], matmul=mm_s / fwd, attention=attn / fwd,
                rest=(fwd - mm_s - attn) / fwd, matmul_of_bw=mm_b / mm_s * 1e-9 / p["read_gbs"],
                fwd_of_bw=mm_b / fwd * 1e-9 / p["read_gbs"],
                outside_ms=1e3 * (step - fwd / p["forwards"]), read_gbs=p["read_gbs"])


def llama_batched(bin_dir, model, threads, npl, pp, tg, mmap):
    res = run([os.path.join(bin_dir, "llama-batched-bench"), "-m", model, "-t", str(threads), "-c",
               str(npl * (pp + tg)), "-b", "2048", "-ub", "512", "-npp", str(pp), "-ntg", str(tg), "-npl",
               str(npl), "--output-format", "jsonl"] + ([] if mmap else ["--no-mmap"]))
    for line in (res.stdout + res.stderr).splitlines():
        if line.startswith("{") and '"speed"' in line:
            r = json.loads(line)
            return {"total": r["speed"], "decode": r["speed_tg"]}
    raise SystemExit("llama-batched-bench printed no result line")


def pagellm_throughput(pagellm, model, threads, npl, pp, tg, tmp, mmap):
    run([pagellm, "bench", "throughput", model, "--threads", str(threads), "--num-prompts", str(npl),
         "--input-len", str(pp), "--output-len", str(tg), "--concurrency", str(npl),
         "--max-num-seqs", str(npl), "--max-model-len", str(pp + tg + 16), "--output-json", tmp]
        + (["--mmap"] if mmap else []))
    with open(tmp) as f:
        r = json.load(f)
    return {"total": r["tokens_per_second"], "decode": r["output_tokens_per_second"]}


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-cpp", required=True, help="llama.cpp's build/bin (llama-bench, llama-batched-bench)")
    ap.add_argument("--llama-cpp-commit", default="", help="llama.cpp commit to name in the report")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="pagellm Release build folder")
    ap.add_argument("--models-dir", default="/tmp/pagellm-bench-models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mmap", action="store_true",
                    help="both engines run from the mmapped file (default: both copy the weights into memory,"
                         " llama.cpp with -mmp 0 / --no-mmap, pagellm by default)")
    ap.add_argument("--quick", action="store_true", help="pp128/tg32, 8 sequences: a fast smoke run")
    ap.add_argument("--rows", default="", help="comma-separated preset:type subset, e.g. qwen2.5-0.5b:bf16")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    args = ap.parse_args()

    pagellm = os.path.join(args.build, "tools", "pagellm")
    kernels_bench = os.path.join(args.build, "src", "kernels", "kernels_bench")
    for p in (pagellm, kernels_bench, os.path.join(args.llama_cpp, "llama-bench"),
              os.path.join(args.llama_cpp, "llama-batched-bench")):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"missing executable: {p}")
    rows = ROWS
    if args.rows:
        wanted = {tuple(r.split(":")) for r in args.rows.split(",")}
        rows = [r for r in ROWS if r in wanted]
    pp, tg, npl, bpp, btg = (128, 32, 8, 64, 32) if args.quick else (512, 128, 32, 128, 128)
    os.makedirs(args.models_dir, exist_ok=True)
    tmp = os.path.join(args.models_dir, "result.json")
    llama_commit = args.llama_cpp_commit or subprocess.run(
        ["git", "-C", os.path.join(args.llama_cpp, "..", ".."), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True).stdout.strip() or "unknown"
    ours_commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()

    bw_before = read_bandwidth(kernels_bench)
    results = []
    for preset, wtype in rows:
        model = make_model(pagellm, args.models_dir, preset, wtype)
        bytes_per_token = decode_bytes_per_token(gguf_tensor_bytes(model))
        lc = llama_bench(args.llama_cpp, model, args.threads, args.repeat, pp, tg, args.mmap)
        ours = pagellm_latency(pagellm, model, args.threads, args.repeat, pp, tg, tmp, args.mmap)
        lcb = llama_batched(args.llama_cpp, model, args.threads, npl, bpp, btg, args.mmap)
        oursb = pagellm_throughput(pagellm, model, args.threads, npl, bpp, btg, tmp, args.mmap)
        results.append(dict(preset=preset, wtype=wtype, bytes=bytes_per_token, lc=lc, ours=ours, lcb=lcb,
                            oursb=oursb))
        log(f"{preset} {wtype}: {results[-1]}")
    bw_after = read_bandwidth(kernels_bench)

    tgk, ppk = f"tg{tg}", f"pp{pp}"
    lines = [
        "# Benchmarks: pagellm vs llama.cpp",
        "",
        f"Generated by `python3 scripts/bench_report.py` on {datetime.date.today().isoformat()}"
        f" ({platform.machine()}, {os.cpu_count()} cores, {args.threads} threads for both engines;"
        f" pagellm {ours_commit}, llama.cpp {llama_commit}). Random-weight GGUFs from"
        " `pagellm make-model` (vocab 32000), the same file for both engines. Both engines ran"
        " back to back for each row; read the ratios, not the absolute figures (shared, noisy machine).",
        "",
        ("Weights: both engines run from the mmapped file (llama.cpp's default, pagellm `--mmap`)." if args.mmap else
         "Weights: both engines copy them into memory at load (llama.cpp `-mmp 0` / `--no-mmap`, pagellm's"
         " default): here decode from the mmapped page cache ran about 1.5x slower for both."),
        "",
        f"Read bandwidth (kernels_bench ReadBaseline, {args.threads} threads): {bw_before:.1f} GB/s before the"
        f" run, {bw_after:.1f} GB/s after. It moves with the load other tenants put on the host, so each"
        " row's roofline uses the baseline `pagellm bench latency --profile` measured right after that"
        " row's runs (same process, same threads; the `read GB/s` column): roofline t/s = read GB/s /"
        " MB read per token.",
        "",
        f"## Batch-1 decode ({tgk}) and prefill ({ppk}), tokens/s",
        "",
        f"| shape | weights | MB read/token | read GB/s | roofline t/s | llama.cpp {tgk} | pagellm {tgk} | ratio |"
        f" llama.cpp % of roofline | pagellm % of roofline | llama.cpp {ppk} | pagellm {ppk} | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        row_bw = r["ours"]["profile"][tgk]["read_gbs"]
        roof = row_bw * 1e9 / r["bytes"]
        lt, ot = r["lc"][tgk][0], r["ours"][tgk][0]
        lp, op = r["lc"][ppk][0], r["ours"][ppk][0]
        lines.append(
            f"| {r['preset']} | {r['wtype'].upper()} | {r['bytes'] / 1e6:.0f} | {row_bw:.1f} | {roof:.1f} | {lt:.1f} |"
            f" {ot:.1f} | {ratio(ot, lt)} | {100 * lt / roof:.0f}% | {100 * ot / roof:.0f}% | {lp:.1f} | {op:.1f} |"
            f" {ratio(op, lp)} |")
    lines += [
        "",
        f"## Where pagellm's decode time goes ({tgk} profile)",
        "",
        f"From `pagellm bench latency --profile` in the same runs: per forward pass (one token), the share of"
        " the weight matmuls, attention and everything else (norms, RoPE, KV stores, silu*mul, embedding);"
        " the matmuls' weight streaming in GB/s as a share of the read baseline, while they run and over"
        " the whole forward pass; and the time per engine step outside the forward pass (scheduling,"
        " sampling, output).",
        "",
        "| shape | weights | ms/forward | matmuls | attention | rest | matmul GB/s of read baseline |"
        " over the whole forward | ms/step outside forward |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        q = profile_row(r["ours"]["profile"][tgk])
        lines.append(
            f"| {r['preset']} | {r['wtype'].upper()} | {q['ms']:.2f} | {100 * q['matmul']:.0f}% |"
            f" {100 * q['attention']:.0f}% | {100 * q['rest']:.0f}% | {100 * q['matmul_of_bw']:.0f}% |"
            f" {100 * q['fwd_of_bw']:.0f}% | {q['outside_ms']:.3f} |")
    lines += [
        "",
        f"## Continuous batching: {npl} sequences, {bpp} prompt + {btg} generated tokens each",
        "",
        "llama.cpp: llama-batched-bench (S = all prompt and generated tokens / all time; S_TG = generated"
        " tokens / decode time). pagellm: `bench throughput --concurrency` (total and output tokens /"
        " wall time, so its output rate includes the prefill time that S_TG leaves out).",
        "",
        "| shape | weights | llama.cpp S | pagellm total t/s | ratio | llama.cpp S_TG | pagellm output t/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['preset']} | {r['wtype'].upper()} | {r['lcb']['total']:.1f} | {r['oursb']['total']:.1f} |"
            f" {ratio(r['oursb']['total'], r['lcb']['total'])} | {r['lcb']['decode']:.1f} |"
            f" {r['oursb']['decode']:.1f} |")
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(dict(bandwidth_gbs=[bw_before, bw_after], threads=args.threads, mmap=args.mmap, rows=results), f,
                  indent=1)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
