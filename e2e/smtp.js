// A real SMTP server for the browser tests: Debian's python3-aiosmtpd on a free port,
// delivering into a Maildir that `mails()` reads.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { freePorts } from './harness.js';

// Debian's interpreter, which sees Debian's packages (a python3 earlier on the PATH may not).
const PYTHON = '/usr/bin/python3';
const INSTALL = 'install it with `apt-get install python3-aiosmtpd`';

export async function startSmtp() {
  const [port] = await freePorts(1);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-smtp-'));
  const child = spawn(PYTHON, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`,
    '-c', 'aiosmtpd.handlers.Mailbox', path.join(dir, 'maildir')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-5000); });
  child.once('error', (error) => { stderr += `\n${error.message}: ${INSTALL}`; });
  const deadline = Date.now() + 20_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null) throw new Error(`aiosmtpd exited (${child.exitCode}): ${INSTALL}\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`aiosmtpd did not listen in 20 s: ${INSTALL}\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** Every delivered message, oldest first, quoted-printable soft breaks undone. */
  async function mails() {
    const folder = path.join(dir, 'maildir', 'new');
    const names = await readdir(folder).catch(() => []);
    const entries = await Promise.all(names.map(async (name) => {
      const file = path.join(folder, name);
      return { time: (await stat(file)).mtimeMs, text: await readFile(file, 'utf8') };
    }));
    return entries.sort((a, b) => a.time - b.time)
      .map((e) => e.text.replace(/=\r?\n/g, '').replace(/=3D/g, '='));
  }

  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    /** Waits until at least `count` messages arrived; resolves with all of them. */
    async waitForMails(count) {
      const until = Date.now() + 15_000;
      for (;;) {
        const all = await mails();
        if (all.length >= count) return all;
        if (Date.now() > until) throw new Error(`expected ${count} mail(s), got ${all.length}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The first link in `mail` whose fragment starts with `#route/`. */
export function linkIn(mail, route) {
  const match = mail.match(new RegExp(`https?://[^\\s"<>]+#${route}/[A-Za-z0-9_-]+`));
  if (!match) throw new Error(`no #${route}/ link in:\n${mail}`);
  return match[0];
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
