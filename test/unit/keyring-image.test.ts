// Image references → the kubelet's repoToPull (parsers.ParseImageName over docker/distribution's
// ParseNormalizedNamed), and its Docker Hub test (isDefaultRegistryMatch, from keyring_test.go).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidImageError, isDockerHubImage, normalizeImage } from "../../src/registry/image.ts";

const SHA = `sha256:${"a".repeat(64)}`;

// image → [repository, registry, tag, digest]
const GOOD: [string, string, string, string | undefined, string | undefined][] = [
  ["nginx", "docker.io/library/nginx", "docker.io", undefined, undefined],
  ["nginx:1.25", "docker.io/library/nginx", "docker.io", "1.25", undefined],
  ["library/nginx", "docker.io/library/nginx", "docker.io", undefined, undefined],
  ["user/app:v1", "docker.io/user/app", "docker.io", "v1", undefined],
  ["docker.io/nginx", "docker.io/library/nginx", "docker.io", undefined, undefined],
  ["docker.io/user/app", "docker.io/user/app", "docker.io", undefined, undefined],
  ["index.docker.io/library/nginx:1", "docker.io/library/nginx", "docker.io", "1", undefined],
  ["index.docker.io/nginx", "docker.io/library/nginx", "docker.io", undefined, undefined],
  ["localhost/app", "localhost/app", "localhost", undefined, undefined],
  ["localhost:5000/a/b:tag", "localhost:5000/a/b", "localhost:5000", "tag", undefined],
  [`reg:5000/a/b@${SHA}`, "reg:5000/a/b", "reg:5000", undefined, SHA],
  [`reg.io/a/b:t@${SHA}`, "reg.io/a/b", "reg.io", "t", SHA],
  [
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.0",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "1.0",
    undefined,
  ],
  ["reg.io:443/app", "reg.io:443/app", "reg.io:443", undefined, undefined],
  ["[::1]:5000/app", "[::1]:5000/app", "[::1]:5000", undefined, undefined],
  ["Reg.IO/app", "Reg.IO/app", "Reg.IO", undefined, undefined],
  ["a__b/c.d-e_f", "docker.io/a__b/c.d-e_f", "docker.io", undefined, undefined],
  ["gcr.io/p/i:latest", "gcr.io/p/i", "gcr.io", "latest", undefined],
  ["europe-docker.pkg.dev/p/r/i", "europe-docker.pkg.dev/p/r/i", "europe-docker.pkg.dev", undefined, undefined],
  ["host_with_underscore/x", "docker.io/host_with_underscore/x", "docker.io", undefined, undefined],
];

describe("normalizeImage: the kubelet's repoToPull", () => {
  for (const [image, repository, registry, tag, digest] of GOOD) {
    test(`${image} → ${repository}`, () => {
      const r = normalizeImage(image);
      assert.equal(r.repository, repository);
      assert.equal(r.registry, registry);
      assert.equal(r.path, repository.slice(registry.length + 1));
      assert.equal(r.tag, tag);
      assert.equal(r.digest, digest);
    });
  }

  test("normalizing twice changes nothing", () => {
    for (const [image] of GOOD) {
      const once = normalizeImage(image).repository;
      assert.equal(normalizeImage(once).repository, once);
    }
  });
});

// image → a fragment of the error the kubelet would give
const BAD: [string, RegExp][] = [
  ["", /at least one component|invalid reference format/],
  ["UPPER", /repository name \(library\/UPPER\) must be lowercase/],
  ["reg.io/App", /must be lowercase/],
  ["nginx:", /invalid reference format/],
  ["https://reg.io/app", /invalid reference format/],
  ["a".repeat(64), /cannot specify 64-byte hexadecimal strings/],
  ["reg.io/app@sha256:abc", /invalid reference format/],
  [`reg.io/app@md5:${"a".repeat(32)}`, /unsupported digest algorithm/],
  [`reg.io/app@sha256:${"a".repeat(63)}`, /invalid checksum digest length/],
  [`reg.io/app@sha256:${"A".repeat(64)}`, /invalid checksum digest format/],
  ["reg.io/-app", /invalid reference format/],
  ["reg.io/app:-tag", /invalid reference format/],
  [`reg.io/${"a".repeat(250)}`, /must not be more than 255 characters/],
  ["reg.io//app", /invalid reference format/],
  ["reg.io/app with space", /invalid reference format/],
];

describe("normalizeImage: references the kubelet refuses", () => {
  for (const [image, message] of BAD) {
    test(JSON.stringify(image.length > 40 ? `${image.slice(0, 40)}…` : image), () => {
      assert.throws(
        () => normalizeImage(image),
        (e: unknown) => {
          assert.ok(e instanceof InvalidImageError, "an InvalidImageError");
          assert.match((e as Error).message, /^couldn't parse image name /);
          assert.match((e as Error).message, message);
          return true;
        },
      );
    });
  }
});

const HUB: [string, boolean][] = [
  ["foo/bar", true],
  ["docker.io/foo/bar", true],
  ["index.docker.io/foo/bar", true],
  ["foo", true],
  ["", false],
  ["registry.tld/foo/bar", false],
  ["registry:5000/foo/bar", false],
  ["myhostdocker.io/foo/bar", false],
];

describe("isDockerHubImage (isDefaultRegistryMatch)", () => {
  for (const [image, want] of HUB)
    test(`${JSON.stringify(image)} → ${want}`, () => assert.equal(isDockerHubImage(image), want));
});
