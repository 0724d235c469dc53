// `npm test`: builds the `nishan` binary once, copies it where no other build can replace it
// while the tests run, and runs every test/*.test.mjs file with node's test runner. Each test
// file starts its own server from that copy (see test/server.mjs).
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

const output = execFileSync("cargo", ["build", "--bin", "nishan", "--message-format=json-render-diagnostics"], {
  cwd: root,
  stdio: ["ignore", "pipe", "inherit"],
  maxBuffer: 1 << 28,
}).toString();
const executable = output
  .split("\n")
  .filter((line) => line.startsWith("{"))
  .map((line) => JSON.parse(line))
  .find((message) => message.reason === "compiler-artifact" && message.executable && message.target?.name === "nishan")
  ?.executable;
if (!executable) {
  console.error("cargo built no `nishan` executable");
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "nishan-node-bin-"));
const binary = join(dir, "nishan");
copyFileSync(executable, binary);
// Copying drops no permission bits on Linux, but be explicit: it must run.
execFileSync("chmod", ["+x", binary]);

const files = readdirSync(join(here, "test"))
  .filter((name) => name.endsWith(".test.mjs"))
  .sort()
  .map((name) => join("test", name));
// Each test fails after 10 minutes rather than hanging (its `after` hooks still run).
const result = spawnSync(process.execPath, ["--test", "--test-timeout=600000", ...files], {
  cwd: here,
  stdio: "inherit",
  env: { ...process.env, NISHAN_BIN: binary },
});
rmSync(dir, { recursive: true, force: true });
process.exit(result.status ?? 1);
