// `configure kubelet`: links this program into the kubelet's credential provider bin directory
// under the cloud plugins' names, writes (or merges into) a CredentialProviderConfig v1, and prints
// the kubelet flags and an EKS NodeConfig snippet. `--check FILE` validates an existing config
// with the kubelet's rules (src/keyring/kubelet-config.ts) and names the line of each problem.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../../errors.ts";
import { type ConfigureContext, Report } from "./context.ts";
import { linkTarget, readCurrent, replaceFile, replaceLink, unifiedDiff } from "./files.ts";

// One layout everywhere (README, docs, packaging/kubernetes): config and bin dir side by side.
export const KUBELET_DIR = "/etc/kubernetes/image-credential-provider";
export const KUBELET_CONFIG = `${KUBELET_DIR}/config.yaml`;
export const KUBELET_BIN_DIR = `${KUBELET_DIR}/bin`;
export const CACHE_DIR = "/var/lib/docker-credential-cloud/cache";

export const CLOUDS = ["aws", "google", "azure"] as const;
export type Cloud = (typeof CLOUDS)[number];

/** Per cloud: the plugin name it replaces, the hosts our helper serves, the cache duration. */
export const PROVIDERS: Record<Cloud, { name: string; matchImages: string[]; defaultCacheDuration: string }> = {
  aws: {
    name: "ecr-credential-provider",
    matchImages: [
      "*.dkr.ecr.*.amazonaws.com",
      "*.dkr.ecr-fips.*.amazonaws.com",
      "*.dkr.ecr.*.amazonaws.com.cn",
      "*.dkr.ecr.*.amazonaws.eu",
      "*.dkr-ecr.*.on.aws",
      "*.dkr-ecr-fips.*.on.aws",
      "public.ecr.aws",
    ],
    defaultCacheDuration: "12h",
  },
  google: {
    name: "gcp-credential-provider",
    matchImages: ["gcr.io", "*.gcr.io", "*-docker.pkg.dev", "docker.*.rep.pkg.dev", "container.cloud.google.com"],
    defaultCacheDuration: "30m",
  },
  azure: {
    name: "acr-credential-provider",
    matchImages: ["*.azurecr.io", "*.azurecr.cn", "*.azurecr.us"],
    defaultCacheDuration: "10m",
  },
};

export interface KubeletOptions {
  clouds: string[];
  binDir: string;
  config: string;
  name?: string;
  /** What the links point at; default this program's launcher (ctx.self). */
  program?: string;
  dryRun: boolean;
  force: boolean;
}

interface Entry {
  name: string;
  matchImages: string[];
  defaultCacheDuration: string;
  apiVersion: string;
  args: string[];
  env: { name: string; value: string }[];
}

const entries = (clouds: Cloud[], name: string | undefined): Entry[] => {
  const base = (n: string, matchImages: string[], d: string): Entry => ({
    name: n,
    matchImages,
    defaultCacheDuration: d,
    apiVersion: "credentialprovider.kubelet.k8s.io/v1",
    args: ["kubelet"],
    env: [{ name: "DOCKER_CREDENTIAL_CLOUD_CACHE_DIR", value: CACHE_DIR }],
  });
  if (name)
    return [
      base(
        name,
        clouds.flatMap((c) => PROVIDERS[c].matchImages),
        "10m",
      ),
    ];
  return clouds.map((c) => base(PROVIDERS[c].name, PROVIDERS[c].matchImages, PROVIDERS[c].defaultCacheDuration));
};

const HEADER = `# Kubelet image credential provider config, written by \`docker-credential-cloud configure kubelet\`.
# Each entry runs docker-credential-cloud (linked under the entry's name in the bin directory).
`;

/** The new config text: ours merged into the existing document (other providers, comments kept). */
const mergedText = async (cur: string | null, ours: Entry[], file: string): Promise<string> => {
  const { parseDocument, isSeq, isMap } = await import("yaml");
  if (cur === null || cur.trim() === "") {
    const doc = parseDocument("{}");
    doc.contents = doc.createNode({
      apiVersion: "kubelet.config.k8s.io/v1",
      kind: "CredentialProviderConfig",
      providers: ours,
    }) as typeof doc.contents;
    return HEADER + doc.toString({ lineWidth: 0 });
  }
  const { aliasCycle, parseYaml } = await import("../../yaml.ts");
  const doc = parseDocument(cur, { version: "1.1" });
  if (doc.errors.length > 0 || doc.warnings.length > 0 || aliasCycle(doc) !== undefined || !isMap(doc.contents)) {
    throw new UsageError(
      `${file}: not a YAML mapping; it was left untouched: check it with configure kubelet --check ${file}`,
    );
  }
  if (doc.get("kind") !== "CredentialProviderConfig") {
    throw new UsageError(`${file}: kind is not CredentialProviderConfig; it was left untouched`);
  }
  let list = doc.get("providers");
  if (list === undefined || list === null) {
    doc.set("providers", doc.createNode([]));
    list = doc.get("providers");
  }
  if (!isSeq(list)) throw new UsageError(`${file}: providers is not a list; it was left untouched`);
  for (const e of ours) {
    const i = list.items.findIndex((it) => isMap(it) && it.get("name") === e.name);
    const node = doc.createNode(e);
    if (i === -1) list.items.push(node);
    else if (JSON.stringify((list.items[i] as { toJSON(): unknown }).toJSON()) !== JSON.stringify(e))
      list.items[i] = node;
  }
  const text = doc.toString({ lineWidth: 0 });
  // Unchanged content keeps the file byte for byte (no reformatting on a re-run).
  return JSON.stringify(parseYaml(text, { version: "1.1" })) === JSON.stringify(parseYaml(cur, { version: "1.1" }))
    ? cur
    : text;
};

export const configureKubelet = async (ctx: ConfigureContext, o: KubeletOptions) => {
  const clouds = (o.clouds.length ? o.clouds : [...CLOUDS]).map((c) => {
    if (!(CLOUDS as readonly string[]).includes(c)) throw new UsageError(`--cloud ${c}: expected aws, google or azure`);
    return c as Cloud;
  });
  const unique = [...new Set(clouds)];
  const ours = entries(unique, o.name);
  const r = new Report();
  const target = o.program ?? ctx.self;

  // 1. The links the kubelet execs: <bin-dir>/<entry name> → this program.
  for (const e of ours) {
    const link = join(o.binDir, e.name);
    const now = await linkTarget(link);
    if (now === target) {
      r.say(`${link}: already links to ${target}`);
      continue;
    }
    if (now !== null && !o.force) {
      throw new UsageError(
        `${link} exists (${now === "file" ? "a file" : `a link to ${now}`}); it may be the cloud's own plugin: move it away, or pass --force to replace it`,
      );
    }
    if (o.dryRun) r.say(`${link}: would link to ${target} (dry run)`);
    else {
      await mkdir(o.binDir, { recursive: true, mode: 0o755 });
      await replaceLink(link, target);
      r.say(`${link} → ${target}`);
    }
  }

  // 2. The CredentialProviderConfig.
  const cur = await readCurrent(o.config);
  const text = await mergedText(cur?.text ?? null, ours, o.config);
  if (cur?.text === text) r.say(`${o.config}: already configured, nothing to change`);
  else if (o.dryRun) {
    r.say(`${o.config}: would ${cur ? "change" : "create"} (dry run, nothing written):`);
    r.say(await unifiedDiff(o.config, cur?.text ?? "", text));
  } else {
    // Check what we are about to write with the kubelet's rules before it replaces anything.
    const problems = await checkText(text, o.config);
    if (problems.length > 0)
      throw new UsageError(`${o.config}: the merged config would be refused by the kubelet: ${problems[0]}`);
    const w = await replaceFile(o.config, text, cur, { now: ctx.now(), newMode: 0o644, dirMode: 0o755 });
    r.say(`${o.config}: ${cur ? "updated" : "created"} (${ours.map((e) => e.name).join(", ")})`);
    if (w.backup) r.say(`  backup of the previous file: ${w.backup}`);
  }

  // 3. What to tell the kubelet.
  r.say("");
  r.say("kubelet flags (then restart the kubelet):");
  r.say(`  --image-credential-provider-config=${o.config}`);
  r.say(`  --image-credential-provider-bin-dir=${o.binDir}`);
  r.say("");
  r.say("EKS (AL2023 nodeadm) user data, NodeConfig:");
  r.say("  apiVersion: node.eks.aws/v1alpha1");
  r.say("  kind: NodeConfig");
  r.say("  spec:");
  r.say("    kubelet:");
  r.say("      flags:");
  r.say(`        - --image-credential-provider-config=${o.config}`);
  r.say(`        - --image-credential-provider-bin-dir=${o.binDir}`);
  return r.result();
};

// ---------------------------------------------------------------------------------------------
// --check

/** Problems as "FILE:LINE: message" (LINE omitted where no line can be named). */
export const checkText = async (text: string, file: string): Promise<string[]> => {
  const { LineCounter, parseDocument, isMap, isSeq, isScalar } = await import("yaml");
  const { CredentialProviderConfigError, decodeCredentialProviderConfig, validateCredentialProviderConfig } =
    await import("../../keyring/kubelet-config.ts");
  const lc = new LineCounter();
  const json = text.trimStart().startsWith("{");
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, ...(json ? {} : { version: "1.1" as const }) });
  const at = (offset: number | undefined, msg: string) =>
    offset === undefined ? `${file}: ${msg}` : `${file}:${lc.linePos(offset).line}: ${msg}`;
  const first = doc.errors[0];
  if (first) return [at(first.pos[0], `error decoding config: ${first.message.split("\n")[0]}`)];

  /** The node at a path like ["providers", 0, "matchImages", 1]; its key when `key` is set. */
  const nodeAt = (path: (string | number)[], key = false): { range?: [number, number, number] | null } | undefined => {
    let n: unknown = doc.contents;
    let keyNode: unknown;
    for (const p of path) {
      if (isMap(n)) {
        const pair = n.items.find((it) => isScalar(it.key) && it.key.value === p);
        if (!pair) return undefined;
        keyNode = pair.key;
        n = pair.value;
      } else if (isSeq(n) && typeof p === "number") {
        keyNode = undefined;
        n = n.items[p];
      } else return undefined;
    }
    return (key && keyNode ? keyNode : n) as { range?: [number, number, number] | null } | undefined;
  };
  const lineOf = (path: (string | number)[], key = false) => nodeAt(path, key)?.range?.[0];
  /** "providers[0].env[1].name" → ["providers", 0, "env", 1, "name"]. */
  const splitPath = (p: string): (string | number)[] =>
    p.split(".").flatMap((seg) => {
      const m = /^([^[]*)((?:\[\d+\])*)$/.exec(seg);
      if (!m) return [seg];
      const idx = [...(m[2] ?? "").matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
      return [...(m[1] ? [m[1]] : []), ...idx];
    });

  let config: Awaited<ReturnType<typeof decodeCredentialProviderConfig>>;
  try {
    config = await decodeCredentialProviderConfig(text, file);
  } catch (e) {
    if (!(e instanceof CredentialProviderConfigError)) throw e;
    const msg = e.problems.join("; ");
    // Strict-decoding errors name fields: unknown field "providers[0].foo"; type errors name
    // "Go struct field providers[0].matchImages".
    const unknown = [...msg.matchAll(/unknown field "([^"]+)"/g)].map((m) => m[1] as string);
    if (unknown.length > 0)
      return unknown.map((f) =>
        at(
          lineOf(splitPath(f), true),
          `${msg.startsWith("strict") ? "strict decoding error: " : ""}unknown field "${f}"`,
        ),
      );
    const field = /Go struct field (\S+) of type/.exec(msg)?.[1];
    const top = /'(apiVersion|Kind)' is missing|no kind/.test(msg) ? 0 : undefined;
    return [at(field ? lineOf(splitPath(field)) : top, msg)];
  }
  const out: string[] = [];
  // Per provider, so each problem can be pinned to its entry; then the whole file (duplicates, none).
  config.providers.forEach((p, i) => {
    for (const problem of validateCredentialProviderConfig({ ...config, providers: [p] })) {
      const field = /^providers\.(\w+)(?:\.(\w+))?:/.exec(problem);
      let offset: number | undefined;
      if (field?.[1] === "matchImages") {
        const j = p.matchImages.findIndex((m) => problem.includes(`Invalid value: ${JSON.stringify(m)}`));
        offset = j >= 0 ? lineOf(["providers", i, "matchImages", j]) : lineOf(["providers", i, "matchImages"], true);
      } else if (field?.[1]) {
        offset =
          lineOf(["providers", i, field[1], ...(field[2] ? [field[2]] : [])], true) ??
          lineOf(["providers", i, field[1]], true) ??
          lineOf(["providers", i]);
      }
      out.push(at(offset ?? lineOf(["providers", i]), problem));
    }
  });
  const names = new Set<string>();
  config.providers.forEach((p, i) => {
    if (names.has(p.name))
      out.push(at(lineOf(["providers", i, "name"]), `providers.name: Duplicate value: ${JSON.stringify(p.name)}`));
    names.add(p.name);
  });
  if (config.providers.length === 0) {
    out.push(at(lineOf(["providers"], true) ?? 0, "providers: Required value: at least 1 item in plugins is required"));
  }
  return out;
};

export const checkKubeletConfig = async (file: string) => {
  const r = new Report();
  const { readFile, stat } = await import("node:fs/promises");
  let text: string;
  try {
    if ((await stat(file)).isDirectory()) {
      // A directory (Kubernetes 1.34+): the kubelet's merged view, without line numbers.
      const { loadCredentialProviderConfig } = await import("../../keyring/kubelet-config.ts");
      try {
        const c = await loadCredentialProviderConfig(file);
        r.say(`${file}: valid (${c.providers.map((p) => p.name).join(", ")})`);
        return r.result(0);
      } catch (e) {
        r.say((e as Error).message);
        return r.result(1);
      }
    }
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const problems = await checkText(text, file);
  if (problems.length > 0) {
    for (const p of problems) r.say(p);
    return r.result(1);
  }
  const { decodeCredentialProviderConfig } = await import("../../keyring/kubelet-config.ts");
  const c = await decodeCredentialProviderConfig(text, file);
  r.say(`${file}: valid: the kubelet accepts it (${c.providers.map((p) => p.name).join(", ")})`);
  return r.result(0);
};
