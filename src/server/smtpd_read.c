/* smtpd_read.c - reading a plain-socket session without the bufferevent's read path.
 *
 * A plain session reads with its own persistent event and evread_fd (common/evread.h: no
 * FIONREAD per read, up to 16 KB at once) straight into the bufferevent's input buffer,
 * which the rest of the session code reads as before; the idle timeout rides on the same
 * event (re-armed by every read, as the bufferevent's read timeout is).  Writing, and TLS
 * sessions entirely, stay with the bufferevent.
 *
 * Called by: smtpd_session.c (start, want_read, disconnect), smtpd_tls.c (STARTTLS).
 * Owns: s->rev. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/evread.h"
#include "server/smtpd_int.h"

/* on_readable - input, EOF, an error or the idle timeout */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    smtpd_session *s = arg;
    if (what & EV_TIMEOUT) {
        smtpd_session_readable(s, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
        return;
    }
    ssize_t n = evread_fd(bufferevent_get_input(s->bev), fd);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n > 0)
        smtpd_session_readable(s, 0);
    else
        smtpd_session_readable(s, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR));
}

void smtpd_read_start(smtpd_session *s)
{
    s->rev = event_new(s->base, bufferevent_getfd(s->bev), EV_READ | EV_PERSIST, on_readable, s);
    s->rev_on = 0;
}

void smtpd_read_enable(smtpd_session *s, int on)
{
    if (!s->rev || on == (int)s->rev_on)
        return;
    if (on) {
        int64_t ms = s->l ? s->l->o.timeout_ms : 0;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
        event_add(s->rev, ms > 0 ? &tv : NULL);
    } else {
        event_del(s->rev);
    }
    s->rev_on = on != 0;
}

void smtpd_read_stop(smtpd_session *s)
{
    if (s->rev)
        event_free(s->rev);
    s->rev = NULL;
    s->rev_on = 0;
}
