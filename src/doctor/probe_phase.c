/* probe_phase.c - a probe session's transcript (probe_session.c) into phases: how long each
 * took and which reply ended it.  Pure functions over the recorded lines, so the unit test
 * feeds them made-up transcripts.
 *
 * Rules: connect ends at PE_CONNECTED; the greeting is the first reply after it; every
 * later reply answers the oldest command still unanswered (RFC 2920 pipelining keeps the
 * order), and its phase is that command's (EHLO and HELO: ehlo, or ehlo_tls once TLS is up;
 * a refused EHLO and the HELO after it add up in ehlo).  A phase's time runs from its
 * command, or from the previous reply when that came later (a pipelined command waits for
 * the server to get to it), to its reply; several commands of one phase (RCPTs) add up.
 * tls_handshake runs from STARTTLS's reply to PE_TLS.  Replies nobody asked for (a 421
 * while idle) end no phase. */
#include <string.h>
#include <strings.h>

#include "doctor/probe.h"

#define MAX_PENDING 64   /* commands in flight at once (a pipelined envelope is 3) */

static const char *const phase_names[PH_COUNT] = {
    "connect", "greeting", "ehlo", "starttls", "tls_handshake", "ehlo_tls",
    "mail",    "rcpt",     "rset", "quit",
};

const char *probe_phase_name(enum probe_phase ph)
{
    return ph < PH_COUNT ? phase_names[ph] : "?";
}

/* command_phase - the phase a command belongs to; PH_COUNT for none */
static enum probe_phase command_phase(const char *cmd, int after_tls, int *helo)
{
    static const struct {
        const char *verb;
        enum probe_phase ph;
    } verbs[] = {{"STARTTLS", PH_STARTTLS}, {"MAIL", PH_MAIL}, {"RCPT", PH_RCPT},
                 {"RSET", PH_RSET},         {"QUIT", PH_QUIT}};
    if (!strncasecmp(cmd, "EHLO", 4) || !strncasecmp(cmd, "HELO", 4)) {
        *helo |= !strncasecmp(cmd, "HELO", 4);
        return after_tls ? PH_EHLO_TLS : PH_EHLO;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strncasecmp(cmd, verbs[i].verb, strlen(verbs[i].verb)))
            return verbs[i].ph;
    return PH_COUNT;
}

/* The walk's state. */
typedef struct walk {
    probe_phases *p;
    enum probe_phase pend_ph[MAX_PENDING];
    double pend_t[MAX_PENDING];
    int npend;
    double prev;          /* the previous reply's (or the connect's) time */
    double starttls_at;   /* STARTTLS's reply */
    int after_tls;
} walk;

/* ended - phase ph took ms and ended with reply l */
static void ended(probe_phases *p, enum probe_phase ph, double ms, const probe_line *l)
{
    if (ph == PH_EHLO && p->reply[PH_EHLO] && p->reply[PH_EHLO]->code / 100 != 2)
        p->ehlo_refusal = p->reply[PH_EHLO];
    p->ms[ph] += ms < 0 ? 0 : ms;
    p->seen[ph] = 1;
    p->reply[ph] = l;
}

/* on_reply - a reply: the greeting, or the answer to the oldest pending command */
static void on_reply(walk *w, const probe_line *l)
{
    probe_phases *p = w->p;
    if (!p->seen[PH_GREETING]) {
        ended(p, PH_GREETING, l->t_ms - w->prev, l);
    } else if (w->npend > 0) {
        enum probe_phase ph = w->pend_ph[0];
        double start = w->pend_t[0] > w->prev ? w->pend_t[0] : w->prev;
        w->npend--;
        memmove(w->pend_ph, w->pend_ph + 1, sizeof w->pend_ph[0] * (size_t)w->npend);
        memmove(w->pend_t, w->pend_t + 1, sizeof w->pend_t[0] * (size_t)w->npend);
        if (ph != PH_COUNT)
            ended(p, ph, l->t_ms - start, l);
        if (ph == PH_STARTTLS)
            w->starttls_at = l->t_ms;
    } else {
        return;   /* unsolicited */
    }
    w->prev = l->t_ms;
}

/* on_line - one transcript line */
static void on_line(walk *w, const probe_line *l)
{
    probe_phases *p = w->p;
    switch (l->ev) {
    case PE_CONNECTED:
        p->connected_at = w->prev = l->t_ms;
        ended(p, PH_CONNECT, l->t_ms, NULL);
        break;
    case PE_COMMAND:
        if (w->npend < MAX_PENDING) {
            w->pend_ph[w->npend] = command_phase(l->text, w->after_tls, &p->helo_fallback);
            w->pend_t[w->npend++] = l->t_ms;
        }
        break;
    case PE_REPLY:
        on_reply(w, l);
        break;
    case PE_TLS:
        ended(p, PH_TLS, l->t_ms - w->starttls_at, NULL);
        w->after_tls = 1;
        w->prev = l->t_ms;
        break;
    }
}

void probe_phases_of(const probe_session *s, probe_phases *p)
{
    walk w;
    memset(p, 0, sizeof *p);
    memset(&w, 0, sizeof w);
    w.p = p;
    p->connected_at = -1;
    for (int i = 0; i < s->nlines; i++)
        on_line(&w, &s->lines[i]);
}

json_t *probe_ehlo_keywords(const char *text)
{
    json_t *v = json_array();
    const char *line = text ? strchr(text, '\n') : NULL;
    while (line) {
        line++;
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > 4)
            json_array_append_new(v, json_stringn(line + 4, n - 4));
        line = end;
    }
    return v;
}

int probe_ehlo_offers(const char *text, const char *kw)
{
    size_t k = strlen(kw);
    const char *line = text ? strchr(text, '\n') : NULL;
    while (line) {
        line++;
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n >= 4 + k && !strncasecmp(line + 4, kw, k) && (n == 4 + k || line[4 + k] == ' '))
            return 1;
        line = end;
    }
    return 0;
}
