// Makes every TCP server in this process listen on 127.0.0.1 unless it names a host itself.
//
// The PDS and the PLC server both call `listen(port)` with no host, which Node binds to every
// interface. Required (or preloaded with `node -r`) before either is created, this patch turns such
// calls into `listen(port, '127.0.0.1', ...)`. Unix-socket paths and handles pass through untouched.
'use strict'

const net = require('node:net')

const LOOPBACK = '127.0.0.1'
const listen = net.Server.prototype.listen

function isPort(value) {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))
}

net.Server.prototype.listen = function (...args) {
  const [first, second] = args
  if (args.length === 0 || typeof first === 'function') {
    // listen() / listen(callback): an ephemeral port on every interface.
    args.unshift(0, LOOPBACK)
  } else if (isPort(first) && typeof second !== 'string') {
    // listen(port[, backlog][, callback])
    args.splice(1, 0, LOOPBACK)
  } else if (first && typeof first === 'object' && !first._handle && !('fd' in first)) {
    // listen({ port, host?, ... }[, callback]); paths stay as they are.
    if (first.path === undefined && first.host === undefined) {
      args[0] = { ...first, host: LOOPBACK }
    }
  }
  return listen.apply(this, args)
}
