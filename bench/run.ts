// Benchmarks, run on demand (`npm run bench`), never in CI: prints numbers, asserts nothing.
//   - cache-hit `get` latency (median/p90 over RUNS) and peak RSS, next to `node -e 0` on the
//     same Node, and next to the Go docker-credential-ecr-login's own cache hit when installed;
//   - the same hit through the Node launcher, and next to an empty Bun-compiled program (the floor
//     of any single-file executable on this Bun);
//   - cold-miss time to first token (fresh HOME each run) against the loopback fakes;
//   - the executable's size, raw and gzipped.
// All traffic stays on 127.0.0.1: the fakes are the test fakes.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { BIN, baseEnv, EXECUTABLE, LAUNCHER, ROOT } from "../test/support/cli.ts";
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

interface Sample {
  ms: number[];
  rssKb: number[];
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

/** Runs cmd once, returning wall milliseconds (spawn to exit) and its exit code. */
const timeOnce = (cmd: string, args: string[], input: string, env: Record<string, string>) =>
  new Promise<{ ms: number; code: number | null }>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ["pipe", "ignore", "ignore"] });
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code }));
    child.stdin.end(input);
  });

/** Peak RSS (KiB) of one run, from GNU time. */
const rssOnce = (cmd: string, args: string[], input: string, env: Record<string, string>): number => {
  const r = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], { env, input, encoding: "utf8" });
  return Number(r.stderr.trim().split("\n").pop());
};

const measure = async (cmd: string, args: string[], input: string, env: Record<string, string>): Promise<Sample> => {
  const s: Sample = { ms: [], rssKb: [] };
  for (let i = 0; i < 3; i++) await timeOnce(cmd, args, input, env); // warm the page cache
  for (let i = 0; i < RUNS; i++) {
    const r = await timeOnce(cmd, args, input, env);
    if (r.code !== 0) throw new Error(`${cmd} exited ${r.code}`);
    s.ms.push(r.ms);
  }
  if (which("time") || spawnSync("/usr/bin/time", ["true"]).status === 0) {
    for (let i = 0; i < Math.min(RUNS, 10); i++) s.rssKb.push(rssOnce(cmd, args, input, env));
  }
  return s;
};

const row = (name: string, s: Sample) =>
  `${name.padEnd(60)} ${quantile(s.ms, 0.5).toFixed(1).padStart(8)} ${quantile(s.ms, 0.9).toFixed(1).padStart(8)} ${Math.min(
    ...s.ms,
  )
    .toFixed(1)
    .padStart(8)} ${s.rssKb.length ? (quantile(s.rssKb, 0.5) / 1024).toFixed(1).padStart(8) : "       -"}`;

const main = async () => {
  const node = process.execPath;
  const fake = await startFakeAws({ keys: { [AKID]: SECRET } });
  const results: [string, Sample][] = [];
  try {
    console.log(`docker-credential-cloud benchmarks — Node ${process.version}, ${RUNS} runs (cold: ${COLD_RUNS})\n`);
    results.push(["node -e 0 (same Node)", await measure(node, ["-e", "0"], "", { PATH: process.env.PATH ?? "" })]);

    // Cache hit: one miss fills the cache, then only hits.
    const home = join(work, "hit");
    mkdirSync(home);
    const env = { ...baseEnv(home), ...awsEnv(fake, AKID, SECRET) };
    if ((await timeOnce(BIN, ["get"], HOST, env)).code !== 0) throw new Error("priming get failed");
    const calls = fake.calls.ecr;
    results.push(["docker-credential-cloud get, ECR cache hit", await measure(BIN, ["get"], HOST, env)]);
    if (BIN !== LAUNCHER) {
      results.push([
        "docker-credential-cloud get, ECR cache hit (Node launcher)",
        await measure(LAUNCHER, ["get"], HOST, env),
      ]);
    }
    if (fake.calls.ecr !== calls) throw new Error("the hit benchmark reached the fake: not a cache hit");

    // The floor: an empty program compiled by the same Bun.
    const empty = join(work, "empty");
    writeFileSync(`${empty}.ts`, "");
    const built = spawnSync(
      join(ROOT, "node_modules", ".bin", "bun"),
      ["build", "--compile", "--outfile", empty, `${empty}.ts`],
      {
        encoding: "utf8",
      },
    );
    if (built.status === 0)
      results.push(["empty Bun-compiled program", await measure(empty, [], "", { PATH: process.env.PATH ?? "" })]);
    else console.log(`(note: could not compile an empty Bun program: ${built.stderr.trim().split("\n")[0]})`);

    // Cold miss: a fresh HOME each run (no cache), a first token from each cloud's fake.
    const coldMiss = async (name: string, host: string, envFor: (home: string) => Record<string, string>) => {
      const cold: Sample = { ms: [], rssKb: [] };
      for (let i = 0; i <= COLD_RUNS; i++) {
        const h = join(work, `cold-${name}-${i}`);
        mkdirSync(h);
        if (i === COLD_RUNS) {
          cold.rssKb.push(rssOnce(BIN, ["get"], host, envFor(h)));
          break;
        }
        const r = await timeOnce(BIN, ["get"], host, envFor(h));
        if (r.code !== 0) throw new Error(`cold get for ${name} failed`);
        cold.ms.push(r.ms);
      }
      results.push([`docker-credential-cloud get, ${name} cold miss`, cold]);
    };
    await coldMiss("ECR", HOST, (h) => ({ ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) }));

    const google = await startFakeGoogle();
    try {
      await coldMiss("Google (metadata server)", "europe-west4-docker.pkg.dev", (h) => {
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
      await coldMiss("ACR (service principal)", "myregistry.azurecr.io", (h) => ({
        ...baseEnv(h),
        ...azure.env(),
        AZURE_TENANT_ID: TENANT,
        AZURE_CLIENT_ID: "bench-app",
        AZURE_CLIENT_SECRET: "bench-secret",
      }));
      await coldMiss("ACR (managed identity)", "myregistry.azurecr.io", (h) => ({
        ...baseEnv(h),
        ...azure.env(),
        AZURE_POD_IDENTITY_AUTHORITY_HOST: azure.metadataUrl,
      }));
    } finally {
      await azure.close();
    }

    // The Go reference helper's own cache hit, if installed. It ignores AWS_ENDPOINT_URL, so its one
    // miss goes through the MITM proxy (HTTPS_PROXY + SSL_CERT_FILE) to the same fake.
    const go = which("docker-credential-ecr-login");
    if (go) {
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
        const goEnv = {
          PATH: process.env.PATH ?? "",
          HOME: goHome,
          AWS_ACCESS_KEY_ID: AKID,
          AWS_SECRET_ACCESS_KEY: SECRET,
          AWS_EC2_METADATA_DISABLED: "true",
          HTTPS_PROXY: proxy.url,
          SSL_CERT_FILE: ca.certFile,
        };
        const before = fake.calls.ecr ?? 0;
        if ((await timeOnce(go, ["get"], HOST, goEnv)).code !== 0) throw new Error("Go helper priming failed");
        const primed = fake.calls.ecr ?? 0;
        results.push(["docker-credential-ecr-login get, cache hit (Go)", await measure(go, ["get"], HOST, goEnv)]);
        if ((fake.calls.ecr ?? 0) !== primed || primed === before)
          console.log("(note: the Go helper did not cache as expected)");
      } finally {
        await proxy.close();
      }
    }
  } finally {
    await fake.close();
    rmSync(work, { recursive: true, force: true });
  }

  console.log(
    `${"scenario".padEnd(60)} ${"median".padStart(8)} ${"p90".padStart(8)} ${"min".padStart(8)} ${"RSS MB".padStart(8)}`,
  );
  for (const [name, s] of results) console.log(row(name, s));
  const med = (name: string) => {
    const s = results.find(([n]) => n.startsWith(name))?.[1];
    return s ? quantile(s.ms, 0.5) : Number.NaN;
  };
  const hit = med("docker-credential-cloud get, ECR cache hit");
  console.log(`\nratio hit / node -e 0:      ${(hit / med("node -e 0")).toFixed(2)}`);
  const goMed = med("docker-credential-ecr-login");
  if (!Number.isNaN(goMed)) console.log(`ratio hit / Go ecr-login hit: ${(hit / goMed).toFixed(2)}`);
  const emptyMed = med("empty Bun-compiled program");
  if (!Number.isNaN(emptyMed)) console.log(`ratio hit / empty compiled:  ${(hit / emptyMed).toFixed(2)}`);
  const launcherMed = med("docker-credential-cloud get, ECR cache hit (Node launcher)");
  if (!Number.isNaN(launcherMed)) console.log(`ratio launcher hit / hit:    ${(launcherMed / hit).toFixed(2)}`);
  const ecrCold = med("docker-credential-cloud get, ECR cold miss");
  console.log(`ratio ECR cold miss / hit:   ${(ecrCold / hit).toFixed(2)}`);
  const bytes = readFileSync(EXECUTABLE);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(`executable size: ${mb(statSync(EXECUTABLE).size)} MB raw, ${mb(gzipSync(bytes).length)} MB gzipped`);
};

await main();
