// pull-secrets --once and --dry-run: the built CLI against the fake Kubernetes API (HTTPS, test CA)
// and the fake AWS, cross-checked with Debian's kubectl reading the same fake.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli, TRACE_LOADS } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import type { FakeKube } from "../support/fake-kube.ts";
import { run, which } from "../support/namespace.ts";
import { startKubeFixture } from "../support/pull-secrets.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const HOST2 = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
const AKID = "AKIAFAKEPULLSECRETS1";
const SECRET = "fake-pull-secrets-secret";
const PASSWORD = `pw-us-east-1-${AKID}`;
const PASSWORD2 = `pw-eu-west-1-${AKID}`;
const NAME = "cloud-registry-credentials";
/** A role the fake STS refuses without an MFA code: assuming it always fails here. */
const MFA_ROLE = "arn:aws:iam::210987654321:role/needs-mfa";
const kubectlSkip = process.env.CI || which("kubectl") ? false : "kubectl (Debian kubernetes-client) is not installed";

type Sa = { metadata: { name: string; annotations?: Record<string, string> }; imagePullSecrets?: { name: string }[] };

describe("pull-secrets against a fake Kubernetes API", () => {
  let kube: FakeKube;
  let aws: FakeAws;
  let work = "";
  let kubeconfig = "";

  before(async () => {
    work = await tmpTree(undefined);
    ({ kube, kubeconfig } = await startKubeFixture(work));
    aws = await startFakeAws({
      keys: { [AKID]: SECRET },
      mfa: { roleArn: MFA_ROLE, serial: "arn:aws:iam::210987654321:mfa/x", code: "123456" },
    });
  });
  after(async () => {
    await kube?.close();
    await aws?.close();
  });

  const config = async (name: string, text: string) => {
    const f = join(work, name);
    await writeFile(f, text);
    return f;
  };
  const cli = async (args: string[], home = "home") =>
    runCli(["pull-secrets", "--kubeconfig", kubeconfig, ...args], "", {
      ...baseEnv(join(work, home)),
      ...awsEnv(aws, AKID, SECRET),
    });
  const kubectl = async (...args: string[]) => {
    const r = await run("kubectl", ["--kubeconfig", kubeconfig, ...args], {
      timeoutMs: 30_000,
      env: { ...process.env, HOME: work },
    });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const auths = (ns: string) => {
    const s = kube.get("secrets", ns, NAME);
    assert.ok(s, `secret in ${ns}`);
    return (
      JSON.parse(Buffer.from((s.data as Record<string, string>)[".dockerconfigjson"] ?? "", "base64").toString()) as {
        auths: Record<string, { username: string; password: string; auth: string }>;
      }
    ).auths;
  };
  const sa = (ns: string, name = "default") => kube.get("serviceaccounts", ns, name) as unknown as Sa;

  test("--once: many namespaces, include/exclude globs and a label selector; idempotent; others' entries kept", async () => {
    for (let i = 0; i < 40; i++) kube.addNamespace(`team-${i}`, i % 2 ? { tier: "prod" } : {});
    kube.addNamespace("kube-system");
    kube.addNamespace("other");
    kube.put("serviceaccounts", { metadata: { name: "builder", namespace: "team-1" } });
    kube.put("serviceaccounts", {
      metadata: { name: "ci-runner", namespace: "team-1" },
      imagePullSecrets: [{ name: "theirs" }],
    });
    const cfg = await config(
      "many.yaml",
      `registries: [${HOST}, ${HOST2}]\nnamespaces:\n  include: ["team-*", "kube-*"]\n  exclude: ["kube-system", "team-3?"]\n  labelSelector: tier=prod\nserviceAccounts: [default, "ci-*"]\n`,
    );
    const r = await cli(["--config", cfg, "--once"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes(PASSWORD) && !r.stdout.includes(PASSWORD), "no token in the output");
    const served = kube
      .list("secrets")
      .map((s) => s.metadata.namespace)
      .sort();
    const expected = Array.from({ length: 40 }, (_, i) => i)
      .filter((i) => i % 2 === 1 && !(i >= 30 && i < 40))
      .map((i) => `team-${i}`)
      .sort();
    assert.deepEqual(served, expected);
    const a = auths("team-1");
    assert.deepEqual(Object.keys(a).sort(), [HOST, HOST2].sort());
    assert.equal(a[HOST]?.username, "AWS");
    assert.equal(a[HOST]?.password, PASSWORD);
    assert.equal(a[HOST2]?.password, PASSWORD2);
    assert.equal(Buffer.from(a[HOST]?.auth ?? "", "base64").toString(), `AWS:${PASSWORD}`);
    assert.deepEqual(sa("team-1").imagePullSecrets, [{ name: NAME }]);
    assert.deepEqual(sa("team-1", "ci-runner").imagePullSecrets, [{ name: "theirs" }, { name: NAME }]);
    assert.equal(sa("team-1", "builder").imagePullSecrets, undefined, "builder is not selected");
    assert.equal(sa("team-2").imagePullSecrets, undefined, "team-2 lacks the label");
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("create secret")).length, expected.length);

    // Again: nothing to do, no second entry.
    const writes = kube.requests.filter((q) => q.method !== "GET").length;
    const again = await cli(["--config", cfg, "--once"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, "");
    assert.equal(kube.requests.filter((q) => q.method !== "GET").length, writes, "no writes on an unchanged cluster");
    assert.deepEqual(sa("team-1", "ci-runner").imagePullSecrets, [{ name: "theirs" }, { name: NAME }]);
  });

  test("kubectl sees what the verb wrote", { skip: kubectlSkip }, async () => {
    const s = JSON.parse(await kubectl("get", "secret", NAME, "-n", "team-5", "-o", "json")) as {
      type: string;
      data: Record<string, string>;
      metadata: { labels: Record<string, string> };
    };
    assert.equal(s.type, "kubernetes.io/dockerconfigjson");
    assert.equal(s.metadata.labels["app.kubernetes.io/managed-by"], "docker-credential-cloud");
    const doc = JSON.parse(Buffer.from(s.data[".dockerconfigjson"] ?? "", "base64").toString()) as {
      auths: Record<string, { password: string }>;
    };
    assert.equal(doc.auths[HOST]?.password, PASSWORD);
    const sa1 = JSON.parse(await kubectl("get", "sa", "ci-runner", "-n", "team-1", "-o", "json")) as Sa;
    assert.deepEqual(sa1.imagePullSecrets, [{ name: "theirs" }, { name: NAME }]);
    const names = await kubectl("get", "secrets", "-n", "team-7", "-o", "jsonpath={.items[*].metadata.name}");
    assert.equal(names, NAME);
    // kubectl's own writes (a strategic-merge patch) land in the same store the verb reads.
    await kubectl("patch", "sa", "default", "-n", "team-7", "-p", '{"imagePullSecrets":[{"name":"added-by-kubectl"}]}');
    assert.deepEqual(sa("team-7").imagePullSecrets, [{ name: NAME }, { name: "added-by-kubectl" }]);
  });

  test("--dry-run prints what would change and writes nothing", async () => {
    kube.addNamespace("dry-1");
    const cfg = await config("dry.yaml", `registries: [${HOST}]\nnamespaces: { include: ["dry-*"] }\n`);
    const writes = kube.requests.filter((q) => q.method !== "GET").length;
    const r = await cli(["--config", cfg, "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^would create secret cloud-registry-credentials \(123456789012[^)]*\) in namespace dry-1$/m,
    );
    assert.match(
      r.stdout,
      /^would add cloud-registry-credentials to imagePullSecrets of serviceaccount default in namespace dry-1$/m,
    );
    assert.ok(!r.stdout.includes(PASSWORD));
    assert.equal(kube.requests.filter((q) => q.method !== "GET").length, writes);
    assert.equal(kube.get("secrets", "dry-1", NAME), undefined);
  });

  test("a conflicting writer: the 409 is re-read and retried, the other writer's entry kept", async () => {
    kube.addNamespace("race-1");
    kube.beforeNext(/^PUT \/api\/v1\/namespaces\/race-1\/serviceaccounts\/default$/, () => {
      const cur = kube.get("serviceaccounts", "race-1", "default");
      assert.ok(cur);
      kube.put("serviceaccounts", { ...cur, imagePullSecrets: [{ name: "concurrent" }] });
    });
    const cfg = await config("race.yaml", `registries: [${HOST}]\nnamespaces: { include: ["race-*"] }\n`);
    const r = await cli(["--config", cfg, "--once"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sa("race-1").imagePullSecrets, [{ name: "concurrent" }, { name: NAME }]);
    const puts = kube.requests.filter(
      (q) => q.method === "PUT" && q.path.startsWith("/api/v1/namespaces/race-1/serviceaccounts"),
    );
    assert.equal(puts.length, 2, "one conflict, one retry");
  });

  test("a secret of the same name that is not ours is left alone", async () => {
    kube.addNamespace("foreign-1");
    kube.put("secrets", { metadata: { name: NAME, namespace: "foreign-1" }, type: "Opaque", data: { x: "eQ==" } });
    const cfg = await config("foreign.yaml", `registries: [${HOST}]\nnamespaces: { include: ["foreign-*"] }\n`);
    const r = await cli(["--config", cfg, "--once"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /not managed by docker-credential-cloud; left alone/);
    assert.deepEqual(kube.get("secrets", "foreign-1", NAME)?.data, { x: "eQ==" });
    assert.equal(sa("foreign-1").imagePullSecrets, undefined);
  });

  test("API 500s: the failing namespace is reported (exit 1), the others are served; the next run completes", async () => {
    kube.addNamespace("flaky-1");
    kube.addNamespace("flaky-2");
    kube.failNext(/^POST \/api\/v1\/namespaces\/flaky-1\/secrets$/, 1);
    const cfg = await config("flaky.yaml", `registries: [${HOST}]\nnamespaces: { include: ["flaky-*"] }\n`);
    const r = await cli(["--config", cfg, "--once"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /namespace flaky-1: Kubernetes API answered HTTP 500/);
    assert.ok(kube.get("secrets", "flaky-2", NAME));
    assert.equal(kube.get("secrets", "flaky-1", NAME), undefined);
    const again = await cli(["--config", cfg, "--once"]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(kube.get("secrets", "flaky-1", NAME));
  });

  test("a cloud token failure keeps the old credential: never an empty or missing entry", async () => {
    kube.addNamespace("keep-1");
    const cfg = await config("keep.yaml", `registries: [${HOST}, ${HOST2}]\nnamespaces: { include: ["keep-*"] }\n`);
    assert.equal((await cli(["--config", cfg, "--once"], "keep-home")).code, 0);
    const before = kube.get("secrets", "keep-1", NAME);
    aws.mode = "deny";
    try {
      // A cold cache (another HOME) so that the fetch really fails.
      const r = await cli(["--config", cfg, "--once"], "cold-home");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /credentials for 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com: .*AccessDenied/);
      assert.deepEqual(kube.get("secrets", "keep-1", NAME), before, "the secret is untouched");
      // A namespace that never had a secret does not get an empty one.
      kube.addNamespace("keep-2");
      const r2 = await cli(["--config", cfg, "--once"], "cold-home-2");
      assert.equal(r2.code, 1);
      assert.equal(kube.get("secrets", "keep-2", NAME), undefined);
      assert.equal(sa("keep-2").imagePullSecrets, undefined);
    } finally {
      aws.mode = "ok";
    }
  });

  test("one registry's refresh fails, the other's works: the failed one keeps its old entry, the other is refreshed", async () => {
    kube.addNamespace("part-1");
    const cfg = await config("part.yaml", `registries: [${HOST}, ${HOST2}]\nnamespaces: { include: ["part-*"] }\n`);
    assert.equal((await cli(["--config", cfg, "--once"], "part-home")).code, 0);
    const first = kube.get("secrets", "part-1", NAME);
    assert.deepEqual(Object.keys(auths("part-1")).sort(), [HOST, HOST2].sort());
    // HOST2 now goes through a role STS refuses; HOST still works (a cold cache: both really fetched).
    const cfg2 = await config(
      "part2.yaml",
      `registries:\n  - ${HOST}\n  - { host: ${HOST2}, aws: { roleArn: "${MFA_ROLE}" } }\nnamespaces: { include: ["part-*"] }\n`,
    );
    const r = await cli(["--config", cfg2, "--once"], "part-cold-home");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /credentials for 210987654321\.dkr\.ecr\.eu-west-1\.amazonaws\.com: /);
    assert.doesNotMatch(r.stderr, /credentials for 123456789012/);
    const after = kube.get("secrets", "part-1", NAME);
    assert.notEqual(
      after?.metadata.resourceVersion,
      first?.metadata.resourceVersion,
      "the working registry was refreshed",
    );
    const a = auths("part-1");
    assert.deepEqual(Object.keys(a).sort(), [HOST, HOST2].sort(), "no entry dropped");
    assert.equal(a[HOST2]?.password, PASSWORD2, "the failed registry keeps its old credential");
    assert.equal(a[HOST]?.password, PASSWORD);
  });

  test("a namespace being deleted (Terminating) is skipped: no write the API server would refuse", async () => {
    kube.addNamespace("term-1");
    kube.addNamespace("term-2");
    kube.terminate("term-2");
    const cfg = await config("term.yaml", `registries: [${HOST}]\nnamespaces: { include: ["term-*"] }\n`);
    const r = await cli(["--config", cfg, "--once"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(kube.get("secrets", "term-1", NAME));
    assert.equal(kube.get("secrets", "term-2", NAME), undefined);
    assert.deepEqual(
      kube.requests.filter((q) => q.path.startsWith("/api/v1/namespaces/term-2/")),
      [],
      "nothing asked of the terminating namespace",
    );
  });

  test("a namespace that stops matching loses only our secret and our service-account entry", async () => {
    kube.addNamespace("leave-1");
    const cfg = await config("leave.yaml", `registries: [${HOST}]\nnamespaces: { include: ["leave-*"] }\n`);
    assert.equal((await cli(["--config", cfg, "--once"])).code, 0);
    const cur = kube.get("serviceaccounts", "leave-1", "default");
    assert.ok(cur);
    kube.put("serviceaccounts", {
      ...cur,
      imagePullSecrets: [...((cur.imagePullSecrets as []) ?? []), { name: "keep-me" }],
    });
    kube.put("secrets", { metadata: { name: "unrelated", namespace: "leave-1" }, type: "Opaque" });
    const narrowed = await config(
      "leave2.yaml",
      `registries: [${HOST}]\nnamespaces: { include: ["leave-*"], exclude: ["leave-1"] }\n`,
    );
    const r = await cli(["--config", narrowed, "--once"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^delete secret cloud-registry-credentials in namespace leave-1$/m);
    assert.equal(kube.get("secrets", "leave-1", NAME), undefined);
    assert.ok(kube.get("secrets", "leave-1", "unrelated"));
    const after = sa("leave-1");
    assert.deepEqual(after.imagePullSecrets, [{ name: "keep-me" }]);
    assert.equal(after.metadata.annotations?.["docker-credential-cloud.io/added-pull-secrets"], undefined);
  });

  test("a namespace that stops matching: a secret of our name that is not ours stays", async () => {
    kube.addNamespace("leave-foreign");
    kube.put("secrets", { metadata: { name: NAME, namespace: "leave-foreign" }, type: "Opaque", data: { x: "eQ==" } });
    const cfg = await config("leave3.yaml", `registries: [${HOST}]\nnamespaces: { include: ["leave-nothing"] }\n`);
    const r = await cli(["--config", cfg, "--once"]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /namespace leave-foreign/);
    assert.deepEqual(kube.get("secrets", "leave-foreign", NAME)?.data, { x: "eQ==" });
  });

  test("a service account that stops matching serviceAccounts (config narrowed) loses only our entry", async () => {
    kube.addNamespace("narrow-1");
    kube.put("serviceaccounts", {
      metadata: { name: "builder", namespace: "narrow-1" },
      imagePullSecrets: [{ name: "theirs" }],
    });
    const wide = await config(
      "narrow.yaml",
      `registries: [${HOST}]\nnamespaces: { include: ["narrow-*"] }\nserviceAccounts: [default, builder]\n`,
    );
    assert.equal((await cli(["--config", wide, "--once"])).code, 0);
    assert.deepEqual(sa("narrow-1", "builder").imagePullSecrets, [{ name: "theirs" }, { name: NAME }]);
    const narrowed = await config(
      "narrow2.yaml",
      `registries: [${HOST}]\nnamespaces: { include: ["narrow-*"] }\nserviceAccounts: [default]\n`,
    );
    const r = await cli(["--config", narrowed, "--once"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^remove cloud-registry-credentials from imagePullSecrets of serviceaccount builder in namespace narrow-1$/m,
    );
    const builder = sa("narrow-1", "builder");
    assert.deepEqual(builder.imagePullSecrets, [{ name: "theirs" }]);
    assert.equal(builder.metadata.annotations?.["docker-credential-cloud.io/added-pull-secrets"], undefined);
    assert.deepEqual(sa("narrow-1").imagePullSecrets, [{ name: NAME }], "default is still selected");
    assert.ok(kube.get("secrets", "narrow-1", NAME), "the namespace is still served");
    // An entry of our name that someone else put there (no annotation of ours) is not ours to take.
    kube.put("serviceaccounts", {
      metadata: { name: "manual", namespace: "narrow-1" },
      imagePullSecrets: [{ name: NAME }],
    });
    assert.equal((await cli(["--config", narrowed, "--once"])).stdout, "");
    assert.deepEqual(sa("narrow-1", "manual").imagePullSecrets, [{ name: NAME }]);
  });

  test("the Kubernetes client is loaded by pull-secrets only, never on the helper's hit path", async () => {
    const env = { ...baseEnv(join(work, "trace-home")), ...awsEnv(aws, AKID, SECRET) };
    assert.equal((await runCli(["get"], `${HOST}\n`, env)).code, 0);
    const hitTrace = join(work, "hit-loads.txt");
    const hit = await runCli(["get"], `${HOST}\n`, {
      ...env,
      NODE_OPTIONS: `--import ${TRACE_LOADS}`,
      DCC_TRACE_LOADS: hitTrace,
    });
    assert.equal(hit.code, 0, hit.stderr);
    const hitLoads = await readFile(hitTrace, "utf8");
    // Node's --import tracer names the bundle, the executable's the source modules.
    assert.match(hitLoads, /dist\/cli\/cli\.js|src\/cli\.ts/, "the tracer saw our modules");
    assert.doesNotMatch(hitLoads, /@kubernetes|client-node/);
    // Positive control: the same tracer does see the client when the verb runs.
    const verbTrace = join(work, "verb-loads.txt");
    const cfg = await config("trace.yaml", `registries: [${HOST}]\nnamespaces: { include: ["none-*"] }\n`);
    const verb = await runCli(["pull-secrets", "--kubeconfig", kubeconfig, "--config", cfg, "--dry-run"], "", {
      ...env,
      NODE_OPTIONS: `--import ${TRACE_LOADS}`,
      DCC_TRACE_LOADS: verbTrace,
    });
    assert.equal(verb.code, 0, verb.stderr);
    assert.match(await readFile(verbTrace, "utf8"), /@kubernetes\/client-node/);
  });

  test("bad config and arguments: one line, exit 2", async () => {
    const bad = await config("bad.yaml", "registries: []\n");
    const r = await cli(["--config", bad, "--once"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /registries must list at least one registry host/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    const r2 = await cli(["--once"]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /--config is required/);
    // No --kubeconfig, no $KUBECONFIG, no ~/.kube/config, not in a pod: said so, not a made-up localhost:8080.
    const good = await config("good.yaml", `registries: [${HOST}]\n`);
    const none = await runCli(["pull-secrets", "--config", good, "--once"], "", baseEnv(join(work, "no-kube-home")));
    assert.equal(none.code, 2, none.stderr);
    assert.equal(
      none.stderr,
      "docker-credential-cloud: pull-secrets: cannot load the cluster configuration: no cluster configured: give --kubeconfig, or set $KUBECONFIG, or create ~/.kube/config; in a pod, mount the service-account token\n",
    );
    // $KUBECONFIG as kubectl reads it: a list of files (merged).
    const other = join(work, "other-kubeconfig");
    await writeFile(
      other,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "elsewhere", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "someone", user: { token: "t" } }],
        contexts: [{ name: "elsewhere", context: { cluster: "elsewhere", user: "someone" } }],
      }),
    );
    const listed = await runCli(["pull-secrets", "--config", good, "--dry-run"], "", {
      ...baseEnv(join(work, "no-kube-home")),
      ...awsEnv(aws, AKID, SECRET),
      KUBECONFIG: `${kubeconfig}:${other}`,
    });
    assert.equal(listed.code, 0, listed.stderr);
    const r3 = await cli(["--config", bad, "--bogus"]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /Unknown option '--bogus'/);
  });
});
