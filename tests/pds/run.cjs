// Starts an in-memory PLC directory and a reference PDS on 127.0.0.1 for the end-to-end tests.
//
// Prints one JSON line to stdout once both answer:
//   {"ready":true,"pdsPort":N,"plcPort":N,"adminPassword":"...","dataDir":"..."}
// and nothing else on stdout (set LOG_ENABLED=true to get the PDS's logs on stderr). Shuts down,
// deleting its scratch data directory, when stdin closes, on SIGTERM/SIGINT, or when its parent
// goes away, so a test process that dies never leaves it behind.
'use strict'

require('./loopback.cjs')

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

if (process.env.LOG_ENABLED && !process.env.LOG_DESTINATION) {
  // The PDS logs with pino, to stdout unless told otherwise; stdout carries only the ready line.
  process.env.LOG_DESTINATION = '/dev/stderr'
}

const { PDS, envToCfg, envToSecrets, readEnv } = require('@atproto/pds')
const { PlcServer, Database: PlcDatabase } = require('@did-plc/server')

const SHUTDOWN_GRACE_MS = 5000

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plyr-pds-'))
let plc = null
let pds = null
let stopping = false

function log(message) {
  process.stderr.write(`[local-pds] ${message}\n`)
}

function removeDataDir() {
  try {
    fs.rmSync(dataDir, { recursive: true, force: true })
  } catch (err) {
    log(`could not remove ${dataDir}: ${err}`)
  }
}

async function shutdown(reason, code = 0) {
  if (stopping) return
  stopping = true
  log(`shutting down: ${reason}`)
  const force = setTimeout(() => {
    removeDataDir()
    process.exit(code)
  }, SHUTDOWN_GRACE_MS)
  force.unref()
  try {
    if (pds) await pds.destroy()
    if (plc) await plc.destroy()
  } catch (err) {
    log(`error while stopping: ${err && err.stack ? err.stack : err}`)
  }
  removeDataDir()
  process.exit(code)
}

/** A port that is free on 127.0.0.1 right now. */
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

/** A fresh secp256k1 private key as 64 hex digits. */
function secp256k1PrivateKeyHex() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  return Buffer.from(privateKey.export({ format: 'jwk' }).d, 'base64url').toString('hex')
}

async function startPlc() {
  plc = PlcServer.create({ db: PlcDatabase.mock(), port: 0 })
  const server = await plc.start()
  return server.address().port
}

async function startPds(plcPort) {
  const adminPassword = crypto.randomBytes(16).toString('hex')
  // The public URL embeds the port, so it is chosen before listening; retry if another process
  // takes it in between.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const env = {
      PDS_DEV_MODE: 'true',
      PDS_HOSTNAME: 'localhost',
      PDS_PORT: String(port),
      PDS_DATA_DIRECTORY: dataDir,
      PDS_BLOBSTORE_DISK_LOCATION: path.join(dataDir, 'blobs'),
      PDS_DID_PLC_URL: `http://localhost:${plcPort}`,
      PDS_JWT_SECRET: crypto.randomBytes(32).toString('hex'),
      PDS_ADMIN_PASSWORD: adminPassword,
      PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: secp256k1PrivateKeyHex(),
      PDS_INVITE_REQUIRED: 'false',
      PDS_SERVICE_HANDLE_DOMAINS: '.test',
      PDS_CRAWLERS: '',
    }
    // readEnv() reads process.env; only our settings count, never a PDS_* of the caller's.
    for (const key of Object.keys(process.env)) {
      if (key.startsWith('PDS_')) delete process.env[key]
    }
    Object.assign(process.env, env)
    const pdsEnv = readEnv()
    const server = await PDS.create(envToCfg(pdsEnv), envToSecrets(pdsEnv))
    try {
      await server.start()
      pds = server
      return { port, adminPassword }
    } catch (err) {
      await server.destroy().catch(() => {})
      if (err.code !== 'EADDRINUSE' || attempt >= 5) throw err
      log(`port ${port} was taken, trying another`)
    }
  }
}

async function main() {
  // When the parent dies, our stdout and stderr pipes may be gone too: a write must not crash us
  // before the cleanup below.
  process.stdout.on('error', () => {})
  process.stderr.on('error', () => {})
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  // The parent holds our stdin; when it exits, for whatever reason, stdin ends.
  process.stdin.on('end', () => shutdown('stdin closed'))
  process.stdin.on('error', () => shutdown('stdin error'))
  process.stdin.resume()
  const parent = process.ppid
  setInterval(() => {
    if (process.ppid !== parent) shutdown('parent exited')
  }, 1000).unref()

  const plcPort = await startPlc()
  const { port: pdsPort, adminPassword } = await startPds(plcPort)
  process.stdout.write(
    JSON.stringify({ ready: true, pdsPort, plcPort, adminPassword, dataDir }) + '\n',
  )
}

main().catch((err) => {
  log(`failed to start: ${err && err.stack ? err.stack : err}`)
  shutdown('start-up failure', 1)
})
