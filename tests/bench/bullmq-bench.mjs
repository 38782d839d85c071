// BullMQ on the workload sluice-bench runs, against the same redis-server:
//   node bullmq-bench.mjs SOCKET [SCALE]     throughput and Redis CPU per job
//   node bullmq-bench.mjs SOCKET --fill N    enqueue N jobs in bulk, nothing else
// Prints "name jobs/s" and "cpu_name µs" lines (Redis CPU per job: INFO cpu
// used_cpu_user + used_cpu_sys, read before and after each phase, as
// sluice-bench does; each phase runs 20,000 jobs or more, setup outside).
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

// The server's CPU time so far, s (user + sys).
async function redisCpu() {
    const info = await connection.info('cpu');
    const field = (name) => Number(info.match(new RegExp(`^${name}:([0-9.]+)`, 'm'))[1]);
    return field('used_cpu_user') + field('used_cpu_sys');
}

// Runs fn as one phase of n jobs: prints its jobs/s and Redis CPU per job,
// and returns the CPU per job (µs). The CPU is read outside the timed part.
async function phase(name, n, fn) {
    const cpu0 = await redisCpu();
    const t0 = now();
    await fn();
    const wall = now() - t0;
    const us = (1e6 * (await redisCpu() - cpu0)) / n;
    out(name, n / wall);
    console.log(`cpu_${name} ${us.toFixed(2)}`);
    return us;
}

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

    await phase('enqueue_single', single, async () => {
        for (let i = 0; i < single; i++) await q.add('j', payload, opts);
    });
    const bulkUs = await phase('enqueue_bulk', bulk, () => fill(q, bulk));

    const total = single + bulk;
    let worker;
    const workerUs = await phase('worker_inprocess', total, () => new Promise((resolve) => {
        let done = 0;
        worker = new Worker('bench', async () => {}, { connection, concurrency: 64 });
        worker.on('completed', () => {
            if (++done === total) resolve();
        });
    }));
    // A job's whole life: enqueued in bulk, then run by the Worker.
    console.log(`cpu_whole_life ${(bulkUs + workerUs).toFixed(2)}`);
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
