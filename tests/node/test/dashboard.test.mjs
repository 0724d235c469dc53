// The job dashboard (GET /dashboard) in a real browser: Debian's Chromium, headless, that can
// resolve no host but the server's, driven over the DevTools protocol (with the `ws` package,
// no other library). A user signs in with a token and watches: a job's row appears and
// reaches COMPLETED with its bar full; a job held inside a model call (a mock Ollama on
// 127.0.0.1 that answers only when the test lets it) is paused with its Pause button and
// finished with Resume; the Urdu title is laid out right to left. A screenshot is kept under
// target/node-artifacts/.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import WebSocket from "ws";

import { post, startServer } from "./server.mjs";

const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));
const artifacts = resolve(dirname(fileURLToPath(import.meta.url)), "../../../target/node-artifacts");

/** A mock Ollama (`POST /api/chat`) answering `{"entities": []}`; while `hold` is set, each
 * request waits until `release()`. */
async function startMockOllama() {
  const waiting = [];
  const mock = {
    hold: false,
    requests: 0,
    held: () => waiting.length,
    /** Lets one held request answer. */
    releaseOne() {
      waiting.shift()?.();
    },
    release() {
      mock.hold = false;
      for (const answer of waiting.splice(0)) answer();
    },
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      mock.requests += 1;
      const answer = () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            model: "mock",
            message: { role: "assistant", content: '{"entities": []}' },
            done: true,
            done_reason: "stop",
            prompt_eval_count: 10,
            eval_count: 5,
          }),
        );
      };
      if (mock.hold) waiting.push(answer);
      else answer();
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  mock.url = `http://127.0.0.1:${server.address().port}`;
  mock.stop = () => {
    mock.release();
    return new Promise((ok) => server.close(ok));
  };
  return mock;
}

/** Headless Chromium with the DevTools protocol on a page target. */
async function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "nishan-chromium-"));
  const child = spawn(
    chromium,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "--window-size=1280,720",
      "about:blank",
    ],
    // Its own process group, so that stopping it ends its helper processes too.
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  const endpoint = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`Chromium gave no DevTools address:\n${stderr}`)), 30_000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const found = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (found) {
        clearTimeout(timer);
        ok(found[1]);
      }
    });
    child.on("exit", (code) => fail(new Error(`Chromium exited (${code}):\n${stderr}`)));
  });
  const http = endpoint.replace(/^ws:/, "http:").replace(/\/devtools\/browser\/.*$/, "");
  const targets = await (await fetch(`${http}/json/list`)).json();
  const page = targets.find((t) => t.type === "page");
  assert.ok(page, `a page target: ${JSON.stringify(targets)}`);
  const socket = new WebSocket(page.webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise((ok, fail) => {
    socket.once("open", ok);
    socket.once("error", fail);
  });
  let next = 1;
  const pending = new Map();
  const console = [];
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString());
    if (message.id && pending.has(message.id)) {
      const { ok, fail } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) fail(new Error(JSON.stringify(message.error)));
      else ok(message.result);
    } else if (message.method === "Runtime.exceptionThrown") {
      console.push(`exception: ${JSON.stringify(message.params.exceptionDetails)}`);
    } else if (message.method === "Log.entryAdded") {
      console.push(`${message.params.entry.level}: ${message.params.entry.text}`);
    }
  });
  const send = (method, params = {}) =>
    new Promise((ok, fail) => {
      const id = next++;
      pending.set(id, { ok, fail });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send("Page.enable");
  await send("Runtime.enable");
  await send("Log.enable");
  return {
    send,
    console,
    /** Evaluates an expression in the page and returns its value (awaiting promises). */
    async eval(expression) {
      const { result, exceptionDetails } = await send("Runtime.evaluate", {
        expression,
        returnByValue: true,
        awaitPromise: true,
      });
      if (exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(exceptionDetails)}`);
      return result.value;
    },
    /** Ends Chromium (SIGKILL if SIGTERM has not ended it in 10 s) and removes its profile;
     * Chromium's helper processes may still be writing there for a moment, so the removal
     * retries, and a profile left behind in the temporary directory fails nothing. */
    async stop() {
      socket.close();
      const signal = (name) => {
        try {
          process.kill(-child.pid, name);
        } catch {
          // The group is gone already.
        }
      };
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((ok) => child.once("exit", ok));
        signal("SIGTERM");
        const timer = setTimeout(() => signal("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      signal("SIGKILL");
      try {
        rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
      } catch (e) {
        process.stderr.write(`left Chromium's profile ${profile}: ${e.message}\n`);
      }
    },
  };
}

/** Waits until `probe()` answers a value `done` holds of (truthy by default); fails with the
 * last answer after 60 s. */
async function until(what, probe, done = Boolean) {
  const deadline = Date.now() + 60_000;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (done(last)) return last;
    await sleep(100);
  }
  throw new Error(`${what}: still ${JSON.stringify(last)} after 60 s`);
}

describe("the job dashboard in a browser", () => {
  let server;
  let mock;
  let browser;
  let token;

  before(async () => {
    mock = await startMockOllama();
    server = await startServer({ NISHAN_WORKERS: "2", NISHAN_JOB_POLL_MS: "100" });
    const password = `node-password-${randomBytes(6).toString("hex")}`;
    server.secrets.add(password);
    const { body } = await post(server, {
      query: "mutation($i: RegisterInput!) { register(input: $i) { token user { isAdmin } } }",
      variables: { i: { username: "rukhsana", email: "rukhsana@example.org", password } },
    });
    token = body.data.register.token;
    server.secrets.add(token);
    assert.ok(body.data.register.user.isAdmin, "the first user is the global admin (who may add a model)");
  });

  // Each part is stopped even when another's stop fails: a server left running would keep
  // this test process (and the whole test run) alive.
  after(async () => {
    const stops = [() => browser?.stop(), () => mock?.stop(), () => server?.stop()];
    const failures = [];
    for (const stop of stops) {
      try {
        await stop();
      } catch (e) {
        failures.push(e);
      }
    }
    if (failures.length > 0) throw failures[0];
  });

  async function gql(query, variables = {}) {
    const { body } = await post(server, { query, variables }, { authorization: `Bearer ${token}` });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  }

  it("shows jobs live: a row reaching COMPLETED, Pause and Resume, an Urdu title right to left", async () => {
    assert.ok(chromium, "Chromium is missing: install Debian's chromium package (apt-get install chromium)");
    const project = (await gql('mutation { createProject(input: { name: "Marsiya" }) { id } }')).createProject.id;
    const create = (title, content) =>
      gql("mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }", {
        i: { projectId: project, title, content },
      }).then((d) => d.createDocument.id);
    const stanza = "کربلا میں حسینؑ ابن علیؑ\nعباسؑ فرات پر\n\n";
    const urduTitle = "مرثیۂ میر انیس";
    const quick = await create(urduTitle, stanza.repeat(3));
    const held = await create("Held in a model call", Array.from({ length: 60 }, (_, i) => `${stanza}${i}\n\n`).join(""));
    const config = (
      await gql('mutation { createProcessingConfig(input: { name: "small", chunkSize: 200, chunkOverlap: 0 }) { id } }')
    ).createProcessingConfig.id;
    const model = (
      await gql("mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }", {
        i: { name: "Mock Ollama", provider: "LOCAL", modelName: "mock", apiBaseUrl: mock.url, timeoutSecs: 120 },
      })
    ).createLlmModel.id;
    const start = (documentId, llmModelId) =>
      gql("mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }", {
        i: { documentId, processingConfigId: config, ...(llmModelId ? { llmModelId } : {}) },
      }).then((d) => d.startProcessingJob.id);

    browser = await startBrowser();
    const { origin } = server;
    await browser.send("Page.navigate", { url: `${origin}/dashboard` });
    // The form is usable once the page's script has taken it over (its button enabled): a
    // click before that would send the form natively.
    await until("the sign-in form", () =>
      browser.eval("(() => { const b = document.getElementById('token-submit'); return !!b && !b.disabled; })()"),
    );
    // The user pastes a token and opens the dashboard.
    await browser.eval(`(() => {
      document.getElementById('token').value = ${JSON.stringify(token)};
      document.getElementById('token-submit').click();
      return true;
    })()`);
    try {
      await until(
        "the live connection",
        () => browser.eval("document.getElementById('connection').textContent"),
        (badge) => badge === "online",
      );
    } catch (e) {
      // What the browser and the server said about the socket, to tell a refused upgrade from
      // a handshake that never finished.
      const socketLines = server
        .logText()
        .split("\n")
        .filter((line) => /graphql\/ws|websocket|connection_init/i.test(line))
        .slice(-20);
      e.message += `\nbrowser console:\n${browser.console.join("\n")}\nserver log (socket lines):\n${socketLines.join("\n")}`;
      throw e;
    }

    const row = (id) => `document.querySelector('tr[data-job-id="${id}"]')`;
    const state = (id) =>
      browser.eval(`(() => {
        const tr = ${row(id)};
        if (!tr) return null;
        const name = tr.querySelector('.title .name');
        const button = (c) => { const b = tr.querySelector('button.' + c); return !b.hidden; };
        return {
          status: tr.querySelector('.status').textContent,
          step: tr.querySelector('.step').textContent,
          bar: tr.querySelector('progress.bar').value,
          barMax: tr.querySelector('progress.bar').max,
          title: name.textContent,
          direction: getComputedStyle(name).direction,
          rtl: name.matches(':dir(rtl)'),
          kind: tr.querySelector('.kind').textContent,
          throughput: tr.querySelector('.throughput').textContent,
          failures: tr.querySelector('.failures').textContent,
          error: tr.querySelector('.error').textContent,
          pause: button('pause'), resume: button('resume'), cancel: button('cancel'),
        };
      })()`);

    // 1. A job started after the page opened appears, and reaches COMPLETED with its bar full.
    const quickJob = await start(quick);
    const done = await until("the quick job's row at COMPLETED", () => state(quickJob), (s) => s && s.status === "COMPLETED");
    assert.equal(done.bar, 100);
    assert.equal(done.barMax, 100);
    assert.equal(done.kind, "EXTRACTION");
    assert.equal(done.failures, "0");
    assert.match(done.throughput, /items\/s$/);
    assert.ok(!done.pause && !done.resume && !done.cancel, "no actions on a finished job");
    // 2. Its Urdu title is laid out right to left.
    assert.equal(done.title, urduTitle);
    assert.equal(done.direction, "rtl");
    assert.ok(done.rtl);

    // 3. A job held inside its first model call: Pause pauses it, Resume finishes it.
    mock.hold = true;
    const heldJob = await start(held, model);
    await until("a model call held", () => mock.held() >= 1);
    const running = await until("the held job PROCESSING on the page", () => state(heldJob), (s) => s && s.status === "PROCESSING");
    assert.ok(running.pause && running.cancel && !running.resume, JSON.stringify(running));
    await browser.eval(`${row(heldJob)}.querySelector('button.pause').click(), true`);
    // The server takes the pause and the job stops after its current step: the page says so.
    const pausing = await until("the pause taken", () => state(heldJob), (s) => s && s.step === "pause requested");
    assert.equal(pausing.error, "");
    // The held call answers (and any the job makes before it sees the pause, one at a time).
    const paused = await until(
      "the held job PAUSED",
      async () => {
        mock.releaseOne();
        return state(heldJob);
      },
      (s) => s && s.status === "PAUSED",
    );
    assert.ok(paused.resume && !paused.pause, JSON.stringify(paused));
    assert.equal(paused.error, "");
    assert.ok(paused.bar < 100, `paused before the end: ${paused.bar}`);
    const stored = await gql("query($id: ID!) { processingJob(id: $id) { status } }", { id: heldJob });
    assert.equal(stored.processingJob.status, "PAUSED", "the server agrees");
    const calls = mock.requests;
    mock.release();
    await browser.eval(`${row(heldJob)}.querySelector('button.resume').click(), true`);
    const finished = await until("the resumed job COMPLETED", () => state(heldJob), (s) => s && s.status === "COMPLETED");
    assert.equal(finished.bar, 100);
    assert.equal(finished.direction, "ltr", "a Latin title stays left to right");
    assert.ok(mock.requests > calls, `the model was called again after the resume: ${mock.requests}`);

    // 4. The server decides: a refusal is shown on the row (cancel, clicked from a script,
    // since the page hides it on a finished job, is a CONFLICT).
    await browser.eval(`${row(heldJob)}.querySelector('button.cancel').click(), true`);
    const refused = await until("the refusal on the row", () => state(heldJob), (s) => s && s.error);
    assert.match(refused.error, /^CONFLICT: /);

    const { data } = await browser.send("Page.captureScreenshot", { format: "png" });
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(join(artifacts, "dashboard.png"), Buffer.from(data, "base64"));
    assert.deepEqual(
      browser.console.filter((line) => !line.startsWith("verbose")),
      [],
      "the page logged no error (a CSP violation would be one)",
    );
  });
});
