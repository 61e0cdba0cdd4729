/* cli_classify.c - `sluice classify [--json-in] [--rules FILE]... [FILE|-]`: what receivers'
 * replies mean, one JSON line out per reply in.
 *
 * Input: one reply per line ("421 4.7.0 text", a DSN "smtp; 450 ...", a Postfix "host X
 * said: ..." fragment), or with --json-in one JSON object per line with "code" (number or
 * null), "enhanced" (or "enh"), "text", and optionally "stage" (a name such as "rcpt"),
 * "closed" (or "closes_connection", as in the corpus files) and "id" (copied to the output).
 * Blank lines and lines starting with '#' are skipped; a line holding a NUL byte is not
 * a reply.  Output per reply: code and
 * enhanced as understood (null when unknown), class, rule, provider (or null),
 * retry_hint_seconds (or null), stage, closed.  A line that is not a reply (plain: no code
 * and no enhanced code anywhere; --json-in: not a JSON object) still gets a line, with class
 * "other" and an "error" field: garbage never stops the run.
 * --rules FILE adds an administrator's rules file before the shipped rules (repeatable).
 * Exit: 0; 64 usage; 66 the input cannot be opened; 78 a rules file does not load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "shaping/classify.h"

typedef struct opts {
    int json_in;
    const char *input;
    const char **rules;
    int nrules;
} opts;

/* usage - the synopsis */
static int usage(void)
{
    fprintf(stderr, "usage: sluice classify [--json-in] [--rules FILE]... [FILE|-]\n");
    return EX_USAGE;
}

/* parse_args - the options into o; 0 or EX_USAGE */
static int parse_args(int argc, char **argv, opts *o)
{
    o->rules = calloc((size_t)argc + 1, sizeof *o->rules);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json-in"))
            o->json_in = 1;
        else if (!strcmp(a, "--rules") && i + 1 < argc)
            o->rules[o->nrules++] = argv[++i];
        else if (!strncmp(a, "--rules=", 8) && a[8])
            o->rules[o->nrules++] = a + 8;
        else if ((a[0] != '-' || !strcmp(a, "-")) && !o->input)
            o->input = a;
        else
            return usage();
    }
    return 0;
}

/* put_int_or_null - an integer field, null when missing (< 0 or == 0 for codes) */
static void put_int_or_null(json_t *o, const char *key, long long v, int present)
{
    json_object_set_new(o, key, present ? json_integer(v) : json_null());
}

/* put_result - the decision and what the reply was understood as */
static void put_result(json_t *o, const classify_result *r, const classify_seen *s)
{
    put_int_or_null(o, "code", s->code, s->code != 0);
    json_object_set_new(o, "enhanced", s->enh[0] ? json_string(s->enh) : json_null());
    json_object_set_new(o, "class", json_string(reply_class_name(r->cls)));
    json_object_set_new(o, "rule", json_string(r->rule));
    json_object_set_new(o, "provider", r->provider ? json_string(r->provider) : json_null());
    put_int_or_null(o, "retry_hint_seconds", r->retry_hint_s, r->retry_hint_s >= 0);
    json_object_set_new(o, "stage", json_string(classify_stage_name(s->stage)));
    json_object_set_new(o, "closed", s->closed < 0 ? json_null() : json_boolean(s->closed));
}

/* put_error - a line that is not a reply */
static void put_error(json_t *o, const char *why)
{
    json_object_set_new(o, "class", json_string("other"));
    json_object_set_new(o, "rule", json_string("none"));
    json_object_set_new(o, "provider", json_null());
    json_object_set_new(o, "retry_hint_seconds", json_null());
    json_object_set_new(o, "error", json_string(why));
}

/* emit - print one output object and free it */
static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

/* json_stage - a "stage" member: a name or a number; CS_ANY when absent or unknown */
static int json_stage(json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) >= CS_CONNECT && json_integer_value(v) <= CS_QUIT)
        return (int)json_integer_value(v);
    int st = json_is_string(v) ? classify_stage_parse(json_string_value(v)) : CS_ANY;
    return st < CS_ANY ? CS_ANY : st;
}

/* json_code - a "code" member: a number or a numeric string; 0 otherwise */
static int json_code(json_t *v)
{
    if (json_is_integer(v))
        return (int)json_integer_value(v);
    return json_is_string(v) ? atoi(json_string_value(v)) : 0;
}

/* one_json - classify one --json-in line */
static void one_json(const classifier *c, const char *line)
{
    json_error_t jerr;
    json_t *in = json_loads(line, JSON_REJECT_DUPLICATES, &jerr), *out = json_object();
    if (!json_is_object(in)) {
        put_error(out, in ? "not a JSON object" : jerr.text);
        json_decref(in);
        emit(out);
        return;
    }
    json_t *id = json_object_get(in, "id"), *enh = json_object_get(in, "enhanced");
    json_t *closed = json_object_get(in, "closed");
    if (!enh)
        enh = json_object_get(in, "enh");
    if (!closed)
        closed = json_object_get(in, "closes_connection");
    if (id)
        json_object_set(out, "id", id);
    classify_input ci = {json_code(json_object_get(in, "code")), json_string_value(enh),
                         json_string_value(json_object_get(in, "text")),
                         json_stage(json_object_get(in, "stage")),
                         json_is_boolean(closed) ? json_is_true(closed) : -1};
    if (!ci.code && !ci.enh && !ci.text) {
        put_error(out, "no code, enhanced or text member");
    } else {
        classify_result r;
        classify_seen s;
        classify_seen_as(c, &ci, &r, &s);
        put_result(out, &r, &s);
    }
    json_decref(in);
    emit(out);
}

/* one_plain - classify one plain line */
static void one_plain(const classifier *c, const char *line)
{
    classify_input ci = {0, NULL, line, CS_ANY, -1};
    classify_result r;
    classify_seen s;
    json_t *out = json_object();
    classify_seen_as(c, &ci, &r, &s);
    if (!s.code && !s.enh[0])
        put_error(out, "not a reply: no reply code or enhanced status code found");
    else
        put_result(out, &r, &s);
    emit(out);
}

/* run - every line of f */
static void run(const classifier *c, FILE *f, int json_in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        size_t lead = strspn(line, " \t");
        if (strlen(line) != (size_t)n) {
            json_t *out = json_object();
            put_error(out, "not a reply: a NUL byte in the line");
            emit(out);
            continue;
        }
        if (!line[lead] || line[lead] == '#')
            continue;
        if (json_in)
            one_json(c, line);
        else
            one_plain(c, line);
    }
    free(line);
}

/* load_classifier - the shipped rules and the --rules files; NULL after printing why */
static classifier *load_classifier(const opts *o)
{
    char err[512];
    classifier *c = classifier_new(err, sizeof err);
    if (!c) {
        fprintf(stderr, "sluice classify: shipped rules: %s\n", err);
        return NULL;
    }
    for (int i = 0; i < o->nrules; i++) {
        if (classifier_load(c, o->rules[i], err, sizeof err) < 0) {
            fprintf(stderr, "sluice classify: %s\n", err);
            classifier_free(c);
            return NULL;
        }
    }
    return c;
}

/* cli_classify_main - `sluice classify`: the exit code */
int cli_classify_main(cli_globals *g, int argc, char **argv)
{
    (void)g;                           /* reply_class_rules will come through -c/-o */
    opts o = {0};
    int rc = parse_args(argc, argv, &o);
    classifier *c = NULL;
    FILE *f = stdin;
    if (rc)
        goto out;
    if (o.input && strcmp(o.input, "-") && !(f = fopen(o.input, "r"))) {
        fprintf(stderr, "sluice classify: %s: %s\n", o.input, strerror(errno));
        rc = EX_NOINPUT;
        goto out;
    }
    if (!(c = load_classifier(&o))) {
        rc = EX_CONFIG;
        goto out;
    }
    run(c, f, o.json_in);
    fflush(stdout);
out:
    if (f && f != stdin)
        fclose(f);
    classifier_free(c);
    free(o.rules);
    return rc;
}
