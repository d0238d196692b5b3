/**
 * The run record's format version, embedded in every record the demo produces. Bump the number
 * when a field changes meaning or unit, or a required field is added or removed (docs/schema.md),
 * so a reader such as the viewer can refuse a record it does not understand.
 */
export const SCHEMA_VERSION = 'hmmsim-run/1';
