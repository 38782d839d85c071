/* Private to sluice-worker (its disk sampler): the counters of one block
 * device from Linux's
 * /proc/diskstats, and the rates iostat derives from two readings. Pure:
 * text in, numbers out; the caller reads the file and the clock (the disk
 * sampler of sluice-worker does both).
 *
 * A line of /proc/diskstats is "major minor name" and then at least 11
 * counters (Documentation/admin-guide/iostats.rst; 4.18 added 4 discard
 * fields, 5.5 two flush fields, both ignored here). The rates, for two
 * readings "before" and "after" taken "elapsed_ms" apart, are iostat's
 * (sysstat, `iostat -x`):
 *
 *   iops     = (Δreads + Δwrites) / Δt            r/s + w/s
 *   util     = Δio_ms / Δt_ms × 100               %util, capped at 100
 *   await_ms = Δ(read_ms + write_ms) / Δ(reads + writes)
 *                                                 await; 0 when no I/O completed
 *
 * A counter that went backwards (the device was removed and re-added, or a
 * 32-bit counter wrapped) makes the pair unusable: an error, never a rate. */
#ifndef SLUICE_DISKSTATS_H
#define SLUICE_DISKSTATS_H

#include <stdint.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The counters of one device (fields 1..11 of its line). */
typedef struct sluice_diskstats {
    uint64_t reads;            /* reads completed */
    uint64_t reads_merged;
    uint64_t sectors_read;
    uint64_t read_ms;          /* ms spent reading (sum over requests) */
    uint64_t writes;           /* writes completed */
    uint64_t writes_merged;
    uint64_t sectors_written;
    uint64_t write_ms;         /* ms spent writing */
    uint64_t in_flight;        /* I/Os in progress now (not a counter) */
    uint64_t io_ms;            /* ms the device had I/O in progress (io_ticks) */
    uint64_t weighted_io_ms;   /* ms, weighted by I/Os in progress */
} sluice_diskstats;

/* What one sampler reports. */
typedef enum sluice_disk_measure {
    SLUICE_DISK_UTIL = 0,      /* % busy */
    SLUICE_DISK_IOPS,          /* completed reads + writes per second */
    SLUICE_DISK_AWAIT          /* ms per completed I/O */
} sluice_disk_measure;

/* "util", "iops", "await" <-> the enum. parse returns 0, or -1. */
int sluice_disk_measure_parse(const char *s, sluice_disk_measure *out);
const char *sluice_disk_measure_name(sluice_disk_measure m);

/* Finds "device" (e.g. "vda", "nvme0n1"; the third column) in "text", the
 * content of /proc/diskstats, and reads its counters into *out. Lines of
 * other devices are not looked at beyond their name. Returns 0, or -1 with
 * SLUICE_ERR_NOT_FOUND (no such device) or SLUICE_ERR_ARGUMENT (its line is
 * malformed: fewer than 11 counters, or one not a decimal integer). */
int sluice_diskstats_parse(const char *text, const char *device, sluice_diskstats *out,
                           sluice_error *err);

typedef struct sluice_disk_rates {
    double read_iops, write_iops;  /* per second */
    double iops;                   /* read_iops + write_iops */
    double util;                   /* percent, [0, 100] */
    double await_ms;               /* ms */
} sluice_disk_rates;

/* The rates between two readings of the same device "elapsed_ms" (> 0)
 * apart. Returns 0, or -1 with SLUICE_ERR_ARGUMENT (elapsed_ms not positive,
 * or a counter went backwards). */
int sluice_disk_rates_compute(const sluice_diskstats *before, const sluice_diskstats *after,
                              double elapsed_ms, sluice_disk_rates *out, sluice_error *err);

/* The rate that "m" names. */
double sluice_disk_rates_get(const sluice_disk_rates *r, sluice_disk_measure m);

#ifdef __cplusplus
}
#endif
#endif
