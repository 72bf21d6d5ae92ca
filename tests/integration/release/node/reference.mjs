// The reference side of the release differential test and benchmark: runs
// @semantic-release/commit-analyzer (and release-notes-generator) exactly as
// semantic-release calls them, on histories written by the C++ side.
//
//   node reference.mjs diff  <histories.json> <npm-dir>   -> JSON results on stdout
//   node reference.mjs bench <histories.json> <npm-dir> <runs>
//
// histories.json: {"histories": [{"commits": [{"hash", "message"}], "changelog":
// {"version", "date", "previousTag", "currentTag"}}]}, commits newest first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const [mode, input, npmDir, runsArg] = process.argv.slice(2);
const load = (pkg, file) => import(pathToFileURL(join(npmDir, 'node_modules', pkg, file)).href);
const { analyzeCommits } = await load('@semantic-release/commit-analyzer', 'index.js');
const { generateNotes } = await load('@semantic-release/release-notes-generator', 'index.js');

const logger = { log() {}, error() {}, warn() {}, success() {} };
const cwd = npmDir;
const NO_RELEASE_RULES = [{ scope: 'no-release', release: false }];

// git's %s: the first paragraph, lines joined by a space (semantic-release's
// commits carry it as `subject`).
function gitSubject(message) {
  const lines = message.split('\n');
  let i = 0;
  while (i < lines.length && /^[ \t\r]*$/.test(lines[i])) i++;
  const out = [];
  for (; i < lines.length && !/^[ \t\r]*$/.test(lines[i]); i++) out.push(lines[i].replace(/[ \t\r]+$/, ''));
  return out.join(' ');
}

const toCommits = (h) => h.commits.map((c) => ({ hash: c.hash, message: c.message, subject: gitSubject(c.message) }));

const { histories } = JSON.parse(readFileSync(input, 'utf8'));

if (mode === 'diff') {
  const results = [];
  for (const h of histories) {
    const commits = toCommits(h);
    const r = {};
    r.default = await analyzeCommits({ preset: 'conventionalcommits' }, { commits, logger, cwd });
    r.noRelease = await analyzeCommits({ preset: 'conventionalcommits', releaseRules: NO_RELEASE_RULES },
      { commits, logger, cwd });
    if (h.changelog) {
      const c = h.changelog;
      r.notes = await generateNotes(
        { preset: 'conventionalcommits', writerOpts: { finalizeContext: (ctx) => ({ ...ctx, date: c.date }) } },
        {
          commits,
          lastRelease: c.previousTag ? { gitTag: c.previousTag } : {},
          nextRelease: { gitTag: c.currentTag, version: c.version },
          options: { repositoryUrl: 'https://github.com/o/r.git' },
          cwd,
          logger,
        });
    }
    results.push(r);
  }
  process.stdout.write(JSON.stringify(results));
} else if (mode === 'bench') {
  const runs = Number(runsArg || 5);
  const commits = toCommits(histories[0]);
  const times = [];
  let type;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    type = await analyzeCommits({ preset: 'conventionalcommits', releaseRules: NO_RELEASE_RULES },
      { commits, logger, cwd });
    times.push(performance.now() - t0);
  }
  process.stdout.write(JSON.stringify({ type, best_ms: Math.min(...times), runs_ms: times }));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
