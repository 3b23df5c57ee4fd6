// Validates response bodies against Qdrant's OpenAPI 1.19 spec (../shared relative to the
// repository). Used by route tests and integration tests: every response must validate.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonMap = { [key: string]: Json };

const SPEC_PATH = fileURLToPath(new URL('../../shared/qdrant-openapi-1.19.json', import.meta.url));
const SPEC_ID = 'qdrant-openapi';
// Qdrant's numeric formats; the type keyword already checks integer vs number.
const NUMERIC_FORMATS = ['uint', 'uint8', 'uint16', 'uint32', 'uint64', 'int', 'int32', 'int64', 'float', 'double'];

function isMap(value: unknown): value is JsonMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes a null alternative (ajv rejects
 * `nullable` without `type`, and Qdrant's spec writes `anyOf: [{$ref}, {nullable: true}]`);
 * local refs become absolute refs into the spec schema registered under SPEC_ID.
 */
function convert(node: Json): Json {
  if (Array.isArray(node)) return node.map(convert);
  if (!isMap(node)) return node;
  const out: JsonMap = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'nullable' || key === 'example' || key === 'description') continue;
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/')) out[key] = `${SPEC_ID}${value}`;
    else out[key] = convert(value);
  }
  if (node.nullable !== true) return out;
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    return out;
  }
  return Object.keys(out).length === 0 ? { type: 'null' } : { anyOf: [out, { type: 'null' }] };
}

interface Spec {
  readonly paths: { [path: string]: { [method: string]: { responses?: { [status: string]: { content?: { [type: string]: { schema?: Json } } } } } } };
  readonly components: { readonly schemas: JsonMap };
}

function loadSpec(): Spec {
  if (!existsSync(SPEC_PATH)) {
    throw new Error(`OpenAPI spec not found at ${SPEC_PATH}: response validation cannot run without it`);
  }
  return JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Spec;
}

let state: { spec: Spec; ajv: Ajv; templates: { template: string; regex: RegExp; params: number }[] } | null = null;
const cache = new Map<string, ValidateFunction>();

function init(): NonNullable<typeof state> {
  if (state !== null) return state;
  const spec = loadSpec();
  const ajv = new Ajv({ strict: false, allErrors: true });
  const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;
  addFormats(ajv);
  for (const name of NUMERIC_FORMATS) ajv.addFormat(name, { type: 'number', validate: () => true });
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: convert(spec.components.schemas) } });
  const templates = Object.keys(spec.paths).map((template) => {
    const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
    return { template, regex: new RegExp(`^${pattern}$`), params: (template.match(/\{/g) ?? []).length };
  });
  // Literal paths win over templated ones (/collections/aliases before /collections/{name}).
  templates.sort((a, b) => a.params - b.params);
  state = { spec, ajv, templates };
  return state;
}

/** The spec's template for a concrete path and method, e.g. /collections/{collection_name}. */
export function matchSpecPath(method: string, path: string): string | null {
  const { spec, templates } = init();
  const m = method.toLowerCase();
  const bare = path.split('?')[0] as string;
  for (const t of templates) if (t.regex.test(bare) && spec.paths[t.template]?.[m] !== undefined) return t.template;
  return null;
}

function bigintsToNumbers(value: unknown): Json {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(bigintsToNumbers);
  if (isMap(value)) {
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(value)) out[k] = bigintsToNumbers(v);
    return out;
  }
  return value as Json;
}

function fail(where: string, validate: ValidateFunction, body: Json): never {
  const errors = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  throw new Error(`${where} does not match the OpenAPI spec:\n  ${errors.join('\n  ')}\nbody: ${JSON.stringify(body).slice(0, 2000)}`);
}

/**
 * Throws when `body` (parsed JSON; bigints allowed) is not a valid response of `method path`
 * with `status` per the spec, or when the spec has no such operation.
 */
export function validateResponse(method: string, path: string, status: number, body: unknown): void {
  const { spec, ajv } = init();
  const template = matchSpecPath(method, path);
  if (template === null) throw new Error(`${method} ${path} is not an operation of the OpenAPI spec`);
  const m = method.toLowerCase();
  const responses = spec.paths[template]?.[m]?.responses ?? {};
  const key = String(status) in responses ? String(status) : `${String(status)[0]}XX` in responses ? `${String(status)[0]}XX` : 'default';
  const schema = responses[key]?.content?.['application/json']?.schema;
  if (schema === undefined) throw new Error(`${method} ${template} has no JSON response for status ${status} in the spec`);
  const cacheKey = `${m} ${template} ${key}`;
  let validate = cache.get(cacheKey);
  if (validate === undefined) {
    validate = ajv.compile(convert(schema) as object);
    cache.set(cacheKey, validate);
  }
  const json = bigintsToNumbers(body);
  if (!validate(json)) fail(`${method} ${path} -> ${status}`, validate, json);
}

/** Validates a value against one named schema of components/schemas (e.g. 'ScoredPoint'). */
export function validateSchema(name: string, value: unknown): void {
  const { ajv } = init();
  const cacheKey = `schema ${name}`;
  let validate = cache.get(cacheKey);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${SPEC_ID}#/components/schemas/${name}` });
    cache.set(cacheKey, validate);
  }
  const json = bigintsToNumbers(value);
  if (!validate(json)) fail(`schema ${name}`, validate, json);
}

