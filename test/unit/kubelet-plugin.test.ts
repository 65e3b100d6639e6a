// The plugin adapter with plain-object fakes for the provider (no SDK, no network): request
// validation, routing, what goes to stdout and stderr, and the service-account Workload hand-off.
// Every answer it produces is run through the strict kubelet checker.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cacheDurationFor, handleKubeletRequest } from "../../src/adapters/kubelet-plugin.ts";
import { noCache } from "../../src/cache/cache.ts";
import type { CredentialDeps } from "../../src/credentials.ts";
import { NoIdentityError, ProviderError } from "../../src/errors.ts";
import { parseRequest } from "../../src/kubelet/wire.ts";
import { createLogger } from "../../src/log.ts";
import type { ProviderModule } from "../../src/providers/types.ts";
import type { Route } from "../../src/resolver.ts";
import { loadSettings } from "../../src/settings.ts";
import { checkResponse } from "../support/kubelet-checker.ts";
import { tmpTree } from "../support/tmp.ts";

const NOW = 1_800_000_000_000;
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

const request = (image: string, extra: Record<string, unknown> = {}, apiVersion = V1) =>
  `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion, image, ...extra })}\n`;

const setup = async (t: Parameters<typeof tmpTree>[0], provider: Partial<ProviderModule> = {}, level = "warn") => {
  const home = await tmpTree(t);
  const settings = await loadSettings({ HOME: home, DOCKER_CREDENTIAL_CLOUD_LOG: level }, home);
  const routes: Route[] = [];
  const deps: CredentialDeps = {
    settings,
    log: createLogger(settings.logLevel, () => {}),
    cache: noCache,
    now: () => NOW,
    loadProvider: async () => ({
      fetchToken: async (route, ctx) => {
        routes.push(route);
        ctx.log.warn("a warning while fetching");
        return { username: "AWS", secret: `token-for-${route.host}`, expiresAt: NOW + 12 * 3600_000 };
      },
      ...provider,
    }),
  };
  return { deps, routes };
};

describe("request parsing", () => {
  test("the kubelet's exact bytes", () => {
    assert.deepEqual(
      parseRequest(
        '{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"test.registry.io/foobar"}\n',
      ),
      { apiVersion: V1, image: "test.registry.io/foobar" },
    );
  });
  test("unknown fields are ignored; SA fields only in v1", () => {
    const sa = { serviceAccountToken: "tok", serviceAccountAnnotations: { a: "b" }, future: 1 };
    assert.deepEqual(parseRequest(request("r/x", sa)), {
      apiVersion: V1,
      image: "r/x",
      serviceAccountToken: "tok",
      serviceAccountAnnotations: { a: "b" },
    });
    const beta = "credentialprovider.kubelet.k8s.io/v1beta1";
    assert.deepEqual(parseRequest(request("r/x", sa, beta)), { apiVersion: beta, image: "r/x" });
  });
  const bad: [string, string, RegExp][] = [
    ["empty stdin", "", /no CredentialProviderRequest on stdin/],
    ["whitespace", " \n", /no CredentialProviderRequest on stdin/],
    ["not JSON", "123456789012.dkr.ecr.eu-west-1.amazonaws.com\n", /not JSON/],
    ["an array", "[]", /JSON array, not an object/],
    [
      "wrong kind",
      request("r/x").replace("CredentialProviderRequest", "CredentialProviderResponse"),
      /kind was "CredentialProviderResponse"/,
    ],
    ["no kind", JSON.stringify({ apiVersion: V1, image: "r/x" }), /has no kind/],
    [
      "unknown apiVersion",
      request("r/x", {}, "credentialprovider.kubelet.k8s.io/v2"),
      /group version "credentialprovider.kubelet.k8s.io\/v2" is not supported/,
    ],
    ["other group", request("r/x", {}, "v1"), /is not supported/],
    ["empty image", request(""), /image in plugin request was empty/],
    [
      "no image",
      JSON.stringify({ kind: "CredentialProviderRequest", apiVersion: V1 }),
      /image in plugin request was empty/,
    ],
    ["image a number", request("r").replace('"r"', "5"), /image in plugin request is a number/],
    ["token a number", request("r/x", { serviceAccountToken: 5 }), /serviceAccountToken .* not a string/],
    [
      "annotations not strings",
      request("r/x", { serviceAccountToken: "t", serviceAccountAnnotations: { a: 1 } }),
      /map strings to strings/,
    ],
  ];
  for (const [name, input, msg] of bad) {
    test(`refuses ${name}`, () => assert.throws(() => parseRequest(input), msg));
  }
  test("a JSON error never quotes the input (it may hold a token)", () => {
    assert.throws(
      () => parseRequest('{"kind":"CredentialProviderRequest","serviceAccountToken":"secret-sa-token"'),
      (e: Error) => !e.message.includes("secret-sa-token"),
    );
  });
});

describe("cacheDuration from the token's expiry", () => {
  test("half the remaining life in whole seconds, Go's String()", () => {
    assert.equal(cacheDurationFor(NOW + 12 * 3600_000, NOW), "6h0m0s");
    assert.equal(cacheDurationFor(NOW + 12 * 3600_000 - 2000, NOW), "5h59m59s");
    assert.equal(cacheDurationFor(NOW + 3599_999, NOW), "29m59s");
    assert.equal(cacheDurationFor(NOW + 1999, NOW), "0s");
    assert.equal(cacheDurationFor(NOW - 10_000, NOW), "0s");
    assert.equal(cacheDurationFor(undefined, NOW), "0s");
  });
});

describe("plugin adapter", () => {
  test("ECR image: Registry key, the registry as auth key, duration from expiry", async (t) => {
    const { deps, routes } = await setup(t);
    const r = await handleKubeletRequest(request(`${ECR}/team/app`), deps);
    assert.equal(r.code, 0, r.stderr);
    const c = checkResponse(r.stdout, { apiVersion: V1, image: `${ECR}/team/app` });
    assert.deepEqual(c.response.auth, { [ECR]: { username: "AWS", password: `token-for-${ECR}` } });
    assert.equal(c.response.cacheDuration, "6h0m0s");
    assert.equal(c.response.cacheKeyType, "Registry");
    assert.equal(routes[0]?.provider, "ecr");
    assert.equal(routes[0]?.workload, undefined);
    assert.match(r.stderr, /a warning while fetching/, "logs are written on success (the kubelet ignores them)");
  });
  test("the apiVersion is echoed for each version", async (t) => {
    const { deps } = await setup(t);
    for (const v of ["v1", "v1beta1", "v1alpha1"]) {
      const api = `credentialprovider.kubelet.k8s.io/${v}`;
      const r = await handleKubeletRequest(request(`${ECR}/a`, {}, api), deps);
      checkResponse(r.stdout, { apiVersion: api, image: `${ECR}/a` });
    }
  });
  test("the auth key keeps the registry text as the kubelet has it (port included)", async (t) => {
    const { deps, routes } = await setup(t);
    const image = `${ECR}:443/a`;
    const r = await handleKubeletRequest(request(image), deps);
    const c = checkResponse(r.stdout, { apiVersion: V1, image });
    assert.deepEqual(Object.keys(c.response.auth), [`${ECR}:443`]);
    assert.equal(routes[0]?.host, ECR);
  });
  const notOurs = [
    "docker.io/library/nginx",
    "quay.io/x/y",
    `${ECR}:5000/a`,
    `${ECR}.evil.com/a`,
    `evil.com/${ECR}/a`,
    "registry.k8s.io/pause",
    "localhost:5000/x",
    "[::1]:5000/x",
    "nginx",
  ];
  for (const image of notOurs) {
    test(`no provider for ${image}: exit 0, no auth, 0s, no fetch`, async (t) => {
      const { deps, routes } = await setup(t);
      const r = await handleKubeletRequest(request(image), deps);
      assert.equal(r.code, 0);
      const c = checkResponse(r.stdout, { apiVersion: V1, image });
      assert.deepEqual(c.response.auth, {});
      assert.equal(c.response.cacheDuration, "0s");
      assert.equal(routes.length, 0);
    });
  }
  test("a provider failure: exit 1, nothing on stdout, exactly one line on stderr", async (t) => {
    const { deps } = await setup(t, {
      fetchToken: async (_route, ctx) => {
        ctx.log.warn("noise before the failure");
        throw new ProviderError("ECR refused: AccessDenied; check the node role");
      },
    });
    const r = await handleKubeletRequest(request(`${ECR}/a`), deps);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "docker-credential-cloud: ECR refused: AccessDenied; check the node role\n");
  });
  test("at log level debug the kept-back logs precede the error line", async (t) => {
    const { deps } = await setup(
      t,
      {
        fetchToken: async (_route, ctx) => {
          ctx.log.warn("noise before the failure");
          throw new ProviderError("boom");
        },
      },
      "debug",
    );
    const r = await handleKubeletRequest(request(`${ECR}/a`), deps);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /noise before the failure\n(.*\n)*docker-credential-cloud: boom\n$/);
  });
  test("no identity on this node is a failure too (the kubelet logs it), one line", async (t) => {
    const { deps } = await setup(t, {
      fetchToken: async () => {
        throw new NoIdentityError("no AWS identity found; set one up");
      },
    });
    const r = await handleKubeletRequest(request(`${ECR}/a`), deps);
    assert.deepEqual(r, {
      stdout: "",
      stderr: "docker-credential-cloud: no AWS identity found; set one up\n",
      code: 1,
    });
  });
  test("bad requests: exit 1, one line, nothing on stdout", async (t) => {
    const { deps } = await setup(t);
    for (const input of ["", "nope", request(""), request("r/x", {}, "credentialprovider.kubelet.k8s.io/v9")]) {
      const r = await handleKubeletRequest(input, deps);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    }
  });
  test("service-account token: handed to the provider as the route's Workload", async (t) => {
    const { deps, routes } = await setup(t);
    const ann = { "eks.amazonaws.com/ecr-role-arn": "arn:aws:iam::123456789012:role/pull" };
    const r = await handleKubeletRequest(
      request(`${ECR}/a`, { serviceAccountToken: "sa.jwt.token", serviceAccountAnnotations: ann }),
      deps,
    );
    checkResponse(r.stdout, {
      apiVersion: V1,
      image: `${ECR}/a`,
      serviceAccountToken: "sa.jwt.token",
      cacheType: "ServiceAccount",
    });
    assert.deepEqual(routes[0]?.workload, { token: "sa.jwt.token", annotations: ann });
  });
  test("a provider that returns the SA token as password is refused, and the token is not printed", async (t) => {
    const { deps } = await setup(t, {
      fetchToken: async (route) => ({ username: "x", secret: route.workload?.token ?? "", expiresAt: NOW + 3600_000 }),
    });
    const r = await handleKubeletRequest(
      request(`${ECR}/a`, {
        serviceAccountToken: "sa-token-value",
        serviceAccountAnnotations: { "eks.amazonaws.com/ecr-role-arn": "arn:aws:iam::123456789012:role/pull" },
      }),
      deps,
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /service-account token as the password/);
    assert.ok(!r.stderr.includes("sa-token-value"));
  });
  test("an error text that echoes the SA token is cut before it reaches stderr", async (t) => {
    const { deps } = await setup(t, {
      fetchToken: async (route) => {
        throw new ProviderError(`STS said: token ${route.workload?.token} rejected`);
      },
    });
    const r = await handleKubeletRequest(
      request(`${ECR}/a`, {
        serviceAccountToken: "sa-token-value",
        serviceAccountAnnotations: { "eks.amazonaws.com/ecr-role-arn": "arn:aws:iam::123456789012:role/pull" },
      }),
      deps,
    );
    assert.equal(r.code, 1);
    assert.ok(!r.stderr.includes("sa-token-value"), r.stderr);
  });
});

test("a huge request with a garbage kind or apiVersion gets a short error line quoting an excerpt", async (t) => {
  for (const field of ["kind", "apiVersion"] as const) {
    const req = {
      kind: "CredentialProviderRequest",
      apiVersion: "credentialprovider.kubelet.k8s.io/v1",
      image: "gcr.io/p/i",
      [field]: "x".repeat(1_100_000),
    };
    const r = await handleKubeletRequest(JSON.stringify(req), (await setup(t)).deps);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.ok(r.stderr.length < 300, `${field}: ${r.stderr.length} characters on stderr`);
    assert.match(r.stderr, /"x{64}"… \(1100000 characters\)/);
  }
});
