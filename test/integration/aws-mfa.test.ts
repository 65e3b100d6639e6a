// AWS profiles with mfa_serial, driven through the BUILT program: the code is asked for on a real
// pseudo-terminal (util-linux `script` gives the program a controlling tty while stdin stays the
// helper protocol), the fake STS checks SerialNumber and TokenCode on AssumeRole, the session is
// cached where and as the AWS CLI caches it (~/.aws/cli/cache/<sha1>.json), a later miss uses that
// session without a terminal (`setsid`: no controlling tty at all, so a prompt would fail), and
// without a terminal and without a session the failure is one line naming what to do.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { BIN, baseEnv, type CliResult, ROOT, runCli } from "../support/cli.ts";
import { type FakeAws, STS_CREDS, startFakeAws } from "../support/fake-aws.ts";
import { startKubeFixture } from "../support/pull-secrets.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const OTHER = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const BASE_KEY = "AKIAFAKEMFABASEKEY01";
const BASE_SECRET = "fake-secret-of-the-mfa-base-profile";
const ROLE = "arn:aws:iam::123456789012:role/admin";
const SERIAL = "arn:aws:iam::123456789012:mfa/alice";
const CODE = "493817";
// botocore's AssumeRoleCredentialFetcher._cache_key for {RoleArn: ROLE, SerialNumber: SERIAL}
// (computed with botocore itself): the file name the AWS CLI reads and writes.
const CLI_KEY = "c08bbcd61d2960e17757c33319b79219a44dea4e";
// A session as the AWS CLI would have cached it, signed for by the fake.
const CLI_SESSION = {
  id: "ASIAFAKECLICACHED001",
  secret: "fake-cli-cached-secret",
  session: "fake-cli-cached-session",
};

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws({
    keys: { [BASE_KEY]: BASE_SECRET, [CLI_SESSION.id]: CLI_SESSION.secret },
    mfa: { roleArn: ROLE, serial: SERIAL, code: CODE },
  });
});
after(() => fake.close());

const CONFIG = `[profile mfa]
role_arn = ${ROLE}
source_profile = base
mfa_serial = ${SERIAL}
region = eu-west-1
`;
const CREDENTIALS = `[base]
aws_access_key_id = ${BASE_KEY}
aws_secret_access_key = ${BASE_SECRET}
`;

const home = async (t: Parameters<typeof tmpTree>[0]) => {
  const h = await tmpTree(t, { ".aws/config": CONFIG, ".aws/credentials": CREDENTIALS });
  const env = {
    ...baseEnv(h),
    AWS_ENDPOINT_URL: fake.url,
    AWS_PROFILE: "mfa",
    DOCKER_CREDENTIAL_CLOUD_LOG: "debug",
    SHELL: "/bin/sh",
  };
  return { h, env, cacheFile: join(h, ".aws", "cli", "cache", `${CLI_KEY}.json`) };
};

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface PtyResult extends CliResult {
  /** What the program wrote to the terminal (the prompt, and the typed line's echo). */
  terminal: string;
}

interface PtyRun extends CliResult {
  /** How many times the prompt appeared on the terminal. */
  prompts: number;
}

/**
 * `cmd` (sh) on a pseudo-terminal under util-linux `script`: `typeahead` is typed at once (before
 * any prompt, so the terminal echoes it), and `answer(n)` after the n-th prompt appears (the
 * program has turned echo off by then, if it does). stdout is the terminal transcript.
 */
const onPty = (
  cmd: string,
  env: Record<string, string>,
  o: { typeahead?: string; answer?: (n: number) => string },
): Promise<PtyRun> =>
  new Promise((resolve, reject) => {
    const child = spawn("script", ["-q", "-e", "-c", cmd, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let prompts = 0;
    child.stdout.setEncoding("utf8").on("data", (d) => {
      stdout += d;
      const seen = stdout.split("Enter MFA code for ").length - 1;
      while (prompts < seen) {
        prompts += 1;
        if (o.answer) child.stdin.write(o.answer(prompts));
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, prompts });
    });
    child.stdin.on("error", () => {});
    if (o.typeahead) child.stdin.write(o.typeahead);
  });

/** `BIN get` reading `host` from a file, its stdout and stderr into files: the helper protocol off the terminal. */
const getCmd = async (dir: string, name: string, host: string) => {
  const [inFile, outFile, errFile] = ["in", "out", "err"].map((n) => join(dir, `${name}-${n}`)) as [
    string,
    string,
    string,
  ];
  await writeFile(inFile, `${host}\n`);
  return {
    cmd: `${q(BIN)} get < ${q(inFile)} > ${q(outFile)} 2> ${q(errFile)}`,
    result: async () => ({ stdout: await readFile(outFile, "utf8"), stderr: await readFile(errFile, "utf8") }),
  };
};

/**
 * `get` on a pseudo-terminal: stdin and stdout stay files (the helper protocol), `typed` is what
 * the user types on the terminal (ahead of the prompt).
 */
const getOnPty = async (dir: string, env: Record<string, string>, host: string, typed: string): Promise<PtyResult> => {
  const g = await getCmd(dir, "pty", host);
  const r = await onPty(g.cmd, env, { typeahead: typed });
  return { code: r.code, ...(await g.result()), terminal: r.stdout };
};

/** `get` with no controlling terminal at all (a new session without a tty). */
const getWithoutTerminal = (env: Record<string, string>, host: string) =>
  runCli(["-w", BIN, "get"], `${host}\n`, env, { bin: "setsid" });

/**
 * A session cached where and as the AWS CLI caches it (json.dumps of the AssumeRole answer,
 * strftime %Z expiration), signed for by the fake; `extra` are further top-level keys of the answer.
 */
const cacheCliSession = async (
  h: string,
  cacheFile: string,
  expiration = "2099-06-01T10:00:00UTC",
  extra: Record<string, unknown> = {},
) => {
  await mkdir(join(h, ".aws", "cli", "cache"), { recursive: true });
  await writeFile(
    cacheFile,
    JSON.stringify({
      Credentials: {
        AccessKeyId: CLI_SESSION.id,
        SecretAccessKey: CLI_SESSION.secret,
        SessionToken: CLI_SESSION.session,
        Expiration: expiration,
      },
      ...extra,
    }),
    { mode: 0o600 },
  );
};

const assumeRoles = () => fake.requests.filter((r) => r.target === "AssumeRole");
const ecrCalls = () => fake.requests.filter((r) => r.target.endsWith("GetAuthorizationToken"));

describe("AWS MFA profiles (mfa_serial)", () => {
  test("the code is asked for on the terminal, sent to STS, and never printed or logged", async (t) => {
    fake.reset();
    const { h, env, cacheFile } = await home(t);
    const r = await getOnPty(h, env, HOST, `${CODE}\n`);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(JSON.parse(r.stdout).Secret, `pw-eu-west-1-${STS_CREDS.AssumeRole.id}`);
    assert.match(r.terminal, new RegExp(`Enter MFA code for ${SERIAL}: `), "the prompt is on the terminal");
    const sts = assumeRoles();
    assert.equal(sts.length, 1);
    assert.equal(sts[0]?.form?.get("RoleArn"), ROLE);
    assert.equal(sts[0]?.form?.get("SerialNumber"), SERIAL);
    assert.equal(sts[0]?.form?.get("TokenCode"), CODE);
    assert.equal(sts[0]?.accessKeyId, BASE_KEY, "AssumeRole signed by the source profile");
    assert.equal(ecrCalls()[0]?.accessKeyId, STS_CREDS.AssumeRole.id, "ECR called with the MFA session");
    assert.deepEqual(fake.badSignatures, []);
    assert.ok(r.stderr.length > 0, "debug logging was on");
    assert.ok(!r.stderr.includes(CODE) && !r.stdout.includes(CODE), "the code is not logged");
    // Cached as the AWS CLI caches it.
    const cached = JSON.parse(await readFile(cacheFile, "utf8"));
    assert.deepEqual(cached.Credentials, {
      AccessKeyId: STS_CREDS.AssumeRole.id,
      SecretAccessKey: STS_CREDS.AssumeRole.secret,
      SessionToken: STS_CREDS.AssumeRole.session,
      Expiration: "2099-01-01T00:00:00UTC",
      AccountId: "123456789012",
    });
    assert.equal((await stat(cacheFile)).mode & 0o777, 0o600);
    assert.ok(!JSON.stringify(cached).includes(CODE));
  });

  test("a later miss uses the cached session: no terminal needed, no AssumeRole", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    assert.equal((await getOnPty(h, env, HOST, `${CODE}\n`)).code, 0);
    assert.equal(assumeRoles().length, 1);
    // Another registry (a token-cache miss), then the same one with the token cache off.
    for (const [host, extra] of [
      [OTHER, {}],
      [HOST, { DOCKER_CREDENTIAL_CLOUD_CACHE: "off" }],
    ] as const) {
      const r = await getWithoutTerminal({ ...env, ...extra }, host);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(JSON.parse(r.stdout).Secret, new RegExp(`-${STS_CREDS.AssumeRole.id}$`));
      assert.doesNotMatch(r.stderr, /Enter MFA code/);
    }
    assert.equal(assumeRoles().length, 1, "the session was not assumed again");
    assert.equal(ecrCalls().length, 3);
    assert.ok(ecrCalls().every((c) => c.sessionToken === STS_CREDS.AssumeRole.session));
  });

  test("a session the AWS CLI cached is used as is", async (t) => {
    fake.reset();
    const { h, env, cacheFile } = await home(t);
    // What the AWS CLI writes: the whole AssumeRole answer.
    await cacheCliSession(h, cacheFile, undefined, {
      AssumedRoleUser: { AssumedRoleId: "AROAFAKE:botocore-session-1", Arn: `${ROLE}/botocore-session-1` },
      ResponseMetadata: { RequestId: "x", HTTPStatusCode: 200 },
    });
    const r = await getWithoutTerminal(env, HOST);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(JSON.parse(r.stdout).Secret, `pw-eu-west-1-${CLI_SESSION.id}`);
    assert.equal(assumeRoles().length, 0);
    assert.equal(ecrCalls()[0]?.sessionToken, CLI_SESSION.session);
  });

  test("a cached session that expires within 15 minutes is not used: the code is asked for again", async (t) => {
    fake.reset();
    const { h, env, cacheFile } = await home(t);
    const soon = new Date(Date.now() + 10 * 60_000).toISOString().slice(0, 19);
    await cacheCliSession(h, cacheFile, `${soon}UTC`);
    const r = await getOnPty(h, env, HOST, `${CODE}\n`);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.terminal, /Enter MFA code/);
    assert.equal(assumeRoles().length, 1);
    assert.equal(JSON.parse(await readFile(cacheFile, "utf8")).Credentials.AccessKeyId, STS_CREDS.AssumeRole.id);
  });

  test("no terminal and no cached session: one line saying how to get one; STS is not called", async (t) => {
    fake.reset();
    const { env } = await home(t);
    const r = await getWithoutTerminal(env, HOST);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim().split("\n").length, 1, "the protocol's one line on stdout");
    const last = r.stderr.trimEnd().split("\n").pop() ?? "";
    assert.match(last, /profile mfa needs an MFA code \(arn:aws:iam::123456789012:mfa\/alice\)/);
    assert.match(last, /no terminal/);
    assert.match(last, /aws sts get-caller-identity --profile mfa/);
    assert.deepEqual(fake.calls, {});
  });

  test("a wrong code: STS refuses, one line, the code not repeated, nothing cached", async (t) => {
    fake.reset();
    const { h, env, cacheFile } = await home(t);
    const r = await getOnPty(h, { ...env, DOCKER_CREDENTIAL_CLOUD_LOG: "warn" }, HOST, "111111\n");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /AccessDenied|MultiFactorAuthentication failed/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assert.ok(!r.stderr.includes("111111") && !r.stdout.includes("111111"));
    assert.equal(assumeRoles()[0]?.form?.get("TokenCode"), "111111");
    await assert.rejects(stat(cacheFile));
  });

  test("MFA in a source profile: that role's session is cached, the role on top assumed from it", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const APP = "arn:aws:iam::123456789012:role/app";
    await writeFile(join(h, ".aws", "config"), `${CONFIG}[profile app]\nrole_arn = ${APP}\nsource_profile = mfa\n`);
    const appEnv = { ...env, AWS_PROFILE: "app" };
    const first = await getOnPty(h, appEnv, HOST, `${CODE}\n`);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      assumeRoles().map((r) => [r.form?.get("RoleArn"), r.form?.get("TokenCode") ?? null]),
      [
        [ROLE, CODE],
        [APP, null],
      ],
    );
    const second = await getWithoutTerminal({ ...appEnv, DOCKER_CREDENTIAL_CLOUD_CACHE: "off" }, HOST);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      assumeRoles().map((r) => r.form?.get("RoleArn")),
      [ROLE, APP, APP],
      "the MFA role came from the cache; only the role on top was assumed again",
    );
  });

  test("not a 6-digit code: refused before STS, without echoing it", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const r = await getOnPty(h, env, HOST, "12ab5\n");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /must be 6 digits/);
    assert.ok(!r.stderr.includes("12ab5"));
    assert.equal(assumeRoles().length, 0);
  });
});

describe("AWS MFA: the prompt (no echo, one at a time, only where a person can answer)", () => {
  const sttyAround = (h: string, cmd: string) => {
    const [before, afterward] = [join(h, "stty-before"), join(h, "stty-after")];
    return {
      cmd: `stty -g > ${q(before)}; ${cmd}; rc=$?; stty -g > ${q(afterward)}; exit $rc`,
      restored: async () => assert.equal(await readFile(afterward, "utf8"), await readFile(before, "utf8")),
    };
  };

  test("the code typed after the prompt is not echoed, and the terminal's mode is restored", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const g = await getCmd(h, "noecho", HOST);
    const s = sttyAround(h, g.cmd);
    const r = await onPty(s.cmd, env, { answer: () => `${CODE}\r` });
    const out = await g.result();
    assert.equal(r.code, 0, out.stderr + out.stdout);
    assert.equal(r.prompts, 1);
    assert.ok(!r.stdout.includes(CODE), `the typed code is not on the terminal: ${JSON.stringify(r.stdout)}`);
    assert.equal(assumeRoles()[0]?.form?.get("TokenCode"), CODE);
    assert.equal(JSON.parse(out.stdout).Secret, `pw-eu-west-1-${STS_CREDS.AssumeRole.id}`);
    await s.restored();
  });

  test("Ctrl-C at the prompt: one line, the terminal restored, nothing sent", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const g = await getCmd(h, "ctrlc", HOST);
    const s = sttyAround(h, g.cmd);
    const r = await onPty(s.cmd, env, { answer: () => "49\u0003" });
    const out = await g.result();
    assert.equal(r.code, 1);
    assert.equal(out.stdout.trimEnd().split("\n").length, 1, out.stdout);
    assert.match(
      out.stdout,
      /the MFA prompt was interrupted \(Ctrl-C\); no MFA code sent for arn:aws:iam::123456789012:mfa\/alice/,
    );
    assert.deepEqual(fake.calls, {});
    await s.restored();
  });

  test("two concurrent gets (two registries, one MFA profile): one prompt, one AssumeRole", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const a = await getCmd(h, "a", HOST);
    const b = await getCmd(h, "b", OTHER);
    const r = await onPty(`${a.cmd} & ${b.cmd}; wait`, env, { answer: () => `${CODE}\r` });
    assert.equal(r.code, 0);
    for (const [g, region] of [
      [a, "eu-west-1"],
      [b, "us-west-2"],
    ] as const) {
      const out = await g.result();
      assert.equal(JSON.parse(out.stdout).Secret, `pw-${region}-${STS_CREDS.AssumeRole.id}`, out.stderr);
    }
    assert.equal(r.prompts, 1, "asked once");
    assert.deepEqual(
      assumeRoles().map((x) => x.form?.get("TokenCode")),
      [CODE],
      "one AssumeRole with the code; the other process used the session it cached",
    );
    assert.equal(ecrCalls().length, 2);
  });

  test("kubelet plugin mode started from a terminal never prompts; a cached session still serves it", async (t) => {
    fake.reset();
    const { h, env, cacheFile } = await home(t);
    const req = join(h, "request.json");
    await writeFile(
      req,
      JSON.stringify({
        apiVersion: "credentialprovider.kubelet.k8s.io/v1",
        kind: "CredentialProviderRequest",
        image: `${HOST}/team/app:1.0`,
      }),
    );
    const [out, err] = [join(h, "k-out"), join(h, "k-err")];
    const cmd = `${q(BIN)} kubelet < ${q(req)} > ${q(out)} 2> ${q(err)}`;
    // A code typed ahead: a prompt would read it and succeed.
    const r = await onPty(cmd, { ...env, DOCKER_CREDENTIAL_CLOUD_LOG: "warn" }, { typeahead: `${CODE}\n` });
    assert.equal(r.code, 1);
    assert.equal(r.prompts, 0);
    assert.equal(await readFile(out, "utf8"), "");
    const line = await readFile(err, "utf8");
    assert.equal(line.trimEnd().split("\n").length, 1, line);
    assert.match(
      line,
      /profile mfa needs an MFA code \(arn:aws:iam::123456789012:mfa\/alice\) and the kubelet cannot answer an MFA prompt/,
    );
    assert.match(line, /aws sts get-caller-identity --profile mfa/);
    assert.deepEqual(fake.calls, {});
    // With the session cached (as `aws` would cache it), the kubelet is answered.
    await cacheCliSession(h, cacheFile);
    const ok = await onPty(cmd, env, {});
    assert.equal(ok.code, 0, await readFile(err, "utf8"));
    assert.equal(JSON.parse(await readFile(out, "utf8")).auth[HOST].password, `pw-eu-west-1-${CLI_SESSION.id}`);
    assert.equal(assumeRoles().length, 0);
  });

  test("pull-secrets never prompts, even on a terminal", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const { kube, kubeconfig } = await startKubeFixture(h);
    t.after(() => kube.close());
    kube.addNamespace("mfa-1");
    const cfg = join(h, "pull-secrets.yaml");
    await writeFile(cfg, `registries:\n  - ${HOST}\nnamespaces: { include: ["mfa-*"] }\n`);
    const err = join(h, "ps-err");
    const cmd = `${q(BIN)} pull-secrets --kubeconfig ${q(kubeconfig)} --config ${q(cfg)} --once < /dev/null > /dev/null 2> ${q(err)}`;
    // A code typed ahead: a prompt would read it and succeed.
    const r = await onPty(cmd, env, { typeahead: `${CODE}\n` });
    const stderr = await readFile(err, "utf8");
    assert.equal(r.prompts, 0, stderr);
    assert.match(stderr, /needs an MFA code \(arn:aws:iam::123456789012:mfa\/alice\) and pull-secrets runs unattended/);
    assert.deepEqual(assumeRoles(), []);
  });

  test("the library (createKeyring) never prompts, even on a terminal", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const [out, err] = [join(h, "lib-out"), join(h, "lib-err")];
    const driver = `const { createKeyring } = await import(${JSON.stringify(pathToFileURL(join(ROOT, "dist", "index.js")).href)});
const k = createKeyring({ logLevel: "debug" });
process.stdout.write(JSON.stringify(await k.lookup(${JSON.stringify(`${HOST}/team/app:1.0`)})));
await k.close();`;
    const cmd = `${q(process.execPath)} --input-type=module -e ${q(driver)} > ${q(out)} 2> ${q(err)}`;
    const r = await onPty(cmd, env, { typeahead: `${CODE}\n` });
    const stderr = await readFile(err, "utf8");
    assert.equal(r.code, 0, stderr);
    assert.equal(r.prompts, 0);
    assert.deepEqual(JSON.parse(await readFile(out, "utf8")), []);
    assert.match(
      stderr,
      /needs an MFA code \(arn:aws:iam::123456789012:mfa\/alice\) and nothing is asked on a terminal here/,
    );
    assert.deepEqual(fake.calls, {});
  });
});

describe("AWS MFA in the reports (doctor, explain): the cached session, never a prompt", () => {
  const IMAGE = `${HOST}/team/app:1.0`;
  /** `args` on a terminal with a code typed ahead (a prompt would read it), its output in files. */
  const reportOnPty = async (h: string, env: Record<string, string>, name: string, args: string[]) => {
    const [out, err] = [join(h, `${name}-out`), join(h, `${name}-err`)];
    const cmd = `${q(BIN)} ${args.map(q).join(" ")} < /dev/null > ${q(out)} 2> ${q(err)}`;
    const r = await onPty(cmd, { ...env, DOCKER_CREDENTIAL_CLOUD_LOG: "warn" }, { typeahead: `${CODE}\n` });
    return {
      code: r.code,
      prompts: r.prompts,
      stdout: await readFile(out, "utf8"),
      stderr: await readFile(err, "utf8"),
    };
  };
  const NEEDS_CODE =
    "profile mfa needs an MFA code (mfa_serial arn:aws:iam::123456789012:mfa/alice): no cached session; run `docker-credential-cloud get` or `aws sts get-caller-identity --profile mfa` in a terminal";

  test("no cached session: one line saying how to get one, the identity exit code, nothing asked or sent", async (t) => {
    fake.reset();
    const { h, env } = await home(t);
    const d = await reportOnPty(h, env, "doctor", ["doctor", "--json"]);
    assert.equal(d.code, 3, d.stdout + d.stderr);
    assert.equal(d.prompts, 0);
    const doc = JSON.parse(d.stdout);
    assert.equal(doc.problems[0].area, "identity");
    const aws = doc.identities.find((i: { cloud: string }) => i.cloud === "aws");
    assert.equal(aws.status, "failed");
    assert.equal(aws.error, NEEDS_CODE);
    assert.equal(doc.verdict.problem, `aws identity (default): ${NEEDS_CODE}`);
    const e = await reportOnPty(h, env, "explain", ["explain", "--json", IMAGE]);
    assert.equal(e.code, 3, e.stdout + e.stderr);
    assert.equal(e.prompts, 0);
    const ex = JSON.parse(e.stdout);
    assert.equal(ex.identity.error, NEEDS_CODE);
    assert.equal(ex.verdict.code, 3);
    assert.deepEqual(fake.calls, {}, "no STS call without a session");
  });

  test("a cached session (as `get` or the AWS CLI caches it) is who the reports name", async (t) => {
    fake.reset();
    const { h, env, cacheFile } = await home(t);
    await cacheCliSession(h, cacheFile);
    const d = await reportOnPty(h, env, "doctor", ["doctor", "--json"]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.equal(d.prompts, 0);
    const aws = JSON.parse(d.stdout).identities.find((i: { cloud: string }) => i.cloud === "aws");
    assert.equal(aws.status, "ok");
    assert.equal(aws.principal, fake.principalOf(CLI_SESSION.id));
    const e = await reportOnPty(h, env, "explain", ["explain", "--json", IMAGE]);
    assert.equal(e.prompts, 0);
    const ex = JSON.parse(e.stdout);
    assert.equal(ex.identity.principal, fake.principalOf(CLI_SESSION.id), e.stdout);
    assert.equal(ex.identity.error, undefined);
    assert.equal(ex.token.error, undefined);
    const who = fake.requests.filter((r) => r.target === "GetCallerIdentity");
    assert.equal(who.length, 2);
    assert.ok(who.every((r) => r.accessKeyId === CLI_SESSION.id && r.sessionToken === CLI_SESSION.session));
    assert.equal(assumeRoles().length, 0, "the session was used as is");
    assert.deepEqual(fake.badSignatures, []);
  });

  test("MFA in a source profile: the reports assume the role on top from the cached MFA session", async (t) => {
    fake.reset();
    const { h, env, cacheFile } = await home(t);
    const APP = "arn:aws:iam::123456789012:role/app";
    await writeFile(join(h, ".aws", "config"), `${CONFIG}[profile app]\nrole_arn = ${APP}\nsource_profile = mfa\n`);
    const appEnv = { ...env, AWS_PROFILE: "app" };
    const missing = await reportOnPty(h, appEnv, "doctor-missing", ["doctor", "--json"]);
    assert.equal(missing.code, 3, missing.stdout);
    assert.equal(JSON.parse(missing.stdout).identities[0].error, NEEDS_CODE, "the profile whose session is missing");
    assert.deepEqual(fake.calls, {});
    await cacheCliSession(h, cacheFile);
    const d = await reportOnPty(h, appEnv, "doctor", ["doctor", "--json"]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.equal(JSON.parse(d.stdout).identities[0].principal, fake.principalOf(STS_CREDS.AssumeRole.id));
    assert.deepEqual(
      assumeRoles().map((r) => [r.form?.get("RoleArn"), r.accessKeyId, r.form?.get("TokenCode") ?? null]),
      [[APP, CLI_SESSION.id, null]],
      "only the role on top assumed, signed with the cached MFA session",
    );
  });
});
