// The official OpenAI SDK against `pagellm serve` on stories260K: completions and chat, streaming
// and not, n, logprobs, stop strings, usage, tokenize. Responses must parse with no workaround.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, haveModel, sharedDir } from './server.js';

const skip = haveModel ? false : 'stories260K not found in ../shared (set PAGELLM_SHARED_DIR)';
let server;
let client;

before(async () => {
  if (skip) return;
  server = await startServer();
  client = new OpenAI({ baseURL: `${server.base}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  if (server) {
    const { code } = await server.stop();
    assert.equal(code, 0, 'server exits 0 on SIGTERM');
  }
});

// The published greedy sample (llama2.c's run.c from BOS): our greedy completion of the empty
// prompt must be its prefix.
function publishedSample() {
  const t = readFileSync(path.join(sharedDir, 'models/stories260K/greedy-reference.txt'), 'utf8');
  return t.slice(0, t.indexOf('achieved tok/s'));
}

test('models lists the served model', { skip }, async () => {
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].id, 'hf');
  assert.equal(models.data[0].object, 'model');
});

test('greedy completion of the empty prompt follows the published sample', { skip }, async () => {
  const r = await client.completions.create({ model: 'hf', prompt: '', max_tokens: 60, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.ok(r.choices[0].text.length > 100);
  assert.ok(publishedSample().startsWith(r.choices[0].text), r.choices[0].text);
  assert.equal(r.usage.prompt_tokens, 1); // BOS
  assert.equal(r.usage.completion_tokens, 60);
  assert.equal(r.usage.total_tokens, 61);
});

test('streaming completion equals the non-streaming one and ends with usage', { skip }, async () => {
  const params = { model: 'hf', prompt: 'Once upon a time', max_tokens: 40, temperature: 0 };
  const whole = await client.completions.create(params);
  const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks > 5, 'text arrives in several chunks');
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, 'length');
  assert.deepEqual(usage, whole.usage);
});

test('chat completion, streaming and not', { skip }, async () => {
  const messages = [{ role: 'user', content: 'Lily and Ben went to the park.' }];
  const r = await client.chat.completions.create({ model: 'hf', messages, max_tokens: 30, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.choices[0].message.content.length > 0);
  const stream = await client.chat.completions.create({ model: 'hf', messages, max_tokens: 30, temperature: 0, stream: true });
  let content = '';
  let first = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    for (const c of chunk.choices) {
      if (first === null) first = c.delta;
      content += c.delta.content ?? '';
    }
  }
  assert.equal(first.role, 'assistant', 'the first delta carries the role');
  assert.equal(content, r.choices[0].message.content);
});

test('content given as a list of text parts', { skip }, async () => {
  const asParts = await client.chat.completions.create({
    model: 'hf', max_tokens: 10, temperature: 0,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Tom had a red ball.' }] }],
  });
  const asString = await client.chat.completions.create({
    model: 'hf', max_tokens: 10, temperature: 0, messages: [{ role: 'user', content: 'Tom had a red ball.' }],
  });
  assert.equal(asParts.choices[0].message.content, asString.choices[0].message.content);
});

test('n = 2 returns two choices; seeds make them reproducible', { skip }, async () => {
  const params = { model: 'hf', prompt: 'The cat', max_tokens: 20, temperature: 1.0, n: 2, seed: 42 };
  const a = await client.completions.create(params);
  const b = await client.completions.create(params);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
  assert.deepEqual(a.choices.map((c) => c.text), b.choices.map((c) => c.text));
  assert.notEqual(a.choices[0].text, a.choices[1].text);
  assert.equal(a.usage.completion_tokens, 40);
});

test('completion logprobs', { skip }, async () => {
  const r = await client.completions.create({ model: 'hf', prompt: 'Once', max_tokens: 5, temperature: 0, logprobs: 3 });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 5);
  assert.equal(lp.token_logprobs.length, 5);
  assert.equal(lp.top_logprobs.length, 5);
  assert.equal(lp.tokens.join(''), r.choices[0].text);
  for (let i = 0; i < 5; i++) {
    assert.ok(lp.token_logprobs[i] <= 0);
    const top = lp.top_logprobs[i];
    assert.ok(Object.keys(top).length >= 3);
    // Greedy: the chosen token is the most likely one.
    assert.equal(Math.max(...Object.values(top)), lp.token_logprobs[i]);
  }
  assert.deepEqual(lp.text_offset.slice(0, 2), [0, lp.tokens[0].length]);
});

test('chat logprobs with top_logprobs', { skip }, async () => {
  const r = await client.chat.completions.create({
    model: 'hf', messages: [{ role: 'user', content: 'Once upon' }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2,
  });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 4);
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 2);
    assert.deepEqual(t.bytes, [...Buffer.from(t.token, 'utf8')]);
  }
  assert.equal(content.map((t) => t.token).join(''), r.choices[0].message.content);
});

test('stop strings end the text before them, across token boundaries', { skip }, async () => {
  const full = await client.completions.create({ model: 'hf', prompt: '', max_tokens: 40, temperature: 0 });
  const text = full.choices[0].text; // "Once upon a time, there was a little girl named Lily. ..."
  const stop = 'little gi';
  assert.ok(text.includes(stop));
  const r = await client.completions.create({ model: 'hf', prompt: '', max_tokens: 40, temperature: 0, stop: [stop, 'zzz'] });
  assert.equal(r.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].stop_reason, stop);
  const s = await client.completions.create({ model: 'hf', prompt: '', max_tokens: 40, temperature: 0, stop: stop, stream: true });
  let streamed = '';
  for await (const chunk of s) streamed += chunk.choices.map((c) => c.text).join('');
  assert.equal(streamed, r.choices[0].text, 'a stream never shows the stop string, not even a part of it');
});

test('a list of prompts and token-id prompts', { skip }, async () => {
  const tok = await (await fetch(`${server.base}/tokenize`, {
    method: 'POST', body: JSON.stringify({ prompt: 'Once upon a time' }), headers: { 'content-type': 'application/json' },
  })).json();
  assert.equal(tok.count, tok.tokens.length);
  const r = await client.completions.create({ model: 'hf', prompt: ['Once upon a time', 'Once upon a time'], max_tokens: 8, temperature: 0 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
  assert.equal(r.choices[0].text, r.choices[1].text);
  const ids = await client.completions.create({ model: 'hf', prompt: tok.tokens, max_tokens: 8, temperature: 0 });
  assert.equal(ids.choices[0].text, r.choices[0].text);
  assert.equal(r.usage.prompt_tokens, 2 * tok.count);
  const detok = await (await fetch(`${server.base}/detokenize`, {
    method: 'POST', body: JSON.stringify({ tokens: tok.tokens.slice(1) }), headers: { 'content-type': 'application/json' },
  })).json();
  assert.equal(tok.tokens[0], 1, 'BOS first');
  assert.equal(detok.prompt, 'Once upon a time');
});

test('echo returns the prompt before the completion', { skip }, async () => {
  const r = await client.completions.create({ model: 'hf', prompt: 'The dog', max_tokens: 5, temperature: 0, echo: true, logprobs: 1 });
  assert.ok(r.choices[0].text.startsWith('The dog'));
  const lp = r.choices[0].logprobs;
  assert.equal(lp.token_logprobs[0], null, 'the first prompt token has no logprob');
  assert.equal(lp.tokens.length, r.usage.prompt_tokens + 5);
});
