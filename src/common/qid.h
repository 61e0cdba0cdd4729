/* qid.h - queue ids: 12 characters of Crockford base32 encoding a 60-bit value that is the
 * arrival time in microseconds, bumped to stay strictly increasing.  So ids are unique within
 * a spool (recovery feeds the highest id seen back through qid_observe), sort by arrival as
 * plain strings, and look the same in every log line: e.g. 0PKQ3M7ZC1A4. */
#ifndef SLUICE_QID_H
#define SLUICE_QID_H
#include <stdint.h>

#define QID_LEN 12
typedef uint64_t qid_t;

/* qid_next - a new id, greater than every id issued or observed before */
qid_t qid_next(void);
/* qid_observe - make sure later ids are greater than this one (recovery) */
void qid_observe(qid_t seen);
/* qid_format - write the 12-character form and a NUL into out; returns out */
char *qid_format(qid_t id, char out[QID_LEN + 1]);
/* qid_parse - the 12-character form (case-insensitive) to an id; 0 or -1 */
int qid_parse(const char *s, qid_t *id);
/* qid_time_us - the arrival time an id encodes (microseconds since the epoch) */
int64_t qid_time_us(qid_t id);

#endif
