// The graphql-ws library's client, as a dashboard uses it: a subscription, a query and a
// mutation over one socket, signed in through connectionParams; a refused token.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { post, startServer } from "./server.mjs";

function wsClient(server, connectionParams, on = {}) {
  return createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true, on });
}

describe("graphql-ws client", () => {
  let server;
  let token;

  before(async () => {
    server = await startServer();
    const password = `node-password-${randomBytes(6).toString("hex")}`;
    server.secrets.add(password);
    const { body } = await post(server, {
      query: "mutation($i: RegisterInput!) { register(input: $i) { token } }",
      variables: { i: { username: "dabir", email: "dabir@example.org", password } },
    });
    token = body.data.register.token;
    server.secrets.add(token);
  });

  after(async () => {
    await server?.stop();
  });

  it("streams a subscription and completes it", async () => {
    const client = wsClient(server, { Authorization: `Bearer ${token}` });
    const beats = [];
    for await (const result of client.iterate({ query: "subscription Beat { heartbeat(intervalMs: 100) }" })) {
      assert.equal(result.errors, undefined);
      beats.push(Date.parse(result.data.heartbeat));
      if (beats.length === 3) break; // completes the subscription
    }
    assert.ok(beats.every((t, i) => i === 0 || t > beats[i - 1]), `ordered: ${beats}`);
    await client.dispose();
  });

  it("runs queries and mutations with the connection's user", async () => {
    const client = wsClient(server, { token });
    const results = [];
    for await (const result of client.iterate({ query: "query Me { me { username } }" })) results.push(result);
    assert.deepEqual(results, [{ data: { me: { username: "dabir" } } }]);
    for await (const result of client.iterate({
      query: 'mutation Create { createProject(input: { name: "Socket" }) { name myRole } }',
    })) {
      assert.deepEqual(result.data.createProject, { name: "Socket", myRole: "OWNER" });
    }
    // A document that does not validate ends the operation with an error.
    await assert.rejects(
      (async () => {
        for await (const _ of client.iterate({ query: "{ nothing }" })) {
          // unreachable
        }
      })(),
      (errors) => {
        assert.equal(errors[0].extensions.code, "GRAPHQL_VALIDATION_FAILED");
        return true;
      },
    );
    await client.dispose();
  });

  it("is refused with 4403 for an unknown token", async () => {
    let closed;
    const client = wsClient(server, { Authorization: "Bearer nsn_not-a-token" }, { closed: (event) => (closed = event) });
    await assert.rejects(
      (async () => {
        for await (const _ of client.iterate({ query: "{ me { id } }" })) {
          // unreachable
        }
      })(),
    );
    assert.equal(closed?.code, 4403);
    await client.dispose();
  });
});
