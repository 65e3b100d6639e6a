// `docker-credential-cloud configure docker|podman|kubelet`: wires the clients to this helper.
// Arguments through node:util parseArgs; returns {stdout, stderr, code}; the entry point writes.

import { isAbsolute } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, clipLine, oneLine, UsageError } from "../../errors.ts";
import type { ConfigureContext, VerbResult } from "./context.ts";

export type { ConfigureContext, VerbResult } from "./context.ts";

export const CONFIGURE_HELP = `Usage:
  docker-credential-cloud configure docker [--registry HOST]… [--creds-store [--migrate]]
                                           [--root | --config FILE] [--dry-run]
      credHelpers {"HOST": "cloud"} for each exact HOST, or credsStore "cloud" for every registry, in
      $DOCKER_CONFIG/config.json, else ~/.docker/config.json; --root edits /root/.docker/config.json
      (containerd, the SOCI snapshotter). Replacing another credsStore hides its logins: --migrate
      copies them (its list/get) into docker-credential-cloud's store.
  docker-credential-cloud configure podman [--registry HOST]… [--system] [--no-drop-in]
                                           [--auth-file FILE] [--dry-run]
      podman, skopeo, buildah: a registries.conf.d drop-in with credential-helpers = ["cloud",
      "containers-auth.json"] (~/.config/containers/registries.conf.d/, --system: /etc/containers/…),
      and credHelpers for each HOST in the auth file (--auth-file, $REGISTRY_AUTH_FILE, else
      $XDG_CONFIG_HOME/containers/auth.json).
  docker-credential-cloud configure kubelet [--cloud aws|google|azure]… [--name NAME] [--bin-dir DIR]
                                            [--config FILE] [--program PATH] [--force] [--dry-run]
      links this program (or PATH, e.g. the packaged launcher) into DIR as ecr-credential-provider,
      gcp-credential-provider, acr-credential-provider (or one NAME), writes the CredentialProviderConfig
      FILE, prints the kubelet flags and an EKS NodeConfig snippet. Defaults:
      DIR  /etc/kubernetes/image-credential-provider/bin
      FILE /etc/kubernetes/image-credential-provider/config.yaml
  docker-credential-cloud configure kubelet --check FILE
      validates FILE with the kubelet's rules; each problem as FILE:LINE: message (exit 1).

Every run is idempotent (a re-run says "already configured"), keeps every other key, writes
atomically with the file's mode kept and a FILE.<time>.bak backup; --dry-run prints the diff only.
Exit codes: 0 done (or nothing to do), 1 a problem (named on stderr; --check: on stdout), 2 bad usage.
`;

const usage = (msg: string): VerbResult => ({
  stdout: "",
  stderr: `docker-credential-cloud configure: ${clipLine(msg)}\n`,
  code: 2,
});

export const runConfigure = async (argv: string[], ctx: ConfigureContext): Promise<VerbResult> => {
  const [target, ...rest] = argv;
  if (target === undefined || target === "--help" || target === "-h" || target === "help") {
    return { stdout: CONFIGURE_HELP, stderr: "", code: target === undefined ? 2 : 0 };
  }
  try {
    switch (target) {
      case "docker": {
        const { values: v } = parseArgs({
          args: rest,
          strict: true,
          options: {
            registry: { type: "string", multiple: true },
            "creds-store": { type: "boolean" },
            migrate: { type: "boolean" },
            root: { type: "boolean" },
            config: { type: "string" },
            "dry-run": { type: "boolean" },
            help: { type: "boolean", short: "h" },
          },
        });
        if (v.help) return { stdout: CONFIGURE_HELP, stderr: "", code: 0 };
        if (v.root && v.config) return usage("--root and --config name two different files; pick one");
        const { configureDocker } = await import("./docker.ts");
        return await configureDocker(ctx, {
          registries: v.registry ?? [],
          credsStore: v["creds-store"] ?? false,
          migrate: v.migrate ?? false,
          root: v.root ?? false,
          ...(v.config ? { config: v.config } : {}),
          dryRun: v["dry-run"] ?? false,
        });
      }
      case "podman": {
        const { values: v } = parseArgs({
          args: rest,
          strict: true,
          options: {
            registry: { type: "string", multiple: true },
            system: { type: "boolean" },
            "no-drop-in": { type: "boolean" },
            "auth-file": { type: "string" },
            "dry-run": { type: "boolean" },
            help: { type: "boolean", short: "h" },
          },
        });
        if (v.help) return { stdout: CONFIGURE_HELP, stderr: "", code: 0 };
        const { configurePodman } = await import("./podman.ts");
        return await configurePodman(ctx, {
          registries: v.registry ?? [],
          system: v.system ?? false,
          dropIn: !v["no-drop-in"],
          ...(v["auth-file"] ? { authFile: v["auth-file"] } : {}),
          dryRun: v["dry-run"] ?? false,
        });
      }
      case "kubelet": {
        const { values: v } = parseArgs({
          args: rest,
          strict: true,
          options: {
            cloud: { type: "string", multiple: true },
            name: { type: "string" },
            "bin-dir": { type: "string" },
            config: { type: "string" },
            check: { type: "string" },
            program: { type: "string" },
            force: { type: "boolean" },
            "dry-run": { type: "boolean" },
            help: { type: "boolean", short: "h" },
          },
        });
        if (v.help) return { stdout: CONFIGURE_HELP, stderr: "", code: 0 };
        if (v.program !== undefined && !isAbsolute(v.program)) return usage("--program: give an absolute path");
        const k = await import("./kubelet.ts");
        if (v.check !== undefined) return await k.checkKubeletConfig(v.check);
        return await k.configureKubelet(ctx, {
          clouds: v.cloud ?? [],
          binDir: v["bin-dir"] ?? k.KUBELET_BIN_DIR,
          config: v.config ?? k.KUBELET_CONFIG,
          ...(v.name ? { name: v.name } : {}),
          ...(v.program ? { program: v.program } : {}),
          force: v.force ?? false,
          dryRun: v["dry-run"] ?? false,
        });
      }
      default:
        return usage(`unknown target "${target}"; expected docker, podman or kubelet (configure --help)`);
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) return usage(`${target}: ${oneLine(e)}`);
    if (e instanceof UsageError || e instanceof ConfigError) {
      return { stdout: "", stderr: `docker-credential-cloud configure: ${clipLine(oneLine(e))}\n`, code: 1 };
    }
    const errno = (e as NodeJS.ErrnoException).code;
    return {
      stdout: "",
      stderr: `docker-credential-cloud configure ${target}: ${clipLine(oneLine(e))}${errno === "EACCES" || errno === "EPERM" ? " (run it as root, or choose other paths)" : ""}\n`,
      code: 1,
    };
  }
};
