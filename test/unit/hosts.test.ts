import assert from "node:assert/strict";
import { test } from "node:test";
import { isEcrPublicHost, parseAcrHost, parseEcrHost, parseServerUrl, storeKey } from "../../src/registry/hosts.ts";
import { providerForHost } from "../../src/resolver.ts";

const ECR: [string, { account: string; region: string; fips: boolean; dualStack: boolean } | null][] = [
  [
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    { account: "123456789012", region: "us-east-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    { account: "123456789012", region: "eu-west-1", fips: false, dualStack: false },
  ],
  [
    "818140567777.dkr.ecr.us-east-1.amazonaws.com",
    { account: "818140567777", region: "us-east-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
    { account: "123456789012", region: "us-gov-west-1", fips: true, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
    { account: "123456789012", region: "us-east-1", fips: true, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
    { account: "123456789012", region: "cn-north-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn",
    { account: "123456789012", region: "cn-northwest-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
    { account: "123456789012", region: "eusc-de-east-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr-ecr.us-east-1.on.aws",
    { account: "123456789012", region: "us-east-1", fips: false, dualStack: true },
  ],
  [
    "123456789012.dkr-ecr-fips.us-gov-east-1.on.aws",
    { account: "123456789012", region: "us-gov-east-1", fips: true, dualStack: true },
  ],
  [
    "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
    { account: "123456789012", region: "cn-north-1", fips: false, dualStack: true },
  ],
  [
    "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
    { account: "123456789012", region: "us-iso-east-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
    { account: "123456789012", region: "us-isob-east-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
    { account: "123456789012", region: "eu-isoe-west-1", fips: false, dualStack: false },
  ],
  [
    "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
    { account: "123456789012", region: "us-isof-south-1", fips: false, dualStack: false },
  ],
  // look-alikes and malformed
  ["123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com", null],
  ["x123456789012.dkr.ecr.us-east-1.amazonaws.com", null],
  ["12345678901.dkr.ecr.us-east-1.amazonaws.com", null],
  ["1234567890123.dkr.ecr.us-east-1.amazonaws.com", null],
  ["12345678901a.dkr.ecr.us-east-1.amazonaws.com", null],
  ["123456789012.dkr.ecr.us-east-1.amazonaws.hacker.com", null],
  ["123456789012.dkr.ecr.us-east-1.amazonaws.lol", null],
  ["123456789012.dog.ecr.us-east-1.amazonaws.com", null],
  ["123456789012.dkr.ecr..amazonaws.com", null],
  ["evil.com.123456789012.dkr.ecr.us-east-1.amazonaws.com", null],
  ["foobar", null],
  ["", null],
];

for (const [host, want] of ECR) {
  test(`ECR host ${host || "(empty)"}`, () => {
    const got = parseEcrHost(host);
    assert.deepEqual(
      got && { account: got.account, region: got.region, fips: got.fips, dualStack: got.dualStack },
      want,
    );
  });
}

test("ECR Public hosts", () => {
  assert.ok(isEcrPublicHost("public.ecr.aws"));
  assert.ok(isEcrPublicHost("ecr-public.aws.com"));
  assert.ok(!isEcrPublicHost("public.ecr.aws.evil.com"));
  assert.ok(!isEcrPublicHost("evilpublic.ecr.aws"));
});

const SERVER_URLS: [string, { host: string; path: string } | null][] = [
  ["r.example", { host: "r.example", path: "" }],
  ["https://r.example", { host: "r.example", path: "" }],
  ["http://r.example/v2/", { host: "r.example", path: "/v2/" }],
  ["R.Example:443", { host: "r.example", path: "" }],
  ["  https://R.EXAMPLE:443/v2/  \n", { host: "r.example", path: "/v2/" }],
  ["r.example:5000", { host: "r.example:5000", path: "" }],
  ["https://index.docker.io/v1/", { host: "index.docker.io", path: "/v1/" }],
  ["localhost:5000/ns/img", { host: "localhost:5000", path: "/ns/img" }],
  ["[::1]:5000", { host: "[::1]:5000", path: "" }],
  ["r.example.", { host: "r.example", path: "" }],
  ["ftp://r.example", null],
  ["user:pw@r.example", null],
  ["r.example:99999", null],
  ["r example", null],
  ["", null],
  ["https://", null],
  // Characters no registry server URL holds, refused anywhere in the input: a fragment, query,
  // userinfo or backslash after a genuine host, non-ASCII (U+212A KELVIN SIGN lower-cases to "k"),
  // inner whitespace and control characters.
  ["123456789012.dkr.ecr.eu-west-1.amazonaws.com#@evil.com", null],
  ["123456789012.dkr.ecr.eu-west-1.amazonaws.com?.evil.com", null],
  ["https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/?x=1", null],
  ["https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/#frag", null],
  ["123456789012.dkr.ecr.eu-west-1.amazonaws.com\\@evil.com", null],
  ["https://evil.com\\@123456789012.dkr.ecr.eu-west-1.amazonaws.com", null],
  ["https://r.example\\v2", null],
  ["123456789012.d\u212Ar.ecr.eu-west-1.amazonaws.com", null],
  ["myregistry.azurecr.io\u00a0", null],
  ["\u00a0r.example", null],
  ["r.ex\u00e4mple", null],
  ["r.example/v2/\u00e4", null],
  ["r.example\tevil.com", null],
  ["r.example/v2/ x", null],
  ["r.example\u0000", null],
  ["r.example/\u007f", null],
  ["r.example\u000b.evil.com", null],
];
for (const [input, want] of SERVER_URLS) {
  test(`server URL ${JSON.stringify(input)}`, () => assert.deepEqual(parseServerUrl(input), want));
}

test("Docker Hub spellings share one store key; scheme and :443 do not create duplicates", () => {
  const key = (s: string) => {
    const r = parseServerUrl(s);
    assert.ok(r);
    return storeKey(r);
  };
  assert.equal(key("https://index.docker.io/v1/"), "https://index.docker.io/v1/");
  assert.equal(key("docker.io"), "https://index.docker.io/v1/");
  assert.equal(key("registry-1.docker.io"), "https://index.docker.io/v1/");
  assert.equal(key("https://quay.io/"), key("quay.io:443"));
});

test("ACR login servers", () => {
  assert.equal(parseAcrHost("myregistry.azurecr.io")?.cloud, "AzurePublicCloud");
  assert.equal(parseAcrHost("myregistry.azurecr.cn")?.cloud, "AzureChinaCloud");
  assert.equal(parseAcrHost("myregistry.azurecr.us")?.cloud, "AzureUSGovernment");
  assert.equal(parseAcrHost("myregistry.azurecr.io.evil.com"), null);
  assert.equal(parseAcrHost("x.azurecr.io"), null, "names are at least 5 characters");
  assert.equal(parseAcrHost("myregistry.azurecr.microsoft.scloud"), null, "extra suffixes need configuration");
  assert.equal(parseAcrHost("myregistry.azurecr.microsoft.scloud", ["azurecr.microsoft.scloud"])?.cloud, "Custom");
});

test("routing by shape", () => {
  assert.equal(providerForHost("123456789012.dkr.ecr.us-east-1.amazonaws.com"), "ecr");
  assert.equal(providerForHost("public.ecr.aws"), "ecr-public");
  assert.equal(providerForHost("gcr.io"), "google");
  assert.equal(providerForHost("europe-west4-docker.pkg.dev"), "google");
  assert.equal(providerForHost("myregistry.azurecr.io"), "acr");
  assert.equal(providerForHost("quay.io"), null);
  assert.equal(providerForHost("registry.k8s.io"), null);
});

test("a wildcard rule naming a provider serves only that cloud's own hosts; a literal rule maps a custom host", async () => {
  const { resolveRoute } = await import("../../src/resolver.ts");
  const { parseConfig } = await import("../../src/config.ts");
  const config = await parseConfig(
    JSON.stringify({
      registries: [
        { match: "*.azurecr.*", provider: "acr" },
        { match: "*.dkr.ecr.*.*", provider: "ecr" },
        { match: "mirror.corp.example", provider: "ecr", aws: { region: "eu-west-1" } },
      ],
    }),
    "c.json",
  );
  const settings = {
    env: {},
    home: "/h",
    config,
    configFile: "c.json",
    cacheDir: null,
    dataDir: "/h",
    storeBackend: "file",
    negativeTtlMs: 0,
    requestTimeoutMs: 1000,
    logLevel: "silent",
  } as const;
  assert.equal(resolveRoute("myregistry.azurecr.io", settings)?.provider, "acr");
  assert.equal(resolveRoute("myregistry.azurecr.attacker", settings), null);
  assert.equal(resolveRoute("123456789012.dkr.ecr.evil.com", settings), null);
  assert.equal(resolveRoute("mirror.corp.example", settings)?.provider, "ecr");
});
