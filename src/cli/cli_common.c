/* cli_common.c - configuration loading and the control-socket client of `sluice`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/xmalloc.h"
#include "daemon/control_proto.h"

void cli_add_override(cli_globals *g, char *kv)
{
    g->overrides = xrealloc(g->overrides, sizeof(char *) * (size_t)(g->noverrides + 1));
    g->overrides[g->noverrides++] = kv;
}

sl_config *cli_config(const cli_globals *g, const char *prog)
{
    char err[1024];
    sl_config *c = config_load(g->config_file, g->overrides, g->noverrides, err, sizeof err);
    if (!c)
        fprintf(stderr, "%s: configuration error: %s\n", prog, err);
    return c;
}

int ctl_connect(ctl_client *c, const char *queue_directory)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int n = snprintf(sun.sun_path, sizeof sun.sun_path, "%s/%s", queue_directory, CTL_SOCKET_NAME);
    if (n < 0 || (size_t)n >= sizeof sun.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    c->fd = fd;
    return 0;
}

void ctl_close(ctl_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* write_all - the whole buffer; 0 or -1 */
static int write_all(int fd, const void *p, size_t n)
{
    const char *q = p;
    while (n) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int ctl_request(ctl_client *c, json_t *req, const void *data, size_t len)
{
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!s)
        return -1;
    int rc = write_all(c->fd, s, strlen(s)) < 0 || write_all(c->fd, "\n", 1) < 0 ||
                     (len && write_all(c->fd, data, len) < 0)
                 ? -1
                 : 0;
    free(s);
    return rc;
}

/* fill - read more into the buffer; bytes read, 0 on EOF, -1 on error */
static ssize_t fill(ctl_client *c)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->buf = xrealloc(c->buf, c->cap);
    }
    ssize_t n;
    do
        n = read(c->fd, c->buf + c->len, c->cap - c->len);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

json_t *ctl_response(ctl_client *c)
{
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            json_t *j = json_loadb(c->buf, n, 0, NULL);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return j;
        }
        if (fill(c) <= 0)
            return NULL;
    }
}

int ctl_read_bytes(ctl_client *c, void *p, size_t n)
{
    while (c->len < n)
        if (fill(c) <= 0)
            return -1;
    memcpy(p, c->buf, n);
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    return 0;
}

int ctl_open_or_explain(ctl_client *c, const sl_config *cfg, const char *prog)
{
    if (ctl_connect(c, cfg->queue_directory) == 0)
        return 0;
    if (errno == ENOENT || errno == ECONNREFUSED)
        fprintf(stderr, "%s: sluiced is not running (no control socket in %s)\n", prog,
                cfg->queue_directory);
    else
        fprintf(stderr, "%s: cannot reach sluiced in %s: %s\n", prog, cfg->queue_directory,
                strerror(errno));
    return EX_UNAVAILABLE;
}

int ctl_simple(ctl_client *c, json_t *req, json_t **resp, const char *prog)
{
    *resp = NULL;
    if (ctl_request(c, req, NULL, 0) < 0) {
        fprintf(stderr, "%s: lost the connection to sluiced: %s\n", prog, strerror(errno));
        return EX_IOERR;
    }
    json_t *r = ctl_response(c);
    if (!r) {
        fprintf(stderr, "%s: sluiced closed the connection\n", prog);
        return EX_IOERR;
    }
    if (!json_is_true(json_object_get(r, "ok"))) {
        const char *e = json_string_value(json_object_get(r, "error"));
        json_int_t code = json_integer_value(json_object_get(r, "exit"));
        fprintf(stderr, "%s: %s\n", prog, e ? e : "failed");
        json_decref(r);
        return code > 0 ? (int)code : EX_SOFTWARE;
    }
    *resp = r;
    return 0;
}
