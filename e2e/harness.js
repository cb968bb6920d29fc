// Test harness: starts the real `gatehouse demo` on free ports with a temporary database,
// launches Debian's Chromium through playwright-core, and gives every scenario a fresh browser
// context plus a screenshot in e2e/artifacts/ (taken even when the scenario fails).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gatehouseBin = path.resolve(repoRoot, process.env.GATEHOUSE_BIN || 'target/debug/gatehouse');
const chromiumBin = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const artifacts = path.join(repoRoot, 'e2e', 'artifacts');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];
const ACTION_TIMEOUT_MS = 10_000;

/** Ports that were free a moment ago: all held open together, so they differ. */
export async function freePorts(count) {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Runs `gatehouse demo` (with `--gateway` when `options.gateway`: one origin for app, session
 * and the sample API); resolves once the API answers, with its origins, the seeded passwords,
 * `upstreamLines()`, every `upstream saw: …` line the sample API printed so far, and
 * `sessionsOf(name)`, the account's sessions as the database holds them.
 *
 * `options.apiHost` / `options.appHost` name the origins (the browser maps them to 127.0.0.1),
 * `options.tls` (`{cert, key}`, PEM files) serves both over https, and `options.env` adds
 * `GATEHOUSE__*` settings over the demo's own.
 */
export async function startGatehouse(options = {}) {
  if (!existsSync(gatehouseBin)) {
    throw new Error(`no gatehouse binary at ${gatehouseBin}: run \`cargo build\` or set GATEHOUSE_BIN`);
  }
  const [apiPort, appPort] = await freePorts(2);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-e2e-'));
  const args = [
    'demo', '--api-port', String(apiPort), '--app-port', String(appPort),
    '--data-dir', dataDir, '--app-dir', repoRoot, ...(options.gateway ? ['--gateway'] : []),
  ];
  if (options.apiHost) args.push('--api-host', options.apiHost);
  if (options.appHost) args.push('--app-host', options.appHost);
  if (options.tls) args.push('--tls-cert', options.tls.cert, '--tls-key', options.tls.key);
  const child = spawn(gatehouseBin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });

  let output = '';
  const upstream = [];
  let partial = '';
  const passwords = {};
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gatehouse did not start in 30 s:\n${output}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse exited with ${code} before it was ready:\n${output}`));
    });
    // Keep reading both pipes for the whole run: a full pipe would block the server.
    child.stderr.on('data', (chunk) => { output = (output + chunk).slice(-20_000); });
    child.stdout.on('data', (chunk) => {
      output = (output + chunk).slice(-20_000);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      upstream.push(...lines.filter((line) => line.startsWith('upstream saw: ')));
      for (const [, name, password] of output.matchAll(/^\s+(admin|user)\s+\w+\s+password: (\S+)$/gm)) {
        passwords[name] = password;
      }
      if (passwords.admin && passwords.user) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await started;
    const scheme = options.tls ? 'https' : 'http';
    const apiOrigin = `${scheme}://${options.apiHost || 'localhost'}:${apiPort}`;
    // Over https the printed passwords are the signal: the listener is bound before they are.
    if (!options.tls) {
      await waitFor(async () => (await fetch(`${apiOrigin}/healthz`)).ok, 'the API to answer /healthz');
    }
    const appOrigin = options.gateway ? apiOrigin : `${scheme}://${options.appHost || 'localhost'}:${appPort}`;
    const sessionsOf = (name) => sessionsIn(dataDir, name);
    return { apiOrigin, appOrigin, passwords, stop, sessionsOf, upstreamLines: () => [...upstream] };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `gatehouse sessions list NAME` on the demo's database: one `{id, userAgent}` per session. */
async function sessionsIn(dataDir, name) {
  const { stdout } = await run(gatehouseBin, ['sessions', 'list', name], {
    ...process.env,
    GATEHOUSE__DATABASE__URL: `sqlite://${path.join(dataDir, 'demo.db')}`,
    // Listing reads the database only; the key just has to be valid.
    GATEHOUSE__SECURITY__SECRET_KEY: 'e2e-listing-key-0123456789abcdef0123456789',
  });
  return stdout.trim().split('\n').slice(1).filter(Boolean).map((line) => {
    const columns = line.split(/\s{2,}/);
    return { id: columns[0], userAgent: columns[columns.length - 1] };
  });
}

function run(binary, args, env) {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${binary} ${args.join(' ')}: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

async function waitFor(check, what) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function launchOptions(extraArgs = []) {
  if (!existsSync(chromiumBin)) {
    throw new Error(`no Chromium at ${chromiumBin}: install it with \`apt-get install -y chromium\` or set CHROMIUM_BIN`);
  }
  return { executablePath: chromiumBin, args: [...CHROMIUM_ARGS, ...extraArgs] };
}

/** A browser with its own throw-away profile (and these Chromium switches). */
export function launchBrowser(extraArgs = []) {
  return chromium.launch(launchOptions(extraArgs));
}

/** A browser on a profile kept in `userDataDir`: closing and relaunching it is a restart. */
export async function launchProfile(userDataDir, extraArgs = []) {
  const context = await chromium.launchPersistentContext(userDataDir, launchOptions(extraArgs));
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  return context;
}

/**
 * One Gatehouse and one browser for the tests of a file. Returns an object that the `before`
 * hook fills with `server` and `browser`, then hands to `prepare` for the file's own set-up
 * (in the same hook: top-level hooks are not guaranteed to run one after the other).
 */
export function useGatehouse(prepare = async () => {}, options = {}) {
  const env = {};
  before(async () => {
    env.server = await startGatehouse(options);
    env.browser = await launchBrowser();
    await prepare(env);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/** A test with a fresh browser context; every page it opened is photographed at the end. */
export function scenario(env, name, body) {
  test(name, { timeout: 60_000 }, async () => {
    const context = await env.browser.newContext();
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    try {
      await body(context);
    } finally {
      await screenshot(context, name);
      await context.close();
    }
  });
}

export async function screenshot(context, name) {
  await mkdir(artifacts, { recursive: true });
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const pages = context.pages();
  await Promise.all(pages.map((page, i) => page.screenshot({
    path: path.join(artifacts, `${slug}${pages.length > 1 ? `-tab${i + 1}` : ''}.png`),
    fullPage: true,
    // A screenshot is evidence, not a check: a crashed page must not hide the real failure.
  }).catch(() => {})));
}
