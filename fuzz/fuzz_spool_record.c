/* fuzz_spool_record.c - the spool's start-up scanner (spool_recover.c's real code, reached by
 * including it) over arbitrary segment bytes: record framing, CRC, payload decoding, the
 * search for the next good record after damage, the supersede and update rules.  Damaged
 * regions go to a no-op instead of corrupt/.  Must never crash, hang or leak. */
#include "../src/queue/spool_recover.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* no_aside - count instead of writing files */
static void no_aside(spool *s, uint64_t segno, uint64_t off, const uint8_t *p, size_t n,
                     const char *why, enum sl_level level)
{
    (void)segno;
    (void)off;
    (void)p;
    (void)n;
    (void)why;
    (void)level;
    s->corrupt_regions++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        log_set_level(SL_FATAL);
    spool s = {0};
    s.hmask = 63;
    s.htab = xcalloc(s.hmask + 1, sizeof *s.htab);
    scan sc = {.s = &s, .aside = no_aside};
    /* the input as two segments, split at its first byte's position */
    size_t cut = size ? data[0] % (size + 1) : 0;
    scan_bytes(&sc, 1, data, cut);
    scan_bytes(&sc, 2, data + cut, size - cut);
    for (size_t i = 0; i < sc.nu; i++) {
        apply_update(&s, &sc.u[i]);
        free(sc.u[i].reply);
    }
    free(sc.u);
    prune(&s);
    for (qmsg *m = s.first, *nx; m; m = nx) {
        nx = m->next;
        if (m->nfinal >= m->nrcpt)
            abort();   /* prune left a dead message */
        spool_msg_free(m);
    }
    free(s.segs);
    free(s.htab);
    return 0;
}
