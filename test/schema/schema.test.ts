import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as schema from '../../src/schema/index.js';

const SRC = join(import.meta.dirname, '../../src');

/** Every `import`/`export ... from` statement of the .ts files in one folder of src/. */
function fromLines(folder: string): string[] {
  const dir = join(SRC, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap(
      (f) => readFileSync(join(dir, f), 'utf8').match(/^(import|export)[^;]*? from '[^']+';$/gms) ?? [],
    );
}

describe('schema: the run record is types and one version string', () => {
  it('exports SCHEMA_VERSION and nothing else at run time', () => {
    expect(Object.keys(schema)).toEqual(['SCHEMA_VERSION']);
    expect(schema.SCHEMA_VERSION).toMatch(/^hmmsim-run\/[1-9]\d*$/);
  });

  it('imports nothing outside src/schema', () => {
    const outside = fromLines('schema').filter((l) => !/ from '\.\/[a-z_]+\.js';$/.test(l));
    expect(outside).toEqual([]);
  });

  it('src/report takes only types from it', () => {
    const fromSchema = fromLines('report').filter((l) => l.includes("'../schema/"));
    expect(fromSchema.length).toBeGreaterThan(0);
    expect(fromSchema.filter((l) => !/^(import|export) type /.test(l))).toEqual([]);
  });
});
