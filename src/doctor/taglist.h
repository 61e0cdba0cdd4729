/* taglist.h - "name=value; name=value" lists, the syntax DKIM key records (RFC 6376 3.2),
 * DMARC (RFC 7489 6.4), MTA-STS (RFC 8461 3.1) and TLS-RPT (RFC 8460 3) TXT records share.
 * Used by dkim.c, dmarc.c and doctor_domain.c.  The parser is strict where the RFCs are
 * (tag names, value bytes, duplicates) and accepts a trailing ";".  Values keep their inner
 * whitespace (p= of a DKIM key may be folded); the caller removes it where it means nothing. */
#ifndef SLUICE_TAGLIST_H
#define SLUICE_TAGLIST_H
#include <stddef.h>

typedef struct tagval {
    char *name;  /* as written */
    char *value; /* leading and trailing whitespace removed; may be "" */
} tagval;

typedef struct taglist {
    tagval *v;
    int n;
} taglist;

/* taglist_parse - parse s into out (cleared first); icase: tag names compare case-blind
 * when looking for duplicates (DMARC's ABNF) or case-sensitively (DKIM).  0, or -1 with a
 * one-line reason in err and out empty.  The caller frees out with taglist_clear. */
int taglist_parse(const char *s, int icase, taglist *out, char *err, size_t errlen);
/* taglist_get - the value of the first tag named name (case-blind when icase), or NULL */
const char *taglist_get(const taglist *t, const char *name, int icase);
void taglist_clear(taglist *t);

#endif
