// Raw probes of the protocols, below any client library: every close code of
// graphql-transport-ws, ping/pong, the legacy graphql-ws subprotocol, and the status codes,
// content types and CORS headers of GraphQL over HTTP.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { post, startServer } from "./server.mjs";

const GQL = "application/graphql-response+json";
const ORIGIN = "https://annotate.example.org";

/** A raw socket; `messages()` yields parsed messages, `closed` resolves with {code, reason}. */
async function open(server, protocol = "graphql-transport-ws") {
  const socket = new WebSocket(server.wsUrl, protocol ? [protocol] : []);
  const queue = [];
  const waiting = [];
  socket.on("message", (data) => {
    const message = JSON.parse(String(data));
    const next = waiting.shift();
    if (next) next(message);
    else queue.push(message);
  });
  const closed = new Promise((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return {
    socket,
    closed,
    send: (message) => socket.send(typeof message === "string" ? message : JSON.stringify(message)),
    receive: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve))),
  };
}

async function ready(server) {
  const ws = await open(server);
  ws.send({ type: "connection_init" });
  assert.equal((await ws.receive()).type, "connection_ack");
  return ws;
}

describe("graphql-transport-ws close codes", () => {
  let server;
  before(async () => {
    server = await startServer({ NISHAN_WS_INIT_TIMEOUT_MS: "500" });
  });
  after(async () => {
    await server?.stop();
  });

  it("answers ping with pong, before and after the init", async () => {
    const ws = await open(server);
    ws.send({ type: "ping", payload: { n: 1 } });
    assert.deepEqual(await ws.receive(), { type: "pong", payload: { n: 1 } });
    ws.send({ type: "connection_init" });
    assert.equal((await ws.receive()).type, "connection_ack");
    ws.send({ type: "ping" });
    assert.deepEqual(await ws.receive(), { type: "pong" });
    ws.socket.close();
  });

  it("4400 for a malformed message, with a reason that fits a control frame", async () => {
    const ws = await ready(server);
    ws.send(`{"type": ${"[".repeat(5000)}`);
    const { code, reason } = await ws.closed;
    assert.equal(code, 4400);
    assert.ok(Buffer.byteLength(reason) <= 123 && reason.length > 0, reason);
  });

  it("4401 for subscribe before connection_ack", async () => {
    const ws = await open(server);
    ws.send({ type: "subscribe", id: "1", payload: { query: "{ me { id } }" } });
    assert.deepEqual(await ws.closed, { code: 4401, reason: "Unauthorized" });
  });

  it("4403 for a refused connection_init", async () => {
    const ws = await open(server);
    ws.send({ type: "connection_init", payload: { token: "nsn_unknown" } });
    assert.deepEqual(await ws.closed, { code: 4403, reason: "Forbidden" });
  });

  it("4408 when no connection_init arrives in time", async () => {
    const ws = await open(server);
    const started = Date.now();
    assert.deepEqual(await ws.closed, { code: 4408, reason: "Connection initialisation timeout" });
    assert.ok(Date.now() - started >= 400, "not before the configured 500 ms");
  });

  it("4409 for a duplicate operation id", async () => {
    const ws = await ready(server);
    ws.send({ type: "subscribe", id: "dup", payload: { query: "subscription { heartbeat(intervalMs: 10000) }" } });
    assert.equal((await ws.receive()).type, "next");
    ws.send({ type: "subscribe", id: "dup", payload: { query: "subscription { heartbeat }" } });
    assert.deepEqual(await ws.closed, { code: 4409, reason: "Subscriber for dup already exists" });
  });

  it("4429 for a second connection_init", async () => {
    const ws = await ready(server);
    ws.send({ type: "connection_init" });
    assert.deepEqual(await ws.closed, { code: 4429, reason: "Too many initialisation requests" });
  });

  it("4406 without a subprotocol the server speaks", async () => {
    const ws = await open(server, null);
    assert.equal((await ws.closed).code, 4406);
  });

  it("still serves the legacy graphql-ws subprotocol", async () => {
    const ws = await open(server, "graphql-ws");
    assert.equal(ws.socket.protocol, "graphql-ws");
    ws.send({ type: "connection_init", payload: {} });
    assert.equal((await ws.receive()).type, "connection_ack");
    assert.equal((await ws.receive()).type, "ka");
    ws.send({ type: "start", id: "1", payload: { query: "{ me { id } }" } });
    assert.deepEqual(await ws.receive(), { type: "data", id: "1", payload: { data: { me: null } } });
    assert.deepEqual(await ws.receive(), { type: "complete", id: "1" });
    ws.socket.close();
  });
});

describe("GraphQL over HTTP", () => {
  let server;
  before(async () => {
    server = await startServer({ NISHAN_CORS_ORIGINS: ORIGIN, NISHAN_MAX_BATCH: "3" });
  });
  after(async () => {
    await server?.stop();
  });

  it("negotiates the response type", async () => {
    const query = { query: "{ me { id } }" };
    for (const [accept, expected] of [
      [GQL, GQL],
      ["application/json", "application/json"],
      [undefined, "application/json"],
      [`${GQL},application/json;q=0.9`, GQL],
    ]) {
      const { status, headers } = await post(server, query, accept ? { accept } : {});
      assert.equal(status, 200);
      assert.ok(headers.get("content-type").startsWith(expected), `${accept} -> ${headers.get("content-type")}`);
    }
    assert.equal((await post(server, query, { accept: "text/plain" })).status, 406);
  });

  it("answers request errors with 4xx and no data, execution errors with 200 and data", async () => {
    for (const [query, code] of [
      ["{ me { id ", "GRAPHQL_PARSE_FAILED"],
      ["{ nothing }", "GRAPHQL_VALIDATION_FAILED"],
    ]) {
      const { status, body } = await post(server, { query }, { accept: GQL });
      assert.equal(status, 400);
      assert.equal(body.errors[0].extensions.code, code);
      assert.ok(!("data" in body));
    }
    const coerced = await post(
      server,
      { query: "query($n: Int) { projects(first: $n) { totalCount } }", variables: { n: "many" } },
      { accept: GQL },
    );
    assert.equal(coerced.status, 400);
    const { status, body } = await post(server, { query: '{ me { id } project(id: "x") { id } }' }, { accept: GQL });
    assert.equal(status, 200);
    assert.ok("data" in body);
    assert.equal(body.errors[0].extensions.code, "BAD_USER_INPUT");
  });

  it("refuses other content types (415) and mutations by GET (405)", async () => {
    const plain = await fetch(server.url, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    assert.equal(plain.status, 415);
    const get = await fetch(`${server.url}?query=${encodeURIComponent("mutation { logout }")}`, { headers: { accept: GQL } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    const query = await fetch(`${server.url}?query=${encodeURIComponent("{ me { id } }")}`);
    assert.deepEqual(await query.json(), { data: { me: null } });
  });

  it("caps batches", async () => {
    const batch = (n) => Array.from({ length: n }, () => ({ query: "{ me { id } }" }));
    const ok = await post(server, batch(3));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 3);
    assert.equal((await post(server, batch(4))).status, 400);
  });

  it("answers CORS preflights for configured origins", async () => {
    const preflight = await fetch(server.url, {
      method: "OPTIONS",
      headers: {
        origin: ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,apollographql-client-name",
      },
    });
    assert.ok(preflight.ok, String(preflight.status));
    assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
    assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
    const allowed = preflight.headers.get("access-control-allow-headers");
    for (const header of ["authorization", "content-type", "apollographql-client-name"]) {
      assert.ok(allowed.includes(header), `${header} in ${allowed}`);
    }
    const other = await fetch(server.url, {
      method: "OPTIONS",
      headers: { origin: "https://elsewhere.example.com", "access-control-request-method": "POST" },
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });

  it("serves GraphiQL and its assets itself", async () => {
    const page = await fetch(server.url, { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(!/https?:\/\//.test(html), "the page names no other host");
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(sources.length >= 5);
    for (const source of sources) {
      assert.ok(source.startsWith("/") && !source.startsWith("//"), source);
      assert.equal((await fetch(new URL(source, server.origin))).status, 200, source);
    }
  });

  it("answers the introspection query of graphql-js (GraphiQL's, Apollo's)", async () => {
    const { getIntrospectionQuery } = await import("graphql");
    const query = getIntrospectionQuery({ inputValueDeprecation: true, schemaDescription: true, descriptions: true });
    const { status, body } = await post(server, { query }, { accept: GQL });
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(body.data.__schema.types.some((type) => type.name === "Project"));
    assert.equal(body.data.__schema.subscriptionType.name, "Subscription");
  });

  it("exposes Prometheus metrics", async () => {
    await post(server, { query: "query MetricsProbe { me { id } }" });
    const response = await fetch(new URL("/metrics", server.origin));
    const text = await response.text();
    assert.match(text, /nishan_graphql_operations_total\{operation="MetricsProbe",outcome="ok"\} 1/);
    assert.match(text, /nishan_graphql_operation_duration_seconds_bucket/);
  });
});
