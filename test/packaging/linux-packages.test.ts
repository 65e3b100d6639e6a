// The .deb and .rpm (scripts/package.ts, from the host executable as the linux-x64 binary and the
// cross-built arm64 one when present): the .deb is installed on this machine with `dpkg -i`, run
// from /usr/bin (version, a miss and a hit against the fake AWS) and removed again; the .rpm is
// inspected with `rpm -qpi/-qpl` (there is no RPM database to install into here).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { binaryName, NAME, TARGETS } from "../../scripts/targets.ts";
import { baseEnv, EXECUTABLE, ROOT, runCli } from "../support/cli.ts";
import { awsEnv, startFakeAws } from "../support/fake-aws.ts";
import { run, which } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const INSTALLED = `/usr/bin/${NAME}`;
const x64 = TARGETS.find((t) => t.id === "linux-x64")!;
const arm64 = TARGETS.find((t) => t.id === "linux-arm64")!;
const ARM64_BIN = join(ROOT, "dist", "release", binaryName(arm64, version));
const isX64Linux = process.platform === "linux" && process.arch === "x64";

/** scripts/package.ts --fast for the given kinds; returns the output directory. */
const pack = async (t: Parameters<typeof tmpTree>[0], kinds: string) => {
  const dir = await tmpTree(t);
  const bins = join(dir, "bins");
  mkdirSync(bins);
  symlinkSync(EXECUTABLE, join(bins, binaryName(x64, version)));
  const targets = ["linux-x64"];
  if (existsSync(ARM64_BIN)) {
    symlinkSync(ARM64_BIN, join(bins, binaryName(arm64, version)));
    targets.push("linux-arm64");
  }
  const out = join(dir, "out");
  const r = await run(
    process.execPath,
    [
      join(ROOT, "scripts", "package.ts"),
      "--fast",
      "--bin-dir",
      bins,
      "--outdir",
      out,
      "--targets",
      targets.join(","),
      "--kinds",
      kinds,
    ],
    { timeoutMs: 300_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  return { out, targets };
};

/** dpkg, waiting while another dpkg/apt run holds the lock (the machine may be installing packages). */
const dpkg = async (args: string[]) => {
  for (let i = 0; ; i++) {
    const r = await run("dpkg", args, { timeoutMs: 120_000 });
    if (r.code === 0 || i >= 60 || !/lock/i.test(r.stderr)) return r;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
};

const debSkip = !isX64Linux
  ? "packs the host executable as linux-x64"
  : process.getuid?.() !== 0
    ? "dpkg -i needs root (CI runs as root)"
    : !which("dpkg")
      ? "needs dpkg"
      : existsSync(INSTALLED) &&
          !execFileSync("dpkg", ["-S", INSTALLED], { encoding: "utf8", stdio: "pipe" }).includes(NAME)
        ? `${INSTALLED} exists and is not from this package`
        : false;

test(".deb: dpkg -i installs /usr/bin/docker-credential-cloud, it runs, dpkg -r removes it", {
  skip: debSkip,
}, async (t) => {
  const { out, targets } = await pack(t, "deb");
  const deb = join(out, `${NAME}_${version}_amd64.deb`);
  const fields = execFileSync("dpkg-deb", ["-f", deb, "Package", "Version", "Architecture", "Depends"], {
    encoding: "utf8",
  });
  assert.equal(
    fields,
    `Package: ${NAME}\nVersion: ${version}\nArchitecture: amd64\nDepends: libc6 (>= 2.17), libgcc-s1 | libgcc1\n`,
  );
  const files = execFileSync("dpkg-deb", ["-c", deb], { encoding: "utf8" });
  assert.match(files, /^-rwxr-xr-x root\/root +\d+ .* \.\/usr\/bin\/docker-credential-cloud$/m);
  assert.match(files, /\.\/usr\/share\/doc\/docker-credential-cloud\/copyright$/m);
  if (targets.includes("linux-arm64")) {
    const a = execFileSync("dpkg-deb", ["-f", join(out, `${NAME}_${version}_arm64.deb`), "Architecture"], {
      encoding: "utf8",
    });
    assert.equal(a, "arm64\n");
  }

  t.after(() => dpkg(["--purge", NAME]));
  const i = await dpkg(["-i", deb]);
  assert.equal(i.code, 0, i.stderr);
  assert.match(
    execFileSync("dpkg", ["-S", INSTALLED], { encoding: "utf8" }),
    new RegExp(`^${NAME}: ${INSTALLED}$`, "m"),
  );
  const h = await tmpTree(t);
  const v = await runCli(["version"], "", baseEnv(h), { bin: INSTALLED });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, execFileSync(EXECUTABLE, ["version"], { encoding: "utf8" }));
  const fake = await startFakeAws({ keys: { AKIDEXAMPLE: "secret-example" } });
  t.after(() => fake.close());
  // PATH without this checkout: the installed program is what answers.
  const env = { ...baseEnv(h), ...awsEnv(fake, "AKIDEXAMPLE", "secret-example"), PATH: "/usr/bin:/bin" };
  const miss = await runCli(["get"], HOST, env, { bin: INSTALLED });
  assert.equal(miss.code, 0, miss.stderr);
  assert.deepEqual(JSON.parse(miss.stdout), { ServerURL: HOST, Username: "AWS", Secret: "pw-us-east-1-AKIDEXAMPLE" });
  const hit = await runCli(["get"], HOST, env, { bin: INSTALLED });
  assert.equal(hit.stdout, miss.stdout);
  assert.equal(fake.calls.ecr, 1);

  const rm = await dpkg(["-r", NAME]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.ok(!existsSync(INSTALLED), "dpkg -r removed the program");
});

test(".rpm: rpmbuild output inspected with rpm -qpi / -qpl", {
  skip: !isX64Linux
    ? "linux-x64 host only"
    : !which("rpmbuild")
      ? "needs rpmbuild (Debian package rpm; .ci/run installs it)"
      : false,
}, async (t) => {
  const { out, targets } = await pack(t, "rpm");
  const arches: Record<string, string> = { "linux-x64": "x86_64", "linux-arm64": "aarch64" };
  for (const id of targets) {
    const rpm = join(out, `${NAME}-${version}-1.${arches[id]}.rpm`);
    const q = (flags: string[]) => execFileSync("rpm", [...flags, rpm], { encoding: "utf8" });
    assert.equal(
      q(["-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}\\n"]),
      `${NAME} ${version} 1 ${arches[id]} Apache-2.0\n`,
    );
    assert.match(q(["-qpi"]), /^Summary\s*: Container-registry credentials from AWS ECR, Google and Azure$/m);
    // Only the program and its README: no /usr/lib/.build-id links (every Bun program shares the runtime's).
    assert.equal(q(["-qpl"]), `/usr/bin/${NAME}\n/usr/share/doc/${NAME}/README.md\n`);
    assert.match(q(["-qp", "--dump"]), new RegExp(`^/usr/bin/${NAME} \\d+ \\d+ [0-9a-f]+ 0100755 root root `, "m"));
    assert.match(q(["-qp", "--requires"]), /^libc\.so\.6\(GLIBC_2\.17\)\(64bit\)$/m);
  }
  // The packaged executable is the built one, byte for byte (not stripped): rpm's file digest.
  const dump = execFileSync("rpm", ["-qp", "--dump", join(out, `${NAME}-${version}-1.x86_64.rpm`)], {
    encoding: "utf8",
  });
  const digest = createHash("sha256").update(readFileSync(EXECUTABLE)).digest("hex");
  assert.match(dump, new RegExp(`^/usr/bin/${NAME} ${statSync(EXECUTABLE).size} \\d+ ${digest} 0100755 `, "m"));
});
