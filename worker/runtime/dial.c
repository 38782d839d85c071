/* Synchronous connections made on demand, with a backoff after a failed
 * connect (the hosted governor's and the job latency reports'). */

#define _DEFAULT_SOURCE
#include "runtime.h"

void rt_dial_init(rt_dial *d) {
    d->c = NULL;
    d->backoff = BACKOFF_MIN;
    d->retry_at = 0;
}

sluice_client *rt_dial_get(rt_dial *d, const char *url, const char *ns, double now, sluice_error *err) {
    if (d->c) return d->c;
    if (now < d->retry_at) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s", "waiting to reconnect");
        return NULL;
    }
    d->c = sluice_client_connect(url, ns, err);
    if (!d->c) {
        d->retry_at = now + rt_backoff_next(&d->backoff);
        return NULL;
    }
    d->backoff = BACKOFF_MIN;
    d->retry_at = 0;
    sluice_client_set_timeout(d->c, 1000, NULL);
    return d->c;
}

void rt_dial_close(rt_dial *d) {
    sluice_client_free(d->c);
    d->c = NULL;
}
