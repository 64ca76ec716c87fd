// Starts the real `sesh` binary in demo mode on free loopback ports with a fresh database, and
// can kill and restart it on the same ports and database (for the reconnect test).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** A TCP port that was free a moment ago (the OS picks it; we release it for sesh to bind). */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Path of the `sesh` binary: $SESH_BIN, else the debug build in target/. */
export function seshBinary() {
  return process.env.SESH_BIN ? resolve(process.env.SESH_BIN) : join(REPO_ROOT, 'target', 'debug', 'sesh');
}

export class SeshServer {
  /**
   * @param {string} name used for the copies of the server logs in test-artifacts/logs/
   * @param {Record<string, string>} settings extra `SESH_*` settings for this server
   */
  constructor(name = 'sesh', settings = {}) {
    this.name = name;
    this.settings = settings;
    this.dir = mkdtempSync(join(tmpdir(), 'sesh-e2e-'));
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    this.child = null;
    this.starts = 0;
  }

  /** Picks the ports once; restarts reuse them so the pages can reconnect. */
  async init() {
    this.port = await freePort();
    this.demoPort = await freePort();
    while (this.demoPort === this.port) this.demoPort = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.emulatorUrl = `http://127.0.0.1:${this.demoPort}`;
    return this;
  }

  env() {
    const env = { ...process.env };
    // Demo mode is "no Spotify client id": make sure nothing from the caller's shell leaks in.
    for (const key of Object.keys(env)) {
      if (key.startsWith('SPOTIFY_') || key.startsWith('SESH_')) delete env[key];
    }
    return {
      ...env,
      SESH_LISTEN: `127.0.0.1:${this.port}`,
      SESH_PUBLIC_URL: this.url,
      SESH_DEMO_SPOTIFY_LISTEN: `127.0.0.1:${this.demoPort}`,
      SESH_DATABASE_URL: `sqlite://${join(this.dir, 'sesh.db')}`,
      SESH_DATA_DIR: join(this.dir, 'data'),
      RUST_LOG: process.env.E2E_RUST_LOG ?? 'info',
      ...this.settings,
    };
  }

  /** Spawns sesh and resolves once `/healthz` answers 200 (polling, no fixed sleep). */
  async start({ timeoutMs = 60_000 } = {}) {
    this.starts += 1;
    this.logPath = join(this.dir, `sesh-${this.starts}.log`);
    const log = createWriteStream(this.logPath);
    const child = spawn(seshBinary(), [], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.child = child;
    let exited = null;
    child.once('exit', (code, signal) => { exited = { code, signal }; });
    child.once('error', (err) => { exited = { error: err }; });

    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited?.error) {
        throw new Error(`cannot run ${seshBinary()}: ${exited.error.message} (build it, or set SESH_BIN)`);
      }
      if (exited) {
        throw new Error(`sesh exited during start-up (${JSON.stringify(exited)}); log: ${this.logPath}`);
      }
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await delay(100);
    }
    throw new Error(`sesh did not become healthy within ${timeoutMs} ms; log: ${this.logPath}`);
  }

  /** Kills the process hard (SIGKILL), like a crash, and waits for it to be gone. */
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  /** Asks for a graceful stop, then kills if it takes too long. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  /**
   * Stops the server, keeps its logs in `logsDir` (for anyone reading a failed CI run) and
   * removes the temporary directory with the database.
   */
  async dispose(logsDir) {
    await this.stop();
    if (logsDir) {
      mkdirSync(logsDir, { recursive: true });
      for (let n = 1; n <= this.starts; n += 1) {
        const log = join(this.dir, `sesh-${n}.log`);
        if (existsSync(log)) copyFileSync(log, join(logsDir, `${this.name}-sesh-${n}.log`));
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
