// Fixtures shared by the pull-secrets tests: the fake Kubernetes API over HTTPS (a test CA) with a
// kubeconfig for it, and the built CLI as a long-running child process with its stderr collected.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BIN } from "./cli.ts";
import { type FakeKube, kubeconfigFor, startFakeKube } from "./fake-kube.ts";
import { issueCert, makeCa } from "./tls.ts";

export type KubeFixture = { kube: FakeKube; kubeconfig: string; caPem: string };

/** Starts the fake API with a certificate from a CA made in `dir`/ca; writes `dir`/kubeconfig for it. */
export async function startKubeFixture(dir: string): Promise<KubeFixture> {
  await mkdir(join(dir, "ca"));
  const ca = await makeCa(join(dir, "ca"));
  const leaf = await issueCert(ca, ["127.0.0.1"]);
  const kube = await startFakeKube({ tls: { key: leaf.keyPem, cert: leaf.certPem } });
  const kubeconfig = join(dir, "kubeconfig");
  await writeFile(kubeconfig, kubeconfigFor(kube, ca.certPem));
  return { kube, kubeconfig, caPem: ca.certPem };
}

export type Spawned = { child: ChildProcess; stderr: () => string; exited: Promise<number | null> };

/** The built CLI with `args` and exactly `env`, stdout ignored, stderr collected. */
export function spawnCli(args: string[], env: Record<string, string>): Spawned {
  const child = spawn(BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}
