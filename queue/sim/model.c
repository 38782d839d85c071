/* The simulator's world: counter-based random streams, the interactive
 * demand trace, background arrivals and the latency mixture's quantiles. */
#include <math.h>
#include <stdint.h>

#include "sim.h"

#define PI 3.14159265358979323846

/* ================================================================ random */

static uint64_t mix(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64 keyed by the whole tuple: a number depends on nothing but its
 * key, so the order in which policies draw cannot change the traffic. */
static uint64_t key(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return mix(mix(mix(mix(seed) ^ stream) ^ a) ^ b);
}

double rng_uniform(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return (double)(key(seed, stream, a, b) >> 11) * 0x1.0p-53;
}

double rng_normal(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    double u1 = rng_uniform(seed, stream, a, 2 * b);
    double u2 = rng_uniform(seed, stream, a, 2 * b + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * PI * u2);
}

int64_t rng_poisson(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b, double mean)
{
    if (!(mean > 0)) return 0;
    if (mean > 30) {
        double x = mean + sqrt(mean) * rng_normal(seed, stream, a, b);
        return x < 0 ? 0 : (int64_t)llround(x);
    }
    /* Knuth: count uniforms until their product falls below e^-mean. */
    double limit = exp(-mean), prod = 1.0;
    int64_t k = 0;
    for (;;) {
        prod *= rng_uniform(seed, stream, a, (b << 8) ^ (uint64_t)k);
        if (prod <= limit || k >= 255) return k;
        k++;
    }
}

/* ================================================================ demand */

static double profile(const sluice_sim_scenario *s, double hour)
{
    for (size_t i = 1; i < s->npoints; i++) {
        if (hour <= s->point_h[i]) {
            double h0 = s->point_h[i - 1], h1 = s->point_h[i];
            double a = h1 > h0 ? (hour - h0) / (h1 - h0) : 1.0;
            return s->point_f[i - 1] + a * (s->point_f[i] - s->point_f[i - 1]);
        }
    }
    return s->point_f[s->npoints - 1];
}

/* The daily profile repeats every 24 h; spikes are at absolute times; the
 * noise is one draw per second, so a second's demand is the same whatever
 * the step. */
double model_interactive(const sluice_sim_scenario *s, int64_t t_ms)
{
    int64_t sec = t_ms / 1000;
    double hour = (double)(t_ms % 86400000) / 3600000.0;
    double f = profile(s, hour);
    for (size_t i = 0; i < s->nspikes; i++)
        if (sec >= s->spikes[i].at_s && sec < s->spikes[i].at_s + s->spikes[i].duration_s)
            f += s->spikes[i].add;
    if (s->noise > 0) f *= 1.0 + s->noise * rng_normal(s->seed, STREAM_NOISE, 0, (uint64_t)sec);
    return f > 0 ? f * s->capacity : 0.0;
}

int64_t model_arrivals(const sluice_sim_scenario *s, size_t ci, size_t ai, int64_t sec)
{
    const sim_arrival *a = &s->classes[ci].arr[ai];
    switch (a->kind) {
    case ARR_POISSON:
        if (sec < a->start_s || sec >= a->end_s) return 0;
        return rng_poisson(s->seed, STREAM_ARRIVAL, (uint64_t)(ci * SIM_MAX_ARRIVALS + ai),
                           (uint64_t)sec, a->rate);
    case ARR_BATCH:
        return sec == a->at_s ? a->jobs : 0;
    case ARR_EVERY:
        if (sec < a->start_s || sec >= a->end_s) return 0;
        return (sec - a->start_s) % a->period_s == 0 ? a->jobs : 0;
    }
    return 0;
}

/* ================================================================ latency */

static double tail(const lat_comp *comps, size_t n, double x, double wsum)
{
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        const lat_comp *c = &comps[i];
        if (c->w <= 0) continue;
        t += c->w * (x < c->d ? 1.0 : exp(-(x - c->d) / c->m));
    }
    return t / wsum;
}

double model_quantile(const lat_comp *comps, size_t n, double q)
{
    double wsum = 0, hi = 0, want = 1.0 - q;
    for (size_t i = 0; i < n; i++) {
        if (comps[i].w <= 0) continue;
        wsum += comps[i].w;
        /* Every component's own q-quantile bounds the mixture's from above. */
        double x = comps[i].d + comps[i].m * log(1.0 / want);
        if (x > hi) hi = x;
    }
    if (wsum <= 0) return 0.0;
    double lo = 0;
    for (int it = 0; it < 60 && hi - lo > 1e-6 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (tail(comps, n, mid, wsum) > want)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}
