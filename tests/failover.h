/* A failover under load, measured: a producer thread that enqueues with
 * WAIT 1 (replicas = 1) while a master is killed, the promotion timed by
 * polling the replica's ROLE (the promoted master has no replica: its
 * enqueues are not confirmed), and the Jepsen-style table of what became of
 * the confirmed enqueues (each job's runs read from the ids file that
 * tests/fixtures/worker/append-id.sh appends to). */
#ifndef SLUICE_TEST_FAILOVER_H
#define SLUICE_TEST_FAILOVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common_proc.h"

#define FAILOVER_JOBS_MAX 600

typedef struct failover_producer {
    const char *url;           /* the producer's redis:// or redis-sentinel:// URL */
    const char (*classes)[16]; /* enqueued into in turn */
    int nclasses;
    atomic_int stop;
    atomic_int enqueued;       /* ids set: the job was created */
    atomic_int confirmed;      /* ... and WAIT 1 confirmed it */
    int ok[FAILOVER_JOBS_MAX]; /* 1 confirmed */
    char ids[FAILOVER_JOBS_MAX][SLUICE_ID_MAX];
    char error[SLUICE_ERROR_TEXT + 32]; /* a failure that is not the failover's */
    pthread_t thread;
} failover_producer;

static inline void *failover_produce(void *arg) {
    failover_producer *p = arg;
    sluice_error err;
    sluice_client *c = sluice_client_connect(p->url, "t", &err);
    if (!c) {
        snprintf(p->error, sizeof(p->error), "connect: %s", err.text);
        return NULL;
    }
    sluice_client_set_timeout(c, 1000, NULL);
    sluice_enqueue_opts o = {.replicas = 1, .replicas_timeout_ms = 200};
    for (int k = 0; !atomic_load(&p->stop) && atomic_load(&p->enqueued) < FAILOVER_JOBS_MAX; k++) {
        int n = atomic_load(&p->enqueued);
        int rc = sluice_enqueue(c, p->classes[k % p->nclasses], "{}", &o, p->ids[n], &err);
        if (rc == 0 || err.code == SLUICE_ERR_NOT_REPLICATED) {
            p->ok[n] = rc == 0;
            atomic_fetch_add(&p->confirmed, rc == 0);
            atomic_fetch_add(&p->enqueued, 1);
        } else if (err.code != SLUICE_ERR_UNREACHABLE && err.code != SLUICE_ERR_UNAVAILABLE) {
            snprintf(p->error, sizeof(p->error), "enqueue: %s", err.text);
            break;
        }
        harness_sleep_ms(20); /* pacing: about 50 enqueues a second */
    }
    sluice_client_free(c);
    return NULL;
}

static inline void failover_producer_start(failover_producer *p) {
    assert_int_equal(pthread_create(&p->thread, NULL, failover_produce, p), 0);
}

static inline void failover_producer_stop(failover_producer *p) {
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    if (p->error[0]) fail_msg("the producer: %s", p->error);
}

/* 1 when the server says ROLE master. */
static inline int failover_is_master(const harness_redis *r) {
    redisReply *rep = harness_redis_command(r, "ROLE");
    int yes = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
              rep->element[0]->type == REDIS_REPLY_STRING && strcmp(rep->element[0]->str, "master") == 0;
    freeReplyObject(rep);
    return yes;
}

/* The node of the cluster that replicates "master", or NULL. */
static inline harness_redis *failover_replica_of(harness_cluster *cl, const harness_redis *master) {
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        redisReply *rep = harness_redis_command(&cl->nodes[i], "ROLE");
        int yes = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3 &&
                  strcmp(rep->element[0]->str, "slave") == 0 && rep->element[2]->type == REDIS_REPLY_INTEGER &&
                  rep->element[2]->integer == master->port;
        freeReplyObject(rep);
        if (yes) return &cl->nodes[i];
    }
    return NULL;
}

/* The sum of the classes' acked counters, or -1 when one cannot be read. */
static inline long long failover_acked(sluice_client *c, const char (*classes)[16], int n) {
    long long sum = 0;
    for (int i = 0; i < n; i++) {
        sluice_class_stats st;
        if (sluice_class_stats_get(c, classes[i], &st, NULL) < 0) return -1;
        sum += st.acked;
    }
    return sum;
}

/* The governor's leader as c reads it, into leader; its ticks, or -1 when
 * it cannot be read. */
static inline long long failover_governor(sluice_client *c, char leader[129]) {
    sluice_governor_status gs;
    if (sluice_governor_status_get(c, &gs, NULL) < 0) return -1;
    strcpy(leader, gs.leader);
    return gs.ticks;
}

/* 1 when two governor lease owners ("NAME#PID.STAMP") are the same
 * process: one that lost its link takes the lease again under a new stamp
 * (a new epoch), so that the fence tells it from its frozen self. */
static inline int failover_same_governor(const char *a, const char *b) {
    const char *dot = strrchr(a, '.');
    size_t n = dot ? (size_t)(dot - a) : strlen(a);
    return a[0] && strncmp(a, b, n) == 0 && (b[n] == '.' || b[n] == '\0');
}

/* Prints the table for the producer's jobs, "ids" the file the handlers
 * append to, and returns the confirmed jobs lost: never ran, not queued. */
static inline int failover_producer_table(const failover_producer *p, sluice_client *c, const char *ids,
                                          const char *title) {
    int n = atomic_load(&p->enqueued), acked = 0, lost = 0, lost_unconfirmed = 0, dup = 0;
    for (int k = 0; k < n; k++) {
        char needle[SLUICE_ID_MAX + 2];
        strcat(strcpy(needle, p->ids[k]), "\n");
        int runs = proc_count_file(ids, needle);
        acked += runs > 0;
        dup += runs > 1;
        if (runs > 0) continue;
        sluice_job_info ji;
        int queued = sluice_job_get(c, p->ids[k], &ji, NULL) == 0 && ji.state != SLUICE_JOB_UNKNOWN;
        if (queued) sluice_job_info_clear(&ji);
        if (!queued && p->ok[k]) lost++;
        if (!queued && !p->ok[k]) lost_unconfirmed++;
    }
    fprintf(stderr,
            "# ---- %s: enqueues with WAIT 1 ----\n"
            "#   enqueued   %6d\n"
            "#   confirmed  %6d   (WAIT 1 answered 1)\n"
            "#   acked      %6d   (distinct ids whose handler ran)\n"
            "#   lost       %6d   (confirmed, never ran, not queued; %d unconfirmed lost)\n"
            "#   duplicated %6d\n",
            title, n, atomic_load(&p->confirmed), acked, lost, lost_unconfirmed, dup);
    return lost;
}

#endif
