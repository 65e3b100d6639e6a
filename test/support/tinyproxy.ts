// A real forward proxy for tests: Debian's tinyproxy on a free loopback port, logging every
// request line (CONNECTs and plain proxied requests), optionally forwarding some domains to an
// upstream proxy (the fakes' MITM proxies).
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });

export interface Tinyproxy {
  url: string;
  /** The request lines logged since the last call (e.g. "CONNECT oauth2.googleapis.com:443 HTTP/1.1"). */
  take(): Promise<string[]>;
  close(): void;
}

export interface TinyproxyOptions {
  /** Require these proxy credentials (tinyproxy's BasicAuth): anything else is answered 407. */
  basicAuth?: { user: string; password: string };
  /** A file name distinguishing this proxy's config and log from another one's in the same dir. */
  name?: string;
}

export const startTinyproxy = async (
  dir: string,
  upstreams: [string, string][],
  opts: TinyproxyOptions = {},
): Promise<Tinyproxy> => {
  const port = await freePort();
  const name = opts.name ?? "tinyproxy";
  const log = join(dir, `${name}.log`);
  await writeFile(log, "");
  const conf = join(dir, `${name}.conf`);
  await writeFile(
    conf,
    [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 30",
      `LogFile "${log}"`,
      "LogLevel Connect",
      "MaxClients 50",
      "Allow 127.0.0.1",
      "DisableViaHeader Yes",
      ...(opts.basicAuth ? [`BasicAuth ${opts.basicAuth.user} ${opts.basicAuth.password}`] : []),
      ...upstreams.map(([proxy, domain]) => `Upstream http ${proxy} "${domain}"`),
      "",
    ].join("\n"),
  );
  const child = spawn("tinyproxy", ["-d", "-c", conf], { stdio: "ignore" });
  // Ready once it accepts connections.
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(true));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(false)));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  let seen = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    take: async () => {
      const lines = (await readFile(log, "utf8")).split("\n");
      const requests = lines
        .slice(seen)
        .map((l) => /Request \(file descriptor \d+\): (.*)$/.exec(l)?.[1])
        .filter((x): x is string => Boolean(x));
      seen = lines.length - 1;
      return requests;
    },
    close: () => child.kill(),
  };
};
