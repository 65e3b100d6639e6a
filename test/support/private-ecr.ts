// One private "ECR" for the e2e pulls: the fake AWS issuing tokens for one key, a real
// docker-registry answering as the ECR host (TLS from a fresh test CA, htpasswd user AWS with the
// fake's password), an image pushed to it, and a bin directory holding the helper under its
// client-facing name. Each test file passes its own host, registry address and key.
import { mkdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { BIN } from "./cli.ts";
import { type FakeAws, startFakeAws } from "./fake-aws.ts";
import type { OciImageInfo } from "./image.ts";
import { pushImage, type Registry, startRegistry } from "./registry.ts";
import { makeCa } from "./tls.ts";
import { tmpTree } from "./tmp.ts";

export interface PrivateEcr {
  fake: FakeAws;
  registry: Registry;
  pushed: OciImageInfo;
  /** A temp dir, removed by stop(); `bin/docker-credential-cloud` inside it is the helper. */
  work: string;
  stop(): Promise<void>;
}

export const startPrivateEcr = async (o: {
  host: string;
  ip: string;
  /** `repo:tag` pushed to the registry. */
  image: string;
  akid: string;
  secret: string;
  password: string;
}): Promise<PrivateEcr> => {
  const work = await tmpTree(undefined);
  const fake = await startFakeAws({ keys: { [o.akid]: o.secret } });
  let registry: Registry | undefined;
  const stop = async () => {
    await registry?.stop();
    await fake.close();
    await rm(work, { recursive: true, force: true });
  };
  try {
    await mkdir(join(work, "ca"));
    const ca = await makeCa(join(work, "ca"));
    registry = await startRegistry({ ca, ip: o.ip, hostnames: [o.host], users: { AWS: o.password } });
    const pushed = await pushImage(registry, `${o.host}/${o.image}`, "AWS", o.password);
    await mkdir(join(work, "bin"));
    await symlink(BIN, join(work, "bin", "docker-credential-cloud"));
    return { fake, registry, pushed, work, stop };
  } catch (e) {
    await stop();
    throw e;
  }
};
