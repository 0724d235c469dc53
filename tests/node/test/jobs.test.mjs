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

  it("streams a job's progress from its current state, in order, ending with COMPLETED", async () => {
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
    // The built-in extractor may finish this job before the subscription starts (chunks are
    // stored together at most every 0.25 s, so a pause is seen only then): the stream must
    // still begin with the job's current state and end with its final one.
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const events = [];
    const subscription = (async () => {
      for await (const result of client.iterate({
        query: "subscription Follow($id: ID!) { jobProgress(jobId: $id) { jobId status progress currentStep entitiesFound } }",
        variables: { id: job },
      })) {
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        events.push(result.data.jobProgress);
      }
    })();
    await subscription;
    await client.dispose();

    assert.ok(events.length >= 1, `the current state at least: ${JSON.stringify(events)}`);
    assert.ok(["QUEUED", "PROCESSING", "COMPLETED"].includes(events[0].status), `the current state first: ${events[0].status}`);
    assert.equal(events.at(-1).status, "COMPLETED", "the stream ends with the final status");
    assert.equal(events.filter((e) => e.status === "COMPLETED").length, 1, "the final status once, last");
    assert.ok(events.every((e) => e.jobId === job));
    const progress = events.map((e) => e.progress);
    assert.ok(progress.every((p, i) => i === 0 || p >= progress[i - 1]), `in order: ${progress}`);
    assert.equal(events.at(-1).progress, 100);
    assert.ok(events.at(-1).entitiesFound > 0);
  });
});
