// Runs a real labeler (@skyware/labeler) on 127.0.0.1 for the end-to-end tests, its did:plc
// registered on the tests' PLC directory with an #atproto_labeler service and an
// #atproto_label key.
//
//   node run.mjs --plc-url http://localhost:PORT
//
// Prints one JSON line once it listens: {"ready":true,"did":"did:plc:...","port":N}. Then reads
// one JSON command per line on stdin and answers each with one JSON line on stdout:
//   {"cmd":"label","uri":...,"val":...,"neg":bool?,"exp":iso?,"cid":...?} -> {"ok":true,"seq":N}
//   {"cmd":"forged","uri":...,"val":...}  a label signed with a key that is not the labeler's
//   {"cmd":"rotate"}    a new label key: published on PLC, then the labeler restarts with it
//   {"cmd":"restart"}   stops the labeler (dropping every subscriber) and starts it again
// Stops, deleting its scratch directory, when stdin closes or on SIGTERM/SIGINT.

import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'

import { encode as cborEncode } from '@atcute/cbor'
import { Secp256k1Keypair } from '@atproto/crypto'
import * as plc from '@did-plc/lib'
import { LabelerServer } from '@skyware/labeler'

function log(message) {
  process.stderr.write(`[labeler] ${message}\n`)
}

function arg(name) {
  const i = process.argv.indexOf(name)
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing ${name}`)
  return process.argv[i + 1]
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

const hex = (bytes) => Buffer.from(bytes).toString('hex')

const plcUrl = arg('--plc-url')
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plyr-labeler-'))
const dbPath = path.join(dataDir, 'labels.db')
const plcClient = new plc.Client(plcUrl)
const rotationKey = await Secp256k1Keypair.create({ exportable: true })
let labelKey = await Secp256k1Keypair.create({ exportable: true })
const port = await freePort()
const endpoint = `http://localhost:${port}`

// The labeler's identity: a genesis operation naming its label key and endpoint.
const genesis = await plc.signOperation(
  {
    type: 'plc_operation',
    verificationMethods: { atproto_label: labelKey.did() },
    rotationKeys: [rotationKey.did()],
    alsoKnownAs: [],
    services: { atproto_labeler: { type: 'AtprotoLabeler', endpoint } },
    prev: null,
  },
  rotationKey,
)
const did = await plc.didForCreateOp(genesis)
await plcClient.sendOperation(did, genesis)

let server = null

async function start() {
  server = new LabelerServer({ did, signingKey: hex(await labelKey.export()), dbPath })
  await new Promise((resolve, reject) =>
    server.start({ port, host: '127.0.0.1' }, (error) => (error ? reject(error) : resolve())),
  )
}

async function stop() {
  if (!server) return
  const closing = server
  server = null
  await new Promise((resolve) => closing.close(() => resolve()))
  // libsql keeps the file open until its client is closed.
  closing.db.close()
}

async function handle(command) {
  switch (command.cmd) {
    case 'label': {
      const { uri, val, neg, exp, cid } = command
      const saved = await server.createLabel({ uri, val, neg: !!neg, exp, cid })
      return { ok: true, seq: saved.id }
    }
    case 'forged': {
      const impostor = await Secp256k1Keypair.create()
      const label = { ver: 1, src: did, uri: command.uri, val: command.val, neg: false, cts: new Date().toISOString() }
      const sig = await impostor.sign(cborEncode(label))
      // A label that arrives signed is stored and sent as it is.
      const saved = await server.saveLabel({ ...label, sig })
      return { ok: true, seq: saved.id }
    }
    case 'rotate': {
      labelKey = await Secp256k1Keypair.create({ exportable: true })
      await plcClient.updateData(did, rotationKey, (last) => ({
        ...last,
        verificationMethods: { ...last.verificationMethods, atproto_label: labelKey.did() },
      }))
      await stop()
      await start()
      return { ok: true, key: labelKey.did() }
    }
    case 'restart': {
      await stop()
      await start()
      return { ok: true }
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`)
  }
}

let stopping = false
async function shutdown(reason) {
  if (stopping) return
  stopping = true
  log(`shutting down: ${reason}`)
  const force = setTimeout(() => process.exit(0), 5000)
  force.unref()
  try {
    await stop()
  } catch (error) {
    log(`error while stopping: ${error}`)
  }
  fs.rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

await start()
process.stdout.write(JSON.stringify({ ready: true, did, port }) + '\n')

// Commands run one at a time, in order.
let queue = Promise.resolve()
const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let answer
    try {
      answer = await handle(JSON.parse(line))
    } catch (error) {
      answer = { ok: false, error: String(error && error.stack ? error.stack : error) }
    }
    process.stdout.write(JSON.stringify(answer) + '\n')
  })
})
lines.on('close', () => queue.then(() => shutdown('stdin closed')))
