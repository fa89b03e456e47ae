// The reference TypeScript firehose consumer (@atproto/sync's Firehose) on the frames file
// `plyr-gen firehose` writes: the baseline of bench/firehose.sh, and of the smoke test in
// tests/tests/firehose_baseline.rs.
//
//   node firehose.mjs --frames FILE --keys KEYS.json [--repeat N]
//
// Each message goes through exactly what Firehose does with a websocket message, minus the
// socket: @atproto/xrpc-server's frame decoding (ensureChunkIsMessage, as Subscription does),
// the subscribeRepos lexicon validation Firehose gives Subscription, then Firehose.processEvt:
// ops filtered to the indexer's collections, a commit with wanted ops verified (signature with
// the account's key, MST inclusion proofs of its ops: verifyProofs), its CAR read and its
// records decoded, and handleEvent called per op. Keys come from the keys file through an
// IdResolver stub (no network); handles are not resolved (unauthenticatedHandles).
//
// Prints `key=value` pairs on one line: frames, seconds, frames_per_s, events, plyr_ops, errors.

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Firehose } from '@atproto/sync'
import { ensureChunkIsMessage } from '@atproto/xrpc-server'

const METHOD = 'com.atproto.sync.subscribeRepos'
// The same collections as the indexer's firehose filter (DEFAULT_COLLECTIONS).
const COLLECTIONS = ['fm.plyr.*', 'app.bsky.actor.profile']

const { values: args } = parseArgs({
  options: {
    frames: { type: 'string' },
    keys: { type: 'string' },
    repeat: { type: 'string', default: '1' },
  },
})
if (!args.frames || !args.keys) {
  console.error('usage: node firehose.mjs --frames FILE --keys KEYS.json [--repeat N]')
  process.exit(2)
}

/** The messages of a frames file: each prefixed by its length, 4 bytes big-endian. */
function splitFrames(bytes) {
  const frames = []
  let at = 0
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new Error('truncated length')
    const len = bytes.readUInt32BE(at)
    if (at + 4 + len > bytes.length) throw new Error('truncated message')
    frames.push(bytes.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
  return frames
}

const frames = splitFrames(readFileSync(args.frames))
const keys = JSON.parse(readFileSync(args.keys, 'utf8'))

/** An IdResolver that knows the keys file and nothing else. */
const idResolver = {
  did: {
    resolveAtprotoKey: async (did) => {
      const key = keys[did]
      if (!key) throw new Error(`no key for ${did}`)
      return key
    },
    resolve: async () => null,
  },
  handle: { resolve: async () => undefined },
}

async function pass() {
  const counts = { events: 0, plyrOps: 0, errors: 0, reasons: new Map() }
  const firehose = new Firehose({
    idResolver,
    service: 'ws://127.0.0.1:9', // never connected: messages are fed directly
    filterCollections: COLLECTIONS,
    unauthenticatedHandles: true,
    handleEvent: async (evt) => {
      counts.events++
      if (evt.collection?.startsWith('fm.plyr.')) counts.plyrOps++
    },
    onError: (err) => {
      counts.errors++
      const reason = err?.cause?.message ?? err?.message ?? String(err)
      counts.reasons.set(reason, (counts.reasons.get(reason) ?? 0) + 1)
    },
  })
  const validate = firehose.sub.opts.validate
  const started = process.hrtime.bigint()
  for (const chunk of frames) {
    let evt
    try {
      const message = ensureChunkIsMessage(chunk)
      const t = message.header.t
      evt = validate({ ...message.body, $type: t?.startsWith('#') ? METHOD + t : t })
    } catch (err) {
      firehose.opts.onError(err)
      continue
    }
    if (evt !== undefined) await firehose.processEvt(evt)
  }
  counts.seconds = Number(process.hrtime.bigint() - started) / 1e9
  return counts
}

let best
for (let i = 0; i < Math.max(1, Number(args.repeat)); i++) {
  const run = await pass()
  if (!best || run.seconds < best.seconds) best = run
}
for (const [reason, n] of best.reasons) console.error(`error x${n}: ${reason}`)
console.log(
  `frames=${frames.length} seconds=${best.seconds.toFixed(3)} frames_per_s=${Math.round(frames.length / best.seconds)} ` +
    `events=${best.events} plyr_ops=${best.plyrOps} errors=${best.errors}`,
)
