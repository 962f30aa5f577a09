import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startLocalStack } from '../local/stack.js';
import { CORPUS, printTable, round } from './support.js';

/**
 * `npm run bench -- fanout [PAGES]`: a long scan read through page fan-out
 * on the embedded stack, with the deployment's defaults (parts of
 * `ocrPagesPerPart` pages, page workers as many as the cores). The scan is
 * made as a scanner makes one: the first PAGES (300) pages of DA-619p
 * rendered at 200 dpi in grey by `pdftoppm` and wrapped by `img2pdf`, so no
 * page has a text layer. It is put in the bucket's inbox and submitted as an
 * `s3://` source; measured from the submission to SUCCESS, with the time to
 * the plan (the text layer read and the parts sent) apart.
 */
const FILE = 'pdf/DA-619p.pdf';
const POLL_MS = 200;

export const benchFanOut = async () => {
  const pages = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 300);
  const dir = mkdtempSync(join(tmpdir(), 'docproc-fanout-'));
  try {
    const made = performance.now();
    execFileSync('pdftoppm', [
      '-r',
      '200',
      '-gray',
      '-png',
      '-f',
      '1',
      '-l',
      String(pages),
      resolve(CORPUS, FILE),
      join(dir, 'page'),
    ]);
    const images = readdirSync(dir)
      .filter((name) => name.endsWith('.png'))
      .sort()
      .map((name) => join(dir, name));
    execFileSync('img2pdf', [...images, '-o', join(dir, 'scan.pdf')]);
    const scan = readFileSync(join(dir, 'scan.pdf'));
    console.log(
      `\nfanout: a ${images.length}-page scan (${round(scan.length / 1024 / 1024, 1)} MB) made in ${round((performance.now() - made) / 1000, 1)} s`,
    );

    const stack = await startLocalStack({ port: 0 });
    try {
      await stack.warm();
      const key = `inbox/scan-${images.length}.pdf`;
      await stack.clients.s3.send(
        new PutObjectCommand({ Bucket: stack.bucketName, Key: key, Body: scan, ContentType: 'application/pdf' }),
      );
      const started = performance.now();
      const response = await fetch(`${stack.apiUrl}/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: `s3://${stack.bucketName}/${key}` }),
      });
      if (response.status !== 202) throw new Error(`process answered ${response.status}: ${await response.text()}`);
      const { task_id: id } = (await response.json()) as { task_id: string };
      let plannedMs: number | undefined;
      interface Polled {
        status: string;
        error?: unknown;
        fan_out?: { parts: number };
        result?: { stats: { characters: number } };
      }
      let task: Polled;
      for (;;) {
        task = (await (await fetch(`${stack.apiUrl}/tasks/${id}`)).json()) as Polled;
        if (plannedMs === undefined && task.fan_out) plannedMs = performance.now() - started;
        if (['SUCCESS', 'FAILURE', 'REVOKED'].includes(task.status)) break;
        await new Promise((done) => setTimeout(done, POLL_MS));
      }
      const totalMs = performance.now() - started;
      if (task.status !== 'SUCCESS') throw new Error(`the scan ended ${task.status}: ${JSON.stringify(task.error)}`);
      const workers = stack.functions.pageWorker.maxInstances;
      const row = {
        pages: images.length,
        parts: task.fan_out?.parts ?? 0,
        'page workers': workers,
        'to the plan (s)': round((plannedMs ?? 0) / 1000, 1),
        'total (s)': round(totalMs / 1000, 1),
        'pages/s': round(images.length / (totalMs / 1000), 2),
        's per page per worker': round((totalMs / 1000 / images.length) * workers, 2),
        characters: task.result?.stats.characters ?? 0,
      };
      printTable('fanout: a long scan read in parts on the embedded stack', [row]);
      return row;
    } finally {
      await stack.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
