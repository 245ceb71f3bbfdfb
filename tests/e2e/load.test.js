// Load: 256 concurrent streaming clients against `pagellm serve` on stories260K, mixed prompt
// lengths, max_tokens, n, completions and chat, ~20% of the streams cut mid-way. Afterwards every
// completed stream must be whole (finish_reason, usage == streamed tokens, [DONE]), no request lost
// or duplicated, every KV block free, nothing running or waiting, and the server's RSS must not
// have grown by more than a bound since the warmup.
//
// PAGELLM_LOAD_SECONDS (default 60) sets how long the load runs, PAGELLM_LOAD_CLIENTS (default 256)
// how many clients run at once; PAGELLM_LOAD_MAX_REQUESTS bounds the number of requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, haveModel, metrics, metricValue, waitFor } from './server.js';

const skip = haveModel ? false : 'stories260K not found in ../shared (set PAGELLM_SHARED_DIR)';
const LOAD_SECONDS = Number(process.env.PAGELLM_LOAD_SECONDS || 60);
const CLIENTS = Number(process.env.PAGELLM_LOAD_CLIENTS || 256);
const MAX_REQUESTS = Number(process.env.PAGELLM_LOAD_MAX_REQUESTS || Infinity);
const WARMUP_SECONDS = 15;
const RSS_GROWTH_LIMIT_MIB = 64;
const DISCONNECT_SHARE = 0.2;

let server;

before(async () => {
  if (skip) return;
  // Room for every client: connections, running sequences and the waiting queue. The KV cache is
  // kept small enough (2048 blocks of 16 = 32768 tokens, 40 MiB) for the warmup to touch all of
  // it: its pages are mapped lazily, and their first touch is not a leak.
  server = await startServer(['--num-blocks', '2048', '--max-connections', String(Math.max(1024, 2 * CLIENTS)),
    '--max-num-seqs', '256', '--max-num-waiting', String(Math.max(4096, 4 * CLIENTS)), '--seed', '7']);
});
after(async () => {
  if (server) assert.equal((await server.stop()).code, 0, 'the server exits 0 after the load');
});

// A small seeded generator (mulberry32): the same request mix on every run.
function generator(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

const WORDS = ['Once', 'upon', 'a', 'time', 'there', 'was', 'little', 'girl', 'named', 'Lily', 'she',
  'liked', 'to', 'play', 'in', 'the', 'park', 'with', 'her', 'dog', 'Tom', 'saw', 'big', 'red', 'ball'];

// One request of the mix. `seq` is globally unique: it ends the prompt (so that shared prefixes
// still hit the prefix cache) and goes in `user`.
function makeRequest(rand, seq) {
  const words = rand.int(0, 110);
  const prefix = rand.next() < 0.5 ? 'Once upon a time' : 'Lily and Tom went to the park';
  let text = prefix;
  for (let i = 0; i < words; i++) text += ' ' + WORDS[rand.int(0, WORDS.length - 1)];
  text += ` request ${seq}.`;
  const maxTokens = rand.int(1, 160);
  const temperature = rand.next() < 0.3 ? 0 : 1;
  const ignoreEos = rand.next() < 0.5;
  const disconnectAfter = rand.next() < DISCONNECT_SHARE ? rand.int(1, 4) : 0;
  const common = { model: 'hf', max_tokens: maxTokens, temperature, ignore_eos: ignoreEos, user: `load-${seq}`,
    stream: true, stream_options: { include_usage: true } };
  if (rand.next() < 0.25) {
    return { seq, kind: 'chat', n: 1, maxTokens, disconnectAfter, path: '/v1/chat/completions',
      body: { ...common, messages: [{ role: 'user', content: text }], logprobs: true } };
  }
  const n = rand.next() < 0.1 ? 2 : 1;
  return { seq, kind: 'completion', n, maxTokens, disconnectAfter, path: '/v1/completions',
    body: { ...common, prompt: text, n, logprobs: 1, ...(temperature > 0 ? { seed: seq } : {}) } };
}

// Sends one streaming request and reads it to the end (or cuts it after `disconnectAfter`
// events). Returns what arrived; the checks are made by the caller.
async function runOne(base, spec) {
  const ac = new AbortController();
  const result = { spec, status: 0, disconnected: false, sawDone: false, afterDone: 0, ids: new Set(), usage: null,
    tokens: new Array(spec.n).fill(0), finish: new Array(spec.n).fill(null), errors: [], trailing: '' };
  const r = await fetch(base + spec.path, { method: 'POST', signal: ac.signal,
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec.body) });
  result.status = r.status;
  if (r.status !== 200) {
    result.errors.push(`status ${r.status}: ${(await r.text()).slice(0, 300)}`);
    return result;
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let events = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    for (let end; (end = buf.indexOf('\n\n')) >= 0;) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      events++;
      if (!event.startsWith('data: ')) {
        result.errors.push(`not an SSE data event: ${event.slice(0, 100)}`);
        continue;
      }
      const data = event.slice(6);
      if (result.sawDone) result.afterDone++;
      if (data === '[DONE]') {
        result.sawDone = true;
        continue;
      }
      const chunk = JSON.parse(data);
      if (chunk.error) result.errors.push(`error event: ${data.slice(0, 300)}`);
      if (chunk.id) result.ids.add(chunk.id);
      if (chunk.usage) result.usage = chunk.usage;
      for (const c of chunk.choices ?? []) {
        const lp = c.logprobs;
        if (lp) result.tokens[c.index] += spec.kind === 'chat' ? (lp.content?.length ?? 0) : (lp.tokens?.length ?? 0);
        if (c.finish_reason) {
          if (result.finish[c.index] !== null) result.errors.push(`choice ${c.index} finished twice`);
          result.finish[c.index] = c.finish_reason;
        }
      }
    }
    if (spec.disconnectAfter > 0 && events >= spec.disconnectAfter && !result.sawDone) {
      result.disconnected = true;
      ac.abort();
      return result;
    }
  }
  result.trailing = buf;
  return result;
}

// A completed stream must be whole; returns the problems found.
function checkWhole(res) {
  const problems = [...res.errors];
  const { spec } = res;
  if (!res.sawDone) problems.push('no [DONE]');
  if (res.afterDone > 0) problems.push('events after [DONE]');
  if (res.trailing !== '') problems.push(`trailing bytes: ${res.trailing.slice(0, 80)}`);
  if (res.ids.size !== 1) problems.push(`${res.ids.size} response ids in one stream`);
  if (!res.usage) problems.push('no usage chunk');
  let streamed = 0;
  for (let i = 0; i < spec.n; i++) {
    streamed += res.tokens[i];
    if (res.finish[i] !== 'stop' && res.finish[i] !== 'length') problems.push(`choice ${i} finish_reason ${res.finish[i]}`);
    if (res.finish[i] === 'length' && res.tokens[i] !== spec.maxTokens) {
      problems.push(`choice ${i}: 'length' after ${res.tokens[i]} of ${spec.maxTokens} tokens`);
    }
    if (res.tokens[i] > spec.maxTokens) problems.push(`choice ${i}: ${res.tokens[i]} > max_tokens ${spec.maxTokens}`);
  }
  if (res.usage && res.usage.completion_tokens !== streamed) {
    problems.push(`usage.completion_tokens ${res.usage.completion_tokens} != ${streamed} streamed tokens`);
  }
  if (res.usage && !(res.usage.prompt_tokens > 0)) problems.push('usage.prompt_tokens missing');
  return problems;
}

// Runs `clients` concurrent clients for `seconds`; each sends one request after another.
async function runLoad(base, { clients, seconds, seed, firstSeq, maxRequests = Infinity }) {
  const deadline = Date.now() + seconds * 1000;
  const rand = generator(seed);
  let seq = firstSeq;
  const results = [];
  const failures = [];
  const client = async () => {
    while (Date.now() < deadline && seq - firstSeq < maxRequests) {
      const spec = makeRequest(rand, seq++);
      try {
        results.push(await runOne(base, spec));
      } catch (e) {
        failures.push(`request ${spec.seq}: ${e}`);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { results, failures, sent: seq - firstSeq };
}

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

function successTotal(text) {
  let sum = 0;
  for (const reason of ['stop', 'length', 'abort']) {
    sum += metricValue(text, `vllm:request_success_total{model_name="hf",finished_reason="${reason}"}`) ?? 0;
  }
  return sum;
}

async function settled(base) {
  const ok = await waitFor(async () => {
    const m = await metrics(base);
    return metricValue(m, 'vllm:num_requests_running') === 0 && metricValue(m, 'vllm:num_requests_waiting') === 0 &&
      metricValue(m, 'pagellm:kv_cache_used_blocks') === 0;
  }, 30000);
  return { ok, text: await metrics(base) };
}

test(`${CLIENTS} concurrent streaming clients for ${LOAD_SECONDS}s: whole responses, nothing lost, no leak`,
  { skip, timeout: (LOAD_SECONDS + WARMUP_SECONDS + 240) * 1000 }, async () => {
    const { base, proc } = server;
    // Warmup: the allocator and every buffer reach their working size.
    const warm = await runLoad(base, { clients: CLIENTS, seconds: WARMUP_SECONDS, seed: 1, firstSeq: 1_000_000 });
    assert.deepEqual(warm.failures, []);
    assert.ok((await settled(base)).ok, 'idle after the warmup');
    const rssBefore = rssKiB(proc.pid);
    const before = successTotal(await metrics(base));

    const t0 = Date.now();
    const load = await runLoad(base, { clients: CLIENTS, seconds: LOAD_SECONDS, seed: 2, firstSeq: 0, maxRequests: MAX_REQUESTS });
    const elapsed = (Date.now() - t0) / 1000;
    const { ok: idle, text: after } = await settled(base);
    const rssAfter = rssKiB(proc.pid);

    const completed = load.results.filter((r) => r.status === 200 && !r.disconnected);
    const disconnected = load.results.filter((r) => r.disconnected);
    const refused = load.results.filter((r) => r.status !== 200);
    const tokens = completed.reduce((s, r) => s + (r.usage?.completion_tokens ?? 0), 0);
    const usedBlocks = metricValue(after, 'pagellm:kv_cache_used_blocks');
    const growthMiB = (rssAfter - rssBefore) / 1024;
    console.log(`load: ${load.sent} requests in ${elapsed.toFixed(1)}s from ${CLIENTS} clients: ` +
      `${completed.length} completed (${tokens} tokens, ${(tokens / elapsed).toFixed(0)} tok/s), ` +
      `${disconnected.length} disconnected mid-stream, ${refused.length} refused, ${load.failures.length} failed`);
    console.log(`load: after: running ${metricValue(after, 'vllm:num_requests_running')}, ` +
      `waiting ${metricValue(after, 'vllm:num_requests_waiting')}, KV blocks leaked ${usedBlocks} of ` +
      `${metricValue(after, 'pagellm:kv_cache_blocks_total')}, KV usage ${metricValue(after, 'vllm:kv_cache_usage_perc')}, ` +
      `preemptions ${metricValue(after, 'vllm:num_preemptions_total')}`);
    console.log(`load: RSS ${(rssBefore / 1024).toFixed(1)} MiB after the warmup -> ${(rssAfter / 1024).toFixed(1)} MiB ` +
      `after the load (growth ${growthMiB.toFixed(1)} MiB, limit ${RSS_GROWTH_LIMIT_MIB})`);

    assert.deepEqual(load.failures, [], 'no request failed on the client side');
    assert.equal(refused.length, 0, refused.slice(0, 3).map((r) => r.errors.join('; ')).join('\n'));
    assert.equal(load.results.length, load.sent, 'every request sent has a result');
    assert.ok(completed.length > CLIENTS, `more requests than clients completed (${completed.length})`);
    assert.ok(disconnected.length > 0, 'some streams were cut');
    const problems = [];
    for (const r of completed) {
      for (const p of checkWhole(r)) problems.push(`request ${r.spec.seq} (${r.spec.kind}, n=${r.spec.n}): ${p}`);
    }
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} incomplete responses`);
    // No response duplicated: one distinct id per request.
    const ids = new Set();
    for (const r of load.results) for (const id of r.ids) ids.add(id);
    const withIds = load.results.filter((r) => r.ids.size > 0).length;
    assert.equal(ids.size, withIds, 'response ids are unique');
    // No request lost or counted twice by the engine: each finished exactly once (stop, length or abort).
    assert.equal(successTotal(after) - before, load.sent, 'the engine finished every request exactly once');
    assert.ok(idle, 'nothing running or waiting and every KV block free after the load');
    assert.equal(usedBlocks, 0);
    assert.equal(metricValue(after, 'vllm:kv_cache_usage_perc'), 0);
    assert.ok(growthMiB < RSS_GROWTH_LIMIT_MIB, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
    // The server still answers, greedy and whole.
    const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hf', prompt: 'Once', max_tokens: 8, temperature: 0, ignore_eos: true }) });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).usage.completion_tokens, 8);
    assert.equal((await fetch(`${base}/health`)).status, 200);
  });
