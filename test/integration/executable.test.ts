// What only the single-file executable can get wrong: its own module tracer (the proof that a hit
// evaluates no SDK must be able to fail), the network timeouts Node gives the SDKs (Bun's HTTP stack
// is another implementation), files it must NOT read from the working directory (.env, bunfig.toml:
// the helper runs as root in whatever directory containerd or the kubelet start it), the version it
// reports, and the portable launcher's message on a Node that is too old.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { baseEnv, EXECUTABLE, LAUNCHER, ROOT, runCli } from "../support/cli.ts";
import { awsEnv, startFakeAws } from "../support/fake-aws.ts";
import { which } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const SDK = /node_modules\/(?:@aws-sdk|@smithy|google-auth-library|@azure)\//;

test("the executable's tracer sees the AWS SDK on a miss and none on the hit that follows", async (t) => {
  const fake = await startFakeAws({ keys: { AKIDEXAMPLE: "secret-example" } });
  t.after(() => fake.close());
  const h = await tmpTree(t);
  const env = { ...baseEnv(h), ...awsEnv(fake, "AKIDEXAMPLE", "secret-example") };
  const miss = join(h, "miss.txt");
  const r1 = await runCli(["get"], HOST, { ...env, DCC_TRACE_LOADS: miss }, { bin: EXECUTABLE });
  assert.equal(r1.code, 0, r1.stdout + r1.stderr);
  const missed = await readFile(miss, "utf8");
  assert.match(missed, /^src\/cli\.ts$/m, "our entry records itself");
  assert.match(missed, SDK, "a miss evaluates the SDK, so the tracer can fail");
  const hit = join(h, "hit.txt");
  const r2 = await runCli(["get"], HOST, { ...env, DCC_TRACE_LOADS: hit }, { bin: EXECUTABLE });
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  assert.equal(r2.stdout, r1.stdout);
  const hitLoads = await readFile(hit, "utf8");
  assert.match(hitLoads, /^src\/cli\.ts$/m);
  assert.doesNotMatch(hitLoads, SDK);
  assert.doesNotMatch(hitLoads, /proper-lockfile|write-file-atomic|node_modules\/yaml\//);
});

test("the executable reads no .env or bunfig.toml from the working directory", async (t) => {
  const h = await tmpTree(t, {
    "work/.env": "DOCKER_CREDENTIAL_CLOUD_LOG=debug\nAWS_ACCESS_KEY_ID=AKIDPLANTED\n",
    "work/bunfig.toml": 'preload = ["./evil.ts"]\n',
    "work/evil.ts": 'console.log("planted");\n',
  });
  const r = spawnSync(EXECUTABLE, ["get"], {
    cwd: join(h, "work"),
    env: baseEnv(h),
    input: "registry.example.com",
    encoding: "utf8",
  });
  assert.equal(r.stdout, "credentials not found in native keychain\n");
  assert.equal(r.stderr, "", "no debug log: .env was not read");
});

// strace sees every path the process (and any child) asks the kernel about: none may be in the
// working directory, whatever Bun's autoload options would look for there (.env, bunfig.toml,
// tsconfig.json, package.json).
test("the executable opens, stats or reads no file in its working directory", {
  skip: which("strace") ? false : "needs strace (.ci/run installs it)",
}, async (t) => {
  const h = await tmpTree(t, {
    "work/.env": "DOCKER_CREDENTIAL_CLOUD_LOG=debug\n",
    "work/bunfig.toml": 'preload = ["./evil.ts"]\n',
    "work/tsconfig.json": '{"compilerOptions":{"paths":{"*":["./evil.ts"]}}}\n',
    "work/package.json": '{"type":"commonjs","imports":{"#x":"./evil.ts"}}\n',
    "work/evil.ts": 'console.log("planted");\n',
  });
  const work = join(h, "work");
  const log = join(h, "strace.txt");
  const r = spawnSync("strace", ["-f", "-qq", "-e", "trace=%file", "-o", log, EXECUTABLE, "get"], {
    cwd: work,
    env: baseEnv(h),
    input: "registry.example.com",
    encoding: "utf8",
  });
  assert.equal(r.stdout, "credentials not found in native keychain\n", r.stderr);
  const calls = (await readFile(log, "utf8")).split("\n").filter((l) => /^\d+ +\w+\(/.test(l));
  assert.ok(
    calls.some((l) => l.includes(EXECUTABLE)),
    "strace saw the program start",
  );
  // Relative paths resolve against the working directory, absolute ones may name it.
  // getcwd only names it; execve runs the program by its absolute path.
  const touched = calls
    .filter((l) => !/^\d+ +(?:getcwd|execve)\(/.test(l))
    .filter((l) => l.includes(work) || /\((?:AT_FDCWD, )?"(?!\/)[^"]*"/.test(l));
  assert.deepEqual(touched, []);
});

test("version names the commit and the runtime", async (t) => {
  const r = await runCli(["version"], "", baseEnv(await tmpTree(t)), { bin: EXECUTABLE });
  const commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  assert.match(r.stdout, /^docker-credential-cloud \d+\.\d+\.\d+ \(commit [0-9a-f]+, bun \d+\.\d+\.\d+\)\n$/);
  // Built from this checkout (a rebuild after a new commit changes it; the build runs in npm test).
  assert.ok(r.stdout.includes(commit.slice(0, 7)) || /commit unknown/.test(r.stdout), r.stdout);
});

test("the Node launcher on a Node older than 22 says so in one line", async (t) => {
  const old = ["/usr/bin/node", "/usr/local/bin/node"].find((n) => {
    const v = spawnSync(n, ["-p", "process.versions.node"], { encoding: "utf8" });
    return v.status === 0 && Number(v.stdout.split(".")[0]) < 22;
  });
  if (!old) return t.skip("no Node older than 22 on this machine");
  const h = await tmpTree(t);
  await writeFile(join(h, "x"), "");
  const r = spawnSync(old, [LAUNCHER, "version"], { env: baseEnv(h), encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^docker-credential-cloud: Node v\d+\.\d+\.\d+ is too old; Node 22 or newer is required/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});
