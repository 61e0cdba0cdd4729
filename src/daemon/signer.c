/* signer.c - DKIM signing of the mail sluiced queues (dkim_signing_keys).
 *
 * A message is signed when its From: domain, or a parent of it, has a key: "DOMAIN
 * SELECTOR KEYFILE" entries, loaded at start (a bad key stops the daemon with the reason).
 * The fields named by dkim_signed_headers are signed, dkim_oversigned_headers once more
 * (a From: added later breaks the signature), relaxed/relaxed (dkim/dkim.h).  Signing
 * happens once, before the message is written to the queue, so every delivery attempt
 * sends the same bytes; the client's 250 still waits for the queue's commit.
 *
 * An RSA-2048 signature costs about a millisecond of CPU, too long for the event loop:
 * jobs go to worker threads (one per CPU, at most 4) and come back through an eventfd.
 * A job owns its copy of the message; the loop thread owns everything else.  On stop the
 * workers finish the queued jobs and their callbacks run before the spool closes.  A
 * signature that fails (it does not, with a loaded key) leaves the message unsigned with a
 * warning: queued mail is never dropped for it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/sluiced.h"
#include "dkim/dkim.h"
#include "smtp/rfc5322.h"

#define MAX_WORKERS 4

struct sign_job {
    sign_job *next;
    const dkim_skey *key;
    uint8_t *msg;              /* owned */
    size_t len;
    int64_t now;
    dbuf field;                /* the DKIM-Signature field, or empty on failure */
    char err[200];
    signer_cb cb;
    void *arg;
};

struct signer {
    sluiced *d;
    dkim_skey **keys;
    int nkeys;
    pthread_t th[MAX_WORKERS];
    int nth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sign_job *queue, *queue_tail;   /* under mu */
    sign_job *done;                 /* under mu, any order */
    int stop;                       /* under mu */
    int efd;
    struct event *ev;
    int outstanding;                /* submitted, callback not yet run (loop thread only) */
};

/* sign - the DKIM-Signature field of msg with k and the configured header lists */
static int sign(const sluiced *d, const dkim_skey *k, const uint8_t *msg, size_t len, int64_t now, dbuf *field,
                char *err, int errlen)
{
    const strlist *h = &d->cfg->dkim_signed_headers, *o = &d->cfg->dkim_oversigned_headers;
    return dkim_sign(k, msg, len, (const char *const *)h->v, h->n, (const char *const *)o->v, o->n, now, field,
                     err, errlen);
}

/* worker - sign queued jobs until told to stop and the queue is empty */
static void *worker(void *arg)
{
    signer *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->queue && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        sign_job *j = s->queue;
        if (j) {
            s->queue = j->next;
            if (!s->queue)
                s->queue_tail = NULL;
        }
        pthread_mutex_unlock(&s->mu);
        if (!j)
            break;
        if (sign(s->d, j->key, j->msg, j->len, j->now, &j->field, j->err, sizeof j->err) < 0)
            dbuf_reset(&j->field);
        pthread_mutex_lock(&s->mu);
        j->next = s->done;
        s->done = j;
        pthread_mutex_unlock(&s->mu);
        uint64_t one = 1;
        ssize_t n = write(s->efd, &one, sizeof one);
        (void)n;
    }
    return NULL;
}

/* run_done - hand the signed jobs back to their owners, on the loop thread */
static void run_done(signer *s)
{
    uint64_t v;
    ssize_t n = read(s->efd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&s->mu);
    sign_job *j = s->done;
    s->done = NULL;
    pthread_mutex_unlock(&s->mu);
    while (j) {
        sign_job *next = j->next;
        if (!j->field.len)
            log_warn(NULL, "DKIM: %s; the message is queued unsigned", j->err);
        s->outstanding--;
        j->cb(j->arg, j->msg, j->len, j->field.len ? (const char *)j->field.data : NULL, j->field.len);
        dbuf_free(&j->field);
        free(j);
        j = next;
    }
}

/* on_done - the eventfd: jobs are signed */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_done(arg);
}

/* load_entry - the key of one dkim_signing_keys entry; NULL with err */
static dkim_skey *load_entry(const char *entry, char *err, int errlen)
{
    char dom[256], sel[64], path[1024], e[400];
    if (sscanf(entry, "%255s %63s %1023s", dom, sel, path) != 3) {
        snprintf(err, (size_t)errlen, "dkim_signing_keys: \"%s\": expected DOMAIN SELECTOR KEYFILE", entry);
        return NULL;
    }
    for (char *p = dom; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    dkim_skey *k = dkim_skey_load(dom, sel, path, e, sizeof e);
    if (!k)
        snprintf(err, (size_t)errlen, "dkim_signing_keys: %s", e);
    return k;
}

/* check_headers - From is among the signed fields when anything is signed */
static int check_headers(const sl_config *c, char *err, int errlen)
{
    int from = 0;
    for (int i = 0; i < c->dkim_signed_headers.n; i++)
        from |= !strcasecmp(c->dkim_signed_headers.v[i], "From");
    if (c->dkim_signing_keys.n && !from) {
        snprintf(err, (size_t)errlen, "dkim_signed_headers must include From (RFC 6376 5.4: the From field "
                 "is always signed)");
        return -1;
    }
    return 0;
}

int signer_check_keys(const sl_config *c, char *err, int errlen)
{
    if (check_headers(c, err, errlen) < 0)
        return -1;
    for (int i = 0; i < c->dkim_signing_keys.n; i++) {
        dkim_skey *k = load_entry(c->dkim_signing_keys.v[i], err, errlen);
        if (!k)
            return -1;
        dkim_skey_free(k);
    }
    return 0;
}

/* load_keys - every dkim_signing_keys entry; -1 with err on the first bad one */
static int load_keys(signer *s, char *err, int errlen)
{
    const strlist *l = &s->d->cfg->dkim_signing_keys;
    s->keys = xcalloc((size_t)l->n + 1, sizeof *s->keys);
    for (int i = 0; i < l->n; i++) {
        dkim_skey *k = load_entry(l->v[i], err, errlen);
        if (!k)
            return -1;
        s->keys[s->nkeys++] = k;
        const char *dom = dkim_skey_domain(k);
        log_info(NULL, "DKIM: signing mail from %s (and its subdomains) with selector %s, %s %d bits",
                 dom, dkim_skey_selector(k), dkim_skey_algorithm(k), dkim_skey_bits(k));
        if (dkim_skey_bits(k) < 2048 && strcmp(dkim_skey_algorithm(k), "rsa-sha256") == 0)
            log_warn(NULL, "DKIM: the key of %s is %d bits: receivers expect 2048 (Gmail and Yahoo "
                     "treat 1024 as weak)", dom, dkim_skey_bits(k));
    }
    return 0;
}

int signer_start(sluiced *d, char *err, int errlen)
{
    if (!d->cfg->dkim_signing_keys.n)
        return 0;
    signer *s = xcalloc(1, sizeof *s);
    s->d = d;
    d->signer = s;   /* signer_stop frees what a failed start leaves */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->efd = -1;
    if (check_headers(d->cfg, err, errlen) < 0)
        return -1;
    if (load_keys(s, err, errlen) < 0)
        return -1;
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->ev = s->efd >= 0 ? event_new(d->base, s->efd, EV_READ | EV_PERSIST, on_done, s) : NULL;
    if (!s->ev || event_add(s->ev, NULL) < 0) {
        snprintf(err, (size_t)errlen, "DKIM: cannot make the signer's eventfd: %s", strerror(errno));
        return -1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : (int)cpus;
    for (; s->nth < want; s->nth++)
        if (pthread_create(&s->th[s->nth], NULL, worker, s) != 0) {
            snprintf(err, (size_t)errlen, "DKIM: cannot start a signing thread");
            return -1;
        }
    return 0;
}

void signer_stop(sluiced *d)
{
    signer *s = d->signer;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nth; i++)
        pthread_join(s->th[i], NULL);
    if (s->ev) {
        run_done(s);   /* the last jobs: their messages go to the spool, still open */
        event_free(s->ev);
    }
    if (s->efd >= 0)
        close(s->efd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    for (int i = 0; i < s->nkeys; i++)
        dkim_skey_free(s->keys[i]);
    free(s->keys);
    free(s);
    d->signer = NULL;
}

/* from_domain - the domain of the first address in the first From: field, lower case, into
 * buf; 0 when there is none */
static int from_domain(const uint8_t *msg, size_t len, char *buf, size_t buflen)
{
    rfc5322_iter it;
    rfc5322_field f;
    rfc5322_iter_init(&it, msg, len);
    while (rfc5322_next(&it, &f)) {
        if (!rfc5322_name_is(&f, "From"))
            continue;
        rfc5322_addrs a = {0};
        rfc5322_parse_addrs(f.value, f.value_len, &a);
        const char *at = a.n ? strrchr(a.v[0], '@') : NULL;
        int ok = at && at[1] && strlen(at + 1) < buflen;
        if (ok) {
            size_t i = 0;
            for (const char *p = at + 1; *p; p++)
                buf[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            buf[i] = 0;
        }
        rfc5322_addrs_free(&a);
        return ok;
    }
    return 0;
}

int signer_busy(const sluiced *d)
{
    return d->signer ? d->signer->outstanding : 0;
}

const dkim_skey *signer_key_for(const sluiced *d, const uint8_t *msg, size_t len)
{
    const signer *s = d->signer;
    char dom[256];
    if (!s || !from_domain(msg, len, dom, sizeof dom))
        return NULL;
    for (const char *p = dom; p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
        for (int i = 0; i < s->nkeys; i++)
            if (!strcmp(dkim_skey_domain(s->keys[i]), p))
                return s->keys[i];
    return NULL;
}

int signer_sign_now(const sluiced *d, const dkim_skey *k, const uint8_t *msg, size_t len, dbuf *field)
{
    char err[200];
    if (sign(d, k, msg, len, clock_now(), field, err, sizeof err) == 0)
        return 0;
    log_warn(NULL, "DKIM: %s; the notification is queued unsigned", err);
    return -1;
}

void signer_submit(sluiced *d, const dkim_skey *k, uint8_t *msg, size_t len, signer_cb cb, void *arg)
{
    signer *s = d->signer;
    sign_job *j = xcalloc(1, sizeof *j);
    *j = (sign_job){.key = k, .msg = msg, .len = len, .now = clock_now(), .cb = cb, .arg = arg};
    s->outstanding++;
    pthread_mutex_lock(&s->mu);
    if (s->queue_tail)
        s->queue_tail->next = j;
    else
        s->queue = j;
    s->queue_tail = j;
    pthread_mutex_unlock(&s->mu);
    pthread_cond_signal(&s->cv);
}
