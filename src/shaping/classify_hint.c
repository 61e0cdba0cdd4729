/* classify_hint.c - retry_hint_parse: when a reply text says to come back.
 *
 * Called by classify() for every reply, and by anything holding a bare text.  The first
 * duration in the text that reads as a retry hint wins; the result is seconds, capped at
 * HINT_CAP (7 days), or -1.  A duration is
 *   - a number and a unit: "300 seconds", "5 min", "60s", "1h", "2 days" (s sec secs second
 *     seconds, m min mins minute minutes, h hr hrs hour hours, d day days, week(s); the
 *     one-letter units only written against the number; also German and French unit words);
 *     a range "5-10 minutes" / "5 to 10 minutes" counts as its upper end;
 *   - a clock "00:04:35" (hours:minutes:seconds, milter-greylist's %R);
 *   - words: "a few" (seconds 30 s, minutes 5 min, hours 3 h, days 2 d), "a couple of" (2),
 *     "a"/"an"/"one".."twelve", "fifteen", "twenty", "thirty", "forty", "forty-five",
 *     "sixty", "ninety", and "half an hour" (30 min).
 * It reads as a hint when the word before it (after fillers such as "about", "at least",
 * "another") is "wait", or is "in", "within", "after" or "for"; or when "later", "after" or
 * "from now" follows it.  The prepositional forms must also sit in a clause (the text
 * since the last ". ", "; ", "! " or "? ") that either says retry (try, again, back,
 * resend, wait, later, defer, delay, greylist, block, suspend, throttle, temporar...) or
 * does not count volume (message, mail, recipient, connection, sent, limit, exceed, last,
 * past, per, max, than): "try again in 1 hour" and "in a few hours" are hints, "you sent
 * 500 messages in 1 hour" is not.  Numbers inside other tokens (IP addresses, "4.7.0",
 * "4.16.55.1", decimals) are never durations. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "shaping/classify_int.h"

#define HINT_CAP (7 * 86400)

typedef struct unit {
    const char *word;
    int64_t secs;
    int attached_only;        /* one-letter units: "60s", never "60 s" */
} unit;

static const unit units[] = {
    {"seconds", 1, 0}, {"second", 1, 0}, {"secondes", 1, 0}, {"sekunden", 1, 0},
    {"secs", 1, 0}, {"sec", 1, 0}, {"minutes", 60, 0}, {"minute", 60, 0}, {"minuten", 60, 0},
    {"mins", 60, 0}, {"min", 60, 0}, {"hours", 3600, 0}, {"hour", 3600, 0}, {"heures", 3600, 0},
    {"heure", 3600, 0}, {"stunden", 3600, 0}, {"stunde", 3600, 0}, {"hrs", 3600, 0},
    {"hr", 3600, 0}, {"days", 86400, 0}, {"day", 86400, 0}, {"jours", 86400, 0},
    {"jour", 86400, 0}, {"tagen", 86400, 0}, {"tage", 86400, 0}, {"weeks", 604800, 0},
    {"week", 604800, 0}, {"s", 1, 1}, {"m", 60, 1}, {"h", 3600, 1}, {"d", 86400, 1},
};

typedef struct numword {
    const char *word;
    int64_t n;
} numword;

static const numword numwords[] = {
    {"a couple of", 2}, {"a few", -1}, {"an", 1}, {"a", 1}, {"one", 1}, {"two", 2},
    {"three", 3}, {"four", 4}, {"five", 5}, {"six", 6}, {"seven", 7}, {"eight", 8},
    {"nine", 9}, {"ten", 10}, {"eleven", 11}, {"twelve", 12}, {"fifteen", 15},
    {"twenty", 20}, {"thirty", 30}, {"forty-five", 45}, {"forty", 40}, {"sixty", 60},
    {"ninety", 90},
};

static const char *const fillers[] = {"about", "approximately", "approx.", "approx", "around",
                                      "roughly", "at least", "at most", "another", "some",
                                      "up to", "the next", "next"};
static const char *const retry_words[] = {"try", "retry", "again", "back", "resend", "re-send",
                                          "wait", "later", "defer", "delay", "greylist",
                                          "graylist", "grey", "block", "suspend", "paus",
                                          "throttl", "reattempt", "reconnect", "temporar",
                                          "ban"};
static const char *const volume_words[] = {"message", "mail", "recipient", "connection",
                                           "sent", "limit", "exceed", "last", "past", "per",
                                           "max", "than", "received"};

/* is_word_char - a letter or digit */
static int is_word_char(char c)
{
    return isalnum((unsigned char)c);
}

/* word_at - whether word w is at t[i] and ends there (no letter after it) */
static int word_at(const char *t, size_t n, size_t i, const char *w)
{
    size_t m = strlen(w);
    return i + m <= n && memcmp(t + i, w, m) == 0 && (i + m == n || !isalpha((unsigned char)t[i + m]));
}

/* unit_at - a unit at t[i] (after at most one space unless attached); its seconds */
static int64_t unit_at(const char *t, size_t n, size_t i, size_t *end)
{
    int spaced = i < n && t[i] == ' ';
    size_t b = i + (size_t)spaced;
    if (b >= n || !strchr("smhdwjt", t[b]))
        return 0;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        if ((spaced && units[k].attached_only) || !word_at(t, n, b, units[k].word))
            continue;
        *end = b + strlen(units[k].word);
        return units[k].secs;
    }
    return 0;
}

/* number_at - a plain number (1-9 digits) at t[i] that is not part of another token */
static int64_t number_at(const char *t, size_t n, size_t i, size_t *end)
{
    if (i > 0 && (is_word_char(t[i - 1]) || strchr(".,:#_/", t[i - 1])))
        return -1;
    size_t k = i;
    int64_t v = 0;
    while (k < n && isdigit((unsigned char)t[k]) && k - i < 9)
        v = v * 10 + (t[k++] - '0');
    if (k == i || (k < n && isdigit((unsigned char)t[k])))
        return -1;
    if (k + 1 < n && (t[k] == '.' || t[k] == ',') && isdigit((unsigned char)t[k + 1]))
        return -1;                     /* 4.7.0, 1.5, 3,600 */
    *end = k;
    return v;
}

/* clock_at - "h:mm:ss" at t[i]; seconds or -1 */
static int64_t clock_at(const char *t, size_t n, size_t i, size_t *end)
{
    size_t k;
    int64_t h = number_at(t, n, i, &k), v[2];
    for (int p = 0; p < 2; p++) {
        if (h < 0 || k + 3 > n || t[k] != ':' || !isdigit((unsigned char)t[k + 1]) ||
            !isdigit((unsigned char)t[k + 2]))
            return -1;
        v[p] = (t[k + 1] - '0') * 10 + (t[k + 2] - '0');
        k += 3;
    }
    if ((k < n && (isdigit((unsigned char)t[k]) || t[k] == ':')) || v[0] > 59 || v[1] > 59)
        return -1;
    *end = k;
    return h * 3600 + v[0] * 60 + v[1];
}

/* numeric_at - "N unit" or "N-M unit" / "N to M unit" at t[i]; seconds or -1 */
static int64_t numeric_at(const char *t, size_t n, size_t i, size_t *end)
{
    size_t k, k2;
    int64_t v = number_at(t, n, i, &k), mult;
    if (v < 0)
        return -1;
    if ((mult = unit_at(t, n, k, end)) > 0)
        return v * mult;
    size_t j = k;
    if (j < n && t[j] == ' ')
        j++;
    if (j < n && t[j] == '-')
        j++;
    else if (j + 3 <= n && !memcmp(t + j, "to ", 3))
        j += 3;
    else if (j + 3 <= n && !memcmp(t + j, "or ", 3))
        j += 3;
    else
        return -1;
    if (j < n && t[j] == ' ')
        j++;
    int64_t hi = number_at(t, n, j, &k2);
    if (j == k || hi < 0 || (mult = unit_at(t, n, k2, end)) <= 0)
        return -1;
    return (hi > v ? hi : v) * mult;
}

/* words_at - "a few minutes", "an hour", "ten minutes", "half an hour" at t[i] */
static int64_t words_at(const char *t, size_t n, size_t i, size_t *end)
{
    if ((i > 0 && isalpha((unsigned char)t[i - 1])) || !strchr("aotfsenh", t[i]))
        return -1;
    if (word_at(t, n, i, "half an hour") || word_at(t, n, i, "half hour")) {
        *end = i + (t[i + 5] == 'a' ? 12 : 9);
        return 1800;
    }
    for (size_t k = 0; k < sizeof numwords / sizeof numwords[0]; k++) {
        if (numwords[k].word[0] != t[i] || !word_at(t, n, i, numwords[k].word))
            continue;
        size_t u = i + strlen(numwords[k].word);
        int64_t mult = u < n && t[u] == ' ' ? unit_at(t, n, u, end) : 0;
        if (mult <= 0)
            return -1;
        if (numwords[k].n >= 0)
            return numwords[k].n * mult;
        return mult == 1 ? 30 : mult == 60 ? 300 : mult == 3600 ? 3 * 3600 : 2 * mult;
    }
    return -1;
}

/* ends_with_word - whether t[0,i) ends with word w (preceded by a non-letter) */
static int ends_with_word(const char *t, size_t i, const char *w)
{
    size_t m = strlen(w);
    return i >= m && !memcmp(t + i - m, w, m) && (i == m || !isalpha((unsigned char)t[i - m - 1]));
}

/* word_before - the end of the word before position i, past blanks and fillers */
static size_t word_before(const char *t, size_t i)
{
    for (int again = 1; again;) {
        while (i > 0 && t[i - 1] == ' ')
            i--;
        again = 0;
        for (size_t k = 0; k < sizeof fillers / sizeof fillers[0]; k++) {
            if (ends_with_word(t, i, fillers[k])) {
                i -= strlen(fillers[k]);
                again = 1;
                break;
            }
        }
    }
    return i;
}

/* has_word_start - whether some word in t[b,e) starts with one of the stems */
static int has_word_start(const char *t, size_t b, size_t e, const char *const *stems, size_t ns)
{
    for (size_t i = b; i < e; i++) {
        if (i > b && isalpha((unsigned char)t[i - 1]))
            continue;
        for (size_t k = 0; k < ns; k++) {
            size_t m = strlen(stems[k]);
            if (i + m <= e && !memcmp(t + i, stems[k], m))
                return 1;
        }
    }
    return 0;
}

/* clause_ok - the clause before position i says retry, or does not count volume */
static int clause_ok(const char *t, size_t i)
{
    size_t b = i;
    while (b > 1 && !(strchr(".;!?", t[b - 2]) && t[b - 1] == ' '))
        b--;
    if (b == 1)
        b = 0;
    if (has_word_start(t, b, i, retry_words, sizeof retry_words / sizeof retry_words[0]))
        return 1;
    return !has_word_start(t, b, i, volume_words, sizeof volume_words / sizeof volume_words[0]);
}

/* context_ok - whether the duration at t[b,e) reads as a retry hint */
static int context_ok(const char *t, size_t n, size_t b, size_t e)
{
    size_t w = word_before(t, b);
    if (ends_with_word(t, w, "wait") || ends_with_word(t, w, "waiting"))
        return 1;
    static const char *const preps[] = {"in", "within", "after", "for"};
    for (size_t k = 0; k < sizeof preps / sizeof preps[0]; k++)
        if (ends_with_word(t, w, preps[k]))
            return clause_ok(t, w);
    size_t a = e < n && t[e] == ' ' ? e + 1 : e;
    if (word_at(t, n, a, "later") || word_at(t, n, a, "after") || word_at(t, n, a, "from now"))
        return clause_ok(t, b);
    return 0;
}

/* lower_clean - the text lowercased, control bytes as spaces, blank runs as one */
static size_t lower_clean(const char *s, char *out)
{
    size_t o = 0;
    for (; *s && o < CL_TEXT_MAX_BYTES; s++) {
        char c = (unsigned char)*s <= ' ' ? ' ' : (char)tolower((unsigned char)*s);
        if (c != ' ' || (o && out[o - 1] != ' '))
            out[o++] = c;
    }
    out[o] = 0;
    return o;
}

/* spelled_unit - whether the text holds a unit word at all (else "a few ..." cannot occur) */
static int spelled_unit(const char *t)
{
    static const char *const stems[] = {"sec", "min", "hour", "day", "week", "stund", "heure",
                                        "jour", "tag"};
    for (size_t k = 0; k < sizeof stems / sizeof stems[0]; k++)
        if (strstr(t, stems[k]))
            return 1;
    return 0;
}

/* retry_hint_parse - seconds the text asks to wait, or -1 */
int64_t retry_hint_parse(const char *text)
{
    char t[CL_TEXT_MAX_BYTES + 1];
    if (!text)
        return -1;
    size_t n = lower_clean(text, t), end = 0;
    int words = spelled_unit(t);
    for (size_t i = 0; i < n; i++) {
        int64_t s = -1;
        if (isdigit((unsigned char)t[i])) {
            if ((s = clock_at(t, n, i, &end)) < 0)
                s = numeric_at(t, n, i, &end);
        } else if (words && isalpha((unsigned char)t[i])) {
            s = words_at(t, n, i, &end);
        }
        if (s >= 0 && context_ok(t, n, i, end))
            return s > HINT_CAP ? HINT_CAP : s;
    }
    return -1;
}
