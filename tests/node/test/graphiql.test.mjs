// GraphiQL in a real browser (Debian's Chromium, headless) that can resolve no host but the
// server's: the page must render from the server's own assets and load the schema.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { startServer } from "./server.mjs";

const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));

// Never skipped: without Chromium the test fails, saying how to install it (scripts/test.sh
// installs it when run as root, and refuses to start without it otherwise).
describe("GraphiQL in a browser", () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  it("renders with every other host unreachable, and loads the schema", async () => {
    assert.ok(chromium, "Chromium is missing: install Debian's chromium package (apt-get install chromium)");
    const profile = mkdtempSync(join(tmpdir(), "nishan-chromium-"));
    try {
      const { stdout } = await promisify(execFile)(
        chromium,
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--no-first-run",
          `--user-data-dir=${profile}`,
          // A closed network: any host but the server's fails to resolve.
          "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
          "--virtual-time-budget=15000",
          "--dump-dom",
          server.url,
        ],
        { timeout: 60_000, maxBuffer: 1 << 24 },
      );
      assert.match(stdout, /class="graphiql-container"/, "GraphiQL rendered");
      assert.match(stdout, /graphiql-execute-button/);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
    const lines = await server.stop();
    const introspection = lines.find(
      (line) => line.message === "graphql operation" && line.span?.operation === "IntrospectionQuery",
    );
    assert.ok(introspection, "GraphiQL asked for the schema");
    assert.equal(introspection.outcome, "ok");
  });
});
