// The pull-secrets manifests and Helm chart. Debian has no `helm` package (and no npm package renders
// Go templates with helm's function library), so the chart is rendered by test/go/src/chartrender:
// Go's own text/template with Debian's Masterminds/sprig (the library helm uses) and helm's include,
// toYaml, required..., strict about missing keys. Validated: every template renders for the default
// values and for the example values in the chart's ci/ folder; the rendered objects and the plain
// manifests pass kubectl's client-side dry run (against the fake API, for discovery); the config the
// chart writes is accepted by the verb's own parser and says what the values say; the RBAC is the
// least-privilege set; the identity annotations (IRSA, GKE and Azure Workload Identity) come from the
// values; every .Values path a template uses exists in values.yaml. Not validated: server-side
// schema validation and admission (no API server here), `helm install`/upgrade/hooks, real helm's
// chart loading (.helmignore, dependencies, values.schema.json; this chart has none of them).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { parseConfig } from "../../src/pull-secrets/config.ts";
import { ROOT } from "../support/cli.ts";
import type { FakeKube } from "../support/fake-kube.ts";
import { goBuild } from "../support/go.ts";
import { run, which } from "../support/namespace.ts";
import { startKubeFixture } from "../support/pull-secrets.ts";
import { tmpTree } from "../support/tmp.ts";

const PLAIN = join(ROOT, "packaging", "pull-secrets");
const CHART = join(ROOT, "packaging", "helm", "docker-credential-cloud-pull-secrets");
const kubectlSkip = process.env.CI || which("kubectl") ? false : "kubectl (Debian kubernetes-client) is not installed";
const GOCODE = "/usr/share/gocode/src";
const renderMissing = [
  which("go") ? "" : "golang-go",
  existsSync(join(GOCODE, "github.com/Masterminds/sprig")) ? "" : "golang-github-masterminds-sprig-dev",
  existsSync(join(GOCODE, "sigs.k8s.io/yaml")) ? "" : "golang-k8s-sigs-yaml-dev",
].filter(Boolean);
// CI installs these (.ci/run); elsewhere the chart tests say what is missing.
const renderSkip =
  !process.env.CI && renderMissing.length ? `missing Debian packages: ${renderMissing.join(", ")}` : false;

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const docs = (file: string): Doc[] => parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS() as Doc);

type Rule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };
/** "group/resources[names]" → sorted verbs: get/update/delete of secrets only by the secret's name. */
const ruleMap = (rules: Rule[]) =>
  Object.fromEntries(
    rules.map((x) => [
      `${x.apiGroups.join()}/${x.resources.join()}${x.resourceNames ? `[${x.resourceNames.join()}]` : ""}`,
      [...x.verbs].sort(),
    ]),
  );

describe("pull-secrets packaging", () => {
  let kube: FakeKube;
  let kubeconfig = "";
  before(async () => {
    const work = await tmpTree(undefined);
    ({ kube, kubeconfig } = await startKubeFixture(work));
  });
  after(() => kube?.close());

  test("plain manifests: well-formed, least-privilege RBAC, a config the verb accepts", () => {
    const all = ["rbac.yaml", "config.yaml", "deployment.yaml", "cronjob.yaml"].flatMap((f) => docs(join(PLAIN, f)));
    for (const d of all) assert.ok(d.apiVersion && d.kind && d.metadata?.name, JSON.stringify(d).slice(0, 200));
    const role = all.find((d) => d.kind === "ClusterRole") as unknown as { rules: Rule[] };
    const cm0 = all.find((d) => d.kind === "ConfigMap") as unknown as { data: Record<string, string> };
    assert.deepEqual(ruleMap(role.rules), {
      "/namespaces": ["get", "list", "watch"],
      "/secrets": ["create"],
      [`/secrets[${parseConfig(cm0.data["pull-secrets.yaml"] ?? "", "config.yaml").secretName}]`]: [
        "delete",
        "get",
        "update",
      ],
      "/serviceaccounts": ["get", "list", "update", "watch"],
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

  test("Helm chart: every .Values path a template uses exists in values.yaml", () => {
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
  });

  describe("Helm chart rendered (Go text/template + sprig, as helm renders it)", { skip: renderSkip }, () => {
    let bin = "";
    let work = "";
    before(async () => {
      work = await mkdtemp(join(tmpdir(), "dcc-chart-"));
      const built = await goBuild(work, "chartrender");
      bin = built.bin;
      const r = built.result;
      assert.equal(r.code, 0, `go build chartrender:\n${r.stderr}`);
    });
    after(async () => {
      if (work) await rm(work, { recursive: true, force: true });
    });

    type Obj = Doc & {
      metadata: {
        name: string;
        namespace?: string;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
      };
    };
    const render = async (...valueFiles: string[]) => {
      const r = await run(bin, [CHART, "pull-secrets", "ops", ...valueFiles.map((f) => join(CHART, f))], {
        timeoutMs: 60_000,
      });
      return {
        ...r,
        objects: parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as Obj)
          .filter(Boolean),
      };
    };
    const one = (objs: Obj[], kind: string) => {
      const found = objs.filter((o) => o.kind === kind);
      assert.equal(found.length, 1, `one ${kind}: ${objs.map((o) => o.kind).join(", ")}`);
      return found[0] as Obj & Record<string, unknown>;
    };
    const podOf = (o: Record<string, unknown>): Record<string, unknown> => {
      const spec = o.spec as { template?: unknown; jobTemplate?: { spec: { template: unknown } } };
      return (spec.template ?? spec.jobTemplate?.spec.template) as Record<string, unknown>;
    };
    const configOf = (objs: Obj[]) => {
      const cm = one(objs, "ConfigMap") as unknown as { data: Record<string, string> };
      return parseConfig(cm.data["pull-secrets.yaml"] ?? "", "chart ConfigMap");
    };
    const dryRun = async (objs: Obj[], name: string) => {
      const f = join(work, `${name}.json`);
      await writeFile(f, JSON.stringify({ apiVersion: "v1", kind: "List", items: objs }));
      const r = await run(
        "kubectl",
        ["--kubeconfig", kubeconfig, "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", f],
        { timeoutMs: 30_000, env: { ...process.env, HOME: work } },
      );
      assert.equal(r.code, 0, `kubectl dry run of the ${name} rendering: ${r.stderr}`);
    };

    test("default values: the objects, least-privilege RBAC, a config the verb accepts, no identity annotations", async () => {
      const r = await render();
      assert.equal(r.code, 0, r.stderr);
      const objs = r.objects;
      assert.deepEqual(objs.map((o) => o.kind).sort(), [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Role",
        "RoleBinding",
        "ServiceAccount",
      ]);
      const role = one(objs, "ClusterRole") as unknown as { rules: Rule[] };
      assert.deepEqual(ruleMap(role.rules), {
        "/namespaces": ["get", "list", "watch"],
        "/secrets": ["create"],
        "/secrets[cloud-registry-credentials]": ["delete", "get", "update"],
        "/serviceaccounts": ["get", "list", "update", "watch"],
      });
      const lease = one(objs, "Role") as unknown as { metadata: { namespace: string }; rules: unknown };
      assert.equal(lease.metadata.namespace, "ops", "leases only in the release's namespace");
      assert.deepEqual(lease.rules, [
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
      ]);
      const sa = one(objs, "ServiceAccount");
      for (const b of ["ClusterRoleBinding", "RoleBinding"])
        assert.deepEqual((one(objs, b) as unknown as { subjects: unknown }).subjects, [
          { kind: "ServiceAccount", name: sa.metadata.name, namespace: "ops" },
        ]);
      assert.equal(sa.metadata.annotations, undefined, "no identity annotations by default");
      const cfg = configOf(objs);
      const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as {
        registries: string[];
        secretName: string;
      };
      assert.deepEqual(cfg.registries, values.registries);
      assert.equal(cfg.secretName, values.secretName);
      assert.deepEqual(cfg.lease, { namespace: "ops", name: "pull-secrets" });
      const dep = one(objs, "Deployment");
      const pod = podOf(dep) as {
        spec: {
          serviceAccountName: string;
          containers: { args: string[]; ports: { containerPort: number }[] }[];
          volumes: { configMap?: { name: string } }[];
        };
      };
      assert.equal(pod.spec.serviceAccountName, sa.metadata.name);
      assert.deepEqual(pod.spec.containers[0]?.args, ["pull-secrets", "--config", "/config/pull-secrets.yaml"]);
      assert.equal(pod.spec.containers[0]?.ports[0]?.containerPort, cfg.metricsPort);
      assert.ok(pod.spec.volumes.some((v) => v.configMap?.name === one(objs, "ConfigMap").metadata.name));
      await dryRun(objs, "default");
    });

    test("example values (ci/all-clouds-values.yaml): per-registry identities, namespaces, IRSA / GKE / Azure WI annotations", async () => {
      const r = await render("ci/all-clouds-values.yaml");
      assert.equal(r.code, 0, r.stderr);
      const objs = r.objects;
      const sa = one(objs, "ServiceAccount");
      assert.deepEqual(sa.metadata.annotations, {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/pull-secrets",
        "iam.gke.io/gcp-service-account": "pull-secrets@my-project.iam.gserviceaccount.com",
        "azure.workload.identity/client-id": "99999999-8888-7777-6666-555555555555",
        "azure.workload.identity/tenant-id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "example.com/owner": "platform",
      });
      const dep = one(objs, "Deployment") as Obj & { spec: { replicas: number } };
      assert.equal(dep.spec.replicas, 3);
      const pod = podOf(dep) as {
        metadata: { labels: Record<string, string> };
        spec: { containers: { env: { name: string }[] }[] };
      };
      assert.equal(
        pod.metadata.labels["azure.workload.identity/use"],
        "true",
        "Azure WI's webhook acts on the pod label",
      );
      assert.ok(pod.spec.containers[0]?.env.some((e) => e.name === "AWS_REGION"));
      const cfg = configOf(objs);
      assert.equal(cfg.registries.length, 6);
      assert.equal(cfg.secretName, "team-registry-credentials");
      const rules = (one(objs, "ClusterRole") as unknown as { rules: Rule[] }).rules;
      assert.deepEqual(ruleMap(rules)["/secrets[team-registry-credentials]"], ["delete", "get", "update"]);
      assert.deepEqual(cfg.identities.get("210987654321.dkr.ecr.eu-west-1.amazonaws.com"), {
        aws: {
          roleArn: "arn:aws:iam::210987654321:role/ecr-pull",
          externalId: "pull-secrets-7",
          roleSessionName: "pull-secrets",
        },
      });
      assert.deepEqual(cfg.identities.get("us-docker.pkg.dev"), {
        google: { impersonateServiceAccount: "puller@my-project.iam.gserviceaccount.com" },
      });
      assert.deepEqual(cfg.identities.get("teamb.azurecr.io"), {
        azure: { clientId: "11111111-2222-3333-4444-555555555555" },
      });
      assert.deepEqual(cfg.namespaces, {
        include: ["team-*", "apps"],
        exclude: ["team-sandbox"],
        labelSelector: "pull-secrets!=off",
      });
      assert.deepEqual(cfg.serviceAccounts, ["default", "ci-*"]);
      assert.equal(cfg.secretName, "team-registry-credentials");
      await dryRun(objs, "all-clouds");
    });

    test("cronjob mode (ci/cronjob-static-keys-values.yaml): --once on a schedule, no lease RBAC, keys from a Secret", async () => {
      const r = await render("ci/cronjob-static-keys-values.yaml");
      assert.equal(r.code, 0, r.stderr);
      const objs = r.objects;
      assert.ok(!objs.some((o) => o.kind === "Deployment" || o.kind === "Role" || o.kind === "RoleBinding"));
      const rules = ruleMap((one(objs, "ClusterRole") as unknown as { rules: Rule[] }).rules);
      assert.deepEqual(rules["/namespaces"], ["get", "list"], "no watch for --once");
      assert.deepEqual(rules["/serviceaccounts"], ["get", "list", "update"], "no watch for --once");
      const cron = one(objs, "CronJob") as Obj & { spec: { schedule: string } };
      assert.equal(cron.spec.schedule, "*/30 * * * *");
      const pod = podOf(cron) as {
        spec: { restartPolicy: string; containers: { args: string[]; env: { name: string; valueFrom?: unknown }[] }[] };
      };
      assert.equal(pod.spec.restartPolicy, "OnFailure");
      assert.deepEqual(pod.spec.containers[0]?.args, [
        "pull-secrets",
        "--config",
        "/config/pull-secrets.yaml",
        "--once",
      ]);
      assert.deepEqual(pod.spec.containers[0]?.env.find((e) => e.name === "AWS_SECRET_ACCESS_KEY")?.valueFrom, {
        secretKeyRef: { name: "ecr-reader", key: "AWS_SECRET_ACCESS_KEY" },
      });
      assert.equal(configOf(objs).registries[0], "123456789012.dkr.ecr.us-west-2.amazonaws.com");
      await dryRun(objs, "cronjob");
    });

    test("bad values fail the rendering with the chart's message (strict: a missing key is an error)", async () => {
      const bad = join(work, "bad-mode.yaml");
      await writeFile(bad, "mode: daemonset\n");
      const r = await run(bin, [CHART, "pull-secrets", "ops", bad], { timeoutMs: 60_000 });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /mode must be deployment or cronjob/);
      // values.yaml's keys are what the templates read: a values file that removes one is an error,
      // not an empty string (helm lint --strict; plain helm would render "").
      const removed = join(work, "no-identity.yaml");
      await writeFile(removed, "identity: null\n");
      const r2 = await run(bin, [CHART, "pull-secrets", "ops", removed], { timeoutMs: 60_000 });
      assert.notEqual(r2.code, 0);
      assert.match(r2.stderr, /map has no entry for key "identity"/);
    });
  });
});
