/* The fault battery, worker faults: sluice-worker processes killed at random
 * (SIGKILL) and restarted, stopped gracefully (SIGTERM) under load, frozen
 * (SIGSTOP) past their leases, and crashed by a poison job. Each run ends
 * with the checker table. SLUICE_CHAOS=long (make chaos) runs the long
 * versions. Run from the top of the tree. */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "chaos/chaos.h"

#define NS "c"
#define MAXW 16

typedef struct fleet {
    const harness_redis *r;
    int n;
    pid_t pid[MAXW];
    char log[MAXW][400];
    const char *args[40];
} fleet;

static void fleet_spawn(fleet *f, int i) {
    f->pid[i] = chaos_spawn_worker(f->r->url, NS, f->log[i], f->args);
    assert_true(f->pid[i] > 0);
}

static void fleet_start(fleet *f, const harness_redis *r, int n, const char *tag) {
    f->r = r;
    f->n = n;
    for (int i = 0; i < n; i++) {
        snprintf(f->log[i], sizeof(f->log[i]), "%s/%s-%d.log", r->dir, tag, i);
        fleet_spawn(f, i);
    }
}

/* SIGTERM to every worker; each must exit 0 within "ms". */
static void fleet_stop(fleet *f, long ms) {
    for (int i = 0; i < f->n; i++)
        if (f->pid[i] > 0) kill(f->pid[i], SIGTERM);
    for (int i = 0; i < f->n; i++) {
        if (f->pid[i] <= 0) continue;
        int st = chaos_wait(f->pid[i], ms);
        if (st < 0) {
            chaos_kill(f->pid[i]);
            fail_msg("worker %d did not stop within %ld ms", (int)f->pid[i], ms);
        }
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        f->pid[i] = 0;
    }
}

static sluice_client *connect_to(const harness_redis *r) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(r->url, NS, &err);
    if (!c) fail_msg("connect: %s", err.text);
    return c;
}

/* -------------------- 1. SIGKILL a random worker ---------------------- */

static void a_random_worker_killed_every_two_seconds_loses_nothing_and_repeats_only_jobs_in_flight(void **state) {
    (void)state;
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = connect_to(&r);
    const int W = CHAOS_PICK(3, 6), CONC = CHAOS_PICK(4, 8);
    const long RUN_MS = CHAOS_PICK(12000, 300000);
    const int PER_TICK = CHAOS_PICK(6, 8);   /* jobs per 100 ms */
    assert_int_equal(chaos_class(c, "killed", SLUICE_TIER_NORMAL, 0, 2000, 20), 0);
    char rec[400], hcmd[600], conc[16];
    snprintf(rec, sizeof(rec), "%s/killed.rec", r.dir);
    snprintf(hcmd, sizeof(hcmd), "killed=%s", chaos_fixture("job.sh"));
    snprintf(conc, sizeof(conc), "%d", CONC);
    /* 60 jobs/s of 0.15 s on 3 x 4 slots: most slots busy at any kill */
    fleet f = {.args = {"--no-governor", "--concurrency", conc, "--grace", "10s", "--handler", hcmd, rec, "0.15", NULL}};
    fleet_start(&f, &r, W, "killed");

    chaos_check ck;
    chaos_check_init(&ck, "killed");
    int killed[4096];
    int inflight[4096];
    int nk = 0;
    long next = 1;
    srand((unsigned)getpid());
    long long t0 = harness_now_ms(), next_kill = t0 + 1000 + rand() % 2001;
    while (harness_now_ms() - t0 < RUN_MS) {
        chaos_enqueue(c, &ck, &next, PER_TICK, 1);
        if (harness_now_ms() >= next_kill && nk < 4096) {
            int i = rand() % W;
            inflight[nk] = chaos_children(f.pid[i]);
            killed[nk] = f.pid[i];
            nk++;
            chaos_kill(f.pid[i]);
            fleet_spawn(&f, i);
            next_kill = harness_now_ms() + 1000 + rand() % 2001;   /* 2 s +- 1 s */
        }
        harness_sleep_ms(100);   /* pacing: the producer's rounds */
    }
    assert_int_equal(chaos_drained(c, "killed", 60000), 0);
    fleet_stop(&f, 15000);
    /* orphaned handlers of the last kill have finished their record */
    WAIT_UNTIL(harness_procs_with_arg(rec) == 0, 20000);
    assert_int_equal(harness_procs_with_arg(rec), 0);
    chaos_check_load(&ck, rec);
    assert_int_equal(chaos_check_dead(&ck, c), 0);
    chaos_table t = chaos_check_table(&ck, c, "worker SIGKILL chaos");
    long *per = calloc((size_t)nk + 1, sizeof(long));
    long unattributed = chaos_check_unattributed(&ck, killed, (size_t)nk, per);
    long sum_inflight = 0, worst_excess = 0;
    for (int k = 0; k < nk; k++) {
        sum_inflight += inflight[k];
        if (per[k] > CONC) fail_msg("kill %d (pid %d): %ld duplicates, more than its concurrency %d", k, killed[k],
                                    per[k], CONC);
        /* handlers alive at the kill; a job whose handler had just ended but
         * whose ack was not yet answered is in flight too, and not counted */
        if (per[k] - inflight[k] > worst_excess) worst_excess = per[k] - inflight[k];
    }
    chaos_note("%d workers x concurrency %d, %ld s: %d kills, %ld handlers in flight at the kills, %lld duplicated, "
               "%ld not attributable to a kill, worst duplicates-minus-in-flight of one kill %ld",
               W, CONC, RUN_MS / 1000, nk, sum_inflight, t.duplicated, unattributed, worst_excess);
    free(per);
    assert_true(nk >= (int)(RUN_MS / 3000) - 1);
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.inconsistent, 0);
    assert_int_equal(t.unexpected, 0);
    assert_int_equal(t.dead, 0);
    assert_int_equal(unattributed, 0);
    assert_int_equal(t.completed, t.enqueued);
    assert_int_equal(t.acknowledged, t.enqueued);
    chaos_check_free(&ck);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

/* -------------------- 2. SIGTERM under load ---------------------------- */

static void workers_stopped_with_sigterm_under_load_and_restarted_lose_and_repeat_nothing(void **state) {
    (void)state;
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = connect_to(&r);
    const int W = CHAOS_PICK(3, 4), CONC = 4;
    const long RUN_MS = CHAOS_PICK(8000, 180000);
    assert_int_equal(chaos_class(c, "graceful", SLUICE_TIER_NORMAL, 0, 5000, 0), 0);
    char rec[400], hcmd[600];
    snprintf(rec, sizeof(rec), "%s/graceful.rec", r.dir);
    snprintf(hcmd, sizeof(hcmd), "graceful=%s", chaos_fixture("job.sh"));
    fleet f = {.args = {"--no-governor", "--concurrency", "4", "--grace", "10s", "--handler", hcmd, rec, "0.1", NULL}};
    fleet_start(&f, &r, W, "graceful");
    chaos_check ck;
    chaos_check_init(&ck, "graceful");
    long next = 1;
    int stops = 0, bad_exit = 0;
    long long t0 = harness_now_ms(), next_stop = t0 + 700;
    long long worst_stop = 0;
    /* RUN_MS, and then until the fifth stop on a slow machine */
    while (harness_now_ms() - t0 < RUN_MS || (stops < 5 && harness_now_ms() - t0 < 15 * RUN_MS)) {
        chaos_enqueue(c, &ck, &next, 5, 1);
        if (harness_now_ms() >= next_stop) {
            int i = stops % W;
            int inflight = chaos_children(f.pid[i]);
            long long s0 = harness_now_ms();
            kill(f.pid[i], SIGTERM);
            int st = chaos_wait(f.pid[i], 12000);
            long long took = harness_now_ms() - s0;
            if (took > worst_stop) worst_stop = took;
            if (st < 0) { chaos_kill(f.pid[i]); bad_exit++; }
            else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad_exit++;
            (void)inflight;
            stops++;
            fleet_spawn(&f, i);
            next_stop = harness_now_ms() + 700;
        }
        harness_sleep_ms(100);   /* pacing: the producer's rounds */
    }
    long long ran_ms = harness_now_ms() - t0;
    assert_int_equal(chaos_drained(c, "graceful", 60000), 0);
    fleet_stop(&f, 15000);
    chaos_check_load(&ck, rec);
    assert_int_equal(chaos_check_dead(&ck, c), 0);
    chaos_table t = chaos_check_table(&ck, c, "graceful shutdown under load");
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "graceful", &st, NULL), 0);
    chaos_note("%d workers x concurrency %d, %lld s: %d SIGTERMs, slowest stop %lld ms (handler 0.1 s), "
               "%lld released, %lld failed, %d bad exits",
               W, CONC, ran_ms / 1000, stops, worst_stop, (long long)st.released, (long long)st.failed, bad_exit);
    assert_true(stops >= 5);
    assert_int_equal(bad_exit, 0);
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.inconsistent, 0);
    assert_int_equal(t.duplicated, 0);
    assert_int_equal(t.unexpected, 0);
    assert_int_equal(t.dead, 0);
    assert_int_equal(t.completed, t.enqueued);
    assert_int_equal(t.acknowledged, t.enqueued);
    assert_int_equal(st.failed, 0);
    chaos_check_free(&ck);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

/* -------------------- 4. SIGSTOP past the lease ------------------------ */

static void a_worker_frozen_past_its_lease_has_its_jobs_run_elsewhere_and_its_late_acks_refused(void **state) {
    (void)state;
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = connect_to(&r);
    const int CYCLES = CHAOS_PICK(1, 10);
    const long LEASE = 1000;
    assert_int_equal(chaos_class(c, "frozen", SLUICE_TIER_NORMAL, 0, LEASE, 20), 0);
    char rec[400], hcmd[600];
    snprintf(rec, sizeof(rec), "%s/frozen.rec", r.dir);
    snprintf(hcmd, sizeof(hcmd), "frozen=%s", chaos_fixture("job.sh"));
    /* worker 0 is the one that freezes; worker 1 keeps running */
    fleet f = {.args = {"--no-governor", "--concurrency", "2", "--grace", "10s", "--handler", hcmd, rec, "0.3", NULL}};
    fleet_start(&f, &r, 2, "frozen");
    chaos_check ck;
    chaos_check_init(&ck, "frozen");
    long next = 1;
    int frozen_pids[64], nf = 0;
    long held = 0;
    for (int cyc = 0; cyc < CYCLES; cyc++) {
        /* load, and wait until a handler of the victim is at work: it has
         * read its payload, so it finishes even while its worker is frozen */
        long long until = harness_now_ms() + 30000;
        long kids = 0;
        while (harness_now_ms() < until) {
            chaos_enqueue(c, &ck, &next, 2, 1);
            harness_sleep_ms(50);   /* polls, and paces the producer */
            if ((kids = chaos_working(rec, f.pid[0])) > 0) break;
        }
        assert_true(kids > 0);
        kill(f.pid[0], SIGSTOP);
        held += chaos_children(f.pid[0]);   /* every job it holds may run twice */
        frozen_pids[nf++] = f.pid[0];
        long long fr = harness_now_ms();
        while (harness_now_ms() - fr < 3 * LEASE) {
            chaos_enqueue(c, &ck, &next, 1, 1);
            harness_sleep_ms(100);   /* pacing: frozen for three leases, the producer goes on */
        }
        kill(f.pid[0], SIGCONT);
        harness_sleep_ms(700);   /* pacing: the victim works a while before the next freeze */
    }
    assert_int_equal(chaos_drained(c, "frozen", 30000), 0);
    /* the resumed handlers' late results were refused */
    long stale = 0;
    WAIT_UNTIL((stale = chaos_file_lines(f.log[0], " stale ") + chaos_file_lines(f.log[0], " lease-lost ")) >= CYCLES,
               20000);
    fleet_stop(&f, 15000);
    chaos_check_load(&ck, rec);
    assert_int_equal(chaos_check_dead(&ck, c), 0);
    chaos_table t = chaos_check_table(&ck, c, "worker frozen past its lease");
    long unattributed = chaos_check_unattributed(&ck, frozen_pids, (size_t)nf, NULL);
    chaos_note("%d freeze(s) of 3 leases (%ld ms) with %ld handler(s) running: %lld duplicated (%ld not from the "
               "frozen worker), %ld stale/lease-lost events in the frozen worker's log",
               CYCLES, LEASE, held, t.duplicated, unattributed, stale);
    assert_true(stale >= CYCLES);
    assert_true(t.duplicated >= 1);         /* the job did run elsewhere */
    assert_true(t.duplicated <= held);
    assert_int_equal(unattributed, 0);
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.inconsistent, 0);
    assert_int_equal(t.unexpected, 0);
    assert_int_equal(t.dead, 0);
    /* every job acked exactly once: the late acks were refused */
    assert_int_equal(t.acknowledged, t.enqueued);
    assert_int_equal(t.completed, t.enqueued);
    chaos_check_free(&ck);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

/* -------------------- 5. a poison job ---------------------------------- */

static void a_poison_job_that_crashes_its_worker_goes_dead_after_max_reclaims_and_the_rest_complete(void **state) {
    (void)state;
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = connect_to(&r);
    const int RECLAIMS = CHAOS_PICK(2, 3), NPOISON = CHAOS_PICK(1, 5);
    const long NORMAL = CHAOS_PICK(80, 3000);
    const int W = 2;
    assert_int_equal(chaos_class(c, "poisoned", SLUICE_TIER_NORMAL, 0, 1000, RECLAIMS), 0);
    char rec[400], hcmd[600];
    snprintf(rec, sizeof(rec), "%s/poisoned.rec", r.dir);
    snprintf(hcmd, sizeof(hcmd), "poisoned=%s", chaos_fixture("job.sh"));
    fleet f = {.args = {"--no-governor", "--concurrency", "4", "--grace", "10s", "--handler", hcmd, rec, "0.02", NULL}};
    chaos_check ck;
    chaos_check_init(&ck, "poisoned");
    /* the poison jobs spread through the queue */
    char poison_ids[16][SLUICE_ID_MAX];
    long next = 1;
    int np = 0;
    for (long i = 0; i < NORMAL; i++) {
        if (np < NPOISON && i == (NORMAL / NPOISON) * np + NORMAL / (2 * NPOISON)) {
            char payload[64];
            snprintf(payload, sizeof(payload), "{\"n\":%ld,\"poison\":true}", next++);
            sluice_error err;
            if (sluice_enqueue(c, "poisoned", payload, NULL, poison_ids[np], &err) < 0) fail_msg("%s", err.text);
            np++;
        }
        chaos_enqueue(c, &ck, &next, 1, 0);
    }
    fleet_start(&f, &r, W, "poisoned");
    int crashed[256], ncrash = 0;
    long long end = harness_now_ms() + CHAOS_PICK(60000, 300000);
    for (;;) {
        /* the supervisor: a worker that died is started again */
        for (int i = 0; i < W; i++) {
            int st;
            if (waitpid(f.pid[i], &st, WNOHANG) == f.pid[i]) {
                if (ncrash < 256) crashed[ncrash++] = f.pid[i];
                fleet_spawn(&f, i);
            }
        }
        sluice_class_stats st;
        assert_int_equal(sluice_class_stats_get(c, "poisoned", &st, NULL), 0);
        if (st.ready + st.delayed + st.leased == 0) break;
        if (harness_now_ms() > end) fail_msg("not drained: %lld ready, %lld leased", (long long)st.ready,
                                            (long long)st.leased);
        harness_sleep_ms(20);   /* polls the drain, and supervises */
    }
    fleet_stop(&f, 15000);
    WAIT_UNTIL(harness_procs_with_arg(rec) == 0, 20000);   /* the crashed workers' handlers are done */
    assert_int_equal(harness_procs_with_arg(rec), 0);
    chaos_check_load(&ck, rec);
    assert_int_equal(chaos_check_dead(&ck, c), 0);
    chaos_table t = chaos_check_table(&ck, c, "poison job (normal jobs)");
    long unattributed = chaos_check_unattributed(&ck, crashed, (size_t)ncrash, NULL);
    size_t nd = 0;
    sluice_job_info *dead = sluice_dead_list(c, "poisoned", 0, 1000, &nd, NULL);
    int poison_dead = 0;
    for (size_t i = 0; i < nd; i++) {
        int is_poison = 0;
        for (int k = 0; k < np; k++) is_poison |= strcmp(dead[i].id, poison_ids[k]) == 0;
        chaos_note("dead: %s (%s): %s", dead[i].id, is_poison ? "poison" : "NORMAL", dead[i].reason);
        if (is_poison && strncmp(dead[i].reason, "poison", 6) == 0) poison_dead++;
    }
    sluice_dead_list_free(dead, nd);
    long crashes_by_poison = chaos_file_lines(rec, "P ");
    chaos_note("%d poison job(s) among %ld, max_reclaims %d: %d worker crashes (%ld by the poison handler), "
               "%d poison jobs dead as poison, %lld normal jobs duplicated (%ld not attributable to a crash)",
               np, NORMAL, RECLAIMS, ncrash, crashes_by_poison, poison_dead, t.duplicated, unattributed);
    assert_int_equal(poison_dead, np);
    assert_int_equal(crashes_by_poison, np * (RECLAIMS + 1));
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.inconsistent, 0);
    /* The normal jobs in flight at the first crash count one reclaim each;
     * from then on the poison job, a suspect, runs alone (quarantine), so its
     * later crashes cost no one else a reclaim and no normal job goes dead. */
    assert_int_equal(t.dead, 0);
    assert_int_equal(t.unexpected, 0);
    assert_int_equal(unattributed, 0);
    assert_int_equal(t.completed, t.enqueued);
    assert_int_equal(t.acknowledged + t.dead, t.enqueued);
    chaos_check_free(&ck);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

int main(int argc, char **argv) {
    (void)argc;
    if (chaos_init(argv[0]) < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_random_worker_killed_every_two_seconds_loses_nothing_and_repeats_only_jobs_in_flight, chaos_teardown),
        cmocka_unit_test_teardown(workers_stopped_with_sigterm_under_load_and_restarted_lose_and_repeat_nothing, chaos_teardown),
        cmocka_unit_test_teardown(a_worker_frozen_past_its_lease_has_its_jobs_run_elsewhere_and_its_late_acks_refused, chaos_teardown),
        cmocka_unit_test_teardown(a_poison_job_that_crashes_its_worker_goes_dead_after_max_reclaims_and_the_rest_complete, chaos_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
