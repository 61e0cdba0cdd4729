/* fuzz_daemon_common.h - a small sluiced for the daemon's fuzz targets (fuzz_control.c,
 * fuzz_maildrop.c), made once in a temporary directory: the configuration, the spool, the
 * scheduler (every domain routed to "error:4.4.1", so nothing leaves and every recipient is
 * deferred), the reply classifier, the DKIM signer (an Ed25519 key for example.com, so
 * mail From: example.com goes through the worker threads) and the control socket.  Helpers
 * run the loop, talk to the control socket like `sluice` does, and after each input audit
 * the queue and empty it:
 *   - every queued envelope address can go into "MAIL FROM:<...>" / "RCPT TO:<...>" as it
 *     is: no control character, no angle bracket, no blank outside quotes (else a local
 *     user could add SMTP commands to a delivery);
 *   - show, body, hold and release answer ok for every queued message (unless it has left:
 *     a release lets a held message bounce), the listing then names each message once and
 *     its count agrees, and delete all empties the queue. */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "common/qid.h"
#include "daemon/sluiced.h"
#include "fuzz_never.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 200000   /* loop steps one exchange may take before it counts as a hang */
#define IDLE_STEPS 8       /* steps with nothing to do and nothing received: the daemon is done */

static sluiced D;
static char rig_dir[64];

/* write_key - a new Ed25519 private key as PEM at path */
static void write_key(const char *path)
{
    EVP_PKEY *p = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
    check(c && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_generate(c, &p) == 1);
    FILE *f = fopen(path, "w");
    check(f && PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
    EVP_PKEY_free(p);
    EVP_PKEY_CTX_free(c);
}

/* rig_config - the daemon's configuration in dir */
static sl_config *rig_config(const char *dir)
{
    char text[2048], key[128], err[512];
    snprintf(key, sizeof key, "%s/dkim.pem", dir);
    write_key(key);
    snprintf(text, sizeof text,
             "queue_directory = \"%s\";\nmyhostname = \"mta.fuzz.test\";\nmessage_size_limit = 4096;\n"
             "transport_maps = [\"* error:4.4.1 not delivered: fuzzing\"];\ndnsbl_watch_interval = 0;\n"
             "dkim_signing_keys = [\"example.com fuzz %s\"];\n", dir, key);
    sl_config *c = config_load_text(text, "fuzz.conf", NULL, 0, err, sizeof err);
    check(c != NULL);
    return c;
}

/* rm_one - nftw: remove a file, or a directory once emptied */
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    return remove(path);
}

/* rig_remove - at exit: the daemon's directory and everything in it */
static void rig_remove(void)
{
    nftw(rig_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* rig_init - the daemon, once */
static void rig_init(void)
{
    static const sched_agent ag = {NULL, never_open, never_run, never_close};
    static const sched_resolver rs = {NULL, never_mx};
    char err[512];
    log_set_level(SL_FATAL);
    signal(SIGPIPE, SIG_IGN);   /* as sluiced: a client gone is an error, not a signal */
    snprintf(rig_dir, sizeof rig_dir, "%s/fuzz-daemon-XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
    check(mkdtemp(rig_dir) != NULL);
    atexit(rig_remove);
    D.cfg = rig_config(rig_dir);
    check((D.base = event_base_new()) != NULL);
    spool_opts so = {.segment_size = 1 << 20};
    check((D.sp = spool_open(D.base, rig_dir, &so, err, sizeof err)) != NULL);
    check((D.cls = classifier_new(err, sizeof err)) != NULL);
    D.sched = sched_new(D.base, D.cfg, D.sp, &ag, &rs);
    sched_set_classifier(D.sched, classify, D.cls);
    sched_set_queue_fn(D.sched, cleanup_queue_notice, &D);
    D.owner_uid = geteuid();   /* the fuzzer may change the queue */
    check(signer_start(&D, err, sizeof err) == 0);
    check((D.ctl = ctl_start(&D, err, sizeof err)) != NULL);
}

/* busy - the spool or the signer still has work in flight */
static int busy(void)
{
    spool_stats st;
    spool_get_stats(D.sp, &st);
    return st.pending > 0 || signer_busy(&D) > 0;
}

/* step - one pass of the loop (a short nap while threads work) */
static void step(void)
{
    event_base_loop(D.base, EVLOOP_NONBLOCK);
    if (busy())
        usleep(20);
}

/* settle - run the loop until nothing is in flight */
static void settle(void)
{
    for (int i = 0, idle = 0; idle < IDLE_STEPS; i++) {
        check(i < MAX_STEPS);
        step();
        idle = busy() ? 0 : idle + 1;
    }
}

/* ctl_connect - a new client of the control socket (non-blocking) */
static int ctl_connect(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char *path = ctl_socket_path(D.cfg->queue_directory);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    free(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    check(fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0);
    return fd;
}

/* talk - send n bytes on a new connection and collect what comes back until the daemon
 * has nothing more to do and says nothing more; then close it */
static void talk(const void *p, size_t n, dbuf *out)
{
    int fd = ctl_connect();
    size_t sent = 0;
    for (int i = 0, idle = 0; idle < IDLE_STEPS; i++) {
        check(i < MAX_STEPS);
        if (sent < n) {
            ssize_t k = send(fd, (const char *)p + sent, n - sent, MSG_NOSIGNAL);
            sent = k > 0 ? sent + (size_t)k : k < 0 && errno != EAGAIN ? n : sent;
        }
        step();
        char buf[65536];
        ssize_t k;
        int got = 0;
        while ((k = recv(fd, buf, sizeof buf, 0)) > 0) {
            dbuf_put(out, buf, (size_t)k);
            got = 1;
        }
        idle = sent < n || got || busy() ? 0 : idle + 1;
    }
    close(fd);
    settle();   /* the daemon sees the close */
}

/* Replies counted in a response stream. */
typedef struct replies {
    int final;                 /* lines with "ok": one per request */
    int ok;                    /* of which "ok": true */
    int listed;                /* message lines of a listing */
    json_int_t count;          /* the last "count" */
} replies;

/* read_replies - walk the response stream (JSON lines; "size": N is followed by N bytes) */
static replies read_replies(const dbuf *out)
{
    replies r = {0};
    size_t off = 0;
    while (off < out->len) {
        const uint8_t *nl = memchr(out->data + off, '\n', out->len - off);
        check(nl != NULL);   /* every response line is complete */
        json_t *j = json_loadb((const char *)out->data + off, (size_t)(nl - out->data) - off, 0, NULL);
        check(json_is_object(j));
        off = (size_t)(nl - out->data) + 1;
        json_t *ok = json_object_get(j, "ok");
        r.final += ok != NULL;
        r.ok += json_is_true(ok);
        r.listed += json_object_get(j, "queue_name") != NULL;
        if (json_is_integer(json_object_get(j, "count")))
            r.count = json_integer_value(json_object_get(j, "count"));
        if (json_is_true(ok) && json_is_integer(json_object_get(j, "size")))
            off += (size_t)json_integer_value(json_object_get(j, "size"));
        json_decref(j);
    }
    check(off == out->len);
    return r;
}

/* request - one request line on its own connection; its replies */
static replies request(const char *line)
{
    dbuf out = {0};
    talk(line, strlen(line), &out);
    replies r = read_replies(&out);
    dbuf_free(&out);
    return r;
}

/* addr_safe - the address cannot break the SMTP command it goes into */
static int addr_safe(const char *a)
{
    int quoted = 0;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || (*p == ' ' && !quoted))
            return 0;
    }
    return 1;
}

/* check_envelopes - every queued address is safe for the SMTP client */
static void check_envelopes(void)
{
    for (qmsg *m = spool_first(D.sp); m; m = spool_next(D.sp, m)) {
        check(addr_safe(m->sender));
        for (uint32_t i = 0; i < m->nrcpt; i++)
            check(addr_safe(m->rcpts[i].address));
    }
}

/* check_one - one request about queue id q answers, ok unless the message has left (a
 * release lets a held message bounce) */
static void check_one(const char *cmd, const char *q)
{
    char line[160];
    qid_t id;
    if (!strcmp(cmd, "show") || !strcmp(cmd, "body"))
        snprintf(line, sizeof line, "{\"cmd\":\"%s\",\"id\":\"%s\"}\n", cmd, q);
    else
        snprintf(line, sizeof line, "{\"cmd\":\"%s\",\"ids\":[\"%s\"]}\n", cmd, q);
    replies r = request(line);
    check(qid_parse(q, &id) == 0 && r.final == 1 && (r.ok == 1 || !spool_find(D.sp, id)));
}

/* audit_queue - the queue commands over every message, then delete them all */
static void audit_queue(void)
{
    static const char *const cmds[] = {"show", "body", "hold", "release"};
    settle();
    check_envelopes();
    uint64_t n = spool_count(D.sp);
    char (*ids)[QID_LEN + 1] = calloc(n + 1, sizeof *ids);
    size_t k = 0;
    for (qmsg *m = spool_first(D.sp); m && k < n; m = spool_next(D.sp, m))
        qid_format(m->qid, ids[k++]);
    for (size_t i = 0; i < k; i++)
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++)
            check_one(cmds[c], ids[i]);
    free(ids);
    settle();
    n = spool_count(D.sp);   /* released messages may have bounced (and left a notice) */
    replies r = request("{\"cmd\":\"list\"}\n");
    check(r.final == 1 && r.ok == 1 && r.listed == (int)n && r.count == (json_int_t)n);
    r = request("{\"cmd\":\"status\"}\n");
    check(r.final == 1 && r.ok == 1);
    r = request("{\"cmd\":\"delete\",\"all\":true}\n");
    check(r.final == 1 && r.ok == 1 && r.count == (json_int_t)n);
    settle();
    check(spool_count(D.sp) == 0);
}
