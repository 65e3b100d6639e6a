// The reference Go client of the credential-helper protocol is the judge of compatibility:
// test/go/src/dccgoclient (built once per run, GOPATH mode, no network) drives the BUILT binary
// with github.com/docker/docker-credential-helpers/client — the package the Docker CLI uses —
// through store → get → list → erase → get. Needs the Debian packages golang-go,
// golang-github-docker-docker-credential-helpers-dev and golang-golang-x-sys-dev (the client
// imports golang.org/x/sys/execabs, which the helpers package does not declare as a dependency).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, baseEnv } from "../support/cli.ts";
import { goBuild } from "../support/go.ts";
import { run, which } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const GOCODE = "/usr/share/gocode/src";
const needs: [string, string][] = [
  [
    `${GOCODE}/github.com/docker/docker-credential-helpers/client`,
    "golang-github-docker-docker-credential-helpers-dev",
  ],
  [`${GOCODE}/golang.org/x/sys/execabs`, "golang-golang-x-sys-dev"],
];
const missing = [
  ...(which("go") ? [] : ["golang-go (no `go` on PATH)"]),
  ...needs.filter(([dir]) => !existsSync(dir)).map(([dir, pkg]) => `${pkg} (no ${dir})`),
];

interface Creds {
  ServerURL: string;
  Username: string;
  Secret: string;
}
type Step = { op: "store"; creds: Partial<Creds> } | { op: "get" | "erase"; url: string } | { op: "list" };
interface StepResult {
  err?: string;
  notFound?: boolean;
  creds?: Creds;
  list?: Record<string, string>;
}

describe("reference Go client (docker-credential-helpers/client) against the built binary", {
  skip: missing.length ? `missing Debian packages: ${missing.join(", ")}` : false,
}, () => {
  let work = "";
  let client = "";

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dcc-go-"));
    const { bin, result: r } = await goBuild(work, "dccgoclient");
    client = bin;
    assert.equal(r.code, 0, `go build failed:\n${r.stderr}`);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const drive = async (home: string, steps: Step[]): Promise<StepResult[]> => {
    const r = await run(client, [BIN], {
      env: { ...baseEnv(home), DOCKER_CREDENTIAL_CLOUD_STORE: "file" },
      input: JSON.stringify(steps),
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, `dccgoclient failed:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  test("store → get → list → erase → get (not found)", async (t) => {
    const home = await tmpTree(t);
    const creds = { ServerURL: "https://registry.example:5000", Username: "alice", Secret: "s3cr3t/+=" };
    const [stored, got, listed, erased, gone] = await drive(home, [
      { op: "store", creds },
      { op: "get", url: "https://registry.example:5000" },
      { op: "list" },
      { op: "erase", url: "https://registry.example:5000" },
      { op: "get", url: "https://registry.example:5000" },
    ]);
    assert.deepEqual(stored, {});
    assert.deepEqual(got, { creds });
    assert.deepEqual(listed, { list: { "https://registry.example:5000": "alice" } });
    assert.deepEqual(erased, {});
    assert.equal(gone?.notFound, true, `expected credentials.IsErrCredentialsNotFound: ${JSON.stringify(gone)}`);
  });

  test("Docker Hub and identity tokens: what the Docker CLI stores comes back unchanged", async (t) => {
    const home = await tmpTree(t);
    const hub = { ServerURL: "https://index.docker.io/v1/", Username: "<token>", Secret: "eyJhbGciOi.identity.token" };
    const res = await drive(home, [
      { op: "store", creds: hub },
      { op: "get", url: "https://index.docker.io/v1/" },
      { op: "get", url: "docker.io" },
      { op: "list" },
      { op: "erase", url: "index.docker.io" },
      { op: "list" },
    ]);
    assert.deepEqual(res[1], { creds: hub });
    assert.deepEqual(res[2], { creds: hub }, "docker.io is the same registry");
    assert.deepEqual(res[3], { list: { "https://index.docker.io/v1/": "<token>" } });
    assert.deepEqual(res[5], {}, "an empty list (omitted by the client's omitempty)");
  });

  test("missing server URL / username: the client recognises the reference error texts", async (t) => {
    const home = await tmpTree(t);
    const [noUrl, noUser, noGet] = await drive(home, [
      { op: "store", creds: { Username: "u", Secret: "s" } },
      { op: "store", creds: { ServerURL: "r.example", Secret: "s" } },
      { op: "get", url: "unknown.example" },
    ]);
    assert.match(
      noUrl?.err ?? "",
      /^error storing credentials - err: no credentials server URL, out: `no credentials server URL`$/,
    );
    assert.match(
      noUser?.err ?? "",
      /^error storing credentials - err: no credentials username, out: `no credentials username`$/,
    );
    assert.equal(noGet?.notFound, true);
  });
});
