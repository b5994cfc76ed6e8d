// @ts-check
// A private platform for the browser tests, like services/e2e/src/live.rs:
// its own topic prefix (t<tag>.), created by `chatctl init`, its own history, fanout,
// presence and search projectors (fresh consumer groups) and one gateway serving the built client,
// all against the servers `infra/dev test` (or `infra/dev deps`) runs. Every process
// started here is stopped by stop(), and killed on exit whatever happens.

import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const webDir = path.resolve(here, "..");
export const repoRoot = path.resolve(webDir, "../..");
export const outDir = path.join(webDir, "test-output");

const SERVER_VARS = ["KAFKA_BROKERS", "CQL_NODES", "REDIS_URL", "SCHEMA_REGISTRY_URL"];

/** Where the servers are: the environment, else what `infra/dev env` prints. */
function serverEnv() {
  /** @type {Record<string, string>} */
  const env = {};
  const missing = SERVER_VARS.filter((k) => !process.env[k]);
  if (missing.length > 0) {
    const out = execFileSync(path.join(repoRoot, "infra/dev"), ["env"], { encoding: "utf8" });
    for (const line of out.split("\n")) {
      const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) env[m[1]] = m[2];
    }
  }
  for (const k of SERVER_VARS) {
    const v = process.env[k] ?? env[k];
    if (!v) throw new Error(`${k} is not set and \`infra/dev env\` did not print it`);
    env[k] = v;
  }
  return env;
}

function binary(name) {
  const target = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, "target");
  const p = path.join(target, "debug", name);
  if (!fs.existsSync(p)) {
    throw new Error(`${p} is missing: build the workspace first (cargo build --workspace --all-targets; infra/dev test does)`);
  }
  return p;
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @type {Set<import("node:child_process").ChildProcess>} */
const running = new Set();

// However the run ends (an assertion, an exception, Ctrl-C), no process outlives it.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});
for (const sig of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.on(sig, () => {
    for (const child of running) child.kill("SIGKILL");
    process.exit(130);
  });
}

export class Stack {
  /**
   * @param {string} tag
   * @param {Record<string, string>} [settings] operator settings (`CHAT__…` variables) every
   *   process of this stack gets, e.g. a limit a test needs; the stack's own isolation
   *   settings (topic prefix, secret, ports) still win
   */
  constructor(tag, settings = {}) {
    this.tag = tag;
    this.settings = settings;
    /** @type {{name: string, child: import("node:child_process").ChildProcess, port: number}[]} */
    this.procs = [];
    this.logDir = path.join(outDir, "logs");
    this.baseUrl = "";
  }

  /** @param {{settings?: Record<string, string>}} [options] */
  static async start(options = {}) {
    const s = new Stack(randomBytes(4).toString("hex"), options.settings);
    try {
      await s.boot();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  async boot() {
    fs.mkdirSync(this.logDir, { recursive: true });
    const web = path.join(webDir, "dist");
    if (!fs.existsSync(path.join(web, "index.html"))) {
      throw new Error(`${web}/index.html is missing: run \`npm run build\` first`);
    }
    this.env = {
      ...process.env,
      ...serverEnv(),
      ...this.settings,
      CHAT__KAFKA__TOPIC_PREFIX: `t${this.tag}.`,
      CHAT__KAFKA__PARTITIONS: "3",
      CHAT__GATEWAY__JWT_SECRET: `e2e-${randomBytes(24).toString("hex")}`,
      CHAT__GATEWAY__WEB_DIR: web,
      RUST_LOG: process.env.E2E_LOG ?? "info",
    };
    // The search role serves its queries on a port of its own, which the gateway asks.
    const searchPort = await freePort();
    this.env.CHAT__SEARCH__PORT = String(searchPort);
    this.env.CHAT__SEARCH__DIR = path.join(outDir, `search-${this.tag}`);
    this.env.CHAT__GATEWAY__SEARCH_URLS = `http://127.0.0.1:${searchPort}`;
    execFileSync(binary("chatctl"), ["init"], { env: this.env, stdio: ["ignore", "ignore", "pipe"] });
    for (const role of ["history", "fanout", "presence", "search"]) {
      const port = await freePort();
      this.spawn(`projector-${role}`, binary("chat-projector"), ["--role", role, "--group", `e2e-${role}-${this.tag}`, "--port", String(port)], port);
    }
    const port = await freePort();
    // /readyz is served on the gateway's ops port only; it is what readiness is read from.
    const opsPort = await freePort();
    this.spawn("gateway", binary("chat-gateway"), ["--port", String(port), "--ops-port", String(opsPort), "--gateway-id", `e2e-${this.tag}`], opsPort);
    this.baseUrl = `http://127.0.0.1:${port}`;
    for (const p of this.procs) {
      await this.waitHealthy(p, p.name === "gateway" ? "/readyz" : "/healthz");
    }
  }

  /**
   * @param {string} name
   * @param {string} bin
   * @param {string[]} args
   * @param {number} port
   */
  spawn(name, bin, args, port) {
    const log = fs.openSync(path.join(this.logDir, `${name}.log`), "w");
    const child = spawn(bin, args, { env: this.env, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    running.add(child);
    child.on("exit", () => running.delete(child));
    this.procs.push({ name, child, port });
  }

  /** @param {{name: string, child: import("node:child_process").ChildProcess, port: number}} p @param {string} route */
  async waitHealthy(p, route) {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (p.child.exitCode !== null) {
        throw new Error(`${p.name} exited (${p.child.exitCode}); see ${path.join(this.logDir, p.name + ".log")}`);
      }
      try {
        const r = await fetch(`http://127.0.0.1:${p.port}${route}`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(200);
    }
    throw new Error(`${p.name} not healthy on ${route} within 120 s; see ${path.join(this.logDir, p.name + ".log")}`);
  }

  /** SIGTERM everything (the graceful path), SIGKILL what is still there after 15 s. */
  async stop() {
    const alive = this.procs.map((p) => p.child).filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of alive) c.kill("SIGTERM");
    const deadline = Date.now() + 15_000;
    while (alive.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) await sleep(100);
    for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    this.procs = [];
  }
}
