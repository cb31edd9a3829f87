/**
 * postinstall: applies patches/ with patch-package in a development install.
 * The patched packages (s3rver) are development dependencies, like
 * patch-package itself: a production install (`npm ci --omit=dev`) has
 * neither, and nothing to patch.
 */
import { spawnSync } from "node:child_process";

try {
  import.meta.resolve("patch-package/package.json");
} catch {
  process.exit(0);
}
const result = spawnSync("patch-package", { stdio: "inherit", shell: true });
process.exit(result.status ?? 1);
