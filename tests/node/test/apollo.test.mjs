// Apollo Client 4, as a browser application would use it: its HTTP link for queries and
// mutations, its persisted-query link (Apollo APQ), and apollo-upload-client's link for a
// document upload (the GraphQL multipart request).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import UploadHttpLink from "apollo-upload-client/UploadHttpLink.mjs";

import { startServer } from "./server.mjs";

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/** Every request the client makes, with its body. */
function recordingFetch() {
  const calls = [];
  const recorded = async (url, init) => {
    calls.push({ url: String(url), method: init?.method ?? "GET", body: init?.body });
    return fetch(url, init);
  };
  return { calls, fetch: recorded };
}

function client(server, { token, persisted = false, upload = false, fetch: customFetch } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const options = { uri: server.url, headers, fetch: customFetch ?? fetch };
  let link = upload ? new UploadHttpLink(options) : new HttpLink(options);
  if (persisted) link = new PersistedQueryLink({ sha256 }).concat(link);
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const REGISTER = gql`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      token
      user {
        id
        username
      }
    }
  }
`;

describe("Apollo Client", () => {
  let server;
  let token;
  let projectId;

  before(async () => {
    server = await startServer();
    const password = `node-password-${randomBytes(6).toString("hex")}`;
    server.secrets.add(password);
    const { data } = await client(server).mutate({
      mutation: REGISTER,
      variables: { input: { username: "mir_anis", email: "anis@example.org", password } },
    });
    token = data.register.token;
    server.secrets.add(token);
    assert.equal(data.register.user.username, "mir_anis");
  });

  after(async () => {
    await server?.stop();
  });

  it("queries and mutates with the HTTP link", async () => {
    const signedIn = client(server, { token });
    const { data } = await signedIn.query({ query: gql`query Me { me { username isAdmin } }` });
    assert.deepEqual({ ...data.me }, { __typename: "User", username: "mir_anis", isAdmin: true });

    const created = await signedIn.mutate({
      mutation: gql`
        mutation Create($input: CreateProjectInput!) {
          createProject(input: $input) { id name slug myRole }
        }
      `,
      variables: { input: { name: "مرثیۂ انیس", description: "from Apollo" } },
    });
    projectId = created.data.createProject.id;
    assert.equal(created.data.createProject.slug, "مرثیۂ-انیس");
    assert.equal(created.data.createProject.myRole, "OWNER");

    // Errors reach Apollo with their code.
    await assert.rejects(
      signedIn.mutate({
        mutation: gql`mutation Bad { createProject(input: { name: "" }) { id } }`,
      }),
      (error) => {
        assert.equal(error.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", String(error));
        return true;
      },
    );
    // A request error (here: validation) too, although the status is 400.
    await assert.rejects(signedIn.query({ query: gql`query Nope { nothing }` }), (error) => {
      assert.equal(error.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED", String(error));
      return true;
    });
  });

  it("sends hashes instead of documents with the persisted-query link", async () => {
    const query = gql`
      query Projects {
        projects(first: 5) { totalCount edges { node { name } } }
      }
    `;
    const first = recordingFetch();
    const { data } = await client(server, { token, persisted: true, fetch: first.fetch }).query({ query });
    assert.equal(data.projects.totalCount, 1);
    // A miss: the hash alone, PersistedQueryNotFound, then the hash with the document.
    assert.equal(first.calls.length, 2, JSON.stringify(first.calls));
    const [miss, register] = first.calls.map((call) => JSON.parse(call.body));
    assert.equal(miss.extensions.persistedQuery.version, 1);
    assert.match(miss.extensions.persistedQuery.sha256Hash, /^[0-9a-f]{64}$/);
    assert.equal(miss.query, undefined);
    assert.equal(typeof register.query, "string");

    // Another client (a fresh page) sends the hash alone, and it is enough.
    const second = recordingFetch();
    const again = await client(server, { token, persisted: true, fetch: second.fetch }).query({ query });
    assert.equal(again.data.projects.edges[0].node.name, "مرثیۂ انیس");
    assert.equal(second.calls.length, 1);
    assert.equal(JSON.parse(second.calls[0].body).query, undefined);
  });

  it("uploads a document with apollo-upload-client", async () => {
    assert.ok(projectId, "the project of the first test");
    const text = "حسینؑ ابن علیؑ کربلا میں\nعباسؑ فرات پر\n";
    const file = new File([new TextEncoder().encode(text)], "marsiya.txt", { type: "text/plain" });
    const recorded = recordingFetch();
    const { data } = await client(server, { token, upload: true, fetch: recorded.fetch }).mutate({
      mutation: gql`
        mutation Upload($projectId: ID!, $file: Upload!) {
          uploadDocument(projectId: $projectId, file: $file) { title content lineCount encoding }
        }
      `,
      variables: { projectId, file },
    });
    assert.ok(recorded.calls[0].body instanceof FormData, "sent as a multipart request");
    assert.equal(data.uploadDocument.title, "marsiya.txt");
    assert.equal(data.uploadDocument.content, text);
    assert.equal(data.uploadDocument.lineCount, 2);
  });
});
