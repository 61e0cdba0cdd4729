/* smtpc_state.c - the client's state table: for every state, what the client is doing (the
 * words of Postfix's "timed out while ..." and "lost connection ... while ..." texts), the
 * stage reported with replies, the timeout (a field of smtpc_opts, with Postfix's default
 * when the owner left it 0) and the handler of a reply that arrives in that state.
 * smtpc_conn.c dispatches every reply through this table; states without a handler never
 * read replies (connecting, during the TLS handshake, closed). */
#include <stddef.h>

#include "client/smtpc_int.h"

#define T(field) offsetof(smtpc_opts, field)
#define S 1000

const smtpc_state_info smtpc_states[SMTPC_S_COUNT] = {
    [SMTPC_S_CONNECTING] = {"connecting", SMTPC_ST_CONNECT, T(connect_timeout_ms), 30 * S,
                            NULL},
    [SMTPC_S_GREETING] = {"receiving the initial server greeting", SMTPC_ST_GREETING,
                          T(helo_timeout_ms), 300 * S, smtpc_on_greeting},
    [SMTPC_S_EHLO] = {"performing the EHLO handshake", SMTPC_ST_EHLO, T(helo_timeout_ms),
                      300 * S, smtpc_on_ehlo},
    [SMTPC_S_HELO] = {"performing the HELO handshake", SMTPC_ST_EHLO, T(helo_timeout_ms),
                      300 * S, smtpc_on_helo},
    [SMTPC_S_STARTTLS] = {"sending STARTTLS", SMTPC_ST_STARTTLS, T(starttls_timeout_ms),
                          300 * S, smtpc_on_starttls},
    [SMTPC_S_HANDSHAKE] = {"performing the TLS handshake", SMTPC_ST_STARTTLS,
                           T(starttls_timeout_ms), 300 * S, NULL},
    [SMTPC_S_AUTH] = {"performing the SASL authentication", SMTPC_ST_EHLO, T(helo_timeout_ms),
                      300 * S, smtpc_on_auth},
    [SMTPC_S_READY] = {"idle", SMTPC_ST_MAIL, SMTPC_NO_TIMEOUT, 0, smtpc_on_idle},
    [SMTPC_S_RSET] = {"sending RSET", SMTPC_ST_MAIL, T(mail_timeout_ms), 300 * S,
                      smtpc_on_rset},
    [SMTPC_S_MAIL] = {"sending MAIL FROM", SMTPC_ST_MAIL, T(mail_timeout_ms), 300 * S,
                      smtpc_on_mail},
    [SMTPC_S_RCPT] = {"sending RCPT TO", SMTPC_ST_RCPT, T(rcpt_timeout_ms), 300 * S,
                      smtpc_on_rcpt},
    [SMTPC_S_DATA] = {"sending DATA command", SMTPC_ST_DATA, T(data_init_timeout_ms), 120 * S,
                      smtpc_on_data},
    [SMTPC_S_BODY] = {"sending message body", SMTPC_ST_BODY, T(data_xfer_timeout_ms), 180 * S,
                      smtpc_on_body},
    [SMTPC_S_DOT] = {"sending end of data -- message may be sent more than once",
                     SMTPC_ST_BODY, T(data_done_timeout_ms), 600 * S, smtpc_on_dot},
    [SMTPC_S_QUIT] = {"sending QUIT", SMTPC_ST_QUIT, T(quit_timeout_ms), 300 * S,
                      smtpc_on_quit},
    [SMTPC_S_CLOSED] = {"closed", SMTPC_ST_QUIT, SMTPC_NO_TIMEOUT, 0, NULL},
};
