// A real Nishan server for one test file: the binary that run.mjs built, on 127.0.0.1:0 over a
// fresh SQLite database in a temporary directory, logging JSON at debug level to a file. It
// writes its bound address to a file (NISHAN_ADDR_FILE), which is how the tests find it.
// `stop()` ends it with SIGTERM and checks its log: every line JSON, and none of the secrets
// the tests used (passwords, tokens, keys).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export async function startServer(env = {}) {
  const binary = process.env.NISHAN_BIN;
  assert.ok(binary, "NISHAN_BIN is not set: run the tests with `npm test`, which builds the server");
  const dir = mkdtempSync(join(tmpdir(), "nishan-node-"));
  const addrFile = join(dir, "addr");
  const logPath = join(dir, "server.log");
  const log = openSync(logPath, "w");
  const secretKey = `node-secret-key-${process.pid}-a8f3`;
  const child = spawn(binary, ["serve"], {
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${join(dir, "nishan.db")}?mode=rwc`,
      NISHAN_DATA_DIR: dir,
      NISHAN_BIND: "127.0.0.1:0",
      NISHAN_ADDR_FILE: addrFile,
      NISHAN_LOG: "debug",
      NISHAN_LOG_FORMAT: "json",
      NISHAN_SECRET_KEY: secretKey,
      ...env,
    },
    stdio: ["ignore", log, log],
  });
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  const deadline = Date.now() + 60_000;
  while (!existsSync(addrFile)) {
    if (exited) throw new Error(`the server stopped (${JSON.stringify(exited)}):\n${readFileSync(logPath, "utf8")}`);
    if (Date.now() > deadline) throw new Error("the server did not start within 60 s");
    await sleep(50);
  }
  const addr = readFileSync(addrFile, "utf8").trim();
  const secrets = new Set([secretKey]);
  let stopped = null;
  return {
    url: `http://${addr}/graphql`,
    wsUrl: `ws://${addr}/graphql/ws`,
    origin: `http://${addr}`,
    /** Values that must never reach the log. */
    secrets,
    /** The server's log so far (for a failure's message). */
    logText: () => readFileSync(logPath, "utf8"),
    /** Stops the server (once) and returns its log lines, parsed. */
    async stop() {
      if (stopped) return stopped;
      if (!exited) {
        // A server that has not exited 30 s after SIGTERM is killed (and the test fails below):
        // a server left running would keep the test run alive.
        child.kill("SIGTERM");
        const deadline = Date.now() + 30_000;
        while (!exited && Date.now() < deadline) await sleep(20);
        if (!exited) {
          child.kill("SIGKILL");
          while (!exited) await sleep(20);
        }
      }
      assert.equal(exited.code, 0, `the server exits cleanly on SIGTERM (${JSON.stringify(exited)})`);
      const text = readFileSync(logPath, "utf8");
      rmSync(dir, { recursive: true, force: true });
      const lines = text.split("\n").filter((line) => line.length > 0);
      assert.ok(lines.length > 5, "the server logged its run");
      for (const line of lines) JSON.parse(line);
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `a secret reached the log: ${secret}`);
      }
      stopped = lines.map((line) => JSON.parse(line));
      return stopped;
    },
  };
}

/** A GraphQL request with fetch; returns the status, headers and parsed body. */
export async function post(server, body, headers = {}) {
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Left null: the caller asserts on what it expected.
  }
  return { status: response.status, headers: response.headers, body: json, text };
}

