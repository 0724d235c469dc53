// A dashboard following a processing job with the graphql-ws client: it subscribes to
// jobProgress, receives the job's current state first, then every change in order, and the
// stream ends with COMPLETED. The job runs on the built-in extractor, so no model is needed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { post, startServer } from "./server.mjs";

describe("jobProgress over graphql-ws", () => {
  let server;
  let token;

  before(async () => {
    server = await startServer({ NISHAN_WORKERS: "2", NISHAN_JOB_POLL_MS: "100" });
    const password = `node-password-${randomBytes(6).toString("hex")}`;
    server.secrets.add(password);
    const { body } = await post(server, {
      query: "mutation($i: RegisterInput!) { register(input: $i) { token } }",
      variables: { i: { username: "anis", email: "anis@example.org", password } },
    });
    token = body.data.register.token;
    server.secrets.add(token);
  });

  after(async () => {
    await server?.stop();
  });

  async function gql(query, variables = {}) {
    const { body } = await post(server, { query, variables }, { authorization: `Bearer ${token}` });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  }

  it("streams a running job's progress in order and ends with COMPLETED", async () => {
    const project = (await gql('mutation { createProject(input: { name: "Live" }) { id } }')).createProject.id;
    const stanza = "کربلا میں حسینؑ ابن علیؑ\nعباسؑ فرات پر\n\n";
    const content = Array.from({ length: 150 }, (_, i) => `${stanza}${i}\n\n`).join("");
    const doc = (
      await gql("mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }", {
        i: { projectId: project, title: "Long", content },
      })
    ).createDocument.id;
    const config = (await gql('mutation { createProcessingConfig(input: { name: "small", chunkSize: 300, chunkOverlap: 0 }) { id } }'))
      .createProcessingConfig.id;
    const job = (
      await gql("mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }", {
        i: { documentId: doc, processingConfigId: config },
      })
    ).startProcessingJob.id;
    // Hold the job (after its current chunk, if it started), so the subscription sees it run.
    await gql("mutation($id: ID!) { pauseProcessingJob(id: $id) { status } }", { id: job });

    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const events = [];
    const subscription = (async () => {
      for await (const result of client.iterate({
        query: "subscription Follow($id: ID!) { jobProgress(jobId: $id) { jobId status progress currentStep entitiesFound } }",
        variables: { id: job },
      })) {
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        events.push(result.data.jobProgress);
        if (events.length === 1) {
          // The current state came first; now let the job go on.
          await gql("mutation($id: ID!) { resumeProcessingJob(id: $id) { status } }", { id: job });
        }
      }
    })();
    await subscription;
    await client.dispose();

    assert.ok(events.length >= 3, `several events: ${JSON.stringify(events)}`);
    assert.ok(["PAUSED", "PROCESSING"].includes(events[0].status), `the current state first: ${events[0].status}`);
    assert.equal(events.at(-1).status, "COMPLETED", "the stream ends with the final status");
    assert.ok(events.every((e) => e.jobId === job));
    const running = events.filter((e) => e.status === "PROCESSING").map((e) => e.progress);
    assert.ok(running.length > 1, "progress is reported as the job runs");
    assert.ok(running.every((p, i) => i === 0 || p >= running[i - 1]), `in order: ${running}`);
    assert.ok(events.some((e) => /^chunk \d+ of \d+$/.test(e.currentStep ?? "")), "steps are named");
    assert.equal(events.at(-1).progress, 100);
    assert.ok(events.at(-1).entitiesFound > 0);
  });
});
