// The kubelet's URLsMatchStr table (spec/kubelet-plugin.md §1.6, from keyring_test.go).
import assert from "node:assert/strict";
import { test } from "node:test";
import { urlsMatchStr } from "../../src/registry/glob.ts";

const CASES: [string, string, boolean][] = [
  ["*.kubernetes.io", "abc.kubernetes.io", true],
  ["*.kubernetes.io", "kubernetes.io", false],
  ["*.*.kubernetes.io", "a.b.kubernetes.io", true],
  ["prefix.*.io", "prefix.kubernetes.io", true],
  ["*-good.kubernetes.io", "prefix-good.kubernetes.io", true],
  ["k*.io", "quay.io", false],
  ["registry.io/foo", "registry.io/foo/bar", true],
  ["registry.io/foo", "registry.io/foobar", true],
  ["registry.io/foo", "registry.io", false],
  ["registry.io/*", "registry.io/foo", false],
  ["registry.io:8080", "registry.io:8080/foo", true],
  ["registry.io:8080", "registry.io/foo", false],
  ["registry.io", "registry.io:8080/foo", false],
  ["registry.io:*", "registry.io:8080", false],
  ["*", "localhost/img", true],
  ["*", "localhost:5000/img", false],
  ["Registry.io", "registry.io/x", false],
  ["*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com/r", true],
  ["*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/r", false],
  ["*.gcr.io", "gcr.io/p/i", false],
  ["*.azurecr.*", "r.azurecr.io/a", true],
  ["%invalid%", "x", false],
];

for (const [glob, target, want] of CASES) {
  test(`${glob} ~ ${target} → ${want}`, () => assert.equal(urlsMatchStr(glob, target), want));
}
