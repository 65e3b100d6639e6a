// Benchmarks, run on demand (`npm run bench`), never in CI: prints numbers and the issue-14
// targets they meet or miss; asserts nothing. In one run, each program as a user runs it:
//   - the single-file executable (dist/docker-credential-cloud) and the Node launcher
//     (dist/bin/docker-credential-cloud): `get` on an ECR host whose token is in the cache;
//   - the floors: `node -e 0` on the same Node, and an empty program compiled by the same Bun with
//     the options of scripts/build-bin.ts;
//   - the Go `docker-credential-ecr-login` (Debian `amazon-ecr-credential-helper`) on its own cache hit;
//   - cold misses (no cache) per cloud against the loopback fakes of the tests;
//   - peak RSS (GNU time), and each binary's size raw and gzipped (dist/release when built).
// Wall time: hyperfine when installed (median, p90, min; it subtracts its /bin/sh start), else
// repeated spawns. Instructions: valgrind --tool=callgrind (all threads and exec'd children), which
// stay repeatable on a busy machine where wall time does not.
// BENCH_RUNS (default 30), BENCH_COLD_RUNS (default 10), BENCH_NO_CALLGRIND=1 change what runs.
// All traffic stays on 127.0.0.1: the fakes are the test fakes.
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { baseEnv, EXECUTABLE, LAUNCHER, ROOT } from "../test/support/cli.ts";
import { awsEnv, startFakeAws } from "../test/support/fake-aws.ts";
import { startFakeAzure, TENANT } from "../test/support/fake-azure.ts";
import { startFakeGoogle } from "../test/support/fake-google.ts";
import { startMitmProxy } from "../test/support/mitm.ts";
import { which } from "../test/support/namespace.ts";
import { makeCa } from "../test/support/tls.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 10);
const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const AKID = "AKIAFAKEBENCHKEY0001";
const SECRET = "fake-bench-secret";
const work = mkdtempSync(join(tmpdir(), "dcc-bench-"));
const HYPERFINE = which("hyperfine");
const VALGRIND = process.env.BENCH_NO_CALLGRIND ? undefined : which("valgrind");
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

interface Run {
  cmd: string;
  args: string[];
  input: string;
  env: Record<string, string>;
  /** Shell command run before each timed run (cold misses: a fresh HOME). */
  prepare?: string;
}

interface Row {
  name: string;
  /** Wall milliseconds of each run. */
  ms: number[];
  /** Instructions (callgrind), one run. */
  ir?: number;
  rssMb?: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};
const median = (xs: number[]) => quantile(xs, 0.5);

/** Runs a command to completion without blocking the event loop (the fakes answer from it). */
const exec = (cmd: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: opts.env ?? (process.env as Record<string, string>) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    child.stdin.end(opts.input ?? "");
  });

const sh = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
let inputs = 0;

/** Wall times of `runs` runs: hyperfine (stdin redirected from a file) or repeated spawns. */
const wall = async (r: Run, runs: number): Promise<number[]> => {
  if (HYPERFINE) {
    const input = join(work, `input-${inputs++}`);
    writeFileSync(input, r.input);
    const json = `${input}.json`;
    const command = `${[r.cmd, ...r.args].map(sh).join(" ")} < ${sh(input)} > /dev/null`;
    const args = ["-S", "/bin/sh", "-w", r.prepare ? "0" : "3", "-r", String(runs), "--export-json", json];
    if (r.prepare) args.push("--prepare", r.prepare);
    const h = await exec(HYPERFINE, [...args, command], { env: r.env });
    if (h.code !== 0) throw new Error(`hyperfine failed: ${h.stderr.trim().split("\n").slice(-3).join(" ")}`);
    const { results } = JSON.parse(readFileSync(json, "utf8")) as { results: { times: number[] }[] };
    return (results[0]?.times ?? []).map((s) => s * 1000);
  }
  const ms: number[] = [];
  for (let i = 0; i < runs + (r.prepare ? 0 : 3); i++) {
    if (r.prepare) spawnSync("/bin/sh", ["-c", r.prepare]);
    const x = await exec(r.cmd, r.args, { input: r.input, env: r.env });
    if (x.code !== 0) throw new Error(`${r.cmd} exited ${x.code}: ${x.stdout}${x.stderr}`);
    if (r.prepare || i >= 3) ms.push(x.ms);
  }
  return ms;
};

/** Instructions of one run, every thread and exec'd child (the launcher's env → node) counted. */
const instructions = async (r: Run): Promise<number | undefined> => {
  if (!VALGRIND) return undefined;
  if (r.prepare) spawnSync("/bin/sh", ["-c", r.prepare]);
  const x = await exec(
    VALGRIND,
    ["--tool=callgrind", "--trace-children=yes", "--callgrind-out-file=/dev/null", r.cmd, ...r.args],
    { input: r.input, env: r.env },
  );
  const counts = [...x.stderr.matchAll(/Collected : (\d+)/g)].map((m) => Number(m[1]));
  return x.code === 0 && counts.length ? counts.reduce((a, b) => a + b, 0) : undefined;
};

/** Peak RSS (MB), median of 5 runs. */
const rss = async (r: Run): Promise<number | undefined> => {
  if (!TIME) return undefined;
  const kb: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (r.prepare) spawnSync("/bin/sh", ["-c", r.prepare]);
    const x = await exec(TIME, ["-f", "%M", r.cmd, ...r.args], { input: r.input, env: r.env });
    kb.push(Number(x.stderr.trim().split("\n").pop()));
  }
  return median(kb) / 1024;
};

const rows: Row[] = [];
const measure = async (name: string, r: Run, runs = RUNS): Promise<Row> => {
  process.stderr.write(`  ${name}…\n`);
  const row: Row = { name, ms: await wall(r, runs) };
  const ir = await instructions(r);
  if (ir !== undefined) row.ir = ir;
  const mb = await rss(r);
  if (mb !== undefined) row.rssMb = mb;
  rows.push(row);
  return row;
};

/** An empty program compiled like the shipped one (keep in step with scripts/build-bin.ts). */
const emptyCompiled = (): string | null => {
  const src = join(work, "empty.ts");
  const out = join(work, "empty");
  writeFileSync(src, "");
  const r = spawnSync(
    join(ROOT, "node_modules", ".bin", "bun"),
    [
      "build",
      "--compile",
      "--bytecode",
      "--minify",
      "--splitting",
      "--format=esm",
      "--target=bun",
      "--compile-jit-policy=100",
      "--no-compile-autoload-dotenv",
      "--no-compile-autoload-bunfig",
      "--no-compile-autoload-tsconfig",
      "--no-compile-autoload-package-json",
      "--outfile",
      out,
      src,
    ],
    { encoding: "utf8" },
  );
  if (r.status === 0) return out;
  console.log(`(note: could not compile an empty Bun program: ${r.stderr.trim().split("\n")[0]})`);
  return null;
};

/** The Go helper's own cache hit: it ignores AWS_ENDPOINT_URL, so its one miss goes through the
 * MITM proxy (HTTPS_PROXY + SSL_CERT_FILE) to the same fake; every measured run is a hit. */
const goHit = async (fake: Awaited<ReturnType<typeof startFakeAws>>): Promise<void> => {
  const go = which("docker-credential-ecr-login");
  if (!go) {
    console.log("(note: docker-credential-ecr-login not installed: apt-get install amazon-ecr-credential-helper)");
    return;
  }
  mkdirSync(join(work, "ca"));
  const ca = await makeCa(join(work, "ca"));
  const target = new URL(fake.url);
  const proxy = await startMitmProxy({
    ca,
    handler: (req, res) => {
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      req.pipe(up);
    },
  });
  try {
    const goHome = join(work, "go");
    mkdirSync(goHome);
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: goHome,
      AWS_ACCESS_KEY_ID: AKID,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_EC2_METADATA_DISABLED: "true",
      HTTPS_PROXY: proxy.url,
      SSL_CERT_FILE: ca.certFile,
    };
    const before = fake.calls.ecr ?? 0;
    const primed = await exec(go, ["get"], { input: HOST, env });
    if (primed.code !== 0) throw new Error(`Go helper priming failed: ${primed.stdout}${primed.stderr}`);
    const after = fake.calls.ecr ?? 0;
    await measure("Go docker-credential-ecr-login get, ECR cache hit", { cmd: go, args: ["get"], input: HOST, env });
    if (after === before || (fake.calls.ecr ?? 0) !== after)
      console.log("(note: the Go helper did not cache as expected)");
  } finally {
    await proxy.close();
  }
};

const main = async () => {
  const node = process.execPath;
  const floorEnv = { PATH: process.env.PATH ?? "" };
  const fake = await startFakeAws({ keys: { [AKID]: SECRET } });
  console.log(
    `docker-credential-cloud benchmarks — Node ${process.version}, ${RUNS} runs (cold: ${COLD_RUNS}), ` +
      `wall time by ${HYPERFINE ? "hyperfine" : "repeated spawns"}, instructions by ${VALGRIND ? "callgrind" : "(valgrind not installed)"}`,
  );
  try {
    await measure("node -e 0 (same Node)", { cmd: node, args: ["-e", "0"], input: "", env: floorEnv });
    const empty = emptyCompiled();
    if (empty)
      await measure("empty Bun-compiled program (same options)", { cmd: empty, args: [], input: "", env: floorEnv });

    // Cache hit: one miss fills the cache, then only hits (checked: the fake sees no more calls).
    const home = join(work, "hit");
    mkdirSync(home);
    const env = { ...baseEnv(home), ...awsEnv(fake, AKID, SECRET) };
    const primed = await exec(EXECUTABLE, ["get"], { input: HOST, env });
    if (primed.code !== 0) throw new Error(`priming get failed: ${primed.stdout}${primed.stderr}`);
    const calls = fake.calls.ecr;
    await measure("executable get, ECR cache hit", { cmd: EXECUTABLE, args: ["get"], input: HOST, env });
    await measure("Node launcher get, ECR cache hit", { cmd: LAUNCHER, args: ["get"], input: HOST, env });
    if (fake.calls.ecr !== calls) throw new Error("the hit benchmark reached the fake: not a cache hit");
    await goHit(fake);

    // Cold misses: HOME (and so the token cache) removed before each run.
    const cold = async (name: string, host: string, envFor: (home: string) => Record<string, string>) => {
      const h = join(work, `cold-${rows.length}`);
      await measure(
        `executable get, ${name} cold miss`,
        { cmd: EXECUTABLE, args: ["get"], input: host, env: envFor(h), prepare: `rm -rf ${sh(h)} && mkdir ${sh(h)}` },
        COLD_RUNS,
      );
    };
    await cold("ECR", HOST, (h) => ({ ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) }));

    const google = await startFakeGoogle();
    try {
      await cold("Google (metadata server)", "europe-west4-docker.pkg.dev", (h) => {
        const e: Record<string, string> = { ...baseEnv(h), GCE_METADATA_HOST: google.metadataHost };
        delete e.METADATA_SERVER_DETECTION;
        return e;
      });
    } finally {
      await google.close();
    }

    mkdirSync(join(work, "azure-ca"));
    const azure = await startFakeAzure({
      ca: await makeCa(join(work, "azure-ca")),
      clients: { "bench-app": { secret: "bench-secret" } },
      registries: { "myregistry.azurecr.io": {} },
      imds: { systemAssigned: true },
    });
    try {
      await cold("ACR (service principal)", "myregistry.azurecr.io", (h) => ({
        ...baseEnv(h),
        ...azure.env(),
        AZURE_TENANT_ID: TENANT,
        AZURE_CLIENT_ID: "bench-app",
        AZURE_CLIENT_SECRET: "bench-secret",
      }));
      await cold("ACR (managed identity)", "myregistry.azurecr.io", (h) => ({
        ...baseEnv(h),
        ...azure.env(),
        AZURE_POD_IDENTITY_AUTHORITY_HOST: azure.metadataUrl,
      }));
    } finally {
      await azure.close();
    }
  } finally {
    await fake.close();
    rmSync(work, { recursive: true, force: true });
  }
  report();
};

const f1 = (n: number | undefined, unit = "") => (n === undefined || Number.isNaN(n) ? "-" : `${n.toFixed(1)}${unit}`);

const report = () => {
  console.log("\n| scenario | median ms | p90 ms | min ms | instructions | peak RSS MB |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const ir = r.ir === undefined ? "-" : `${(r.ir / 1e6).toFixed(1)} M`;
    console.log(
      `| ${r.name} | ${f1(median(r.ms))} | ${f1(quantile(r.ms, 0.9))} | ${f1(Math.min(...r.ms))} | ${ir} | ${f1(r.rssMb)} |`,
    );
  }
  const find = (prefix: string) => rows.find((r) => r.name.startsWith(prefix));
  const hit = find("executable get, ECR cache hit");
  const lines: string[] = [];
  const target = (what: string, value: number | undefined, limit: number, unit = "×") => {
    if (value === undefined || Number.isNaN(value)) return;
    lines.push(
      `| ${what} | ${value.toFixed(2)}${unit} | ≤ ${limit}${unit} | ${value <= limit ? "met" : "**not met**"} |`,
    );
  };
  const ratio = (a: Row | undefined, b: Row | undefined, by: "ms" | "ir") => {
    if (!a || !b) return undefined;
    return by === "ms" ? median(a.ms) / median(b.ms) : a.ir && b.ir ? a.ir / b.ir : undefined;
  };
  const go = find("Go ");
  const empty = find("empty Bun");
  target("hit / Go hit (wall)", ratio(hit, go, "ms"), 2.0);
  target("hit / Go hit (instructions)", ratio(hit, go, "ir"), 2.0);
  target("hit / empty compiled program (wall)", ratio(hit, empty, "ms"), 1.15);
  target("hit / empty compiled program (instructions)", ratio(hit, empty, "ir"), 1.15);
  for (const r of rows.filter((x) => x.name.includes("cold miss"))) {
    target(`${r.name.replace("executable get, ", "")} / hit (wall)`, ratio(r, hit, "ms"), 4);
  }
  target("peak RSS on a hit", hit?.rssMb, 25, " MB");
  const launcher = find("Node launcher");
  const node = find("node -e 0");
  const info = [
    `launcher hit / executable hit (wall): ${f1(ratio(launcher, hit, "ms"))}×`,
    `launcher hit / node -e 0 (wall): ${ratio(launcher, node, "ms")?.toFixed(2) ?? "-"}×`,
  ];

  // Sizes: the host executable, and every release binary when `npm run build:release` has run.
  const sizes: [string, string][] = [["dist/docker-credential-cloud", EXECUTABLE]];
  const release = join(ROOT, "dist", "release");
  if (existsSync(release)) {
    for (const f of readdirSync(release).sort()) {
      if (f.startsWith("docker-credential-cloud-") && !/\.(deb|rpm|tgz|txt)$/.test(f)) {
        sizes.push([`dist/release/${f}`, join(release, f)]);
      }
    }
  } else info.push("dist/release not built (npm run build:release): release sizes not measured");
  const mb = (n: number) => n / 1024 / 1024;
  console.log("\n| binary | raw MB | gzipped MB |");
  console.log("| --- | ---: | ---: |");
  for (const [name, file] of sizes) {
    if (!existsSync(file) || !statSync(file).isFile()) continue;
    const gz = mb(gzipSync(readFileSync(file)).length);
    console.log(`| ${name} | ${mb(statSync(file).size).toFixed(1)} | ${gz.toFixed(1)} |`);
    if (name.startsWith("dist/release/")) target(`${name.slice(13)} gzipped`, gz, 60, " MB");
  }
  console.log("\n| target | measured | limit | |");
  console.log("| --- | ---: | ---: | --- |");
  for (const l of lines) console.log(l);
  const noIr = rows.filter((r) => r.ir === undefined).map((r) => r.name);
  if (VALGRIND && noIr.length) info.push(`callgrind could not complete: ${noIr.join("; ")}`);
  console.log(`\n${info.join("\n")}`);
};

await main();
