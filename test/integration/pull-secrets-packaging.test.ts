// The pull-secrets manifests and Helm chart. Debian has no `helm` package, so the chart is not
// rendered here; instead: the plain manifests go through kubectl's client-side dry run (against the
// fake API for discovery), their embedded config through the verb's own parser, every .Values path
// the chart's templates use must exist in values.yaml, and the chart's config template, filled from
// values.yaml, must parse as a valid config.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { parseConfig } from "../../src/pull-secrets/config.ts";
import { ROOT } from "../support/cli.ts";
import { type FakeKube, kubeconfigFor, startFakeKube } from "../support/fake-kube.ts";
import { run, which } from "../support/namespace.ts";
import { issueCert, makeCa } from "../support/tls.ts";
import { tmpTree } from "../support/tmp.ts";

const PLAIN = join(ROOT, "packaging", "pull-secrets");
const CHART = join(ROOT, "packaging", "helm", "docker-credential-cloud-pull-secrets");
const kubectlSkip = process.env.CI || which("kubectl") ? false : "kubectl (Debian kubernetes-client) is not installed";

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const docs = (file: string): Doc[] => parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS() as Doc);

describe("pull-secrets packaging", () => {
  let kube: FakeKube;
  let kubeconfig = "";
  before(async () => {
    const work = await tmpTree(undefined);
    await mkdir(join(work, "ca"));
    const ca = await makeCa(join(work, "ca"));
    const leaf = await issueCert(ca, ["127.0.0.1"]);
    kube = await startFakeKube({ tls: { key: leaf.keyPem, cert: leaf.certPem } });
    kubeconfig = join(work, "kubeconfig");
    await writeFile(kubeconfig, kubeconfigFor(kube, ca.certPem));
  });
  after(() => kube?.close());

  test("plain manifests: well-formed, least-privilege RBAC, a config the verb accepts", () => {
    const all = ["rbac.yaml", "config.yaml", "deployment.yaml", "cronjob.yaml"].flatMap((f) => docs(join(PLAIN, f)));
    for (const d of all) assert.ok(d.apiVersion && d.kind && d.metadata?.name, JSON.stringify(d).slice(0, 200));
    const role = all.find((d) => d.kind === "ClusterRole") as unknown as {
      rules: { resources: string[]; verbs: string[] }[];
    };
    const verbs = Object.fromEntries(role.rules.map((r) => [r.resources.join(","), [...r.verbs].sort()]));
    assert.deepEqual(verbs, {
      namespaces: ["get", "list", "watch"],
      secrets: ["create", "delete", "get", "update"],
      serviceaccounts: ["get", "list", "update"],
    });
    const lease = all.find((d) => d.kind === "Role") as unknown as {
      rules: { resources: string[]; verbs: string[] }[];
    };
    assert.deepEqual(lease.rules, [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
    ]);
    const cm = all.find((d) => d.kind === "ConfigMap") as unknown as { data: Record<string, string> };
    const cfg = parseConfig(cm.data["pull-secrets.yaml"] ?? "", "config.yaml");
    assert.equal(cfg.lease.namespace, "docker-credential-cloud");
    const cron = all.find((d) => d.kind === "CronJob");
    assert.match(JSON.stringify(cron), /"--once"/);
  });

  test("kubectl create --dry-run=client accepts every plain manifest", { skip: kubectlSkip }, async () => {
    for (const f of ["rbac.yaml", "config.yaml", "deployment.yaml", "cronjob.yaml"]) {
      const r = await run(
        "kubectl",
        [
          "--kubeconfig",
          kubeconfig,
          "create",
          "--dry-run=client",
          "--validate=false",
          "-o",
          "json",
          "-f",
          join(PLAIN, f),
        ],
        { timeoutMs: 30_000, env: { ...process.env, HOME: join(kubeconfig, "..") } },
      );
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      // One JSON object per document, printed one after the other.
      const kinds = (JSON.parse(`[${r.stdout.trim().replace(/\n}\n{/g, "\n},\n{")}]`) as Doc[]).map((d) => d.kind);
      assert.deepEqual(
        kinds,
        docs(join(PLAIN, f)).map((d) => d.kind),
        f,
      );
    }
  });

  test("Helm chart: every .Values path exists; the config template filled from values.yaml is valid", () => {
    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { apiVersion: string; name: string };
    assert.equal(chart.apiVersion, "v2");
    assert.equal(chart.name, "docker-credential-cloud-pull-secrets");
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Record<string, unknown>;
    const templates = readdirSync(join(CHART, "templates"));
    assert.ok(templates.includes("workload.yaml") && templates.includes("rbac.yaml"));
    for (const t of templates) {
      const text = readFileSync(join(CHART, "templates", t), "utf8");
      for (const [, path] of text.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) {
        let cur: unknown = values;
        for (const part of (path ?? "").split(".")) {
          assert.ok(
            cur !== null && typeof cur === "object" && part in cur,
            `${t}: .Values.${path} is not in values.yaml`,
          );
          cur = (cur as Record<string, unknown>)[part];
        }
      }
    }
    // configmap.yaml's body with values.yaml substituted the way its template does it (toJson / quote).
    const v = values as {
      registries: string[];
      secretName: string;
      namespaces: { include: string[]; exclude: string[]; labelSelector: string };
      serviceAccounts: string[];
      metrics: { port: number };
    };
    const text = [
      `registries: ${JSON.stringify(v.registries)}`,
      `secretName: ${JSON.stringify(v.secretName)}`,
      "namespaces:",
      `  include: ${JSON.stringify(v.namespaces.include)}`,
      `  exclude: ${JSON.stringify(v.namespaces.exclude)}`,
      `serviceAccounts: ${JSON.stringify(v.serviceAccounts)}`,
      `lease: { namespace: "ops", name: "release" }`,
      `metricsPort: ${v.metrics.port}`,
    ].join("\n");
    const cfg = parseConfig(text, "configmap");
    assert.deepEqual(cfg.registries, v.registries);
    const cmTemplate = readFileSync(join(CHART, "templates", "configmap.yaml"), "utf8");
    for (const key of [
      "registries:",
      "secretName:",
      "include:",
      "exclude:",
      "labelSelector:",
      "serviceAccounts:",
      "lease:",
      "metricsPort:",
    ])
      assert.ok(cmTemplate.includes(key), `configmap template writes ${key}`);
  });
});
