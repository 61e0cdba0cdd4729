/* test_config.c - the configuration: defaults, file, -o overrides, Postfix units, lists,
 * errors with file and line; and the value parsers under it (units, netaddr, cidr, qid). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/netaddr.h"
#include "common/qid.h"
#include "common/units.h"
#include "config/config.h"

static void test_time_units(void **state)
{
    (void)state;
    struct { const char *in; char unit; int64_t ms; } good[] = {
        {"300s", 's', 300000}, {"5m", 's', 300000}, {"1h", 's', 3600000}, {"5d", 's', 432000000},
        {"1w", 's', 604800000}, {"300", 's', 300000}, {"5", 'd', 432000000}, {"0.5s", 's', 500},
        {"1.5h", 's', 5400000}, {"0", 's', 0}, {"4000s", 's', 4000000}, {"2H", 's', 7200000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(units_parse_time(good[i].in, good[i].unit, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    const char *bad[] = {"", "s", "-5s", "5x", "5ss", "5 s", "nan", "inf", "1e400s", "9999999999999w"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        assert_int_equal(units_parse_time(bad[i], 's', &ms), -1);
    }
    char buf[32];
    assert_string_equal(units_format_ms(300000, buf, sizeof buf), "5m");
    assert_string_equal(units_format_ms(4000000, buf, sizeof buf), "4000s");
    assert_string_equal(units_format_ms(500, buf, sizeof buf), "0.5s");
    assert_string_equal(units_format_ms(432000000, buf, sizeof buf), "5d");
    /* exact, and read back as the same value (fuzz_units: "%.3g" printed 1.23s, 1.23e+06s) */
    static const int64_t exact[] = {1234, 1234567500, 10, 1, 0, 150002758075220};
    static const char *const text[] = {"1.234s", "1234567.5s", "0.01s", "0.001s", "0s", "150002758075.22s"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        int64_t back = -1;
        assert_string_equal(units_format_ms(exact[i], buf, sizeof buf), text[i]);
        assert_int_equal(units_parse_time(buf, 's', &back), 0);
        assert_int_equal(back, exact[i]);
    }
}

static void test_sizes_and_bools(void **state)
{
    (void)state;
    int64_t b;
    assert_int_equal(units_parse_size("10240000", &b), 0);
    assert_int_equal(b, 10240000);
    assert_int_equal(units_parse_size("64m", &b), 0);
    assert_int_equal(b, 64 << 20);
    assert_int_equal(units_parse_size("4KB", &b), 0);
    assert_int_equal(b, 4096);
    assert_int_equal(units_parse_size("12q", &b), -1);
    assert_int_equal(units_parse_size("-1", &b), -1);
    assert_int_equal(units_parse_size("99999999999999999999", &b), -1);
    assert_int_equal(units_parse_bool("yes"), 1);
    assert_int_equal(units_parse_bool("Off"), 0);
    assert_int_equal(units_parse_bool("maybe"), -1);
}

static void test_netaddr_and_cidr(void **state)
{
    (void)state;
    netaddr a;
    const char *err;
    char buf[NETADDR_STRLEN];
    assert_int_equal(netaddr_parse("127.0.0.1:2525", 0, &a, &err), 0);
    assert_string_equal(netaddr_format((struct sockaddr *)&a.ss, buf, sizeof buf), "127.0.0.1:2525");
    assert_int_equal(netaddr_parse("[::1]:25", 0, &a, &err), 0);
    assert_string_equal(netaddr_format((struct sockaddr *)&a.ss, buf, sizeof buf), "[::1]:25");
    assert_int_equal(netaddr_parse("::1", 25, &a, &err), 0);
    assert_int_equal(netaddr_port((struct sockaddr *)&a.ss), 25);
    assert_int_equal(netaddr_parse("127.0.0.1", 0, &a, &err), -1);
    assert_int_equal(netaddr_parse("127.0.0.1:99999", 0, &a, &err), -1);
    assert_int_equal(netaddr_parse("mail.example.com:25", 0, &a, &err), -1);
    assert_int_equal(netaddr_parse("[::1:25", 0, &a, &err), -1);

    cidr c;
    netaddr in, out, mapped;
    assert_int_equal(cidr_parse("127.0.0.0/8", &c), 0);
    netaddr_parse("127.1.2.3:1", 0, &in, &err);
    netaddr_parse("128.0.0.1:1", 0, &out, &err);
    netaddr_parse("[::ffff:127.0.0.9]:1", 0, &mapped, &err);
    assert_true(cidr_match(&c, (struct sockaddr *)&in.ss));
    assert_false(cidr_match(&c, (struct sockaddr *)&out.ss));
    assert_true(cidr_match(&c, (struct sockaddr *)&mapped.ss));   /* v4-mapped counts as v4 */
    assert_int_equal(cidr_parse("[::1]/128", &c), 0);
    assert_false(cidr_match(&c, (struct sockaddr *)&in.ss));
    assert_int_equal(cidr_parse("10.0.0.0/33", &c), -1);
    assert_int_equal(cidr_parse("10.0.0.0/", &c), -1);
    assert_int_equal(cidr_parse("300.0.0.0/8", &c), -1);
    assert_int_equal(cidr_parse("192.168.1.0/23", &c), 0);
    netaddr_parse("192.168.0.200:1", 0, &in, &err);
    assert_true(cidr_match(&c, (struct sockaddr *)&in.ss));
}

static void test_qid(void **state)
{
    (void)state;
    char s[QID_LEN + 1], t[QID_LEN + 1];
    qid_t prev = qid_next();
    for (int i = 0; i < 10000; i++) {
        qid_t q = qid_next();
        assert_true(q > prev);
        qid_format(prev, s);
        qid_format(q, t);
        assert_true(strcmp(s, t) < 0);   /* sortable as text */
        prev = q;
    }
    qid_t back;
    assert_int_equal(qid_parse(t, &back), 0);
    assert_int_equal(back, prev);
    assert_int_equal(qid_parse("TOOSHORT", &back), -1);
    assert_int_equal(qid_parse("01K1AGWVR84U", &back), -1);   /* U is not Crockford */
    qid_observe(prev + 1000000);
    assert_true(qid_next() > prev + 1000000);
}

/* load - config from text with overrides; NULL and err on failure */
static sl_config *load(const char *text, char **ov, int n, char *err)
{
    return config_load_text(text, "test.conf", ov, n, err, 512);
}

static void test_defaults_and_overrides(void **state)
{
    (void)state;
    char err[512];
    char *ov[] = {"smtpd_timeout=5m", "listen=127.0.0.1:2525, [::1]:2526", "myhostname=mx.example.com"};
    sl_config *c = load("queue_directory = \"/tmp/q\";\nsmtpd_timeout = \"1h\";\n"
                        "mynetworks = [\"10.0.0.0/8\", \"192.168.0.0/16\"];\n"
                        "message_size_limit = 20000;\n", ov, 3, err);
    assert_non_null(c);
    assert_string_equal(c->queue_directory, "/tmp/q");
    assert_int_equal(c->smtpd_timeout_ms, 300000);            /* -o wins over the file */
    assert_int_equal(c->message_size_limit, 20000);
    assert_int_equal(c->n_listen_addrs, 2);
    assert_int_equal(c->n_mynetworks_cidr, 2);
    assert_string_equal(c->myorigin, "mx.example.com");       /* defaults to myhostname */
    assert_int_equal(c->smtpd_recipient_limit, 1000);         /* Postfix's defaults */
    assert_int_equal(c->smtpd_client_connection_count_limit, 50);
    assert_string_equal(c->smtpd_tls_security_level, "none");
    char *v = config_param_value(c, "listen");
    assert_string_equal(v, "127.0.0.1:2525, [::1]:2526");
    free(v);
    config_free(c);
    c = load("", NULL, 0, err);   /* no file at all: built-in defaults */
    assert_non_null(c);
    assert_string_equal(c->queue_directory, "/var/spool/sluice");
    assert_int_equal(c->n_mynetworks_cidr, 2);
    config_free(c);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    struct { const char *text; char *ov; const char *want; } cases[] = {
        {"a = 1;\n", NULL, "test.conf:1: unknown parameter 'a'"},
        {"\n\nsmtpd_timeout = \"10 minutes\";\n", NULL, "test.conf:3: smtpd_timeout"},
        {"listen = \"localhost:25\";\n", NULL, "test.conf:1: listen"},
        {"queue_directory = \"relative/path\";\n", NULL, "must be an absolute path"},
        {"smtpd_recipient_limit = 0;\n", NULL, "out of range"},
        {"x = ;\n", NULL, "test.conf:1:"},
        {"", "nosuch=1", "-o nosuch=1: unknown parameter"},
        {"", "smtpd_timeout", "expected name=value"},
        {"", "mynetworks=10.0.0.0/8, bogus", "-o mynetworks=10.0.0.0/8, bogus"},
        {"smtpd_tls_cert_file = \"/x.pem\";\n", NULL, "go together"},
        {"smtpd_tls_security_level = \"encrypt\";\n", NULL, "needs smtpd_tls_cert_file"},
        {"smtpd_banner = { a = 1; };\n", NULL, "not a group"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        char *ov[1] = {cases[i].ov};
        sl_config *c = load(cases[i].text, ov, cases[i].ov ? 1 : 0, err);
        if (c || !strstr(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, c ? "(loaded)" : err, cases[i].want);
    }
}

static void test_postfix_default_units(void **state)
{
    (void)state;
    char err[512];
    sl_config *c = load("smtpd_timeout = 300;\nsmtpd_error_sleep_time = \"2\";\n", NULL, 0, err);
    assert_non_null(c);
    assert_int_equal(c->smtpd_timeout_ms, 300000);   /* a bare number is seconds here */
    assert_int_equal(c->smtpd_error_sleep_time_ms, 2000);
    config_free(c);
}

/* large integers: libconfig 1.5 would wrap them to 32 bits; they must arrive as written,
 * from a file as from text, and nothing inside strings or comments may change */
static void test_large_integers(void **state)
{
    (void)state;
    struct { const char *in, *out; } widen[] = {
        {"a = 5000000000;", "a = 5000000000L;"},
        {"a = -5000000000;", "a = -5000000000L;"},
        {"a = 2147483647; b = 2147483648;", "a = 2147483647L; b = 2147483648L;"},   /* all */
        {"a = 0x1ffffffff;", "a = 0x1ffffffffL;"},
        {"a = 5000000000L; b = 5e10; c = 1.5; d = 1.0e+50; e = 2E-7;",
         "a = 5000000000L; b = 5e10; c = 1.5; d = 1.0e+50; e = 2E-7;"},
        {"a = \"5000000000\"; # 5000000000\n", "a = \"5000000000\"; # 5000000000\n"},
        {"a = \"x\\\"5000000000\"; /* 5000000000 */ b = [1, 3000000000];",
         "a = \"x\\\"5000000000\"; /* 5000000000 */ b = [1L, 3000000000L];"},   /* one type */
        {"smtp_bind_address6 = 1; x5000000000 = 2;", "smtp_bind_address6 = 1L; x5000000000 = 2L;"},
    };
    for (size_t i = 0; i < sizeof widen / sizeof widen[0]; i++) {
        char *w = config_widen_ints(widen[i].in);
        if (strcmp(w, widen[i].out) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, w, widen[i].out);
        free(w);
    }
    assert_int_equal(config_has_include("a = 1;\n  @include \"x.conf\"\n"), 2);
    assert_int_equal(config_has_include("/* @include \"x\"\n@include \"y\" */\n# @include\n"
                                        "a = \"\n@include\";\n"), 0);
    char err[512];
    sl_config *c = load("mynetworks = [\"10.0.0.0/8\"];\nsmtp_mx_address_limit = 5;\n"
                        "message_size_limit = 5000000000;\nqueue_minfree = 3000000000;\n", NULL, 0,
                        err);
    assert_non_null(c);
    assert_int_equal(c->message_size_limit, 5000000000LL);
    assert_int_equal(c->queue_minfree, 3000000000LL);
    config_free(c);
    char path[] = "/tmp/sluice-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "queue_minfree = 6000000000; # bytes\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    c = config_load(path, NULL, 0, err, sizeof err);
    unlink(path);
    assert_non_null(c);
    assert_int_equal(c->queue_minfree, 6000000000LL);
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_units),
        cmocka_unit_test(test_sizes_and_bools),
        cmocka_unit_test(test_netaddr_and_cidr),
        cmocka_unit_test(test_qid),
        cmocka_unit_test(test_defaults_and_overrides),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_postfix_default_units),
        cmocka_unit_test(test_large_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
