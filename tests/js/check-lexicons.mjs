// Validates every lexicon document under lexicons/schemas with @atproto/lexicon,
// the reference implementation:
//   - the file is JSON and parses as a lexicon v1 doc (parseLexiconDoc);
//   - no typed node carries a key the reference schema does not know (catches typos
//     such as "maxLenght", which both the reference parser and serde would ignore);
//   - the doc's id matches its path (fm/plyr/track.json <-> fm.plyr.track);
//   - Lexicons#add accepts it (e.g. no duplicate ids);
//   - every `ref` and union `refs` entry resolves to a def of a referenceable type.
// Prints one line per failure, then `lexicons: N passed, M failed`; exits 1 on any failure.

import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as lex from '@atproto/lexicon'

const { Lexicons, parseLexiconDoc } = lex

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const schemasDir = join(repoRoot, 'lexicons', 'schemas')

// Def types a `ref` may point at (never a query, procedure, subscription or permission set).
const REFERENCEABLE = ['object', 'record', 'token', 'array', 'blob', 'boolean', 'integer', 'string', 'bytes', 'cid-link', 'unknown']

// Allowed keys per node `type`, taken from the reference zod schemas.
const SCHEMA_BY_TYPE = {
  boolean: lex.lexBoolean,
  integer: lex.lexInteger,
  string: lex.lexString,
  unknown: lex.lexUnknown,
  bytes: lex.lexBytes,
  'cid-link': lex.lexCidLink,
  ref: lex.lexRef,
  union: lex.lexRefUnion,
  blob: lex.lexBlob,
  array: lex.lexArray,
  token: lex.lexToken,
  object: lex.lexObject,
  params: lex.lexXrpcParameters,
  query: lex.lexXrpcQuery,
  procedure: lex.lexXrpcProcedure,
  subscription: lex.lexXrpcSubscription,
  record: lex.lexRecord,
}

function shapeKeys(schema) {
  let s = schema
  while (s && !s.shape && s._def && (s._def.schema || s._def.innerType)) {
    s = s._def.schema ?? s._def.innerType
  }
  return s?.shape ? new Set(Object.keys(s.shape)) : null
}

const ALLOWED_KEYS = Object.fromEntries(
  Object.entries(SCHEMA_BY_TYPE).map(([type, schema]) => [type, shapeKeys(schema)]),
)
const BODY_KEYS = shapeKeys(lex.lexXrpcBody)
const ERROR_KEYS = shapeKeys(lex.lexXrpcError)
const DOC_KEYS = shapeKeys(lex.lexiconDoc)

function listJsonFiles(dir) {
  const out = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listJsonFiles(path))
    else if (entry.isFile() && entry.name.endsWith('.json')) out.push(path)
  }
  return out.sort()
}

function describeError(err) {
  if (Array.isArray(err?.issues)) {
    return err.issues
      .map((i) => `${i.path.length ? i.path.join('.') : '(doc)'}: ${i.message}`)
      .join('; ')
  }
  return err instanceof Error ? err.message : String(err)
}

function unknownKeys(obj, allowed, where, problems) {
  if (!allowed) return
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) problems.push(`${where}: unknown key "${key}"`)
  }
}

// Visits every typed node of a def tree; `where` is a dotted path for messages.
function walk(node, where, visit) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => walk(item, `${where}[${i}]`, visit))
    return
  }
  if (!node || typeof node !== 'object') return
  if (typeof node.type === 'string') visit(node, where)
  for (const [key, value] of Object.entries(node)) {
    walk(value, where ? `${where}.${key}` : key, visit)
  }
}

function strictKeyProblems(doc) {
  const problems = []
  unknownKeys(doc, DOC_KEYS, '(doc)', problems)
  walk(doc.defs, 'defs', (node, where) => {
    unknownKeys(node, ALLOWED_KEYS[node.type], where, problems)
    for (const body of ['input', 'output']) {
      if (node[body] && ['query', 'procedure'].includes(node.type)) {
        unknownKeys(node[body], BODY_KEYS, `${where}.${body}`, problems)
      }
    }
    for (const [i, e] of (node.errors ?? []).entries()) {
      unknownKeys(e, ERROR_KEYS, `${where}.errors[${i}]`, problems)
    }
  })
  return problems
}

function collectRefs(doc) {
  const refs = []
  walk(doc.defs, 'defs', (node, where) => {
    if (node.type === 'ref' && typeof node.ref === 'string') refs.push([where, node.ref])
    if (node.type === 'union' && Array.isArray(node.refs)) {
      node.refs.forEach((r, i) => refs.push([`${where}.refs[${i}]`, r]))
    }
  })
  return refs
}

const failures = new Map() // relative path -> [message]
const fail = (file, message) => {
  if (!failures.has(file)) failures.set(file, [])
  failures.get(file).push(message)
}

const files = listJsonFiles(schemasDir).map((abs) => relative(repoRoot, abs))
const lexicons = new Lexicons()
const added = [] // [file, doc id, refs]

for (const file of files) {
  let doc
  try {
    doc = JSON.parse(readFileSync(join(repoRoot, file), 'utf8'))
  } catch (err) {
    fail(file, `not valid JSON: ${describeError(err)}`)
    continue
  }
  try {
    parseLexiconDoc(structuredClone(doc))
  } catch (err) {
    fail(file, `invalid lexicon: ${describeError(err)}`)
    continue
  }
  for (const problem of strictKeyProblems(doc)) fail(file, problem)

  const expectedId = relative(schemasDir, join(repoRoot, file)).slice(0, -'.json'.length).split(sep).join('.')
  if (doc.id !== expectedId) fail(file, `id "${doc.id}" does not match its path (expected "${expectedId}")`)

  const refs = collectRefs(doc) // before add(), which rewrites refs in place
  try {
    lexicons.add(doc)
  } catch (err) {
    fail(file, `Lexicons.add failed: ${describeError(err)}`)
    continue
  }
  added.push([file, doc.id, refs])
}

for (const [file, id, refs] of added) {
  for (const [where, ref] of refs) {
    try {
      lexicons.getDefOrThrow(ref.startsWith('#') ? `${id}${ref}` : ref, REFERENCEABLE)
    } catch (err) {
      fail(file, `${where}: ref "${ref}" does not resolve: ${describeError(err)}`)
    }
  }
}

for (const [file, messages] of failures) {
  for (const message of messages) console.log(`FAIL ${file}: ${message}`)
}
const failed = failures.size
console.log(`lexicons: ${files.length - failed} passed, ${failed} failed`)
process.exitCode = failed > 0 ? 1 : 0
