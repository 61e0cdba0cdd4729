/* fuzz_smtpc_ehlo.c - libFuzzer target for the client's reading of a server's EHLO reply
 * (smtpc_parse_features, client/smtpc_hello.c, and the AUTH line's mechanisms,
 * smtpc_parse_auth): which extensions a receiver offers decides PIPELINING, BDAT, 8BITMIME,
 * SMTPUTF8, STARTTLS, the login to a relay and the SIZE sent.  The input is read as
 * a stream of replies the way the client reads them (smtp_reply_parse), and each complete
 * reply's bytes go to the feature parser.  Beyond "no crash", it checks: the reply counts
 * as ESMTP; the TLS and login facts of the connection survive; every flag is 0 or 1 and set
 * only when its keyword appears after the first line, AUTH mechanisms likewise and only the
 * known bits; SIZE is never negative and a limit comes only with SIZE offered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/smtpc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* mentions - the keyword appears, any case, in raw after the first line */
static int mentions(const char *raw, size_t n, const char *kw)
{
    const char *nl = memchr(raw, '\n', n);
    size_t kl = strlen(kw);
    for (size_t i = nl ? (size_t)(nl - raw) + 1 : n; i + kl <= n; i++)
        if (!strncasecmp(raw + i, kw, kl))
            return 1;
    return 0;
}

/* check_features - one EHLO reply of n bytes */
static void check_features(const char *raw, size_t n)
{
    static const char *const kw[] = {"PIPELINING", "8BITMIME", "SMTPUTF8", "STARTTLS", "ENHANCEDSTATUSCODES",
                                     "CHUNKING"};
    smtpc c;
    memset(&c, 0, sizeof c);
    c.f.tls_active = c.f.tls_verified = c.f.authenticated = 1;
    strcpy(c.f.tls_info, "TLSv1.3");
    smtpc_parse_features(&c, raw, n);
    const smtpc_features *f = &c.f;
    const int flags[] = {f->pipelining, f->eightbitmime, f->smtputf8, f->starttls, f->enhancedstatuscodes,
                         f->chunking};
    check(f->esmtp == 1 && f->tls_active == 1 && f->tls_verified == 1 && !strcmp(f->tls_info, "TLSv1.3"));
    check(f->authenticated == 1 && !(f->auth & ~(SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN | SMTPC_AUTH_OTHER)));
    check(!f->auth || mentions(raw, n, "AUTH"));
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        check((flags[i] == 0 || flags[i] == 1) && (!flags[i] || mentions(raw, n, kw[i])));
    check(f->size_limit >= 0 && (c.size_offered == 0 || c.size_offered == 1));
    check(!f->size_limit || (c.size_offered && mentions(raw, n, "SIZE")));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);   /* exactly size bytes: ASan sees a read past */
    memcpy(buf, data, size);
    size_t off = 0;
    while (off < size) {
        smtpc_reply r;
        int used = smtp_reply_parse(buf + off, size - off, &r, 0);
        if (used <= 0)
            break;
        smtpc_reply_clear(&r);
        check_features(buf + off, (size_t)used);
        off += (size_t)used;
    }
    free(buf);
    return 0;
}
