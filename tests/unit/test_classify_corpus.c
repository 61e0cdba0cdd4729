/* test_classify_corpus.c - how often the classifier agrees with labelled real replies:
 *  - the development corpus, $SLUICE_SOURCE_DIR/../shared/corpus/replies-dev.jsonl (skipped,
 *    saying so, when CI has no shared/ beside the repository): floor CORPUS_FLOOR;
 *  - the held-out set tests/unit/test_classify_holdout.jsonl: replies from providers and
 *    MTAs that are not in the corpus, labelled by the corpus rules and written before the
 *    shipped rules were (the generalisation check): floor HOLDOUT_FLOOR.
 * Each prints its accuracy, the confusion matrix (rows: label, columns: decision) and every
 * reply it got wrong with the rule that decided.  On every reply it also checks that the
 * literal prefilter changes nothing (the same decision with every regex run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaping/classify.h"
#include "shaping/classify_int.h"

#define CORPUS_FLOOR 0.95
#define HOLDOUT_FLOOR 0.90

typedef struct tally {
    int n, ok;
    int matrix[RC_NCLASSES][RC_NCLASSES];
} tally;

/* item_input - a corpus item as classifier input */
static classify_input item_input(json_t *it)
{
    json_t *closed = json_object_get(it, "closes_connection");
    classify_input in = {(int)json_integer_value(json_object_get(it, "code")),
                         json_string_value(json_object_get(it, "enhanced")),
                         json_string_value(json_object_get(it, "text")), CS_ANY,
                         json_is_boolean(closed) ? json_is_true(closed) : -1};
    return in;
}

/* same_decision - classify with and without the prefilter; they must agree */
static void same_decision(classifier *c, const classify_input *in, classify_result *r)
{
    classify_result all;
    c->no_prefilter = 0;
    classify(c, in, r);
    c->no_prefilter = 1;
    classify(c, in, &all);
    c->no_prefilter = 0;
    if (r->cls != all.cls || strcmp(r->rule, all.rule) || r->provider != all.provider)
        fail_msg("prefilter changed the decision for '%s': %s by %s vs %s by %s", in->text,
                 reply_class_name(r->cls), r->rule, reply_class_name(all.cls), all.rule);
}

/* one_item - classify one labelled line into t */
static void one_item(classifier *c, const char *line, tally *t)
{
    json_error_t jerr;
    json_t *it = json_loads(line, 0, &jerr);
    if (!it)
        fail_msg("bad JSON line: %s", jerr.text);
    int want = reply_class_parse(json_string_value(json_object_get(it, "class")));
    assert_true(want >= 0);
    classify_input in = item_input(it);
    classify_result r;
    same_decision(c, &in, &r);
    t->n++;
    t->matrix[want][r.cls]++;
    if (r.cls == (enum reply_class)want)
        t->ok++;
    else
        printf("  MISS %-5s label %-26s got %-26s by %s\n        %.140s\n",
               json_string_value(json_object_get(it, "id")), reply_class_name(want),
               reply_class_name(r.cls), r.rule, in.text);
    json_decref(it);
}

/* print_matrix - the confusion matrix */
static void print_matrix(const tally *t)
{
    static const char *const abbr[RC_NCLASSES] = {"grey", "conn", "rate", "repu", "auth",
                                                  "over", "mbox", "perm", "othr"};
    printf("  %-26s", "label \\ decision");
    for (int j = 0; j < RC_NCLASSES; j++)
        printf(" %4s", abbr[j]);
    printf("\n");
    for (int i = 0; i < RC_NCLASSES; i++) {
        printf("  %-26s", reply_class_name((enum reply_class)i));
        for (int j = 0; j < RC_NCLASSES; j++)
            printf(" %4d", t->matrix[i][j]);
        printf("\n");
    }
}

/* evaluate - run a JSONL file; the accuracy, or -1 when the file is absent */
static double evaluate(const char *path, const char *title)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char err[512];
    classifier *c = classifier_new(err, sizeof err);
    if (!c)
        fail_msg("classifier_new: %s", err);
    tally t = {0};
    char *line = NULL;
    size_t cap = 0;
    printf("%s (%s)\n", title, path);
    while (getline(&line, &cap, f) > 0)
        if (line[0] == '{')
            one_item(c, line, &t);
    free(line);
    fclose(f);
    classifier_free(c);
    double acc = t.n ? (double)t.ok / t.n : 0;
    printf("  %d of %d agree: %.1f%%\n", t.ok, t.n, 100 * acc);
    print_matrix(&t);
    return acc;
}

/* source_path - $SLUICE_SOURCE_DIR/rel */
static void source_path(char *out, size_t n, const char *rel)
{
    const char *src = getenv("SLUICE_SOURCE_DIR");
    snprintf(out, n, "%s/%s", src ? src : ".", rel);
}

static void test_corpus(void **state)
{
    (void)state;
    char path[4096];
    source_path(path, sizeof path, "../shared/corpus/replies-dev.jsonl");
    double acc = evaluate(path, "development corpus");
    if (acc < 0) {
        printf("SKIP: %s is absent (the corpus lives in shared/ beside the repository)\n", path);
        skip();
    }
    if (acc < CORPUS_FLOOR)
        fail_msg("corpus accuracy %.3f below the floor %.2f", acc, CORPUS_FLOOR);
}

static void test_holdout(void **state)
{
    (void)state;
    char path[4096];
    source_path(path, sizeof path, "tests/unit/test_classify_holdout.jsonl");
    double acc = evaluate(path, "held-out replies (not in the corpus)");
    if (acc < 0)
        fail_msg("%s is missing", path);
    if (acc < HOLDOUT_FLOOR)
        fail_msg("held-out accuracy %.3f below the floor %.2f", acc, HOLDOUT_FLOOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_holdout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
