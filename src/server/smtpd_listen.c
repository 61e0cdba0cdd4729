/* smtpd_listen.c - listeners: bind, accept, admission against the total and per-IP session
 * limits, the list of a listener's sessions, and the listener accessors.
 *
 * Owns: the evconnlistener, the copied options, the per-IP count table (chained hash keyed
 * by netaddr_key with a random seed, so clients can't aim at one bucket).
 * Invariants: nadmitted == number of admitted sessions on the list == sum of the per-IP
 * counts; an IP entry exists only while its count is > 0.  A session refused at admission
 * is on the list (so smtpd_listener_free reaches it) but counts toward nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xmalloc.h"
#include "server/smtpd_int.h"

struct ipcount {
    ipcount *next;
    uint8_t key[17];
    int64_t count;
};

/* ip_hash - seeded FNV-1a over the 17-byte key */
static uint64_t ip_hash(const smtpd_listener *l, const uint8_t key[17])
{
    uint64_t h = 0xcbf29ce484222325ULL ^ l->ipseed;
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

/* ip_slot - the link that points at key's entry, or at the NULL ending its chain */
static ipcount **ip_slot(smtpd_listener *l, const uint8_t key[17])
{
    ipcount **pp = &l->ipv[ip_hash(l, key) & (l->ipbuckets - 1)];
    while (*pp && memcmp((*pp)->key, key, 17) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* ip_grow - double the bucket array when chains get long */
static void ip_grow(smtpd_listener *l)
{
    size_t old = l->ipbuckets;
    ipcount **ov = l->ipv;
    l->ipbuckets = old ? old * 2 : 64;
    l->ipv = xcalloc(l->ipbuckets, sizeof *l->ipv);
    for (size_t i = 0; i < old; i++) {
        for (ipcount *e = ov[i], *nx; e; e = nx) {
            nx = e->next;
            ipcount **head = &l->ipv[ip_hash(l, e->key) & (l->ipbuckets - 1)];
            e->next = *head;
            *head = e;
        }
    }
    free(ov);
}

/* ip_count - sessions open now from the address with this key */
static int64_t ip_count(smtpd_listener *l, const uint8_t key[17])
{
    if (!l->ipbuckets)
        return 0;
    ipcount *e = *ip_slot(l, key);
    return e ? e->count : 0;
}

/* ip_adjust - add delta to key's count; the entry goes when it reaches 0 */
static void ip_adjust(smtpd_listener *l, const uint8_t key[17], int delta)
{
    if (l->ipn >= l->ipbuckets)
        ip_grow(l);
    ipcount **pp = ip_slot(l, key);
    if (!*pp) {
        *pp = xcalloc(1, sizeof **pp);
        memcpy((*pp)->key, key, 17);
        l->ipn++;
    }
    (*pp)->count += delta;
    if ((*pp)->count <= 0) {
        ipcount *dead = *pp;
        *pp = dead->next;
        free(dead);
        l->ipn--;
    }
}

/* ip_free_all - drop the whole table */
static void ip_free_all(smtpd_listener *l)
{
    for (size_t i = 0; i < l->ipbuckets; i++)
        for (ipcount *e = l->ipv[i], *nx; e; e = nx) {
            nx = e->next;
            free(e);
        }
    free(l->ipv);
    l->ipv = NULL;
    l->ipbuckets = l->ipn = 0;
}

void smtpd_listener_attach(smtpd_listener *l, smtpd_session *s)
{
    s->l = l;
    s->prev = NULL;
    s->next = l->sessions;
    if (l->sessions)
        l->sessions->prev = s;
    l->sessions = s;
    l->nattached++;
    if (s->admitted) {
        l->nadmitted++;
        ip_adjust(l, s->ipkey, 1);
    }
}

void smtpd_listener_detach(smtpd_session *s)
{
    smtpd_listener *l = s->l;
    if (!l)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        l->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    l->nattached--;
    if (s->admitted) {
        l->nadmitted--;
        ip_adjust(l, s->ipkey, -1);
    }
    s->l = NULL;
}

/* admission - NULL to admit a client, else the 421 text refusing it (into buf) */
static const char *admission(smtpd_listener *l, const struct sockaddr *sa, char *buf,
                             size_t len)
{
    uint8_t key[17];
    char ip[NETADDR_STRLEN];
    netaddr_ip(sa, ip, sizeof ip);
    if (l->o.max_connections > 0 && l->nadmitted >= l->o.max_connections) {
        log_notice(LOG_NOQUEUE, "%s: too many connections (%d): refusing unknown[%s]",
                   l->o.name, l->nadmitted, ip);
        snprintf(buf, len, "4.7.0 %s Error: too many connections", l->o.hostname);
        return buf;
    }
    netaddr_key(sa, key);
    int64_t n = ip_count(l, key);
    if (l->o.max_conn_per_ip > 0 && n >= l->o.max_conn_per_ip) {
        log_notice(LOG_NOQUEUE, "%s: too many connections from unknown[%s] (%lld)",
                   l->o.name, ip, (long long)n);
        if (l->o.per_ip_reply)
            snprintf(buf, len, "%s", l->o.per_ip_reply);
        else
            snprintf(buf, len, "4.7.0 %s Error: too many connections from %s",
                     l->o.hostname, ip);
        return buf;
    }
    return NULL;
}

/* set_nodelay - replies go out at once, not after the client's ACK; 0 or -1 (not TCP) */
static int set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* on_accept - a new connection: admit or refuse it, and start its session */
static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    char buf[512];
    smtpd_listener *l = arg;
    if (!l->nodelay_inherited)
        set_nodelay(fd);
    smtpd_session_start(l, fd, sa, (socklen_t)salen, admission(l, sa, buf, sizeof buf));
}

/* on_resume - accept again after a pause */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    smtpd_listener *l = arg;
    evconnlistener_enable(l->lev);
}

void smtpd_listener_close_door(smtpd_listener *l)
{
    if (l->resume_ev)
        event_del(l->resume_ev);   /* a pause after an accept error must not reopen it */
    if (l->lev)
        evconnlistener_free(l->lev);   /* closed: a new client is refused at once, not */
    l->lev = NULL;                     /* left in the backlog to be reset later */
}

/* on_accept_error - e.g. out of descriptors: log, and pause rather than spin */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    smtpd_listener *l = arg;
    struct timeval tv = {0, 200 * 1000};
    log_warn(LOG_NOQUEUE, "%s: accept: %s", l->o.name, strerror(errno));
    evconnlistener_disable(lev);
    evtimer_add(l->resume_ev, &tv);
}

/* expand_banner - the banner with every $myhostname / ${myhostname} replaced */
static char *expand_banner(const char *banner, const char *host)
{
    dbuf b = {0};
    for (const char *p = banner; *p;) {
        if (strncmp(p, "${myhostname}", 13) == 0) {
            dbuf_puts(&b, host);
            p += 13;
        } else if (strncmp(p, "$myhostname", 11) == 0) {
            dbuf_puts(&b, host);
            p += 11;
        } else {
            dbuf_putc(&b, (uint8_t)*p++);
        }
    }
    return (char *)dbuf_steal(&b, NULL);
}

/* copy_opts - own copies of the caller's options, with defaults filled in */
static void copy_opts(smtpd_listener *l, const smtpd_opts *o)
{
    char host[256] = "localhost";
    l->o = *o;
    if (!o->hostname && gethostname(host, sizeof host - 1) < 0)
        snprintf(host, sizeof host, "localhost");
    l->o.hostname = xstrdup(o->hostname ? o->hostname : host);
    l->o.banner = xstrdup(o->banner ? o->banner : "$myhostname ESMTP");
    l->o.per_ip_reply = o->per_ip_reply ? xstrdup(o->per_ip_reply) : NULL;
    l->o.name = o->name ? xstrdup(o->name) : NULL;
    if (l->o.line_limit <= 0)
        l->o.line_limit = SMTPD_LINE_DEFAULT;
    if (o->hooks)
        l->hooks = *o->hooks;
    l->o.hooks = &l->hooks;
    l->greeting = expand_banner(l->o.banner, l->o.hostname);
    if (l->o.tls)
        SSL_CTX_up_ref(l->o.tls);
}

/* finish_listener - after l->lev exists: error callback, TCP_NODELAY, port and default name */
static void finish_listener(smtpd_listener *l)
{
    char text[NETADDR_STRLEN] = "unbound";
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    evconnlistener_set_error_cb(l->lev, on_accept_error);
#ifdef __linux__
    /* Linux copies TCP_NODELAY from the listening socket to every accepted one: set once
     * here, it spares a system call per connection */
    l->nodelay_inherited = set_nodelay(evconnlistener_get_fd(l->lev)) == 0;
#endif
    if (getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)&ss, &sslen) == 0) {
        l->port = netaddr_port((const struct sockaddr *)&ss);
        netaddr_format((const struct sockaddr *)&ss, text, sizeof text);
    }
    if (!l->o.name)
        l->o.name = xstrdup(text);
}

/* bind_listener - listen on addr; 0 or -1 with err */
static int bind_listener(smtpd_listener *l, const netaddr *addr, char *err, int errlen)
{
    l->lev = evconnlistener_new_bind(l->base, on_accept, l,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                         LEV_OPT_CLOSE_ON_EXEC,
                                     -1, (const struct sockaddr *)&addr->ss, (int)addr->len);
    if (!l->lev) {
        char text[NETADDR_STRLEN];
        netaddr_format((const struct sockaddr *)&addr->ss, text, sizeof text);
        snprintf(err, (size_t)errlen, "listen on %s: %s", text, strerror(errno));
        return -1;
    }
    finish_listener(l);
    return 0;
}

/* new_listener - a listener with its options and no socket yet */
static smtpd_listener *new_listener(struct event_base *base, const smtpd_opts *o)
{
    smtpd_listener *l = xcalloc(1, sizeof *l);
    signal(SIGPIPE, SIG_IGN);   /* libevent writes with writev: no MSG_NOSIGNAL */
    l->base = base;
    copy_opts(l, o);
    if (RAND_bytes((unsigned char *)&l->ipseed, sizeof l->ipseed) != 1)
        l->ipseed = (uint64_t)(uintptr_t)l ^ 0x9e3779b97f4a7c15ULL;
    l->resume_ev = evtimer_new(base, on_resume, l);
    return l;
}

smtpd_listener *smtpd_listen(struct event_base *base, const netaddr *addr, const smtpd_opts *o,
                             char *err, int errlen)
{
    smtpd_listener *l = new_listener(base, o);
    if (addr && bind_listener(l, addr, err, errlen) < 0) {
        smtpd_listener_free(l);
        return NULL;
    }
    if (!l->o.name)
        l->o.name = xstrdup("unbound");
    return l;
}

smtpd_listener *smtpd_listen_fd(struct event_base *base, int fd, const smtpd_opts *o,
                                char *err, int errlen)
{
    smtpd_listener *l = new_listener(base, o);
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    /* backlog 0: libevent does not call listen() again, the socket already listens */
    l->lev = evconnlistener_new(base, on_accept, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                0, fd);
    if (!l->lev) {
        snprintf(err, (size_t)errlen, "listening socket %d: %s", fd, strerror(errno));
        smtpd_listener_free(l);
        return NULL;
    }
    finish_listener(l);
    return l;
}

int smtpd_listener_hand_over(smtpd_listener *l)
{
    if (l->resume_ev)
        event_del(l->resume_ev);
    if (!l->lev)
        return -1;
    evconnlistener_disable(l->lev);
    return dup(evconnlistener_get_fd(l->lev));   /* a dup has no close-on-exec */
}

int smtpd_listener_adopt(smtpd_listener *l, int fd, const struct sockaddr *peer,
                         socklen_t peerlen)
{
    char buf[512];
    if (fd < 0 || !peer || peerlen > sizeof(struct sockaddr_storage))
        return -1;
    evutil_make_socket_nonblocking(fd);
    (void)set_nodelay(fd);   /* not TCP: ignored */
    smtpd_session_start(l, fd, peer, peerlen, admission(l, peer, buf, sizeof buf));
    return 0;
}

void smtpd_listener_free(smtpd_listener *l)
{
    if (!l)
        return;
    if (l->lev)
        evconnlistener_free(l->lev);
    while (l->sessions)
        smtpd_session_abort(l->sessions);
    if (l->resume_ev)
        event_free(l->resume_ev);
    ip_free_all(l);
    free((char *)l->o.hostname);
    free((char *)l->o.banner);
    free((char *)l->o.per_ip_reply);
    free((char *)l->o.name);
    free(l->greeting);
    SSL_CTX_free(l->o.tls);
    free(l);
}

int smtpd_listener_sessions(const smtpd_listener *l)
{
    return l->nattached;
}

const char *smtpd_listener_name(const smtpd_listener *l)
{
    return l->o.name;
}

int smtpd_listener_port(const smtpd_listener *l)
{
    return l->port;
}
