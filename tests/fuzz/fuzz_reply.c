/* libFuzzer target: the decoding of Function replies. The fuzz bytes are
 * read as RESP by hiredis's own reader (redisReaderFeed), and every reply it
 * builds goes through sluice_claim_parse and sluice_reply_check, as a worker's
 * async connection would hand them over. Jobs are freed, so LeakSanitizer
 * sees any job the decoder drops. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "sluice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const redisReply *r, size_t max) {
    sluice_job *jobs[SLUICE_BATCH_MAX];
    sluice_claim_info info;
    sluice_error err;
    int rc = sluice_claim_parse(r, max, jobs, &info, &err);
    if (rc == 0) {
        if (err.code != SLUICE_OK || info.count > max) abort();
        if (info.status != SLUICE_CLAIM_JOBS && info.count) abort();
        if (!memchr(info.why, '\0', sizeof(info.why)) || !memchr(info.id, '\0', sizeof(info.id))) abort();
        if (info.status != SLUICE_CLAIM_SUSPECT && info.id[0]) abort();
        for (size_t i = 0; i < info.count; i++) {
            const sluice_job *j = jobs[i];
            if (!j || strlen(sluice_job_payload(j)) > sluice_job_payload_len(j)) abort();
            if (strlen(sluice_job_id(j)) >= SLUICE_ID_MAX || strlen(sluice_job_class(j)) >= SLUICE_ID_MAX) abort();
            if (sluice_job_reclaims(j) < 0) abort();
            (void)sluice_job_attempt(j);
            (void)sluice_job_token(j);
            sluice_job_free(jobs[i]);
        }
    } else {
        if (err.code == SLUICE_OK || !err.text[0] || strchr(err.text, '\n') || info.count) abort();
    }
    rc = sluice_reply_check(r, "fuzz", &err);
    if ((rc == 0) != (r && r->type != REDIS_REPLY_ERROR)) abort();
    if (rc < 0 && (err.code == SLUICE_OK || strchr(err.text, '\n') || strchr(err.text, '\r'))) abort();
}

/* hiredis 0.14's reader allocates an array's element table as soon as it
 * reads the header ("*277777777" asks for 2 GB before one element arrived):
 * hiredis's behaviour, not sluice's, so such headers are left out. */
static int huge_array(const uint8_t *data, size_t size) {
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '*') continue;
        unsigned long n = 0;
        for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9' && n <= 65536; j++)
            n = n * 10 + (unsigned long)(data[j] - '0');
        if (n > 65536) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || huge_array(data, size)) return 0;
    /* the first byte picks max (1..256, 0 for 1000); the rest is RESP */
    size_t max = data[0] ? data[0] : SLUICE_BATCH_MAX;
    redisReader *rd = redisReaderCreate();
    if (!rd) abort();
    if (redisReaderFeed(rd, (const char *)data + 1, size - 1) == REDIS_OK) {
        for (int k = 0; k < 64; k++) {
            void *r = NULL;
            if (redisReaderGetReply(rd, &r) != REDIS_OK || !r) break;
            decode(r, max);
            freeReplyObject(r);
        }
    }
    redisReaderFree(rd);
    decode(NULL, max);
    return 0;
}
