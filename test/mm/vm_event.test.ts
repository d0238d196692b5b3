import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VM_EVENT_DESCRIPTIONS } from '../../src/mm/vm_event.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every quoted name inside a `counters.inc(...)` call in src/. */
function countedNames(): Set<string> {
  const names = new Set<string>();
  for (const file of sources('src'))
    for (const call of readFileSync(file, 'utf8').matchAll(/counters\.inc\(([^)]*)\)/g))
      for (const [, name] of (call[1] as string).matchAll(/'([a-z_]+)'/g)) names.add(name as string);
  return names;
}

describe('kernel event counters', () => {
  it('every name the kernel counts under is described, and every description is of a counted name', () => {
    const counted = [...countedNames()].sort();
    expect(counted.length).toBeGreaterThan(20);
    expect(Object.keys(VM_EVENT_DESCRIPTIONS).sort()).toEqual(counted);
    for (const text of Object.values(VM_EVENT_DESCRIPTIONS)) expect(text).toMatch(/^\S.{5,}$/);
  });
});
