// Building the Go programs under test/go/src offline: GOPATH mode over Debian's /usr/share/gocode,
// no module proxy, no toolchain download, no cgo.
import { join } from "node:path";
import { ROOT } from "./cli.ts";
import { type RunResult, run } from "./namespace.ts";

/** `go build -o <work>/<pkg> <pkg>` with HOME and the build cache inside `work`. */
export async function goBuild(work: string, pkg: string): Promise<{ bin: string; result: RunResult }> {
  const bin = join(work, pkg);
  const result = await run("go", ["build", "-o", bin, pkg], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: work,
      GOPATH: `${join(ROOT, "test", "go")}:/usr/share/gocode`,
      GO111MODULE: "off",
      GOFLAGS: "",
      GOPROXY: "off",
      GOTOOLCHAIN: "local",
      GOCACHE: join(work, "gocache"),
      CGO_ENABLED: "0",
    },
    timeoutMs: 300_000,
  });
  return { bin, result };
}
