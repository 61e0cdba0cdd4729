/* maincf.h - a reader for Postfix's main.cf and master.cf, for `sluice doctor advise`
 * (its lints, maincf_lint.c, and the "current value" column of its Postfix diff).
 *
 * main.cf syntax as Postfix 3.x reads it (postconf(5), readllines()):
 *   - a logical line starts with non-whitespace text; a line starting with whitespace
 *     continues it (the continuation is appended as written, newline dropped);
 *   - empty lines, whitespace-only lines and lines whose first non-blank character is '#'
 *     are ignored and do NOT end a logical line;
 *   - '#' anywhere else is part of the value (there are no end-of-line comments);
 *   - "name = value" with optional blanks around '='; the value's outer blanks are trimmed;
 *   - a name set twice: the last one counts;
 *   - "$name", "${name}", "$(name)", "${name?text}", "${name:text}" refer to other
 *     parameters ("$$" is a '$').
 * Parsing never fails: what Postfix would refuse or warn about is kept as a problem with
 * its line number.  master.cf is read for its services and their "-o name=value" overrides.
 * Everything returned is owned by the maincf / mastercf and freed with it. */
#ifndef SLUICE_MAINCF_H
#define SLUICE_MAINCF_H
#include <stddef.h>

typedef struct maincf_entry {
    char *name;
    char *value;        /* joined and trimmed, not expanded */
    int line, last_line;  /* physical lines of the logical line */
    int overridden;     /* a later line sets the same name */
} maincf_entry;

enum maincf_issue {
    MCI_NO_EQUALS,      /* text without '=': Postfix stops ("missing '='") */
    MCI_LEADING_SPACE,  /* a continuation with nothing to continue: Postfix ignores it */
    MCI_NUL             /* a NUL byte: Postfix may ignore what follows */
};

typedef struct maincf_problem {
    int line;
    enum maincf_issue kind;
    char *text;         /* the offending text (cut) */
} maincf_problem;

typedef struct maincf {
    char *path;
    maincf_entry *e;
    int n, cap;
    maincf_problem *p;
    int np, pcap;
} maincf;

/* maincf_parse - main.cf text (len bytes, NULs allowed) read as Postfix would; never NULL */
maincf *maincf_parse(const char *text, size_t len, const char *path);
/* maincf_load - a file (at most 4 MB); NULL with err when it cannot be read */
maincf *maincf_load(const char *path, char *err, int errlen);
void maincf_free(maincf *m);
/* maincf_get - the entry that counts for name (the last), or NULL */
const maincf_entry *maincf_get(const maincf *m, const char *name);
/* maincf_raw - the value that counts: the file's (*line set), else the default from the
 * table of known parameters (*line 0); NULL when neither knows the name; m may be NULL */
const char *maincf_raw(const maincf *m, const char *name, int *line);
/* maincf_expand - value with references expanded from the file, then the table defaults;
 * an unknown reference is left as written (caller frees).  m may be NULL */
char *maincf_expand(const maincf *m, const char *value);
/* maincf_value - maincf_raw expanded (caller frees), or NULL */
char *maincf_value(const maincf *m, const char *name, int *line);

/* A master.cf service: "name type private unpriv chroot wakeup maxproc command args". */
typedef struct mastercf_opt {
    char *name, *value;  /* one -o name=value (or -o { name = value }) */
} mastercf_opt;

typedef struct mastercf_service {
    char *name, *type, *command;
    int line;
    mastercf_opt *o;
    int no;
} mastercf_service;

typedef struct mastercf {
    char *path;
    mastercf_service *s;
    int n, cap;
    int bad_lines;       /* logical lines with fewer than 8 fields */
} mastercf;

/* mastercf_parse - master.cf text; never NULL */
mastercf *mastercf_parse(const char *text, size_t len, const char *path);
/* mastercf_load - a file (at most 4 MB); NULL with err when it cannot be read */
mastercf *mastercf_load(const char *path, char *err, int errlen);
void mastercf_free(mastercf *m);
/* mastercf_find - the service name of type "unix" (a delivery transport), or NULL */
const mastercf_service *mastercf_find(const mastercf *m, const char *name);

/* Reading logical lines, shared by both readers: fn gets each logical line (continuations
 * appended, comments and blank lines dropped), its first and last physical line numbers,
 * and flags: MCL_ORPHAN when it starts with whitespace (nothing before it to continue;
 * Postfix warns and ignores it), MCL_NUL when it holds a NUL byte. */
enum { MCL_ORPHAN = 1, MCL_NUL = 2 };
typedef void (*maincf_line_fn)(void *arg, const char *text, size_t len, int first, int last, int flags);
void maincf_logical_lines(const char *text, size_t len, maincf_line_fn fn, void *arg);

#endif
