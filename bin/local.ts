/**
 * `npm start`: the whole service on this machine, on its embedded defaults.
 *
 *   npm start -- [--port 8000] [--host 127.0.0.1] [--data-dir .local-data] [--api-key KEY]... [--allow-private-urls]
 *                [--webhook-secret whsec_…] [--s3-port 8001] [--no-drop-folder] [--drop-folder-owner KEY]
 *                [--kb-destination NAME=s3://BUCKET/PREFIX/]...
 */
import { parseArgs } from 'node:util';
import { localApiKeyId } from '../local/api-gateway.js';
import { startLocalStack } from '../local/stack.js';
import { parseKbDestinationFlag } from '../shared/knowledge-base.js';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string' },
    'api-key': { type: 'string', multiple: true },
    'allow-private-urls': { type: 'boolean', default: false },
    'webhook-secret': { type: 'string', default: process.env.DOCPROC_WEBHOOK_SECRET },
    // The next port by default, so that an S3 client (the drop folder's `aws s3 cp`) can be told it in advance.
    's3-port': { type: 'string' },
    // On here (off in a deployment unless configured): objects written under inbox/ become tasks.
    'drop-folder': { type: 'boolean', default: true },
    'drop-folder-owner': { type: 'string' },
    // Knowledge-base destinations (option destination=kb:NAME); the bucket is made in the embedded S3 if absent.
    'kb-destination': { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(
    'usage: npm start -- [--port 8000] [--host 127.0.0.1] [--data-dir DIR] [--api-key KEY]... [--allow-private-urls] [--webhook-secret whsec_…] [--s3-port 8001] [--no-drop-folder] [--drop-folder-owner KEY] [--kb-destination NAME=s3://BUCKET/PREFIX/]...',
  );
  process.exit(0);
}

// Several keys may be given (each owns its tasks); DOCPROC_API_KEY may hold a comma-separated list.
const apiKeys = values['api-key'] ?? (process.env.DOCPROC_API_KEY ?? '').split(',').filter(Boolean);

// With API keys, the drop folder's tasks belong to one of them (the first unless named): the caller that lists them.
const dropFolder = values['drop-folder'];
const ownerKey = values['drop-folder-owner'] ?? apiKeys[0];
if (ownerKey !== undefined && !apiKeys.includes(ownerKey)) {
  console.error('--drop-folder-owner must be one of the --api-key values');
  process.exit(2);
}

let kbDestinations: Record<string, ReturnType<typeof parseKbDestinationFlag>[1]>;
try {
  kbDestinations = Object.fromEntries((values['kb-destination'] ?? []).map(parseKbDestinationFlag));
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

const port = Number(values.port);
// With --port 0 (any free port), S3 takes any free one too.
const s3Port = values['s3-port'] === undefined ? (port === 0 ? 0 : port + 1) : Number(values['s3-port']);

const started = performance.now();
const stack = await startLocalStack({
  port,
  s3Port,
  host: values.host,
  dataDir: values['data-dir'],
  apiKeys,
  allowPrivateUrls: values['allow-private-urls'],
  webhookSecret: values['webhook-secret'] || undefined,
  config: {
    dropFolder,
    ...(dropFolder && ownerKey ? { dropFolderOwner: localApiKeyId(ownerKey) } : {}),
    ...(Object.keys(kbDestinations).length ? { kbDestinations } : {}),
  },
  prewarm: true,
  log: (line) => console.log(`[local] ${line}`),
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);

console.log(`docproc is running (ready in ${seconds} s)
  API          ${stack.apiUrl}
  Monitor      ${stack.url}/
  Try it       curl -F file=@../shared/corpus/pdf/fake-memo.pdf ${stack.apiUrl}/upload
  Preview      curl -F file=@../shared/corpus/pdf/fake-memo.pdf ${stack.previewUrl}   (small files, answered at once)
  S3           ${stack.s3Endpoint}  bucket ${stack.bucketName}  (path-style, credentials local/local; s3:// sources under inbox/)
  Drop folder  ${dropFolder ? `on: objects written under s3://${stack.bucketName}/inbox/ become tasks${ownerKey ? ` (owned by ${values['drop-folder-owner'] ? '--drop-folder-owner' : 'the first --api-key'})` : ''}; options as x-amz-meta-docproc-* metadata (--no-drop-folder: off)` : 'off (objects under inbox/ are processed only when submitted by s3:// URI)'}
  Knowledge    ${
    Object.keys(kbDestinations).length
      ? Object.entries(kbDestinations)
          .map(([name, destination]) => `destination=kb:${name} → s3://${destination.bucket}/${destination.prefix}`)
          .join(', ')
      : 'no destinations (--kb-destination NAME=s3://BUCKET/PREFIX/)'
  }
  Events       ${stack.url}/_local/events  (the event bus; also on the monitor page)
  Storage      ${values['data-dir'] ? `task rows and objects kept in ${values['data-dir']}` : 'in memory (use --data-dir to keep tasks across restarts)'}
  Webhooks     signed with ${stack.webhookSecret}${values['webhook-secret'] ? '' : '  (generated: pass --webhook-secret or DOCPROC_WEBHOOK_SECRET to keep one)'}
  API key      ${apiKeys.length ? `required (x-api-key header; ${apiKeys.length} key${apiKeys.length > 1 ? 's, each sees only its own tasks' : ''})` : 'not required'}${values['allow-private-urls'] ? '\n  URL sources  private and loopback addresses ALLOWED (testing only)' : ''}
Press Ctrl-C to stop.`);

// One status line, printed when it changes.
let lastStatus = '';
const status = setInterval(() => {
  const busy = Object.entries(stack.busy())
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  const line = busy ? `[local] running: ${busy}` : '[local] idle';
  if (line !== lastStatus) console.log(line);
  lastStatus = line;
}, 1000);
status.unref();

let stoppingSince: number | undefined;
const shutdown = (signal: string) => {
  if (stoppingSince !== undefined) {
    // A terminal's Ctrl-C reaches npm, tsx and this process at once (tsx also relays it): only a later one forces.
    if (Date.now() - stoppingSince < 1000) return;
    console.log('\nForced exit.');
    process.exit(1);
  }
  stoppingSince = Date.now();
  console.log(`\n${signal}: finishing work under way (Ctrl-C again to force)…`);
  void stack.stop().then(() => {
    console.log('Stopped.');
    process.exit(0);
  });
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
