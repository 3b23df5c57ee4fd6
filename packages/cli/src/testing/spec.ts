// Checks request and response bodies against Qdrant's OpenAPI 1.19 spec (shared/ beside the
// repository), for the CLI's tests: what the CLI sends must be what the spec describes, and
// what the fake node answers must be what a real node may answer.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

const SPEC_PATH = fileURLToPath(new URL('../../../../../shared/qdrant-openapi-1.19.json', import.meta.url));
const SPEC_ID = 'qdrant-spec';
/** Qdrant's integer and float formats; `type` already tells integers from numbers. */
const NUMBER_FORMATS = ['uint', 'uint8', 'uint16', 'uint32', 'uint64', 'int', 'int32', 'int64', 'float', 'double'];
const STRING_FORMATS = ['date-time', 'uuid', 'uri'];

type Node = unknown;

interface Operation {
  readonly requestBody?: { readonly content?: Record<string, { readonly schema?: Node }> };
  readonly responses?: Record<string, { readonly content?: Record<string, { readonly schema?: Node }> }>;
}

interface Spec {
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { readonly schemas: Record<string, Node> };
}

/** OpenAPI 3.0 to JSON Schema: `nullable` becomes a null alternative; refs point into SPEC_ID. */
function toJsonSchema(node: Node): Node {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (typeof node !== 'object' || node === null) return node;
  const source = node as Record<string, Node>;
  const out: Record<string, Node> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'nullable' || key === 'example' || key === 'description') continue;
    out[key] = key === '$ref' && typeof value === 'string' ? `${SPEC_ID}${value}` : toJsonSchema(value);
  }
  if (source['nullable'] !== true) return out;
  if (typeof out['type'] === 'string') return { ...out, type: [out['type'], 'null'], ...(Array.isArray(out['enum']) ? { enum: [...out['enum'], null] } : {}) };
  return Object.keys(out).length === 0 ? { type: 'null' } : { anyOf: [out, { type: 'null' }] };
}

let loaded: { spec: Spec; ajv: Ajv } | null = null;
const compiled = new Map<string, ValidateFunction>();

function load(): { spec: Spec; ajv: Ajv } {
  if (loaded !== null) return loaded;
  if (!existsSync(SPEC_PATH)) throw new Error(`the OpenAPI spec is not at ${SPEC_PATH}`);
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Spec;
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const name of NUMBER_FORMATS) ajv.addFormat(name, { type: 'number', validate: () => true });
  for (const name of STRING_FORMATS) ajv.addFormat(name, () => true);
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: toJsonSchema(spec.components.schemas) } });
  loaded = { spec, ajv };
  return loaded;
}

/** The spec's path template for a concrete path: literal segments win over `{param}` ones. */
export function specTemplate(method: string, path: string): string {
  const { spec } = load();
  const parts = path.split('?')[0]!.split('/');
  const candidates = Object.keys(spec.paths).filter((template) => {
    const t = template.split('/');
    return t.length === parts.length && spec.paths[template]![method.toLowerCase()] !== undefined && t.every((seg, i) => seg.startsWith('{') || seg === parts[i]);
  });
  candidates.sort((a, b) => (a.match(/\{/g) ?? []).length - (b.match(/\{/g) ?? []).length);
  const found = candidates[0];
  if (found === undefined) throw new Error(`${method} ${path} is not an operation of the spec`);
  return found;
}

function check(key: string, schema: Node, value: unknown, what: string): void {
  const { ajv } = load();
  let validate = compiled.get(key);
  if (validate === undefined) {
    validate = ajv.compile(toJsonSchema(schema) as object);
    compiled.set(key, validate);
  }
  if (!validate(numbersOnly(value))) {
    const errors = (validate.errors ?? []).slice(0, 6).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
    throw new Error(`${what} does not match the spec: ${errors.join('; ')}\n${JSON.stringify(numbersOnly(value))}`);
  }
}

/** bigint ids as numbers: ajv checks JSON types, and the digits do not matter to it. */
function numbersOnly(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(numbersOnly);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, numbersOnly(v)]));
  return value;
}

/** Throws unless `body` is a valid request body of `method path`. */
export function validateRequestBody(method: string, path: string, body: unknown): void {
  const template = specTemplate(method, path);
  const schema = load().spec.paths[template]![method.toLowerCase()]!.requestBody?.content?.['application/json']?.schema;
  if (schema === undefined) throw new Error(`${method} ${template} takes no JSON body in the spec`);
  check(`req ${method} ${template}`, schema, body, `request body of ${method} ${template}`);
}

/** Throws unless `body` is a valid JSON response of `method path` with `status`. */
export function validateResponseBody(method: string, path: string, status: number, body: unknown): void {
  const template = specTemplate(method, path);
  const responses = load().spec.paths[template]![method.toLowerCase()]!.responses ?? {};
  const key = String(status) in responses ? String(status) : `${String(status)[0]}XX` in responses ? `${String(status)[0]}XX` : 'default';
  const schema = responses[key]?.content?.['application/json']?.schema;
  if (schema === undefined) throw new Error(`${method} ${template} has no JSON response ${status} in the spec`);
  check(`res ${method} ${template} ${key}`, schema, body, `response ${status} of ${method} ${template}`);
}
