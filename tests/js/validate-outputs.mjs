// Validates XRPC responses against their lexicons' output schemas with @atproto/lexicon, the
// reference implementation. Input: a JSON file holding [{ "nsid": "...", "body": {...} }, ...].
// Prints one line per failure, then `outputs: N passed, M failed`; exits 1 on any failure.
//   node validate-outputs.mjs responses.json

import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lexicons } from '@atproto/lexicon'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

function* jsonFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* jsonFiles(path)
    else if (name.endsWith('.json')) yield path
  }
}

const lexicons = new Lexicons()
for (const path of jsonFiles(join(repoRoot, 'lexicons', 'schemas'))) {
  lexicons.add(JSON.parse(readFileSync(path, 'utf8')))
}

const responses = JSON.parse(readFileSync(process.argv[2], 'utf8'))
let passed = 0
let failed = 0
for (const { nsid, body } of responses) {
  try {
    lexicons.assertValidXrpcOutput(nsid, body)
    passed++
  } catch (err) {
    failed++
    console.log(`FAIL ${nsid}: ${err.message}`)
  }
}
console.log(`outputs: ${passed} passed, ${failed} failed`)
process.exit(failed === 0 && passed > 0 ? 0 : 1)
