// Starts `pagellm serve` on a free port for a test file and stops it afterwards.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const binary = process.env.PAGELLM_BINARY || path.join(root, 'build', 'tools', 'pagellm');
export const sharedDir = process.env.PAGELLM_SHARED_DIR || path.resolve(root, '..', 'shared');
export const storiesModel = path.join(sharedDir, 'models', 'stories260K', 'hf');
export const chatTemplate = path.join(root, 'templates', 'completion.jinja');
export const haveModel = existsSync(path.join(storiesModel, 'config.json'));

export async function startServer(extraArgs = [], env = {}, { withChatTemplate = true, model = storiesModel } = {}) {
  const args = ['serve', model, '--port', '0', ...(withChatTemplate ? ['--chat-template', chatTemplate] : []), ...extraArgs];
  const proc = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 30000);
    proc.stderr.on('data', (d) => {
      log += d.toString();
      const m = log.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      const r = await fetch(`${base}/health`);
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`server never became healthy:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    base,
    proc,
    exited,
    log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

export async function metrics(base) {
  const r = await fetch(`${base}/metrics`);
  return r.text();
}

export function metricValue(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

export async function waitFor(predicate, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
