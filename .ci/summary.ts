/**
 * Reads bun test's JUnit report and prints the closing line "N passed, N failed[, N skipped]".
 * Exits non-zero when any test failed, when no test ran, or when the runner itself failed.
 */
import { existsSync, readFileSync } from "node:fs";

const [reportPath = ".ci-out/junit.xml", runnerStatus = "0"] = process.argv.slice(2);
if (!existsSync(reportPath)) {
  console.log("0 passed, 0 failed");
  console.error(`no JUnit report at ${reportPath}: the test runner did not finish`);
  process.exit(1);
}
const xml = readFileSync(reportPath, "utf8");
let passed = 0;
let failed = 0;
let skipped = 0;
// Each <testcase .../> or <testcase ...>...</testcase>; a failure, error or skipped child marks it.
for (const match of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
  const body = match[2] ?? "";
  if (/<(failure|error)\b/.test(body)) failed++;
  else if (/<skipped\b/.test(body)) skipped++;
  else passed++;
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
if (failed > 0 || passed === 0 || runnerStatus !== "0") {
  if (runnerStatus !== "0") console.error(`bun test exited with status ${runnerStatus}`);
  process.exit(1);
}
