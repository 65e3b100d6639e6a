// Writes dist/bin/docker-credential-cloud: an executable launcher whose shebang names the Node
// that ran the build (Node 24 from the `node` devDependency under npm scripts), so the helper
// runs on a supported Node whatever `node` is first on PATH, without an extra shell process.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(`make-launcher: Node ${process.version} is too old; run the build through npm (npm run build)`);
  process.exit(1);
}
const bin = join(root, "dist", "bin", "docker-credential-cloud");
mkdirSync(dirname(bin), { recursive: true });
writeFileSync(bin, `#!${process.execPath}\nimport "../cli.js";\n`);
chmodSync(bin, 0o755);
