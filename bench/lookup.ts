// In-process lookup() throughput on a cached cloud token: the built library (dist/index.js) looks
// up an ECR image again and again after one warm-up fetch against the loopback fake AWS. Prints
// lookups/s. Target (issue 12): ≥ 10,000 lookups/s on one core.
// Run: npm run build && node bench/lookup.ts   (the AWS SDK reads process.env, so the keyring runs
// in a child process whose whole environment is the fake's).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { baseEnv, ROOT, runCli } from "../test/support/cli.ts";
import { awsEnv, startFakeAws } from "../test/support/fake-aws.ts";

const AKID = "AKIAFAKEBENCHLOOKUP1";
const SECRET = "fake-bench-lookup-secret";
const IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.0";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

const CHILD = `
const { createKeyring } = await import(process.env.KR_ENTRY);
const k = createKeyring({ dockerConfig: false, logLevel: "silent" });
const image = process.env.KR_IMAGE;
const first = await k.lookup(image);
if (first.length !== 1 || first[0].username !== "AWS") throw new Error("warm-up lookup got " + first.length + " credentials");
for (let i = 0; i < 2000; i++) await k.lookup(image); // JIT warm-up
let n = 0;
const end = performance.now() + Number(process.env.KR_SECONDS) * 1000;
const start = performance.now();
while (performance.now() < end) {
  for (let i = 0; i < 100; i++) await k.lookup(image);
  n += 100;
}
const s = (performance.now() - start) / 1000;
await k.close();
process.stdout.write(JSON.stringify({ lookups: n, seconds: s }));
`;

const fake = await startFakeAws({ keys: { [AKID]: SECRET } });
const home = mkdtempSync(join(tmpdir(), "dcc-bench-lookup-"));
try {
  // Asynchronous: the fake AWS answers the warm-up fetch from this process's event loop.
  const env = {
    ...baseEnv(home),
    ...awsEnv(fake, AKID, SECRET),
    KR_ENTRY: pathToFileURL(join(ROOT, "dist", "index.js")).href,
    KR_IMAGE: IMAGE,
    KR_SECONDS: String(SECONDS),
  };
  const r = await runCli(["--input-type=module", "-e", CHILD], "", env, { bin: process.execPath });
  if (r.code !== 0) throw new Error(`bench child failed: ${r.stderr.trim()}`);
  const { lookups, seconds } = JSON.parse(r.stdout) as { lookups: number; seconds: number };
  const rate = Math.round(lookups / seconds);
  console.log(
    `lookup() on a cached ECR token: ${rate.toLocaleString("en")} lookups/s (${lookups} in ${seconds.toFixed(2)} s, one process; token fetches: ${fake.calls.ecr})`,
  );
  console.log(rate >= 10_000 ? "target ≥ 10,000/s: met" : "target ≥ 10,000/s: NOT met");
} finally {
  await fake.close();
  rmSync(home, { recursive: true, force: true });
}
