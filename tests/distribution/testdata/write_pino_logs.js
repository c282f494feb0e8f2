// Writes a log file with the real pino (npm, tests/deps/package.json) to process.argv[2].
// The test reads pino's own output back for each record's time and level.
'use strict';
const pino = require('pino');

const dest = pino.destination({ dest: process.argv[2], sync: true });
const log = pino({ level: 'trace', base: { pid: process.pid, hostname: 'node-1' } }, dest);

log.child({ reqId: 'req-pino-1' }).info({ tenant_id: 'tenant-xyz' }, 'request completed');
log.info({ req: { id: 'req-pino-2', method: 'POST', url: '/v1/chat' } }, 'incoming request');
log.error({ err: new TypeError('upstream timeout'), reqId: 'req-pino-3' }, 'upstream failed');
log.warn({ reqId: 'req-pino-4' }, 'slow upstream');
log.debug({ reqId: 'req-pino-5' }, 'prompt built');
log.trace({ reqId: 'req-pino-6' }, 'token counted');
log.fatal({ reqId: 'req-pino-7' }, 'pool exhausted');
dest.flushSync();
