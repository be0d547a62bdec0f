/**
 * Re-renders bench/results/latest.md from a saved run (after a change to the report format):
 *   node --import tsx bench/render.ts bench/results/<date>.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { BENCH_DIR } from './lib/proc.js';
import { renderMarkdown, type Report } from './lib/report.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: bench/render.ts bench/results/<date>.json');
  process.exit(2);
}
const md = renderMarkdown(JSON.parse(readFileSync(file, 'utf8')) as Report);
writeFileSync(BENCH_DIR + 'results/latest.md', md);
console.log(md);
