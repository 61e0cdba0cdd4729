/* maildrop.c - pickup of messages that `sluice send` wrote to QUEUE_DIRECTORY/maildrop/
 * while the daemon was not running (Postfix's pickup).  A maildrop file holds exactly a
 * control-protocol submit request: one JSON line, then the message bytes.  The writer made it
 * durable itself (tmp file, fsync, rename, directory fsync).
 *
 * Import is idempotent: the message enters the spool with origin "maildrop:NAME", and the
 * file is unlinked only once that is durable; a crash in between leaves both, and the next
 * start skips a file whose origin is already queued.  The submitting uid is the file's owner,
 * never what the file says.  A file that does not parse is moved to corrupt/, not dropped.
 * Files are small and read on the loop thread; the folder is scanned at start-up and every
 * few seconds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/control_proto.h"
#include "daemon/sluiced.h"
#include "smtp/smtp_cmd.h"

#define MAX_INFLIGHT 64
#define SCAN_INTERVAL_S 5

struct maildrop {
    sluiced *d;
    char *dir;
    struct event *timer;
    char **queued;             /* origins already in the spool at start-up, sorted */
    size_t nqueued;
    struct import *inflight[MAX_INFLIGHT];
    int ninflight;
};

/* One file waiting for the spool.  md is NULL when the maildrop stopped meanwhile. */
typedef struct import {
    maildrop *md;
    char *name, *path;
    int slot;
} import;

char *maildrop_dir(const char *queue_directory)
{
    return xasprintf("%s/%s", queue_directory, CTL_MAILDROP_NAME);
}

/* cmp_str - for qsort/bsearch over char* */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* is_queued - the spool already holds the message of this origin */
static int is_queued(const maildrop *md, const char *origin)
{
    return md->nqueued && bsearch(&origin, md->queued, md->nqueued, sizeof(char *), cmp_str);
}

/* is_inflight - an import of this file is waiting for the spool */
static int is_inflight(const maildrop *md, const char *name)
{
    for (int i = 0; i < MAX_INFLIGHT; i++)
        if (md->inflight[i] && !strcmp(md->inflight[i]->name, name))
            return 1;
    return 0;
}

/* set_aside - move a file that cannot be imported to corrupt/ */
static void set_aside(maildrop *md, const char *name, const char *why)
{
    char *cdir = xasprintf("%s/corrupt", md->d->cfg->queue_directory);
    mkdir(cdir, 0700);
    char *from = xasprintf("%s/%s", md->dir, name), *to = xasprintf("%s/maildrop-%s", cdir, name);
    int ok = rename(from, to) == 0;
    log_err(NULL, "maildrop: %s: %s; %s %s", name, why, ok ? "moved to" : "could not move it to", to);
    free(from);
    free(to);
    free(cdir);
}

/* on_imported - the message is durable: remove its file */
static void on_imported(void *arg, qmsg *m, int err)
{
    import *im = arg;
    maildrop *md = im->md;
    if (m) {
        if (unlink(im->path) < 0)
            log_warn(NULL, "maildrop: cannot remove %s: %s", im->path, strerror(errno));
    } else if (err != EINVAL) {
        log_err(NULL, "maildrop: %s: could not be queued (%s); will retry", im->name, strerror(err));
    }
    if (md) {
        md->inflight[im->slot] = NULL;
        md->ninflight--;
    }
    free(im->name);
    free(im->path);
    free(im);
}

/* read_file - the whole file; NULL on error */
static uint8_t *read_file(const char *path, size_t *len, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint8_t *buf = xmalloc((size_t)st->st_size + 1);
    size_t got = 0;
    while (got < (size_t)st->st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st->st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

/* import_one - parse a maildrop file and hand it to cleanup (or skip or set it aside) */
static void import_one(maildrop *md, const char *name)
{
    char *origin = xasprintf("maildrop:%s", name), *path = xasprintf("%s/%s", md->dir, name);
    struct stat st;
    size_t len = 0;
    uint8_t *buf = NULL;
    json_t *req = NULL;
    if (is_queued(md, origin)) {   /* imported before a crash: only the unlink was lost */
        unlink(path);
        goto out;
    }
    buf = read_file(path, &len, &st);
    if (!buf)
        goto out;
    uint8_t *nl = memchr(buf, '\n', len);
    json_error_t jerr;
    req = nl ? json_loadb((const char *)buf, (size_t)(nl - buf), 0, &jerr) : NULL;
    json_t *rcpts = json_object_get(req, "rcpts");
    const char *sender = json_string_value(json_object_get(req, "sender"));
    json_int_t size = json_integer_value(json_object_get(req, "size"));
    size_t body_at = nl ? (size_t)(nl - buf) + 1 : len;
    if (!req || !sender || !json_array_size(rcpts) || size < 0 || (size_t)size != len - body_at) {
        set_aside(md, name, "not a valid maildrop file");
        goto out;
    }
    int n = (int)json_array_size(rcpts);
    const char **rv = xcalloc((size_t)n + 1, sizeof *rv);
    for (int i = 0; i < n; i++)
        rv[i] = json_string_value(json_array_get(rcpts, (size_t)i));
    int slot = 0;
    while (md->inflight[slot])
        slot++;
    import *im = xmalloc(sizeof *im);
    *im = (import){md, xstrdup(name), xstrdup(path), slot};
    md->inflight[slot] = im;
    md->ninflight++;
    cleanup_in in = {.sender = sender, .rcpts = rv, .nrcpt = n, .msg = buf + body_at,
                     .len = len - body_at, .local = 1, .uid = (long)st.st_uid,
                     .fullname = json_string_value(json_object_get(req, "fullname")),
                     .origin = origin,
                     .flags = (uint32_t)json_integer_value(json_object_get(req, "flags")) &
                              (MSGF_8BITMIME | MSGF_SMTPUTF8)};
    const char *why =
        smtp_path_safe(sender) ? NULL : "the sender has a control character, a blank or an angle bracket";
    for (int i = 0; i < n; i++)
        if (!rv[i] || !*rv[i])
            why = "a recipient is not a string";
        else if (!smtp_path_safe(rv[i]) && !why)
            why = "a recipient has a control character, a blank or an angle bracket";
    if (why) {   /* an address goes into MAIL FROM:<...> / RCPT TO:<...> as it is */
        set_aside(md, name, why);
        on_imported(im, NULL, EINVAL);
    } else {
        cleanup_submit(md->d, &in, on_imported, im);
    }
    free(rv);
out:
    json_decref(req);
    free(buf);
    free(path);
    free(origin);
}

/* scan - import every finished file not already in flight */
static void scan(maildrop *md)
{
    DIR *dir = opendir(md->dir);
    if (!dir)
        return;
    struct dirent *e;
    while (md->ninflight < MAX_INFLIGHT && (e = readdir(dir))) {
        if (e->d_name[0] == '.' || !strncmp(e->d_name, "tmp.", 4) || is_inflight(md, e->d_name))
            continue;
        import_one(md, e->d_name);
    }
    closedir(dir);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scan(arg);
}

/* collect_queued - the origins of the messages already in the spool */
static void collect_queued(maildrop *md)
{
    spool *sp = md->d->sp;
    for (qmsg *m = spool_first(sp); m; m = spool_next(sp, m)) {
        if (!m->origin)
            continue;
        md->queued = xrealloc(md->queued, sizeof(char *) * (md->nqueued + 1));
        md->queued[md->nqueued++] = xstrdup(m->origin);
    }
    if (md->nqueued)
        qsort(md->queued, md->nqueued, sizeof(char *), cmp_str);
}

maildrop *maildrop_start(sluiced *d, char *err, int errlen)
{
    maildrop *md = xcalloc(1, sizeof *md);
    md->d = d;
    md->dir = maildrop_dir(d->cfg->queue_directory);
    if (mkdir(md->dir, 01733) < 0 && errno != EEXIST) {
        snprintf(err, (size_t)errlen, "%s: %s", md->dir, strerror(errno));
        free(md->dir);
        free(md);
        return NULL;
    }
    chmod(md->dir, 01733);   /* anyone may drop, nobody may list or remove others' files */
    collect_queued(md);
    md->timer = event_new(d->base, -1, EV_PERSIST, on_timer, md);
    event_add(md->timer, &(struct timeval){SCAN_INTERVAL_S, 0});
    scan(md);
    return md;
}

void maildrop_stop(maildrop *md)
{
    if (!md)
        return;
    event_free(md->timer);
    for (size_t i = 0; i < md->nqueued; i++)
        free(md->queued[i]);
    free(md->queued);
    for (int i = 0; i < MAX_INFLIGHT; i++)   /* freed by on_imported when the spool answers */
        if (md->inflight[i])
            md->inflight[i]->md = NULL;
    free(md->dir);
    free(md);
}
