// pull-secrets' pure parts: config validation, namespace/service-account selection, the refresh
// schedule and the secret contents after a partial failure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/pull-secrets/config.ts";
import { backoffMs, nextRefreshMs } from "../../src/pull-secrets/main.ts";
import { desiredAuths, EXPIRY_ANNOTATION, type Fresh } from "../../src/pull-secrets/reconcile.ts";
import { globMatch, namespaceSelector, serviceAccountSelected } from "../../src/pull-secrets/select.ts";

const H1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const H2 = "europe-docker.pkg.dev";

test("config: defaults, YAML or JSON, and one-line errors", () => {
  const c = parseConfig(`registries: [${H1}]\n`, "f.yaml");
  assert.equal(c.secretName, "cloud-registry-credentials");
  assert.deepEqual(c.namespaces, { include: ["*"], exclude: [], labelSelector: undefined });
  assert.deepEqual(c.serviceAccounts, ["default"]);
  assert.equal(c.metricsPort, 8080);
  assert.deepEqual(parseConfig(JSON.stringify({ registries: [H2], secretName: "x" }), "f.json").registries, [H2]);
  const bad: [string, RegExp][] = [
    ["registries: []", /at least one registry/],
    ["registries: [a/b]", /is not a registry host/],
    [`registries: [${H1}]\nsecretName: Bad_Name`, /DNS subdomain/],
    [`registries: [${H1}]\nregistrys: []`, /unknown key "registrys"/],
    [`registries: [${H1}]\nnamespaces: { include: "*" }`, /namespaces.include must be a list/],
    [`registries: [${H1}]\nnamespaces: { labelSelector: "a in b" }`, /label selector: cannot parse/],
    [`registries: [${H1}]\nmetricsPort: 70000`, /metricsPort/],
    ["registries: [\n", /not valid YAML or JSON/],
    ["- a", /expected a mapping/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseConfig(text, "f.yaml"), re, text);
});

test("selection: globs, exclusion, label selectors; service accounts by name or glob", () => {
  assert.ok(globMatch("team-*", "team-a"));
  assert.ok(!globMatch("team-*", "xteam-a"));
  assert.ok(globMatch("a?c", "abc"));
  assert.ok(!globMatch("a.c", "abc"), "dots are literal");
  const cfg = parseConfig(
    `registries: [${H1}]\nnamespaces: { include: ["*"], exclude: ["kube-*"], labelSelector: "env in (prod,stage),!legacy,team!=x" }\nserviceAccounts: [default, "ci-*"]\n`,
    "f",
  );
  const sel = namespaceSelector(cfg);
  assert.ok(sel("a", { env: "prod" }));
  assert.ok(!sel("a", { env: "dev" }));
  assert.ok(!sel("a", { env: "prod", legacy: "" }));
  assert.ok(!sel("a", { env: "prod", team: "x" }));
  assert.ok(!sel("kube-system", { env: "prod" }));
  assert.ok(serviceAccountSelected(cfg, "ci-bot"));
  assert.ok(!serviceAccountSelected(cfg, "builder"));
});

test("refresh at half the shortest remaining life, jittered and bounded; backoff grows and is capped", () => {
  const now = 1_000_000;
  const fresh: Fresh = new Map([
    [H1, { username: "AWS", secret: "s", expiresAt: now + 2 * 3_600_000 }],
    [H2, { username: "o", secret: "t", expiresAt: now + 1_200_000 }],
  ]);
  assert.equal(
    nextRefreshMs(fresh, now, () => 0.5),
    600_000,
  );
  assert.equal(
    nextRefreshMs(fresh, now, () => 0),
    540_000,
  );
  assert.equal(
    nextRefreshMs(fresh, now, () => 1),
    660_000,
  );
  assert.equal(nextRefreshMs(new Map([[H1, { username: "u", secret: "s", expiresAt: now + 1000 }]]), now), 10_000);
  assert.equal(
    nextRefreshMs(new Map([[H1, new Error("x")]]), now, () => 0.5),
    3_600_000,
  );
  assert.equal(
    backoffMs(1, () => 1),
    5_000,
  );
  assert.equal(
    backoffMs(3, () => 1),
    20_000,
  );
  assert.equal(
    backoffMs(30, () => 1),
    300_000,
  );
  assert.equal(
    backoffMs(1, () => 0),
    2_500,
  );
});

test("a failed refresh keeps the registry's previous entry; a registry never seen is left out", () => {
  const old = {
    metadata: {
      name: "s",
      annotations: { [EXPIRY_ANNOTATION]: JSON.stringify({ [H2]: "2030-01-01T00:00:00.000Z" }) },
    },
    data: {
      ".dockerconfigjson": Buffer.from(
        JSON.stringify({ auths: { [H2]: { username: "o", password: "old", auth: "x" } } }),
      ).toString("base64"),
    },
  };
  const fresh: Fresh = new Map<string, Error | { username: string; secret: string; expiresAt: number }>([
    [H1, { username: "AWS", secret: "new", expiresAt: Date.UTC(2031, 0, 1) }],
    [H2, new Error("denied")],
  ]);
  const want = desiredAuths([H1, H2], fresh, old);
  assert.equal(want?.auths[H1]?.password, "new");
  assert.equal(want?.auths[H2]?.password, "old");
  assert.equal(want?.expires[H2], "2030-01-01T00:00:00.000Z");
  assert.deepEqual(Object.keys(desiredAuths([H1, H2], fresh, undefined)?.auths ?? {}), [H1]);
  assert.equal(desiredAuths([H2], fresh, undefined), undefined, "nothing to write");
  const empty: Fresh = new Map([[H2, { username: "o", secret: "", expiresAt: 1 }]]);
  assert.equal(desiredAuths([H2], empty, old)?.auths[H2]?.password, "old", "an empty credential never replaces one");
});
