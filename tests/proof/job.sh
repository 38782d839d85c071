#!/bin/sh
# A background job of `make proof` (scripts/proof.sh), run by sluice-worker as
# an exec handler: one psql session against the proof's PostgreSQL (libpq's
# environment), named sluice-job so the sampler can leave it out.
#   job.sh import   a bulk write: 20,000 rows into a staging table, each row
#                   rewritten (UPDATE), then removed (DELETE), in one
#                   transaction: WAL and CPU; then a VACUUM of the staging
#                   table, as a loader cleans up after each batch, so the
#                   dead rows it leaves are vacuumed inside the job the
#                   governor admitted, not by autovacuum at a later moment
#                   (left to autovacuum, the table grew to 1.6 GB and its
#                   32 s vacuum ran through the peak)
#   job.sh report   large scans: an aggregate over every account, then a sort
#                   of a sixteenth of them that spills to disk (work_mem 4 MB)
# Either records the job (SLUICE_JOB_ID) in proof_done in the same
# transaction as its work; a job run twice counts runs = 2. Exit 0 acks.
set -eu
export PGAPPNAME=sluice-job
case ${1:-} in
import)
    work="INSERT INTO proof_staging
              SELECT :'job', g, md5(g::text), repeat('x', 200) FROM generate_series(1, 20000) g;
          UPDATE proof_staging SET k = md5(k), pad = repeat('y', 200) WHERE job = :'job';
          DELETE FROM proof_staging WHERE job = :'job';"
    cleanup="VACUUM proof_staging;" ;;
report)
    work="SET LOCAL max_parallel_workers_per_gather = 0;
          SELECT bid, count(*), sum(abalance), avg(length(filler)) FROM pgbench_accounts GROUP BY bid;
          SELECT count(*) FROM (SELECT aid FROM pgbench_accounts WHERE aid % 16 = 1
                                ORDER BY filler DESC, abalance OFFSET 0) s;"
    cleanup="" ;;
*)
    echo "usage: job.sh import|report (SLUICE_JOB_ID and SLUICE_JOB_CLASS in the environment)" >&2
    exit 2 ;;
esac
: "${SLUICE_JOB_ID:?job.sh: SLUICE_JOB_ID is not set}"
printf 'BEGIN;\n%s\n%s\nCOMMIT;\n%s\n' "$work" \
    "INSERT INTO proof_done (job, class) VALUES (:'job', :'class')
         ON CONFLICT (job) DO UPDATE SET runs = proof_done.runs + 1, at = clock_timestamp();" "$cleanup" |
    psql -X -q -v ON_ERROR_STOP=1 -v "job=$SLUICE_JOB_ID" -v "class=${SLUICE_JOB_CLASS:-}" >/dev/null
