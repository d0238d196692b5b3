import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The examples import the package by its name; under vitest that is the sources, as in every other
    // test (the package's exports point at the compiled dist/, which test/package/ checks).
    alias: [{ find: /^hmmsim$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/dist-setup.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // One module graph per worker, not one per file: every file re-imported src/ (the simulator, the
    // explorer, the report) in a fresh graph, which cost as much CPU as the tests themselves
    // (test/mm + api + core + device: 86 s CPU isolated, 42 s not; the whole suite, same half hour,
    // load 1.7-5.2: 295 s wall / 422 s CPU / 123 s import isolated, 192 s / 295 s / 18 s not). The
    // tests mock nothing and stub no globals, and every test builds its own machines, so no state
    // carries from file to file.
    isolate: false,
    // Vitest's default leaves a core idle (one worker on a 2-core machine): the suite then runs file by
    // file. Every core runs a test file; the files share no state (each builds its own machines).
    maxWorkers: availableParallelism(),
  },
});
