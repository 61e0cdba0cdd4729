/* log.h - one line per event, always with a queue id field (NOQUEUE when there is none).
 * Line format (stderr and file):
 *   2026-11-28T10:44:46.123456Z sluiced[1234]: info: 0J4T7GQ3B2K4: text
 * syslog gets "info: QID: text" at the matching priority.  Safe to call from any thread. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H
#include <stdarg.h>

enum sl_level { SL_DEBUG, SL_INFO, SL_NOTICE, SL_WARN, SL_ERR, SL_FATAL };

#define LOG_NOQUEUE "NOQUEUE"

/* log_init - set the program name shown in each line; logs go to stderr at info */
void log_init(const char *progname);
/* log_set_target - "stderr", "syslog" or an absolute file path; 0 or -1 with *err set */
int log_set_target(const char *target, const char **err);
/* log_reopen - reopen a file target (after rotation) */
void log_reopen(void);
void log_set_level(enum sl_level level);
/* log_parse_level - "debug".."error" to a level; -1 when unknown */
int log_parse_level(const char *name);
int log_enabled(enum sl_level level);

void log_msg(enum sl_level level, const char *qid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum sl_level level, const char *qid, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_debug(qid, ...) \
    do { if (log_enabled(SL_DEBUG)) log_msg(SL_DEBUG, (qid), __VA_ARGS__); } while (0)
/* debug and info lines are the frequent ones: their arguments are not even evaluated when
 * the level is off (a peer name formatted per connection costs CPU for nothing) */
#define log_info(qid, ...) \
    do { if (log_enabled(SL_INFO)) log_msg(SL_INFO, (qid), __VA_ARGS__); } while (0)
#define log_notice(qid, ...) log_msg(SL_NOTICE, (qid), __VA_ARGS__)
#define log_warn(qid, ...) log_msg(SL_WARN, (qid), __VA_ARGS__)
#define log_err(qid, ...) log_msg(SL_ERR, (qid), __VA_ARGS__)

/* A repeated error logged at most once per interval (one thread per instance).  The first
 * line after a quiet spell says how many were left out in between. */
typedef struct log_every {
    long long last_ms;          /* monotonic, 0 = never */
    unsigned long long skipped;
} log_every;
/* log_every_msg - log_msg unless the last one through e is less than interval_ms old */
void log_every_msg(log_every *e, long long interval_ms, enum sl_level level, const char *qid,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* log_raw - one line exactly as given (e.g. a JSON object), no prefix except for syslog */
void log_raw(enum sl_level level, const char *line);

/* fatal - the environment is broken (cannot open the spool, bad config): log and exit(1) */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* panic - an invariant is broken: log and abort() for a core dump */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
