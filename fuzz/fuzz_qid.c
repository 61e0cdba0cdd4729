/* fuzz_qid.c - libFuzzer target for the queue id parser (common/qid.h), which reads the ids
 * that `sluice queue show|delete|hold|release` users and control-socket clients send.  The
 * input, up to its first NUL, is the id.  Beyond "no crash", it checks: an id that parses
 * is 12 characters of Crockford base32 (any case, O for 0, I and L for 1), formats to the
 * canonical spelling of the input, and that spelling parses back to the same id. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant is broken */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* canonical - the upper-case spelling with the look-alikes replaced */
static char canonical(char c)
{
    c = (char)toupper((unsigned char)c);
    return c == 'O' ? '0' : c == 'I' || c == 'L' ? '1' : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    qid_t id = 0, back = 0;
    char out[QID_LEN + 1];
    if (qid_parse(s, &id) == 0) {
        check(strlen(s) == QID_LEN && id < (1ULL << 60));
        qid_format(id, out);
        for (int i = 0; i < QID_LEN; i++)
            check(out[i] == canonical(s[i]));
        check(qid_parse(out, &back) == 0 && back == id);
    }
    free(s);
    return 0;
}
