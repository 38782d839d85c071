/* sluice-bench: job throughput on one Redis, for `make bench`.
 * usage: sluice-bench URL [SCALE]   (SCALE multiplies the job counts, default 1)
 * Prints one "name jobs/s" line per measure; scripts/bench.sh sets them
 * beside redis-benchmark's figures from the same server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const sluice_error *err) {
    fprintf(stderr, "sluice-bench: %s: %s\n", what, err->text);
    exit(1);
}

static void declare(sluice_client *c, const char *cls, sluice_tier tier) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = tier;
    if (tier != SLUICE_TIER_CRITICAL) {
        /* a gate wide open: every check runs, none binds */
        cfg.max_rate = 1e9;
        cfg.max_concurrency = 1000000;
    }
    sluice_error err;
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) die("class set", &err);
}

static void fill(sluice_client *c, const char *cls, size_t n, const char **payloads) {
    sluice_error err;
    for (size_t off = 0; off < n; off += 10000) {
        size_t k = n - off < 10000 ? n - off : 10000;
        if (sluice_enqueue_many(c, cls, k, payloads, NULL, 0, NULL, NULL, &err) < 0) die("enqueue", &err);
    }
}

/* Claims in batches of 100 and acks each job: jobs/s. */
static double drain(sluice_client *c, const char *cls, size_t n) {
    sluice_error err;
    size_t done = 0;
    double t0 = now_s();
    while (done < n) {
        sluice_job *jobs[100];
        sluice_claim_info info;
        if (sluice_claim(c, cls, "bench", 100, jobs, &info, &err) < 0) die("claim", &err);
        if (info.count == 0) die("claim", &(sluice_error){SLUICE_ERR_STATE, "ran dry or throttled"});
        for (size_t i = 0; i < info.count; i++) {
            if (sluice_ack(c, sluice_job_id(jobs[i]), sluice_job_token(jobs[i]), &err) < 0) die("ack", &err);
            sluice_job_free(jobs[i]);
        }
        done += info.count;
    }
    return (double)done / (now_s() - t0);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: sluice-bench URL [SCALE]\n");
        return argc < 2 ? 2 : 0;
    }
    double scale = argc > 2 ? strtod(argv[2], NULL) : 1;
    if (!(scale > 0 && scale <= 100)) scale = 1;
    size_t single = (size_t)(20000 * scale), bulk = (size_t)(200000 * scale), drained = (size_t)(50000 * scale);
    sluice_error err;
    sluice_client *c = sluice_client_connect(argv[1], "bench", &err);
    if (!c) die("connect", &err);
    declare(c, "ungated", SLUICE_TIER_CRITICAL);
    declare(c, "gated", SLUICE_TIER_NORMAL);

    const char **payloads = malloc(sizeof(*payloads) * 10000);
    for (size_t i = 0; i < 10000; i++) payloads[i] = "{\"user\":12345,\"course\":\"intro-101\"}";

    char id[SLUICE_ID_MAX];
    double t0 = now_s();
    for (size_t i = 0; i < single; i++)
        if (sluice_enqueue(c, "ungated", payloads[0], NULL, id, &err) < 0) die("enqueue", &err);
    printf("enqueue_single %.0f\n", (double)single / (now_s() - t0));

    t0 = now_s();
    fill(c, "ungated", bulk, payloads);
    printf("enqueue_bulk %.0f\n", (double)bulk / (now_s() - t0));

    /* Alternate the two paths, best of three each, so drift hits both. */
    double best_u = 0, best_g = 0;
    drain(c, "ungated", single + bulk); /* empty it */
    for (int round = 0; round < 3; round++) {
        fill(c, "ungated", drained, payloads);
        fill(c, "gated", drained, payloads);
        double u = drain(c, "ungated", drained), g = drain(c, "gated", drained);
        if (u > best_u) best_u = u;
        if (g > best_g) best_g = g;
    }
    printf("claim_ack_ungated %.0f\n", best_u);
    printf("claim_ack_gated %.0f\n", best_g);
    free(payloads);
    sluice_client_free(c);
    return 0;
}
