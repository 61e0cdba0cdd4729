/* test_smtpd_scan.c - the DATA scanner (smtpd_data.c) against a plain reference: random
 * bodies full of dots, CRs and LFs, fed in random chunk sizes, must give the same stored
 * message, size and end position; inputs without a line end for long stretches too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/dbuf.h"
#include "server/smtpd_int.h"

/* ref_scan - the rules of smtpd_data.c written out byte by byte: the canonical body of
 * in[0..n) and, in *used, where the end marker ends (n when there is none) */
static void ref_scan(const uint8_t *in, size_t n, dbuf *out, size_t *used)
{
    int bol = 1, bol_lf = 0;   /* at a line start after CRLF / after a bare LF */
    size_t i = 0;
    while (i < n) {
        if ((bol || bol_lf) && in[i] == '.') {
            if (bol && i + 2 < n + 0 && in[i + 1] == '\r' && in[i + 2] == '\n') {
                *used = i + 3;
                return;
            }
            i++;   /* a stuffed dot */
            bol = bol_lf = 0;
            continue;
        }
        bol = bol_lf = 0;
        if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') {
            dbuf_put(out, "\r\n", 2);
            i += 2;
            bol = 1;
        } else if (in[i] == '\n') {
            dbuf_put(out, "\r\n", 2);
            i++;
            bol_lf = 1;
        } else {
            dbuf_put(out, &in[i], 1);
            i++;
        }
    }
    *used = n;
}

/* scan_chunked - smtpd_scan_feed over chunks of the given sizes (cycled) */
static void scan_chunked(const uint8_t *in, size_t n, const size_t *sizes, size_t nsizes,
                         dbuf *out, size_t *used, int *done)
{
    smtpd_scan sc;
    memset(&sc, 0, sizeof sc);
    smtpd_scan_init(&sc, 0, 0);
    size_t off = 0, k = 0;
    *done = 0;
    while (off < n && !*done) {
        size_t len = sizes[k++ % nsizes];
        if (len > n - off)
            len = n - off;
        size_t got = smtpd_scan_feed(&sc, in + off, len, done);
        assert_true(got <= len);
        assert_true(got == len || *done);
        off += got;
    }
    *used = off;
    dbuf_put(out, sc.body.data, sc.body.len);
    assert_int_equal(sc.size, (int64_t)sc.body.len);
    smtpd_scan_free(&sc);
}

/* check - one input against the reference, in several chunkings */
static void check(const uint8_t *in, size_t n)
{
    static const size_t c1[] = {1}, c2[] = {3, 1, 700, 2}, c3[] = {16384}, c4[] = {255, 256, 257};
    static const struct { const size_t *s; size_t n; } ways[] = {{c1, 1}, {c2, 4}, {c3, 1}, {c4, 3}};
    dbuf want = {0};
    size_t want_used;
    ref_scan(in, n, &want, &want_used);
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        dbuf got = {0};
        size_t used;
        int done;
        scan_chunked(in, n, ways[w].s, ways[w].n, &got, &used, &done);
        if (want_used < n || (want_used == n && done)) {
            assert_true(done);
            assert_int_equal(used, want_used);
        }
        /* without an end marker the scanner may hold back a CR or a leading dot */
        size_t cmp = done ? want.len : (got.len < want.len ? got.len : want.len);
        assert_true(want.len - cmp <= 2);
        assert_memory_equal(got.data, want.data, cmp);
        dbuf_free(&got);
    }
    dbuf_free(&want);
}

/* test_scan_random - bodies drawn from ".\r\na", with and without an end marker */
static void test_scan_random(void **state)
{
    (void)state;
    uint32_t seed = 4242;
    static const char alphabet[] = ".\r\n.ab\r\nc";
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + (size_t)(round * 37 % 3000);
        uint8_t *in = malloc(n + 5);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            in[i] = (uint8_t)alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        if (round % 2) {   /* half of them end properly */
            memcpy(in + n, "\r\n.\r\n", 5);
            n += 5;
        }
        check(in, n);
        free(in);
    }
}

/* test_scan_long_runs - long stretches without CR, without LF, or with only CRs: the
 * windowed search must neither lose nor double a byte at a window's edge */
static void test_scan_long_runs(void **state)
{
    (void)state;
    size_t n = 40000;
    uint8_t *in = malloc(n + 5);
    for (int kind = 0; kind < 3; kind++) {
        for (size_t i = 0; i < n; i++)
            in[i] = kind == 0 ? (uint8_t)('a' + i % 26)                       /* no line end */
                  : kind == 1 ? (uint8_t)(i % 300 == 299 ? '\n' : 'x')        /* bare LFs */
                              : (uint8_t)(i % 3 == 0 ? '\r' : 'y');           /* bare CRs */
        memcpy(in + n, "\r\n.\r\n", 5);
        check(in, n + 5);
    }
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_random),
        cmocka_unit_test(test_scan_long_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
