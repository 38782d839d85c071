/* The /proc/diskstats parser and iostat's rates, on the fixture pair in
 * tests/fixtures/diskstats/ (two readings 2000 ms apart). No server. Run
 * from the top of the tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../worker/sluice-worker/diskstats.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (run from the top of the tree)", path);
    static char buf[2][8192];
    static int k;
    k ^= 1;
    size_t n = fread(buf[k], 1, sizeof(buf[k]) - 1, f);
    buf[k][n] = '\0';
    fclose(f);
    return buf[k];
}

static void read_pair(const char *dev, sluice_diskstats *a, sluice_diskstats *b) {
    sluice_error err;
    if (sluice_diskstats_parse(slurp("tests/fixtures/diskstats/before"), dev, a, &err) < 0) fail_msg("%s", err.text);
    if (sluice_diskstats_parse(slurp("tests/fixtures/diskstats/after"), dev, b, &err) < 0) fail_msg("%s", err.text);
}

static void the_fixture_pair_gives_the_iops_util_and_await_of_iostats_formulas(void **state) {
    (void)state;
    sluice_diskstats a, b;
    read_pair("vda", &a, &b);
    assert_int_equal(a.reads, 120000);
    assert_int_equal(a.writes, 80000);
    assert_int_equal(a.io_ms, 150000);
    assert_int_equal(b.reads, 120600);
    sluice_disk_rates r;
    assert_int_equal(sluice_disk_rates_compute(&a, &b, 2000.0, &r, NULL), 0);
    /* iostat -x over 2 s: r/s = (120600-120000)/2, w/s = (80400-80000)/2 */
    double rs = (120600.0 - 120000.0) / 2.0, ws = (80400.0 - 80000.0) / 2.0;
    /* %util = Δio_ticks / Δt_ms × 100 = (151500-150000) / 2000 × 100 */
    double util = (151500.0 - 150000.0) / 2000.0 * 100.0;
    /* await = Δ(rd_ticks + wr_ticks) / Δ(rd_ios + wr_ios) = (1800+3200) / (600+400) */
    double await = ((61800.0 - 60000.0) + (163200.0 - 160000.0)) / (600.0 + 400.0);
    assert_float_equal(r.read_iops, rs, 1e-9);
    assert_float_equal(r.write_iops, ws, 1e-9);
    assert_float_equal(r.iops, 500.0, 1e-9);
    assert_float_equal(r.iops, rs + ws, 1e-9);
    assert_float_equal(r.util, 75.0, 1e-9);
    assert_float_equal(r.util, util, 1e-9);
    assert_float_equal(r.await_ms, 5.0, 1e-9);
    assert_float_equal(r.await_ms, await, 1e-9);
    assert_float_equal(sluice_disk_rates_get(&r, SLUICE_DISK_UTIL), 75.0, 1e-9);
    assert_float_equal(sluice_disk_rates_get(&r, SLUICE_DISK_IOPS), 500.0, 1e-9);
    assert_float_equal(sluice_disk_rates_get(&r, SLUICE_DISK_AWAIT), 5.0, 1e-9);
}

static void a_partition_and_other_devices_are_not_mistaken_for_the_device(void **state) {
    (void)state;
    sluice_diskstats a, b;
    read_pair("vda1", &a, &b);
    assert_int_equal(a.reads, 119000);
    sluice_disk_rates r;
    assert_int_equal(sluice_disk_rates_compute(&a, &b, 1000.0, &r, NULL), 0);
    assert_float_equal(r.iops, 500.0 + 300.0, 1e-9);
    assert_float_equal(r.util, 100.0, 1e-9);   /* 1200 busy ms in 1000 ms: capped, as the clocks differ */
    /* an 11-counter line (kernels before 4.18) */
    read_pair("vdb", &a, &b);
    assert_int_equal(a.reads, 10);
    assert_int_equal(a.io_ms, 8);
}

static void an_idle_device_has_zero_iops_util_and_await(void **state) {
    (void)state;
    sluice_diskstats a, b;
    read_pair("loop0", &a, &b);
    sluice_disk_rates r;
    assert_int_equal(sluice_disk_rates_compute(&a, &b, 1000.0, &r, NULL), 0);
    assert_float_equal(r.iops, 0, 0);
    assert_float_equal(r.util, 0, 0);
    assert_float_equal(r.await_ms, 0, 0);   /* no I/O completed: 0, not NaN */
}

static void a_missing_device_or_a_malformed_line_is_an_error_not_a_zero(void **state) {
    (void)state;
    sluice_diskstats d;
    memset(&d, 0xab, sizeof(d));
    sluice_diskstats before = d;
    sluice_error err;
    assert_int_equal(sluice_diskstats_parse(slurp("tests/fixtures/diskstats/before"), "sdz", &d, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_NOT_FOUND);
    assert_memory_equal(&d, &before, sizeof(d));
    const char *bad[] = {
        "252 0 vda 1 2 3 4 5 6 7 8 9 10\n",              /* 10 counters */
        "252 0 vda 1 2 3 4 5 6 7 8 9 10 x\n",            /* not a number */
        "252 0 vda 1 2 3 -4 5 6 7 8 9 10 11\n",          /* a sign */
        "252 0 vda 1 2 3 4 5 6 7 8 9 10 99999999999999999999999\n", /* overflow */
        "252 0 vda 1 2 3 4 5 6 7 8 9 10 11 junk\n",      /* trailing garbage */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_diskstats_parse(bad[i], "vda", &d, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    }
    assert_int_equal(sluice_diskstats_parse("", "vda", &d, &err), -1);
    assert_int_equal(sluice_diskstats_parse("252 0 vda 1 2 3 4 5 6 7 8 9 10 11", "", &d, &err), -1);
    /* the last line may lack its newline */
    assert_int_equal(sluice_diskstats_parse("1 0 x 0 0 0 0 0 0 0 0 0 0 0\n252 0 vda 1 2 3 4 5 6 7 8 9 10 11", "vda", &d, &err), 0);
    assert_int_equal(d.weighted_io_ms, 11);
}

static void counters_that_went_backwards_or_no_elapsed_time_give_no_rate(void **state) {
    (void)state;
    sluice_diskstats a, b;
    read_pair("vda", &a, &b);
    sluice_disk_rates r;
    sluice_error err;
    assert_int_equal(sluice_disk_rates_compute(&b, &a, 2000.0, &r, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_non_null(strstr(err.text, "backwards"));
    assert_int_equal(sluice_disk_rates_compute(&a, &b, 0.0, &r, &err), -1);
    assert_int_equal(sluice_disk_rates_compute(&a, &b, -5.0, &r, &err), -1);
}

static void measure_names_parse_strictly(void **state) {
    (void)state;
    sluice_disk_measure m;
    assert_int_equal(sluice_disk_measure_parse("util", &m), 0);
    assert_int_equal(m, SLUICE_DISK_UTIL);
    assert_int_equal(sluice_disk_measure_parse("iops", &m), 0);
    assert_int_equal(m, SLUICE_DISK_IOPS);
    assert_int_equal(sluice_disk_measure_parse("await", &m), 0);
    assert_int_equal(m, SLUICE_DISK_AWAIT);
    assert_int_equal(sluice_disk_measure_parse("UTIL", &m), -1);
    assert_int_equal(sluice_disk_measure_parse("", &m), -1);
    assert_int_equal(sluice_disk_measure_parse(NULL, &m), -1);
    assert_string_equal(sluice_disk_measure_name(SLUICE_DISK_AWAIT), "await");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_fixture_pair_gives_the_iops_util_and_await_of_iostats_formulas),
        cmocka_unit_test(a_partition_and_other_devices_are_not_mistaken_for_the_device),
        cmocka_unit_test(an_idle_device_has_zero_iops_util_and_await),
        cmocka_unit_test(a_missing_device_or_a_malformed_line_is_an_error_not_a_zero),
        cmocka_unit_test(counters_that_went_backwards_or_no_elapsed_time_give_no_rate),
        cmocka_unit_test(measure_names_parse_strictly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
