// The CredentialProviderConfig reader with the kubelet's rules (config.go, config_test.go), and the
// packaging examples checked with it: each must be a config the kubelet accepts, and each must
// agree with what the program does (args, names the installer creates, hosts it answers,
// annotations the providers read).
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { KUBELET_ACTION } from "../../src/adapters/kubelet-plugin.ts";
import {
  type CredentialProviderConfig,
  CredentialProviderConfigError,
  decodeCredentialProviderConfig,
  loadCredentialProviderConfig,
  providerMatchesImage,
  qualifiedNameErrors,
  validateCredentialProviderConfig,
} from "../../src/keyring/kubelet-config.ts";
import { WORKLOAD_ROLE_ANNOTATION } from "../../src/providers/aws/ecr.ts";
import { ANNOTATION_CLIENT_ID, ANNOTATION_TENANT_ID } from "../../src/providers/azure/acr.ts";
import { GKE_SERVICE_ACCOUNT_ANNOTATION, WORKLOAD_PROVIDER_ANNOTATION } from "../../src/providers/google/google.ts";
import { schemelessUrlError } from "../../src/registry/url.ts";
import { providerForHost } from "../../src/resolver.ts";
import { ROOT } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const PACKAGING = join(ROOT, "packaging", "kubernetes");

const HEAD = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n";
const PROVIDER = `- name: docker-credential-cloud
  matchImages: ["*.dkr.ecr.*.amazonaws.com"]
  defaultCacheDuration: "12h"
  apiVersion: credentialprovider.kubelet.k8s.io/v1
`;
const yamlOf = (providers: string) => `${HEAD}providers:\n${providers.replace(/^/gm, "  ")}`;

/** Decodes and validates; returns the problems ([] when valid). Decode errors become one problem. */
const problems = async (text: string, gate = true): Promise<string[]> => {
  try {
    return validateCredentialProviderConfig(await decodeCredentialProviderConfig(text, "test.yaml"), {
      serviceAccountTokenFeature: gate,
    });
  } catch (e) {
    if (e instanceof CredentialProviderConfigError) return [...e.problems];
    throw e;
  }
};

const expectProblem = async (text: string, substring: string, gate = true) => {
  const p = await problems(text, gate);
  assert.ok(
    p.some((m) => m.includes(substring)),
    `expected a problem containing ${JSON.stringify(substring)}, got ${JSON.stringify(p)}`,
  );
};

// Real registry images per cloud, for checking that examples' patterns are all useful.
const SAMPLE_IMAGES = [
  "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
  "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app",
  "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app",
  "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu/app",
  "123456789012.dkr-ecr.us-east-1.on.aws/app",
  "123456789012.dkr-ecr-fips.us-east-1.on.aws/app",
  "public.ecr.aws/team/app",
  "gcr.io/project/app",
  "eu.gcr.io/project/app",
  "us-central1-docker.pkg.dev/project/repo/app",
  "docker.us-central1.rep.pkg.dev/project/repo/app",
  "container.cloud.google.com/app",
  "myregistry.azurecr.io/app",
  "myregistry.azurecr.cn/app",
  "myregistry.azurecr.us/app",
];

describe("packaging examples are valid kubelet configs", async () => {
  const files = (await readdir(PACKAGING)).filter((f) => /^credential-provider-config\..*\.yaml$/.test(f));
  const installerNames = async (): Promise<string[]> => {
    const docs = parseAllDocuments(await readFile(join(PACKAGING, "daemonset.yaml"), "utf8"));
    const cm = docs[0]?.toJS() as { data: Record<string, string> } | undefined;
    const script = cm?.data["install.sh"] ?? "";
    const m = /NAMES="\$\{NAMES:-([^}]*)\}"/.exec(script);
    return (m?.[1] ?? "").split(/\s+/).filter(Boolean);
  };

  test("there are examples for ECR, Google, ACR, all three and SA-token mode", () => {
    assert.deepEqual(files.sort(), [
      "credential-provider-config.acr.yaml",
      "credential-provider-config.all.yaml",
      "credential-provider-config.ecr.yaml",
      "credential-provider-config.google.yaml",
      "credential-provider-config.sa-token.yaml",
    ]);
  });

  const checkConsistency = async (cfg: CredentialProviderConfig) => {
    const names = await installerNames();
    for (const p of cfg.providers) {
      assert.deepEqual(p.args, [KUBELET_ACTION], `${p.name}: args select plugin mode`);
      assert.ok(names.includes(p.name), `${p.name}: the DaemonSet installs a binary under this name`);
      for (const m of p.matchImages) {
        const hits = SAMPLE_IMAGES.filter((img) => providerMatchesImage({ ...p, matchImages: [m] }, img));
        assert.ok(hits.length > 0, `${p.name}: pattern ${m} matches no real registry`);
        for (const img of hits) {
          assert.ok(providerForHost(img.split("/")[0] ?? ""), `${m} matches ${img}, which the program would not serve`);
        }
      }
    }
  };

  for (const f of files) {
    test(f, async () => {
      const cfg = await loadCredentialProviderConfig(join(PACKAGING, f));
      assert.ok(cfg.providers.length > 0);
      await checkConsistency(cfg);
    });
  }

  test("the DaemonSet's embedded config is valid too", async () => {
    const dir = await tmpTree(undefined);
    const docs = parseAllDocuments(await readFile(join(PACKAGING, "daemonset.yaml"), "utf8"));
    const cm = docs[0]?.toJS() as { kind: string; data: Record<string, string> };
    assert.equal(cm.kind, "ConfigMap");
    const { writeFile, rm } = await import("node:fs/promises");
    try {
      await writeFile(join(dir, "config.yaml"), cm.data["config.yaml"] ?? "");
      await checkConsistency(await loadCredentialProviderConfig(join(dir, "config.yaml")));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("SA-token example: v1 only, refused when the feature gate is off (Kubernetes 1.33 default)", async () => {
    const file = join(PACKAGING, "credential-provider-config.sa-token.yaml");
    await assert.rejects(
      loadCredentialProviderConfig(file, { serviceAccountTokenFeature: false }),
      /tokenAttributes is not supported when KubeletServiceAccountTokenForCredentialProviders feature gate is disabled/,
    );
  });

  test("SA-token example: the annotation keys are the ones the providers read", async () => {
    const cfg = await loadCredentialProviderConfig(join(PACKAGING, "credential-provider-config.sa-token.yaml"));
    const keys = (name: string) => {
      const ta = cfg.providers.find((p) => p.name === name)?.tokenAttributes;
      assert.ok(ta, name);
      return [...ta.requiredServiceAccountAnnotationKeys, ...ta.optionalServiceAccountAnnotationKeys].sort();
    };
    assert.deepEqual(keys("docker-credential-cloud-aws-sa"), [WORKLOAD_ROLE_ANNOTATION]);
    assert.deepEqual(keys("docker-credential-cloud-azure-sa"), [ANNOTATION_CLIENT_ID, ANNOTATION_TENANT_ID].sort());
    assert.deepEqual(
      keys("docker-credential-cloud-gcp-sa"),
      [WORKLOAD_PROVIDER_ANNOTATION, GKE_SERVICE_ACCOUNT_ANNOTATION].sort(),
    );
    for (const p of cfg.providers) {
      if (p.tokenAttributes) assert.equal(p.tokenAttributes.cacheType, "ServiceAccount");
    }
  });
});

describe("validation: the kubelet's error list", () => {
  test("a minimal config is valid", async () => assert.deepEqual(await problems(yamlOf(PROVIDER)), []));
  test("JSON works too", async () => {
    const json = JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "CredentialProviderConfig",
      providers: [
        {
          name: "p",
          matchImages: ["*.azurecr.io"],
          defaultCacheDuration: "10m",
          apiVersion: "credentialprovider.kubelet.k8s.io/v1alpha1",
        },
      ],
    });
    assert.deepEqual(await problems(json), []);
  });
  test("no providers", async () => expectProblem(`${HEAD}providers: []\n`, "at least 1 item in plugins is required"));
  test("name with '/'", async () =>
    expectProblem(yamlOf(PROVIDER.replace("docker-credential-cloud", "a/b")), "provider name cannot contain '/'"));
  test("name with spaces", async () =>
    expectProblem(yamlOf(PROVIDER.replace("docker-credential-cloud", '"a b"')), "provider name cannot contain spaces"));
  test("name '.'", async () =>
    expectProblem(yamlOf(PROVIDER.replace("docker-credential-cloud", '"."')), "provider name cannot be '.'"));
  test("name '..'", async () =>
    expectProblem(yamlOf(PROVIDER.replace("docker-credential-cloud", '".."')), "provider name cannot be '..'"));
  test("duplicate names", async () =>
    expectProblem(yamlOf(PROVIDER + PROVIDER), 'Duplicate value: "docker-credential-cloud"'));
  test("apiVersion missing", async () =>
    expectProblem(yamlOf(PROVIDER.replace(/ {2}apiVersion.*\n/, "")), "providers.apiVersion: Required value"));
  test("apiVersion unknown", async () =>
    expectProblem(
      yamlOf(PROVIDER.replace("credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v2")),
      'Unsupported value: "credentialprovider.kubelet.k8s.io/v2": supported values: "credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1alpha1", "credentialprovider.kubelet.k8s.io/v1beta1"',
    ));
  test("matchImages empty", async () =>
    expectProblem(
      yamlOf(PROVIDER.replace(/matchImages: .*/, "matchImages: []")),
      "at least 1 item in matchImages is required",
    ));
  test("matchImages invalid", async () =>
    expectProblem(
      yamlOf(PROVIDER.replace(/matchImages: .*/, 'matchImages: ["%invalid%"]')),
      'match image is invalid: parse "https://%invalid%": invalid URL escape "%in"',
    ));
  test("defaultCacheDuration missing", async () =>
    expectProblem(
      yamlOf(PROVIDER.replace(/ {2}defaultCacheDuration.*\n/, "")),
      "providers.defaultCacheDuration: Required value",
    ));
  test("defaultCacheDuration negative", async () =>
    expectProblem(
      yamlOf(PROVIDER.replace('"12h"', '"-1m"')),
      "defaultCacheDuration must be greater than or equal to 0",
    ));
  test("defaultCacheDuration zero is fine", async () =>
    assert.deepEqual(await problems(yamlOf(PROVIDER.replace('"12h"', '"0s"'))), []));
  test("several problems are all reported", async () => {
    const p = await problems(
      yamlOf(PROVIDER.replace("docker-credential-cloud", "a/b c").replace(/ {2}apiVersion.*\n/, "")),
    );
    assert.equal(p.length, 3, JSON.stringify(p));
  });

  const TA = (body: string, apiVersion = "credentialprovider.kubelet.k8s.io/v1") =>
    yamlOf(
      `${PROVIDER.replace("credentialprovider.kubelet.k8s.io/v1", apiVersion)}  tokenAttributes:\n${body.replace(/^/gm, "    ")}`,
    );
  const GOOD_TA = "serviceAccountTokenAudience: aud\ncacheType: ServiceAccount\nrequireServiceAccount: true\n";
  test("tokenAttributes: valid", async () => assert.deepEqual(await problems(TA(GOOD_TA)), []));
  test("tokenAttributes: feature gate off", async () =>
    expectProblem(
      TA(GOOD_TA),
      "tokenAttributes is not supported when KubeletServiceAccountTokenForCredentialProviders feature gate is disabled",
      false,
    ));
  test("tokenAttributes: audience required", async () =>
    expectProblem(
      TA(GOOD_TA.replace("serviceAccountTokenAudience: aud\n", "")),
      "tokenAttributes.serviceAccountTokenAudience: Required value",
    ));
  test("tokenAttributes: requireServiceAccount required", async () =>
    expectProblem(
      TA(GOOD_TA.replace("requireServiceAccount: true\n", "")),
      "tokenAttributes.requireServiceAccount: Required value",
    ));
  test("tokenAttributes: only with the v1 plugin API", async () =>
    expectProblem(
      TA(GOOD_TA, "credentialprovider.kubelet.k8s.io/v1beta1"),
      "tokenAttributes is only supported for credentialprovider.kubelet.k8s.io/v1 API version",
    ));
  test("tokenAttributes: required keys need requireServiceAccount", async () =>
    expectProblem(
      TA(`${GOOD_TA.replace("true", "false")}requiredServiceAccountAnnotationKeys: [a.io/x]\n`),
      "requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set",
    ));
  test("tokenAttributes: invalid annotation key", async () =>
    expectProblem(
      TA(`${GOOD_TA}optionalServiceAccountAnnotationKeys: [cantendwithadash-]\n`),
      "name part must consist of alphanumeric characters",
    ));
  test("tokenAttributes: annotation keys are case-insensitive qualified names", async () =>
    assert.deepEqual(await problems(TA(`${GOOD_TA}optionalServiceAccountAnnotationKeys: [Example.COM/Key]\n`)), []));
  test("tokenAttributes: duplicate annotation key", async () =>
    expectProblem(
      TA(`${GOOD_TA}requiredServiceAccountAnnotationKeys: [a.io/x, a.io/x]\n`),
      'Duplicate value: "a.io/x"',
    ));
  test("tokenAttributes: key both required and optional", async () =>
    expectProblem(
      TA(`${GOOD_TA}requiredServiceAccountAnnotationKeys: [a.io/x]\noptionalServiceAccountAnnotationKeys: [a.io/x]\n`),
      "annotation keys cannot be both required and optional",
    ));
  test("tokenAttributes: cacheType required", async () =>
    expectProblem(
      TA(GOOD_TA.replace("cacheType: ServiceAccount\n", "")),
      "Supported values are: ServiceAccount, Token",
    ));
  test("tokenAttributes: cacheType unknown", async () =>
    expectProblem(
      TA(GOOD_TA.replace("ServiceAccount", "Pod")),
      'Unsupported value: "Pod": supported values: "ServiceAccount", "Token"',
    ));
});

describe("strict decoding", () => {
  test("unknown field", async () =>
    expectProblem(yamlOf(`${PROVIDER}  x: 1\n`), 'strict decoding error: unknown field "providers[0].x"'));
  test("wrongly-cased field", async () =>
    expectProblem(yamlOf(PROVIDER.replace("matchImages", "MatchImages")), 'unknown field "providers[0].MatchImages"'));
  test("duplicate field", async () => expectProblem(yamlOf(`${PROVIDER}  name: again\n`), "error decoding config"));
  test("duplicate field in JSON", async () =>
    expectProblem(
      '{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","kind":"CredentialProviderConfig","providers":[]}',
      "error decoding config",
    ));
  test("tokenAttributes is unknown outside the v1 config schema", async () =>
    expectProblem(
      yamlOf(`${PROVIDER}  tokenAttributes: {}\n`).replace(
        "kubelet.config.k8s.io/v1\n",
        "kubelet.config.k8s.io/v1beta1\n",
      ),
      'unknown field "providers[0].tokenAttributes"',
    ));
  test("wrong kind", async () =>
    expectProblem(
      yamlOf(PROVIDER).replace("kind: CredentialProviderConfig", "kind: WrongKind"),
      'no kind "WrongKind" is registered for version "kubelet.config.k8s.io/v1"',
    ));
  test("unknown config version", async () =>
    expectProblem(
      yamlOf(PROVIDER).replace("kubelet.config.k8s.io/v1\n", "kubelet.config.k8s.io/v2\n"),
      "is registered for version",
    ));
  test("no kind", async () =>
    expectProblem(yamlOf(PROVIDER).replace("kind: CredentialProviderConfig\n", ""), "Object 'Kind' is missing"));
  test("a number where a duration string belongs", async () =>
    expectProblem(yamlOf(PROVIDER.replace('"12h"', "10")), "cannot unmarshal number"));
  test("a duration Go refuses", async () =>
    expectProblem(yamlOf(PROVIDER.replace('"12h"', '"1d"')), 'time: unknown unit "d" in duration "1d"'));
  test("YAML 1.1 booleans, as the kubelet's go-yaml reads them", async () => {
    const ta = `  tokenAttributes:\n    serviceAccountTokenAudience: aud\n    cacheType: Token\n    requireServiceAccount: yes\n`;
    assert.deepEqual(await problems(yamlOf(PROVIDER + ta)), []);
    await expectProblem(yamlOf(PROVIDER.replace("docker-credential-cloud", "yes")), "cannot unmarshal bool");
  });
  test("a list where a string belongs", async () =>
    expectProblem(yamlOf(PROVIDER.replace("docker-credential-cloud", "[a]")), "cannot unmarshal array"));
  test("env entries are strict too", async () =>
    expectProblem(
      yamlOf(`${PROVIDER}  env: [{name: A, value: b, valueFrom: x}]\n`),
      'unknown field "providers[0].env[0].valueFrom"',
    ));
});

describe("config directory (Kubernetes 1.34+)", () => {
  const file = (name: string) => yamlOf(PROVIDER.replace("docker-credential-cloud", name));
  test("*.json, *.yaml and *.yml merged in name order; other files ignored", async (t) => {
    const dir = await tmpTree(t, {
      "b.yaml": file("b"),
      "a.yml": file("a"),
      "c.json": JSON.stringify({
        apiVersion: "kubelet.config.k8s.io/v1",
        kind: "CredentialProviderConfig",
        providers: [
          {
            name: "c",
            matchImages: ["x.io"],
            defaultCacheDuration: "1m",
            apiVersion: "credentialprovider.kubelet.k8s.io/v1",
          },
        ],
      }),
      "README.md": "not a config",
      "d.yaml.bak": "not a config",
    });
    const cfg = await loadCredentialProviderConfig(dir);
    assert.deepEqual(
      cfg.providers.map((p) => p.name),
      ["a", "b", "c"],
    );
  });
  test("the same name in two files", async (t) => {
    const dir = await tmpTree(t, { "a.yaml": file("same"), "b.yaml": file("same") });
    await assert.rejects(
      loadCredentialProviderConfig(dir),
      /duplicate provider name "same" found in configuration file\(s\)/,
    );
  });
  test("no config files", async (t) => {
    const dir = await tmpTree(t, { "notes.txt": "x" });
    await assert.rejects(loadCredentialProviderConfig(dir), /no configuration files found in directory/);
  });
  test("a missing path", async () => {
    await assert.rejects(loadCredentialProviderConfig("/nonexistent/config.yaml"), /unable to access path/);
  });
  test("validation errors are aggregated like the kubelet's", async (t) => {
    const dir = await tmpTree(t, { "c.yaml": `${HEAD}providers: []\n` });
    await assert.rejects(
      loadCredentialProviderConfig(join(dir, "c.yaml")),
      /failed to validate credential provider config: providers: Required value: at least 1 item in plugins is required$/,
    );
  });
});

describe("Go url.Parse errors for matchImages", () => {
  const cases: [string, string | null][] = [
    ["*.dkr.ecr.*.amazonaws.com", null],
    ["registry.io:8080/path", null],
    ["[::1]:5000", null],
    ["registry.io/foo?x=1#frag", null],
    ["%invalid%", 'parse "https://%invalid%": invalid URL escape "%in"'],
    ["registry.io:*", 'parse "https://registry.io:*": invalid port ":*" after host'],
    ["registry.io:80a", 'parse "https://registry.io:80a": invalid port ":80a" after host'],
    ["a b.io", 'parse "https://a b.io": invalid character " " in host name'],
    ["[::1", "parse \"https://[::1\": missing ']' in host"],
    ["r.io/%zz", 'parse "https://r.io/%zz": invalid URL escape "%zz"'],
    ["r.io/a#%zz", 'parse "https://r.io/a#%zz": invalid URL escape "%zz"'],
    ["r.io\u0001", 'parse "https://r.io\\x01": net/url: invalid control character in URL'],
    ["u{x}@r.io", 'parse "https://u{x}@r.io": net/url: invalid userinfo'],
  ];
  for (const [input, want] of cases) test(JSON.stringify(input), () => assert.equal(schemelessUrlError(input), want));
});

describe("qualified names (annotation keys)", () => {
  test("accepted", () => {
    for (const k of [
      "a",
      "a.io/x",
      "eks.amazonaws.com/ecr-role-arn",
      "x_y.z",
      "docker-credential-cloud/gcp-workload-identity-provider",
    ]) {
      assert.deepEqual(qualifiedNameErrors(k), [], k);
    }
  });
  test("refused", () => {
    for (const k of ["", "-a", "a-", "/a", "a/", "a/b/c", "A_B.io/x", `${"a".repeat(64)}`]) {
      assert.notDeepEqual(qualifiedNameErrors(k), [], k);
    }
  });
});
