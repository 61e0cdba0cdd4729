/* report.c - the doctor's report: checks, text and JSON output, exit status (report.h). */
#include "doctor/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/xmalloc.h"

typedef struct item {
    int is_check;          /* 0: a section heading or free text */
    int is_section;
    enum check_status st;
    char *id, *title, *expected, *actual, *explanation, *text;
    json_t *evidence, *data;
} item;

struct report {
    char *command, *subject;
    item *items;
    int n, cap;
    json_t *data;
};

static const char *const names[] = {"pass", "info", "warn", "fail"};

const char *check_status_name(enum check_status s)
{
    return s <= CK_FAIL ? names[s] : "?";
}

report *report_new(const char *command, const char *subject)
{
    report *r = xcalloc(1, sizeof *r);
    r->command = xstrdup(command);
    r->subject = xstrdup(subject ? subject : "");
    r->data = json_object();
    return r;
}

void report_free(report *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        item *it = &r->items[i];
        free(it->id);
        free(it->title);
        free(it->expected);
        free(it->actual);
        free(it->explanation);
        free(it->text);
        json_decref(it->evidence);
        json_decref(it->data);
    }
    free(r->items);
    json_decref(r->data);
    free(r->command);
    free(r->subject);
    free(r);
}

/* add - a new item slot */
static item *add(report *r)
{
    XGROW(r->items, r->n, r->cap, 16);
    item *it = &r->items[r->n++];
    memset(it, 0, sizeof *it);
    return it;
}

/* opt_dup - xstrdup of an optional string */
static char *opt_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int report_check(report *r, enum check_status st, const char *id, const char *title,
                 const char *expected, const char *actual, const char *explanation)
{
    item *it = add(r);
    it->is_check = 1;
    it->st = st;
    it->id = opt_dup(id);
    it->title = opt_dup(title);
    it->expected = opt_dup(expected);
    it->actual = opt_dup(actual);
    it->explanation = opt_dup(explanation);
    it->evidence = json_array();
    return r->n - 1;
}

int report_checkf(report *r, enum check_status st, const char *id, const char *title,
                  const char *expected, const char *actual, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return report_check(r, st, id, title, expected, actual, buf);
}

void report_evidence(report *r, int i, const char *line)
{
    if (i >= 0 && i < r->n && r->items[i].is_check)
        json_array_append_new(r->items[i].evidence, json_string(line));
}

void report_check_data(report *r, int i, json_t *d)
{
    if (i < 0 || i >= r->n) {
        json_decref(d);
        return;
    }
    json_decref(r->items[i].data);
    r->items[i].data = d;
}

void report_data(report *r, const char *key, json_t *d)
{
    json_object_set_new(r->data, key, d);
}

void report_section(report *r, const char *title)
{
    item *it = add(r);
    it->is_section = 1;
    it->text = xstrdup(title);
}

void report_text(report *r, const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    item *it = add(r);
    it->text = s ? s : xstrdup("");
}

enum check_status report_status(const report *r)
{
    enum check_status worst = CK_PASS;
    for (int i = 0; i < r->n; i++)
        if (r->items[i].is_check && r->items[i].st > worst)
            worst = r->items[i].st;
    return worst;
}

int report_exit_code(const report *r)
{
    enum check_status s = report_status(r);
    return s == CK_FAIL ? 2 : s == CK_WARN ? 1 : 0;
}

/* print_json - the versioned schema */
static void print_json(const report *r, FILE *out)
{
    json_t *checks = json_array();
    for (int i = 0; i < r->n; i++) {
        const item *it = &r->items[i];
        if (!it->is_check)
            continue;
        json_t *c = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:O}", "id", it->id ? it->id : "",
                              "status", names[it->st], "title", it->title, "expected", it->expected,
                              "actual", it->actual, "explanation", it->explanation, "evidence",
                              it->evidence);
        if (it->data)
            json_object_set(c, "data", it->data);
        json_array_append_new(checks, c);
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:O}", "schema", "sluice-doctor/1", "command", r->command,
                          "subject", r->subject, "status", names[report_status(r)], "checks", checks,
                          "data", r->data);
    char *s = json_dumps(o, JSON_COMPACT);
    fprintf(out, "%s\n", s);
    free(s);
    json_decref(o);
}

/* print_text - pass/warn/fail lines with expected vs actual */
static void print_text(const report *r, FILE *out)
{
    int color = isatty(fileno(out)) && !getenv("NO_COLOR");
    static const char *const col[] = {"\033[32m", "\033[36m", "\033[33m", "\033[31m"};
    static const char *const tag[] = {"PASS", "INFO", "WARN", "FAIL"};
    for (int i = 0; i < r->n; i++) {
        const item *it = &r->items[i];
        if (it->is_section) {
            fprintf(out, "\n%s== %s%s\n", color ? "\033[1m" : "", it->text, color ? "\033[0m" : "");
            continue;
        }
        if (!it->is_check) {
            fprintf(out, "%s\n", it->text);
            continue;
        }
        fprintf(out, "%s%s%s  %s", color ? col[it->st] : "", tag[it->st], color ? "\033[0m" : "",
                it->title ? it->title : it->id);
        if (it->expected || it->actual)
            fprintf(out, ": expected %s, got %s", it->expected ? it->expected : "-",
                    it->actual ? it->actual : "-");
        fprintf(out, "\n");
        if (it->explanation)
            fprintf(out, "      %s\n", it->explanation);
        size_t k;
        json_t *v;
        json_array_foreach(it->evidence, k, v)
            fprintf(out, "      > %s\n", json_string_value(v));
    }
    enum check_status s = report_status(r);
    fprintf(out, "\n%s%s%s: sluice doctor %s %s\n", color ? col[s] : "", tag[s], color ? "\033[0m" : "",
            r->command, r->subject);
}

void report_print(const report *r, FILE *out, int json)
{
    if (json)
        print_json(r, out);
    else
        print_text(r, out);
}

json_t *report_json(const report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    report_print(r, f, 1);
    fclose(f);
    json_t *j = json_loads(buf, 0, NULL);
    free(buf);
    return j;
}
