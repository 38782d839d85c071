// BullMQ on the workload sluice-bench runs, against the same redis-server:
//   node bullmq-bench.mjs SOCKET [SCALE]     throughput, one "name jobs/s" line each
//   node bullmq-bench.mjs SOCKET --fill N    enqueue N jobs in bulk, nothing else
// Completed jobs are removed, as sluice deletes acked jobs.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const [sock, mode, arg] = process.argv.slice(2);
// Under ESM BullMQ takes a client instance; Workers need blocking commands
// without a retry cap, and each Queue or Worker duplicates it as it needs.
const connection = new IORedis({ path: sock, maxRetriesPerRequest: null });
const payload = { user: 12345, course: 'intro-101' };
const opts = { removeOnComplete: true, removeOnFail: true };
const now = () => Number(process.hrtime.bigint()) / 1e9;
const out = (name, v) => console.log(`${name} ${Math.round(v)}`);

async function fill(q, n) {
    for (let off = 0; off < n; off += 1000) {
        const k = Math.min(1000, n - off);
        await q.addBulk(Array.from({ length: k }, () => ({ name: 'j', data: payload, opts })));
    }
}

async function main() {
    if (mode === '--fill') {
        const q = new Queue('memory', { connection });
        await fill(q, Number(arg));
        await q.close();
        return;
    }
    const scale = Number(mode || 1);
    const single = Math.round(20000 * scale), bulk = Math.round(200000 * scale);
    const q = new Queue('bench', { connection });
    await q.waitUntilReady();

    let t0 = now();
    for (let i = 0; i < single; i++) await q.add('j', payload, opts);
    out('enqueue_single', single / (now() - t0));

    t0 = now();
    await fill(q, bulk);
    out('enqueue_bulk', bulk / (now() - t0));

    const total = single + bulk;
    t0 = now();
    let worker;
    await new Promise((resolve) => {
        let done = 0;
        worker = new Worker('bench', async () => {}, { connection, concurrency: 64 });
        worker.on('completed', () => {
            if (++done === total) resolve();
        });
    });
    out('worker_inprocess', total / (now() - t0));
    await worker.close();
    await q.close();
}

main().then(() => {
    connection.disconnect();
    process.exit(0);
}, (e) => {
    console.error(`bullmq-bench: ${e.message}`);
    process.exit(1);
});
