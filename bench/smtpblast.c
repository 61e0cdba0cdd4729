/* smtpblast.c - an SMTP load generator for the benchmarks (the role of Postfix's smtp-source).
 *
 * One process, one libevent loop, -s concurrent sessions against one HOST:PORT.  Message
 * numbers 1..m are each taken exactly once, by whichever session is ready: when it opens a
 * connection (so every connection attempt uses up a message and a dead server cannot make us
 * loop) or, with -d, when the previous message on its connection has ended.  Every message
 * ends in exactly one bucket: accepted (2xx to the end of data), refused (the first 4xx/5xx of
 * its transaction, by stage) or lost (the connection failed, by stage).  The buckets add up
 * to -m; the exit status is 0 only when every message was accepted.
 *
 * Per connection: banner, EHLO (HELO if EHLO gets a 5xx), STARTTLS and EHLO again with -S,
 * then MAIL, RCPT..., DATA - one write when the server announces PIPELINING - then the
 * message: per-message headers plus the body, which is built and dot-stuffed once at start
 * and added to every connection's output by reference.  Then the next MAIL (-d, with an RSET
 * first only after a failed transaction) or QUIT.  After the reply to QUIT the connection is
 * left to linger on its own until the server closes it (so that TIME_WAIT stays on the
 * server's side) while the session reconnects at once.  A 421 or a dropped connection fails
 * the message in flight and the session reconnects for the next one.
 *
 * The state machine is one enum with one reply handler per state, dispatched through
 * reply_table together with the reply class the state expects.  Timeouts are one 100 ms tick
 * over all sessions, not a timer per event.  Latency (end of data written to the final reply)
 * goes into a log-linear histogram with 1/64 resolution, so memory does not grow with -m.
 * Plain-TCP output is written at once from the handler that queued it (conn_flush), so
 * the end-of-data time is taken right before its writev and no loop turn is spent waiting
 * for writability; the bufferevent's write event is used only for backlog and for TLS.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/clock.h"
#include "common/dbuf.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/xmalloc.h"

#define LINE_KEEP 512            /* bytes of a reply line kept for parsing */
#define LINE_LIMIT 65536         /* buffered input without a line end: protocol error */
#define LINE_NONE (-1)
#define LINE_TOO_LONG (-2)
#define TICK_US 100000           /* timeout scan period */
#define LINGER_US 1000000        /* how long a QUIT connection waits for the server to close */
#define BODY_LINE 76             /* text characters per body line */
#define ANY_CLASS 0              /* reply_rule.want: take every reply */
#define HIST_LINEAR 128          /* exact histogram buckets for 0..127 us */
#define HIST_SUB 64              /* buckets per power of two above that */
#define HIST_BUCKETS (HIST_LINEAR + 34 * HIST_SUB)
#define PUT_LIT(b, s) dbuf_put((b), (s), sizeof(s) - 1)

/* where a message can fail; what the report counts by */
enum stage { STG_CONNECT, STG_BANNER, STG_EHLO, STG_TLS, STG_MAIL, STG_RCPT, STG_DATA,
             STG_DOT, STG_COUNT };
static const char *const stage_name[STG_COUNT] = {
    "connect", "banner", "ehlo", "starttls", "mail", "rcpt", "data", "dot"};

/* kinds of connection error */
enum cerr { CE_CONNECT, CE_EOF, CE_ERROR, CE_TIMEOUT, CE_TLS, CE_PROTOCOL, CE_COUNT };
static const char *const cerr_name[CE_COUNT] = {
    "connect", "eof", "error", "timeout", "tls", "protocol"};

/* session states: each waits for one thing from the server */
enum state { S_CONNECT, S_BANNER, S_EHLO, S_HELO, S_STARTTLS, S_TLS, S_MAIL, S_RCPT, S_DATA,
             S_DOT, S_RSET, S_QUIT, S_IDLE, S_COUNT };
static const enum stage state_stage[S_COUNT] = {
    [S_CONNECT] = STG_CONNECT, [S_BANNER] = STG_BANNER, [S_EHLO] = STG_EHLO,
    [S_HELO] = STG_EHLO, [S_STARTTLS] = STG_TLS, [S_TLS] = STG_TLS, [S_MAIL] = STG_MAIL,
    [S_RCPT] = STG_RCPT, [S_DATA] = STG_DATA, [S_DOT] = STG_DOT, [S_RSET] = STG_MAIL,
    [S_QUIT] = STG_DOT, [S_IDLE] = STG_CONNECT};

struct options {
    int sessions, rcpts, reuse, pipelining, starttls, json, verbose;
    int64_t messages, size, timeout_us;
    const char *sender, *rcpt, *helo, *target;
    const char *rcpt_mark;       /* the "%d" inside rcpt, or NULL */
    netaddr addr;
};

struct session {
    int id;
    struct bufferevent *bev;     /* NULL when not connected */
    unsigned gen;                /* bumped when a connection is torn down */
    enum state state;
    int64_t deadline;            /* monotonic us; 0 when not waiting */
    int line_no;                 /* lines seen of the reply being read */
    unsigned cap_pipelining : 1, cap_starttls : 1, tls_on : 1, pipelining : 1, helo_tried : 1;
    /* the message in flight; seq 0 when none */
    int64_t seq;
    uint64_t rcpt_first;         /* counter value of the first recipient */
    int rcpt_replies, rcpt_ok, rcpt_fail;
    int fail_code;               /* first refusal of this transaction, 0 when none */
    enum stage fail_stage;
    unsigned filtered : 1;       /* bev is a TLS filter: it does its own writing */
    unsigned close_pending : 1;  /* a TLS close is being handled a loop turn late */
    short close_what;            /* the BEV_EVENT_* flags of that close */
    unsigned close_gen;          /* gen of the connection that closed */
    unsigned discard : 1, dot_flushed : 1;
    int64_t t_dot;               /* just before the end of data went to the kernel */
};

struct stats {
    int64_t accepted, refused[STG_COUNT][2], lost[STG_COUNT];
    int64_t conn_err[CE_COUNT], rcpt_refused[2];
    int64_t connections, conn_pipelined, conn_tls;
    int64_t lat_n, lat_sum, lat_max, hist[HIST_BUCKETS];
};

static struct {
    struct options opt;
    struct event_base *base;
    struct event *tick, *sigint;
    SSL_CTX *ssl;
    struct session *sessions;
    int active;                  /* sessions not yet finished */
    int interrupted;
    int64_t next_seq;            /* next message number to hand out, from 1 */
    uint64_t rcpt_counter;       /* fills the "%d" of -t */
    int64_t now, t_start, t_end;
    char runid[32];
    dbuf body;                   /* dot-stuffed body and ".\r\n"; shared by reference */
    dbuf scratch;                /* a command group or header block under construction */
    char date[64];
    int64_t date_sec;
    struct stats st;
} G;

static void session_next_conn(struct session *s);
static void session_drop(struct session *s, enum cerr kind);

/* ---- options ---- */

static const char usage_text[] =
    "usage: smtpblast [options] HOST:PORT\n"
    "  Send -m messages over -s concurrent SMTP sessions and report the outcome.\n"
    "  HOST:PORT: 127.0.0.1:25, [::1]:2525 or a name such as localhost:25 (port default 25)\n"
    "  -s N      concurrent sessions (default 1)\n"
    "  -m N      total messages, each attempted exactly once (default 1)\n"
    "  -l N      approximate message size in bytes, headers included (default 4096)\n"
    "  -r N      recipients per message (default 1)\n"
    "  -f ADDR   envelope and From: sender (default sender@smtpblast.test)\n"
    "  -t ADDR   recipient; a \"%d\" in it is replaced by a counter that grows with every\n"
    "            recipient sent, e.g. -t 'u%d@example.test' (default rcpt@example.test)\n"
    "  -d        reuse connections: send the next MAIL on the same connection after the\n"
    "            end-of-data reply (default: QUIT and a new connection per message)\n"
    "  -P        pipeline MAIL/RCPT/DATA when the server announces PIPELINING (the default)\n"
    "  -p        never pipeline: wait for each reply before the next command\n"
    "  -S        STARTTLS when the server offers it (the certificate is not verified)\n"
    "  -M NAME   EHLO name (default smtpblast.test)\n"
    "  -T SEC    per-reply timeout in seconds (default 60)\n"
    "  -j        print one JSON summary line instead of the text report\n"
    "  -v        log every refusal and connection error to stderr\n"
    "  -h, --help  this text\n"
    "Counted: accepted (2xx after the end of data), refused (first 4xx/5xx of a message, by\n"
    "stage), lost (connection error or timeout with the message in flight, by stage).  A 421\n"
    "or a dropped connection fails the message in flight; the session reconnects for the\n"
    "next one.  Latency: from writing the end of data to reading the reply (accepted only).\n"
    "Exit status: 0 when every message was accepted, 1 otherwise, 2 on a usage error.\n";

/* usage_fail - print a usage error and exit 2 */
static _Noreturn void usage_fail(const char *what, const char *arg)
{
    fprintf(stderr, "smtpblast: %s%s%s\n%s", what, arg ? ": " : "", arg ? arg : "", usage_text);
    exit(2);
}

/* parse_num - a decimal option argument within [min, max] */
static int64_t parse_num(const char *arg, int64_t min, int64_t max, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < min || v > max)
        usage_fail(what, arg);
    return v;
}

/* resolve_name - getaddrinfo fallback for "name:port" / "[name]:port"; 0 or -1 */
static int resolve_name(const char *target, netaddr *out)
{
    char host[256];
    const char *colon = strrchr(target, ':');
    const char *port = colon ? colon + 1 : "25";
    size_t n = colon ? (size_t)(colon - target) : strlen(target);
    if (n >= 2 && target[0] == '[' && target[n - 1] == ']')
        target++, n -= 2;
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, target, n);
    host[n] = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* options_defaults - the values used when an option is not given */
static void options_defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    o->sessions = 1;
    o->messages = 1;
    o->size = 4096;
    o->rcpts = 1;
    o->pipelining = 1;
    o->timeout_us = 60 * 1000000LL;
    o->sender = "sender@smtpblast.test";
    o->rcpt = "rcpt@example.test";
    o->helo = "smtpblast.test";
}

/* options_flag - apply one option letter; 0 when the letter is unknown */
static int options_flag(struct options *o, int c, const char *arg)
{
    switch (c) {
    case 's': o->sessions = (int)parse_num(arg, 1, 1000000, "bad -s"); break;
    case 'm': o->messages = parse_num(arg, 1, INT64_MAX / 2, "bad -m"); break;
    case 'l': o->size = parse_num(arg, 0, 1LL << 40, "bad -l"); break;
    case 'r': o->rcpts = (int)parse_num(arg, 1, 100000, "bad -r"); break;
    case 'T': o->timeout_us = parse_num(arg, 1, 86400, "bad -T") * 1000000; break;
    case 'f': o->sender = arg; break;
    case 't': o->rcpt = arg; break;
    case 'M': o->helo = arg; break;
    case 'd': o->reuse = 1; break;
    case 'P': o->pipelining = 1; break;
    case 'p': o->pipelining = 0; break;
    case 'S': o->starttls = 1; break;
    case 'j': o->json = 1; break;
    case 'v': o->verbose = 1; break;
    default: return 0;
    }
    return 1;
}

/* options_parse - fill G.opt from argv; exits on a usage error or --help */
static void options_parse(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    struct options *o = &G.opt;
    const char *err;
    int c;
    options_defaults(o);
    while ((c = getopt_long(argc, argv, "s:m:l:r:f:t:dPpSM:T:jvh", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (!options_flag(o, c, optarg))
            usage_fail("unknown option", NULL);
    }
    if (optind != argc - 1)
        usage_fail("expected one HOST:PORT", NULL);
    o->target = argv[optind];
    if (netaddr_parse(o->target, 25, &o->addr, &err) < 0 && resolve_name(o->target, &o->addr) < 0)
        usage_fail("cannot resolve target", o->target);
    o->rcpt_mark = strstr(o->rcpt, "%d");
    if (o->sessions > o->messages)
        o->sessions = (int)o->messages;
}

/* ---- message text ---- */

/* put_u64 - append n in decimal */
static void put_u64(dbuf *b, uint64_t n)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    dbuf_put(b, tmp + i, sizeof tmp - i);
}

/* rcpt_put - append recipient number n: -t with its "%d" replaced by n */
static void rcpt_put(dbuf *b, uint64_t n)
{
    const char *mark = G.opt.rcpt_mark;
    if (!mark) {
        dbuf_puts(b, G.opt.rcpt);
        return;
    }
    dbuf_put(b, G.opt.rcpt, (size_t)(mark - G.opt.rcpt));
    put_u64(b, n);
    dbuf_puts(b, mark + 2);
}

/* date_now - RFC 5322 date of this second, formatted once per second */
static const char *date_now(void)
{
    time_t now = (time_t)clock_now();
    if (now != G.date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(G.date, sizeof G.date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
        G.date_sec = now;
    }
    return G.date;
}

/* headers_put - the header block of message seq whose first recipient is rcpt_n */
static void headers_put(dbuf *b, int64_t seq, uint64_t rcpt_n)
{
    PUT_LIT(b, "From: <");
    dbuf_puts(b, G.opt.sender);
    PUT_LIT(b, ">\r\nTo: <");
    rcpt_put(b, rcpt_n);
    PUT_LIT(b, ">\r\nSubject: smtpblast message ");
    put_u64(b, (uint64_t)seq);
    PUT_LIT(b, "\r\nDate: ");
    dbuf_puts(b, date_now());
    PUT_LIT(b, "\r\nMessage-ID: <");
    dbuf_puts(b, G.runid);
    dbuf_putc(b, '.');
    put_u64(b, (uint64_t)seq);
    PUT_LIT(b, "@smtpblast>\r\n\r\n");
}

/* body_line - one numbered filler line of BODY_LINE characters and CRLF */
static void body_line(dbuf *b, int64_t n)
{
    char line[BODY_LINE + 2];
    int k = snprintf(line, sizeof line, "line %06" PRId64 " ", n);
    for (int i = k; i < BODY_LINE; i++)
        line[i] = (char)('a' + (i + n) % 26);
    line[BODY_LINE] = '\r';
    line[BODY_LINE + 1] = '\n';
    dbuf_put(b, line, sizeof line);
}

/* body_build - the shared body: a line that starts with a dot (sent doubled, as SMTP
 * requires), filler lines up to about `bytes` unstuffed bytes, and the final ".\r\n" */
static void body_build(dbuf *b, int64_t bytes)
{
    static const char dotline[] = ".smtpblast: this line starts with a dot, sent doubled\r\n";
    dbuf_putc(b, '.');
    PUT_LIT(b, dotline);
    int64_t have = (int64_t)sizeof dotline - 1;
    for (int64_t n = 1; have < bytes; n++, have += BODY_LINE + 2)
        body_line(b, n);
    PUT_LIT(b, ".\r\n");
}

/* message_prepare - run id, then the body sized so that headers + body come to about -l */
static void message_prepare(void)
{
    snprintf(G.runid, sizeof G.runid, "%" PRIx64 "%05x", (uint64_t)clock_now_us(),
             (unsigned)getpid() & 0xfffff);
    dbuf_reset(&G.scratch);
    headers_put(&G.scratch, G.opt.messages, G.rcpt_counter);
    dbuf_reset(&G.body);
    body_build(&G.body, G.opt.size - (int64_t)G.scratch.len);
}

/* ---- counting ---- */

/* hist_index - histogram bucket of v microseconds: exact below 128, then 64 per octave */
static int hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (int)v;
    if (v >= 1ULL << 40)
        v = (1ULL << 40) - 1;
    int e = 63 - __builtin_clzll(v);
    return HIST_LINEAR + (e - 7) * HIST_SUB + (int)((v >> (e - 6)) - HIST_SUB);
}

/* hist_value - the middle of bucket i, in microseconds */
static int64_t hist_value(int i)
{
    if (i < HIST_LINEAR)
        return i;
    int k = i - HIST_LINEAR, shift = k / HIST_SUB + 1;
    int64_t m = k % HIST_SUB + HIST_SUB;
    return (m << shift) + ((1LL << shift) >> 1);
}

/* hist_percentile - the latency (us) at or below which p percent of replies came */
static int64_t hist_percentile(int p)
{
    int64_t rank = (G.st.lat_n * p + 99) / 100, seen = 0;
    if (rank < 1)
        rank = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += G.st.hist[i];
        if (seen >= rank)
            return hist_value(i) < G.st.lat_max ? hist_value(i) : G.st.lat_max;
    }
    return G.st.lat_max;
}

/* latency_add - record one end-of-data to reply time */
static void latency_add(int64_t us)
{
    if (us < 0)
        us = 0;
    G.st.lat_n++;
    G.st.lat_sum += us;
    if (us > G.st.lat_max)
        G.st.lat_max = us;
    G.st.hist[hist_index((uint64_t)us)]++;
}

/* msg_take - hand the session the next message number; 0 when all have been taken */
static int msg_take(struct session *s)
{
    if (G.next_seq > G.opt.messages)
        return 0;
    s->seq = G.next_seq++;
    s->rcpt_replies = s->rcpt_ok = s->rcpt_fail = 0;
    s->fail_code = 0;
    s->discard = s->dot_flushed = 0;
    return 1;
}

/* txn_fail - remember the first refusal of the transaction in flight */
static void txn_fail(struct session *s, enum stage stage, int code)
{
    if (!s->fail_code) {
        s->fail_code = code;
        s->fail_stage = stage;
    }
}

/* msg_count - the message in flight ended: accepted unless a refusal was noted */
static void msg_count(struct session *s)
{
    if (!s->seq)
        return;
    if (s->fail_code)
        G.st.refused[s->fail_stage][s->fail_code / 100 == 5]++;
    else
        G.st.accepted++;
    s->seq = 0;
}

/* msg_lost - the connection failed: the message in flight (if any) is lost at this stage */
static void msg_lost(struct session *s)
{
    if (!s->seq)
        return;
    if (s->fail_code) {
        msg_count(s);
        return;
    }
    G.st.lost[state_stage[s->state]]++;
    s->seq = 0;
}

/* ---- connections ---- */

/* conn_flush - write the queued output now rather than a loop turn later (one writev per
 * group, no wake-up just to learn the socket is writable); what the kernel does not take is
 * left to the bufferevent's write event, enabled only then.  A socket bufferevent keeps the
 * front of its output buffer frozen outside its own write callback, so thaw it around the
 * write as that callback does.  0 when everything was written. */
static int conn_flush(struct session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    if (s->filtered)
        return -1;
    evbuffer_unfreeze(out, 1);
    evbuffer_write(out, bufferevent_getfd(s->bev));
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out) == 0)
        return 0;
    bufferevent_enable(s->bev, EV_WRITE);
    return -1;
}

/* send_buf - send bytes and start the reply timeout */
static void send_buf(struct session *s, const void *p, size_t n)
{
    bufferevent_write(s->bev, p, n);
    conn_flush(s);
    s->deadline = G.now + G.opt.timeout_us;
}

/* send_lit - queue a constant command */
static void send_lit(struct session *s, const char *cmd, enum state next)
{
    send_buf(s, cmd, strlen(cmd));
    s->state = next;
}

/* scratch - the reset shared construction buffer */
static dbuf *scratch(void)
{
    dbuf_reset(&G.scratch);
    return &G.scratch;
}

/* conn_close - tear down the connection; libevent closes the socket once it is unhooked */
static void conn_close(struct session *s)
{
    if (s->bev)
        bufferevent_free(s->bev);
    s->bev = NULL;
    s->gen++;
    s->deadline = 0;
    s->state = S_IDLE;
}

/* on_linger_read - discard whatever follows the reply to QUIT */
static void on_linger_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

/* on_linger_event - the server closed a QUIT connection, or LINGER_US ran out: free it */
static void on_linger_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what, (void)arg;
    bufferevent_free(bev);
}

/* conn_linger - detach the connection after QUIT; libevent frees it once the server closes
 * (or after LINGER_US), and the pending close keeps the loop alive until then */
static void conn_linger(struct session *s)
{
    struct timeval tv = {LINGER_US / 1000000, LINGER_US % 1000000};
    bufferevent_setcb(s->bev, on_linger_read, NULL, on_linger_event, NULL);
    bufferevent_set_timeouts(s->bev, &tv, NULL);
    s->bev = NULL;
    s->gen++;
    s->deadline = 0;
    s->state = S_IDLE;
}

/* on_read, on_write, on_event - the connection callbacks, defined below */
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* conn_open - start a non-blocking connect; -1 when it fails at once */
static int conn_open(struct session *s)
{
    struct bufferevent *bev = bufferevent_socket_new(G.base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        fatal("bufferevent_socket_new: out of resources");
    bufferevent_setcb(bev, on_read, on_write, on_event, s);
    bufferevent_enable(bev, EV_READ);   /* EV_WRITE only while output is backlogged */
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&G.opt.addr.ss,
                                   (int)G.opt.addr.len) < 0) {
        if (G.opt.verbose)
            log_warn(LOG_NOQUEUE, "session %d: connect: %s", s->id, strerror(errno));
        bufferevent_free(bev);
        return -1;
    }
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->bev = bev;
    s->state = S_CONNECT;
    s->deadline = G.now + G.opt.timeout_us;
    s->line_no = 0;
    s->cap_pipelining = s->cap_starttls = s->tls_on = s->pipelining = s->helo_tried = 0;
    s->filtered = s->close_pending = 0;
    G.st.connections++;
    return 0;
}

/* session_finish - no messages left for this session; stop the loop after the last one */
static void session_finish(struct session *s)
{
    s->state = S_IDLE;
    if (--G.active > 0)
        return;
    G.t_end = clock_mono_us();
    event_del(G.tick);   /* the loop ends once lingering connections are closed and freed */
    event_del(G.sigint);
}

/* session_next_conn - connect for the next message, or finish when none is left */
static void session_next_conn(struct session *s)
{
    while (msg_take(s)) {
        if (conn_open(s) == 0)
            return;
        s->state = S_CONNECT;
        G.st.conn_err[CE_CONNECT]++;
        msg_lost(s);
    }
    session_finish(s);
}

/* session_drop - a connection error: lose the message in flight, reconnect for the next */
static void session_drop(struct session *s, enum cerr kind)
{
    G.st.conn_err[kind]++;
    if (G.opt.verbose)
        log_warn(LOG_NOQUEUE, "session %d msg %" PRId64 ": %s error in %s stage", s->id, s->seq,
                 cerr_name[kind], stage_name[state_stage[s->state]]);
    msg_lost(s);
    conn_close(s);
    session_next_conn(s);
}

/* session_reconnect - the server closed after QUIT without a reply, or never replied */
static void session_reconnect(struct session *s)
{
    conn_close(s);
    session_next_conn(s);
}

/* ---- commands ---- */

/* ehlo_send - EHLO, forgetting what an earlier EHLO announced */
static void ehlo_send(struct session *s)
{
    dbuf *b = scratch();
    PUT_LIT(b, "EHLO ");
    dbuf_puts(b, G.opt.helo);
    PUT_LIT(b, "\r\n");
    s->cap_pipelining = s->cap_starttls = 0;
    send_buf(s, b->data, b->len);
    s->state = S_EHLO;
}

/* rcpt_cmd_put - append the next RCPT TO command */
static void rcpt_cmd_put(dbuf *b)
{
    PUT_LIT(b, "RCPT TO:<");
    rcpt_put(b, G.rcpt_counter++);
    PUT_LIT(b, ">\r\n");
}

/* rcpt_send_one - one RCPT TO, when not pipelining */
static void rcpt_send_one(struct session *s)
{
    dbuf *b = scratch();
    rcpt_cmd_put(b);
    send_buf(s, b->data, b->len);
}

/* txn_send - MAIL FROM, and with pipelining every RCPT TO and DATA too, in one write */
static void txn_send(struct session *s)
{
    dbuf *b = scratch();
    PUT_LIT(b, "MAIL FROM:<");
    dbuf_puts(b, G.opt.sender);
    PUT_LIT(b, ">\r\n");
    s->rcpt_first = G.rcpt_counter;
    if (s->pipelining) {
        for (int i = 0; i < G.opt.rcpts; i++)
            rcpt_cmd_put(b);
        PUT_LIT(b, "DATA\r\n");
    }
    send_buf(s, b->data, b->len);
    s->state = S_MAIL;
}

/* message_send - this message's headers, then the shared body by reference */
static void message_send(struct session *s)
{
    dbuf *b = scratch();
    headers_put(b, s->seq, s->rcpt_first);
    struct evbuffer *out = bufferevent_get_output(s->bev);
    evbuffer_add(out, b->data, b->len);
    evbuffer_add_reference(out, G.body.data, G.body.len, NULL, NULL);
    s->t_dot = clock_mono_us();
    s->dot_flushed = conn_flush(s) == 0;
    s->deadline = G.now + G.opt.timeout_us;
    s->state = S_DOT;
}

/* next_txn - with -d start the next message here, otherwise say goodbye */
static void next_txn(struct session *s)
{
    if (G.opt.reuse && msg_take(s))
        txn_send(s);
    else
        send_lit(s, "QUIT\r\n", S_QUIT);
}

/* txn_end - count the message; an aborted transaction needs RSET before the next MAIL */
static void txn_end(struct session *s, int need_rset)
{
    msg_count(s);
    if (need_rset && G.opt.reuse && G.next_seq <= G.opt.messages)
        send_lit(s, "RSET\r\n", S_RSET);
    else
        next_txn(s);
}

/* refuse_quit - the session was refused before any transaction: count and QUIT */
static void refuse_quit(struct session *s, enum stage stage, int code)
{
    txn_fail(s, stage, code);
    msg_count(s);
    send_lit(s, "QUIT\r\n", S_QUIT);
}

/* tls_start - put a TLS filter over the plain connection and start the handshake */
static void tls_start(struct session *s)
{
    SSL *ssl = SSL_new(G.ssl);
    if (!ssl)
        fatal("SSL_new failed");
    struct bufferevent *tls = bufferevent_openssl_filter_new(
        G.base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!tls)
        fatal("bufferevent_openssl_filter_new failed");
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    bufferevent_setcb(tls, on_read, on_write, on_event, s);
    bufferevent_enable(tls, EV_READ | EV_WRITE);
    s->bev = tls;
    s->filtered = 1;
    s->state = S_TLS;
    s->deadline = G.now + G.opt.timeout_us;
}

/* ---- reply handlers: code is of the class the state wants, or 4xx/5xx other than 421 ---- */

/* on_banner - the greeting */
static void on_banner(struct session *s, int code)
{
    if (code / 100 == 2)
        ehlo_send(s);
    else
        refuse_quit(s, STG_BANNER, code);
}

/* after_hello - STARTTLS when wanted and offered, else the first transaction */
static void after_hello(struct session *s)
{
    if (G.opt.starttls && s->cap_starttls && !s->tls_on) {
        send_lit(s, "STARTTLS\r\n", S_STARTTLS);
        return;
    }
    s->pipelining = s->cap_pipelining && G.opt.pipelining;
    G.st.conn_pipelined += s->pipelining;
    G.st.conn_tls += s->tls_on;
    txn_send(s);
}

/* on_ehlo - EHLO reply; a 5xx falls back to HELO once */
static void on_ehlo(struct session *s, int code)
{
    if (code / 100 == 2) {
        after_hello(s);
    } else if (code / 100 == 5 && !s->helo_tried && !s->tls_on) {
        dbuf *b = scratch();
        PUT_LIT(b, "HELO ");
        dbuf_puts(b, G.opt.helo);
        PUT_LIT(b, "\r\n");
        s->helo_tried = 1;
        send_buf(s, b->data, b->len);
        s->state = S_HELO;
    } else {
        refuse_quit(s, STG_EHLO, code);
    }
}

/* on_helo - HELO reply */
static void on_helo(struct session *s, int code)
{
    if (code / 100 == 2)
        after_hello(s);
    else
        refuse_quit(s, STG_EHLO, code);
}

/* on_starttls - 220 starts the handshake; a refusal leaves us in plain text */
static void on_starttls(struct session *s, int code)
{
    if (code / 100 == 2) {
        tls_start(s);
        return;
    }
    s->cap_starttls = 0;
    after_hello(s);
}

/* on_mail - MAIL reply; without pipelining send the first RCPT */
static void on_mail(struct session *s, int code)
{
    if (code / 100 != 2)
        txn_fail(s, STG_MAIL, code);
    if (s->pipelining) {
        s->state = S_RCPT;
    } else if (s->fail_code) {
        txn_end(s, 1);
    } else {
        rcpt_send_one(s);
        s->state = S_RCPT;
    }
}

/* rcpt_note - count one RCPT reply of a transaction that MAIL did not already fail */
static void rcpt_note(struct session *s, int code)
{
    s->rcpt_replies++;
    if (s->fail_code)
        return;
    if (code / 100 == 2) {
        s->rcpt_ok++;
        return;
    }
    G.st.rcpt_refused[code / 100 == 5]++;
    if (!s->rcpt_fail)
        s->rcpt_fail = code;
}

/* on_rcpt - RCPT reply; after the last, the message fails if no recipient was taken */
static void on_rcpt(struct session *s, int code)
{
    rcpt_note(s, code);
    if (s->rcpt_replies < G.opt.rcpts) {
        if (!s->pipelining)
            rcpt_send_one(s);
        return;
    }
    if (s->rcpt_ok == 0)
        txn_fail(s, STG_RCPT, s->rcpt_fail);
    if (s->pipelining)
        s->state = S_DATA;
    else if (s->fail_code)
        txn_end(s, 1);
    else
        send_lit(s, "DATA\r\n", S_DATA);
}

/* on_data - 354: send the message, or only the final dot if the transaction failed */
static void on_data(struct session *s, int code)
{
    if (code / 100 != 3) {
        txn_fail(s, STG_DATA, code);
        txn_end(s, 1);
    } else if (s->fail_code) {
        s->discard = 1;
        send_lit(s, ".\r\n", S_DOT);
    } else {
        message_send(s);
    }
}

/* on_dot - the end-of-data reply: the verdict on the message */
static void on_dot(struct session *s, int code)
{
    if (!s->discard) {
        if (code / 100 == 2)
            latency_add(G.now - s->t_dot);
        else
            txn_fail(s, STG_DOT, code);
    }
    txn_end(s, 0);
}

/* on_rset - whatever RSET says, go on with the next message */
static void on_rset(struct session *s, int code)
{
    (void)code;
    next_txn(s);
}

/* on_quit - whatever the reply, leave the close to the server and go on */
static void on_quit(struct session *s, int code)
{
    (void)code;
    conn_linger(s);
    session_next_conn(s);
}

/* on_421 - the server is closing: fail the message in flight, reconnect for the next */
static void on_421(struct session *s)
{
    if (s->seq)
        txn_fail(s, state_stage[s->state], 421);
    msg_count(s);
    conn_close(s);
    session_next_conn(s);
}

struct reply_rule {
    void (*fn)(struct session *s, int code);
    int want;                    /* expected reply class, or ANY_CLASS */
};

static const struct reply_rule reply_table[S_COUNT] = {
    [S_CONNECT] = {on_banner, 2},  /* a greeting may be read before the connect event */
    [S_BANNER] = {on_banner, 2},   [S_EHLO] = {on_ehlo, 2},
    [S_HELO] = {on_helo, 2},       [S_STARTTLS] = {on_starttls, 2},
    [S_TLS] = {NULL, 0},           [S_MAIL] = {on_mail, 2},
    [S_RCPT] = {on_rcpt, 2},       [S_DATA] = {on_data, 3},
    [S_DOT] = {on_dot, 2},         [S_RSET] = {on_rset, 2},
    [S_QUIT] = {on_quit, ANY_CLASS}, [S_IDLE] = {NULL, 0},
};

/* reply_dispatch - hand a complete reply to the state's handler */
static void reply_dispatch(struct session *s, int code)
{
    const struct reply_rule *r = &reply_table[s->state];
    int cls = code / 100;
    if (r->fn && r->want == ANY_CLASS) {
        r->fn(s, code);
    } else if (!r->fn || (cls != r->want && cls != 4 && cls != 5)) {
        session_drop(s, CE_PROTOCOL);
    } else if (code == 421) {
        on_421(s);
    } else {
        r->fn(s, code);
    }
}

/* keyword_is - does an EHLO line's text start with keyword kw (any case)? */
static int keyword_is(const char *text, const char *kw)
{
    size_t n = strlen(kw);
    return strncasecmp(text, kw, n) == 0 && (text[n] == 0 || text[n] == ' ');
}

/* reply_line - one reply line: note EHLO keywords, dispatch when the reply is complete */
static void reply_line(struct session *s, const char *line, size_t n)
{
    if (n < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
        line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
        session_drop(s, CE_PROTOCOL);
        return;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    int last = n == 3 || line[3] == ' ';
    const char *text = n > 4 ? line + 4 : "";
    if (s->state == S_EHLO && s->line_no > 0 && code / 100 == 2) {
        s->cap_pipelining |= keyword_is(text, "PIPELINING");
        s->cap_starttls |= keyword_is(text, "STARTTLS");
    }
    s->deadline = G.now + G.opt.timeout_us;
    s->line_no = last ? 0 : s->line_no + 1;
    if (!last)
        return;
    if (G.opt.verbose && code >= 400 && s->state != S_QUIT)
        log_warn(LOG_NOQUEUE, "session %d msg %" PRId64 ": %s: %s", s->id, s->seq,
                 stage_name[state_stage[s->state]], line);
    reply_dispatch(s, code);
}

/* line_take - copy the next line (truncated to cap-1) out of in; its length or LINE_* */
static int line_take(struct evbuffer *in, char *buf, size_t cap)
{
    size_t eol_len;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (p.pos < 0)
        return evbuffer_get_length(in) > LINE_LIMIT ? LINE_TOO_LONG : LINE_NONE;
    size_t n = (size_t)p.pos < cap - 1 ? (size_t)p.pos : cap - 1;
    evbuffer_copyout(in, buf, n);
    buf[n] = 0;
    evbuffer_drain(in, (size_t)p.pos + eol_len);
    return (int)n;
}

/* ---- callbacks ---- */

/* on_read - split the input into reply lines until the connection changes */
static void on_read(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned gen = s->gen;
    char line[LINE_KEEP];
    G.now = clock_mono_us();
    while (s->bev == bev && s->gen == gen) {
        int n = line_take(in, line, sizeof line);
        if (n == LINE_NONE)
            return;
        if (n == LINE_TOO_LONG) {
            session_drop(s, CE_PROTOCOL);
            return;
        }
        reply_line(s, line, (size_t)n);
    }
}

/* on_write - a backlog drained: stop watching for writability; if the end of data was
 * part of the backlog, its latency counts from here */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;
    if (!s->filtered)
        bufferevent_disable(bev, EV_WRITE);
    if (s->state == S_DOT && !s->dot_flushed) {
        s->dot_flushed = 1;
        s->t_dot = clock_mono_us();
        s->deadline = s->t_dot + G.opt.timeout_us;
    }
}

/* event_kind - classify a bufferevent error by what we were doing */
static enum cerr event_kind(struct session *s, short what)
{
    if (s->state == S_CONNECT)
        return CE_CONNECT;
    if (s->state == S_TLS)
        return CE_TLS;
    return (what & BEV_EVENT_EOF) ? CE_EOF : CE_ERROR;
}

/* conn_ended - the connection closed or failed: normal after QUIT, else an error */
static void conn_ended(struct session *s, short what)
{
    if (s->state == S_QUIT)
        session_reconnect(s);
    else
        session_drop(s, event_kind(s, what));
}

/* on_close_later - a TLS close, one loop turn after it was reported (see on_event); a
 * no-op if the connection was torn down meanwhile (gen moved on) */
static void on_close_later(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    (void)fd, (void)what;
    G.now = clock_mono_us();
    if (s->bev && s->close_pending && s->gen == s->close_gen)
        conn_ended(s, s->close_what);
}

/* on_event - connected, TLS up, closed or failed.  libevent 2.1's OpenSSL bufferevent
 * reports a close before it adds the data decrypted in the same pass (such as a 421) to
 * the input, so a TLS close is handled a loop turn later, after that data was read. */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct session *s = arg;
    struct timeval now = {0, 0};
    (void)bev;
    G.now = clock_mono_us();
    if (what & BEV_EVENT_CONNECTED) {
        if (s->state == S_CONNECT) {
            s->state = S_BANNER;
        } else if (s->state == S_TLS) {
            s->tls_on = 1;
            ehlo_send(s);
        }
    } else if (s->filtered && !s->close_pending) {
        s->close_pending = 1;
        s->close_what = what;
        s->close_gen = s->gen;
        event_base_once(G.base, -1, EV_TIMEOUT, on_close_later, s, &now);
    } else if (!s->close_pending) {
        conn_ended(s, what);
    }
}

/* on_tick - time out sessions whose reply is overdue */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    G.now = clock_mono_us();
    for (int i = 0; i < G.opt.sessions; i++) {
        struct session *s = &G.sessions[i];
        if (!s->bev || !s->deadline || G.now < s->deadline)
            continue;
        if (s->state == S_QUIT) {
            G.st.conn_err[CE_TIMEOUT]++;
            session_reconnect(s);
            continue;
        }
        session_drop(s, CE_TIMEOUT);
    }
}

/* on_sigint - stop now and report what was done */
static void on_sigint(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    G.interrupted = 1;
    G.t_end = clock_mono_us();
    event_base_loopbreak(G.base);
}

/* ---- report ---- */

/* sum_refused - refusals with first digit 4 (d=0) or 5 (d=1), all stages */
static int64_t sum_refused(int d)
{
    int64_t n = 0;
    for (int i = 0; i < STG_COUNT; i++)
        n += G.st.refused[i][d];
    return n;
}

/* sum_array - total of n counters */
static int64_t sum_array(const int64_t *a, int n)
{
    int64_t t = 0;
    for (int i = 0; i < n; i++)
        t += a[i];
    return t;
}

/* elapsed_s - seconds from the first connect to the last session's end */
static double elapsed_s(void)
{
    return (double)(G.t_end - G.t_start) / 1e6;
}

/* report_text_stages - refused and lost counts per stage, nonzero ones only */
static void report_text_stages(void)
{
    for (int i = 0; i < STG_COUNT; i++)
        if (G.st.refused[i][0] || G.st.refused[i][1])
            printf("  at %-10s     4xx %" PRId64 "  5xx %" PRId64 "\n", stage_name[i],
                   G.st.refused[i][0], G.st.refused[i][1]);
    int64_t lost = sum_array(G.st.lost, STG_COUNT);
    printf("lost to conn errors %" PRId64 "\n", lost);
    for (int i = 0; i < STG_COUNT; i++)
        if (G.st.lost[i])
            printf("  at %-10s     %" PRId64 "\n", stage_name[i], G.st.lost[i]);
}

/* report_text_latency - the latency line */
static void report_text_latency(void)
{
    if (!G.st.lat_n) {
        printf("latency            - (no message accepted)\n");
        return;
    }
    printf("latency            p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  mean %.3f ms\n",
           hist_percentile(50) / 1e3, hist_percentile(90) / 1e3, hist_percentile(99) / 1e3,
           G.st.lat_max / 1e3, (double)G.st.lat_sum / (double)G.st.lat_n / 1e3);
}

/* report_text - the human-readable summary */
static void report_text(void)
{
    const struct options *o = &G.opt;
    char addr[NETADDR_STRLEN];
    netaddr_format((const struct sockaddr *)&o->addr.ss, addr, sizeof addr);
    printf("smtpblast %s: %" PRId64 " messages of ~%" PRId64 " bytes, %d rcpt, %d sessions, %s%s\n",
           addr, o->messages, o->size, o->rcpts, o->sessions,
           o->reuse ? "connection reuse" : "connection per message",
           G.interrupted ? " (INTERRUPTED)" : "");
    printf("accepted           %" PRId64 "\n", G.st.accepted);
    printf("refused            %" PRId64 " (4xx %" PRId64 ", 5xx %" PRId64 ")\n",
           sum_refused(0) + sum_refused(1), sum_refused(0), sum_refused(1));
    report_text_stages();
    printf("connection errors  %" PRId64, sum_array(G.st.conn_err, CE_COUNT));
    for (int i = 0; i < CE_COUNT; i++)
        if (G.st.conn_err[i])
            printf("  %s %" PRId64, cerr_name[i], G.st.conn_err[i]);
    printf("\nrcpts refused      4xx %" PRId64 "  5xx %" PRId64 "\n", G.st.rcpt_refused[0],
           G.st.rcpt_refused[1]);
    printf("connections        %" PRId64 " (pipelining %" PRId64 ", tls %" PRId64 ")\n",
           G.st.connections, G.st.conn_pipelined, G.st.conn_tls);
    printf("elapsed            %.3f s\n", elapsed_s());
    printf("rate               %.1f msg/s accepted\n", (double)G.st.accepted / elapsed_s());
    report_text_latency();
}

/* json_stage_obj - ,"name":{"connect":N,...} with one counter per stage */
static void json_stage_obj(const char *name, const int64_t count[STG_COUNT])
{
    printf(",\"%s\":{", name);
    for (int i = 0; i < STG_COUNT; i++)
        printf("%s\"%s\":%" PRId64, i ? "," : "", stage_name[i], count[i]);
    putchar('}');
}

/* json_refused_obj - refusals with first digit 4 (d=0) or 5 (d=1) by stage */
static void json_refused_obj(const char *name, int d)
{
    int64_t count[STG_COUNT];
    for (int i = 0; i < STG_COUNT; i++)
        count[i] = G.st.refused[i][d];
    json_stage_obj(name, count);
}

/* report_json - the same summary as one JSON line */
static void report_json(void)
{
    const struct options *o = &G.opt;
    char addr[NETADDR_STRLEN];
    netaddr_format((const struct sockaddr *)&o->addr.ss, addr, sizeof addr);
    printf("{\"target\":\"%s\",\"sessions\":%d,\"messages\":%" PRId64 ",\"size\":%" PRId64
           ",\"rcpts\":%d,\"reuse\":%s,\"interrupted\":%s,\"accepted\":%" PRId64
           ",\"refused\":%" PRId64 ",\"refused_4xx\":%" PRId64 ",\"refused_5xx\":%" PRId64,
           addr, o->sessions, o->messages, o->size, o->rcpts, o->reuse ? "true" : "false",
           G.interrupted ? "true" : "false", G.st.accepted, sum_refused(0) + sum_refused(1),
           sum_refused(0), sum_refused(1));
    json_refused_obj("refused_4xx_by_stage", 0);
    json_refused_obj("refused_5xx_by_stage", 1);
    printf(",\"lost\":%" PRId64, sum_array(G.st.lost, STG_COUNT));
    json_stage_obj("lost_by_stage", G.st.lost);
    printf(",\"conn_errors\":%" PRId64 ",\"conn_errors_by_kind\":{",
           sum_array(G.st.conn_err, CE_COUNT));
    for (int i = 0; i < CE_COUNT; i++)
        printf("%s\"%s\":%" PRId64, i ? "," : "", cerr_name[i], G.st.conn_err[i]);
    printf("},\"rcpt_refused_4xx\":%" PRId64 ",\"rcpt_refused_5xx\":%" PRId64
           ",\"connections\":%" PRId64 ",\"conn_pipelined\":%" PRId64 ",\"conn_tls\":%" PRId64
           ",\"elapsed_s\":%.6f,\"msgs_per_s\":%.1f",
           G.st.rcpt_refused[0], G.st.rcpt_refused[1], G.st.connections, G.st.conn_pipelined,
           G.st.conn_tls, elapsed_s(), (double)G.st.accepted / elapsed_s());
    printf(",\"latency_ms\":{\"n\":%" PRId64 ",\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
           "\"max\":%.3f,\"mean\":%.3f}}\n",
           G.st.lat_n, hist_percentile(50) / 1e3, hist_percentile(90) / 1e3,
           hist_percentile(99) / 1e3, G.st.lat_max / 1e3,
           G.st.lat_n ? (double)G.st.lat_sum / (double)G.st.lat_n / 1e3 : 0.0);
}

/* ---- main ---- */

/* raise_fd_limit - allow one descriptor per session plus slack */
static void raise_fd_limit(int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= (rlim_t)want)
        return;
    rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* tls_init - a client context that accepts any certificate */
static void tls_init(void)
{
    G.ssl = SSL_CTX_new(TLS_client_method());
    if (!G.ssl)
        fatal("SSL_CTX_new failed");
    SSL_CTX_set_verify(G.ssl, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(G.ssl, TLS1_2_VERSION);
}

/* blast_run - start every session and run the loop until all messages are done */
static void blast_run(void)
{
    struct timeval tv = {0, TICK_US};
    G.base = event_base_new();
    if (!G.base)
        fatal("event_base_new failed");
    G.tick = event_new(G.base, -1, EV_PERSIST, on_tick, NULL);
    G.sigint = evsignal_new(G.base, SIGINT, on_sigint, NULL);
    event_add(G.tick, &tv);
    event_add(G.sigint, NULL);
    G.sessions = xcalloc((size_t)G.opt.sessions, sizeof *G.sessions);
    G.active = G.opt.sessions;
    G.next_seq = 1;
    G.now = G.t_start = clock_mono_us();
    for (int i = 0; i < G.opt.sessions; i++) {
        G.sessions[i].id = i + 1;
        session_next_conn(&G.sessions[i]);
    }
    event_base_dispatch(G.base);
}

/* blast_free - release everything, so leak checkers see a clean exit */
static void blast_free(void)
{
    for (int i = 0; i < G.opt.sessions; i++)
        if (G.sessions[i].bev)
            bufferevent_free(G.sessions[i].bev);
    event_free(G.tick);
    event_free(G.sigint);
    event_base_free(G.base);
    free(G.sessions);
    SSL_CTX_free(G.ssl);
    dbuf_free(&G.body);
    dbuf_free(&G.scratch);
}

int main(int argc, char **argv)
{
    log_init("smtpblast");
    options_parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(G.opt.sessions + 64);
    if (G.opt.starttls)
        tls_init();
    message_prepare();
    blast_run();
    if (G.opt.json)
        report_json();
    else
        report_text();
    int all = !G.interrupted && G.st.accepted == G.opt.messages;
    int64_t total = G.st.accepted + sum_refused(0) + sum_refused(1) + sum_array(G.st.lost, STG_COUNT);
    if (!G.interrupted && total != G.opt.messages)
        panic("counted %" PRId64 " outcomes for %" PRId64 " messages", total, G.opt.messages);
    blast_free();
    return all ? 0 : 1;
}
