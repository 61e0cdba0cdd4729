/* logparse_json.c - log records that are JSON objects (one per line, or one pretty-printed
 * object joined by the reader):
 *   sluice (log_format = json): {"ts":1764328234.04,"queue_id":"..","to":"..","relay":"h[ip]:25",
 *       "delay":1.2,"delays":[a,b,c,d],"dsn":"4.7.0","status":"deferred","reply":"host .. said: .."}
 *   KumoMTA: {"type":"TransientFailure","id":"..","recipient":"..","timestamp":1700000000,
 *       "response":{"code":421,"enhanced_code":{"class":4,"subject":7,"detail":0},
 *       "content":"..","command":"RCPT TO:<..>\r\n"},"peer_address":{"name":"..","addr":".."}}
 *   journald (journalctl -o json): {"MESSAGE":"..","SYSLOG_IDENTIFIER":"postfix/smtp",
 *       "_PID":"123","__REALTIME_TIMESTAMP":"1714076279435045"}: the message is parsed as
 *       the line of its program.
 * A line holding only some "key":value members of an object (a quoted fragment) is read as
 * the object they make. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/logparse_int.h"

/* str - a string member, or NULL */
static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* copy_str - a string member into dst */
static void copy_str(char *dst, size_t cap, json_t *o, const char *k)
{
    const char *v = str(o, k);
    if (v)
        lp_copy(dst, cap, v, strlen(v));
}

/* json_time - a number of seconds or an RFC 3339 string */
static void json_time(json_t *v, logrec *rec)
{
    if (json_is_number(v)) {
        double t = json_number_value(v);
        if (t > 0 && t < 1e11) {
            rec->t_us = (int64_t)(t * 1e6);
            rec->has_time = 1;
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        lcur c = {s, s + strlen(s)};
        int64_t us;
        if (lpt_iso(&c, &us)) {
            rec->t_us = us;
            rec->has_time = 1;
        }
    }
}

/* status_of - sluice's status words */
static enum lp_status status_of(const char *s)
{
    if (!s)
        return LS_NONE;
    return !strcmp(s, "sent") ? LS_SENT : !strcmp(s, "deferred") ? LS_DEFERRED
         : !strcmp(s, "bounced") ? LS_BOUNCED : !strcmp(s, "expired") ? LS_EXPIRED : LS_NONE;
}

/* sluice - sluice's JSON delivery line */
static enum lp_kind sluice(json_t *o, logrec *rec)
{
    rec->fmt = LPF_SLUICE;
    json_time(json_object_get(o, "ts"), rec);
    copy_str(rec->qid, sizeof rec->qid, o, "queue_id");
    const char *to = str(o, "to"), *relay = str(o, "relay"), *reply = str(o, "reply");
    if (to)
        lp_addr(rec, to, strlen(to));
    if (relay) {
        lp_relay(rec, relay, strlen(relay));
        rec->local = strcmp(relay, "none") != 0 && !strchr(relay, '[');
    }
    json_t *d = json_object_get(o, "delay");
    if (json_is_number(d))
        rec->delay_s = json_number_value(d);
    rec->status = status_of(str(o, "status"));
    if (reply)
        lp_reply_parse(reply, strlen(reply), &rec->r);
    const char *dsn = str(o, "dsn");
    if (dsn && rec->status != LS_SENT)
        lp_dsn_fallback(&rec->r, dsn, strlen(dsn));
    return rec->status == LS_NONE ? LK_OTHER : LK_DELIVERY;
}

/* kumo_status - KumoMTA record types */
static enum lp_status kumo_status(const char *t)
{
    if (!t)
        return LS_NONE;
    return !strcmp(t, "Delivery") ? LS_SENT : !strcmp(t, "TransientFailure") ? LS_DEFERRED
         : (!strcmp(t, "Bounce") || !strcmp(t, "AdminBounce")) ? LS_BOUNCED
         : !strcmp(t, "Expiration") ? LS_EXPIRED : LS_NONE;
}

/* kumo_response - response.{code,enhanced_code,content,command} into the reply */
static void kumo_response(json_t *resp, logrec *rec)
{
    json_t *enh = json_object_get(resp, "enhanced_code");
    char enhs[16] = "", buf[LP_TEXT_MAX];
    json_int_t k = json_integer_value(json_object_get(enh, "class")),
               sub = json_integer_value(json_object_get(enh, "subject")),
               det = json_integer_value(json_object_get(enh, "detail"));
    if (json_is_object(enh) && (k == 2 || k == 4 || k == 5) && sub >= 0 && sub < 1000 && det >= 0 && det < 1000)
        snprintf(enhs, sizeof enhs, "%d.%d.%d", (int)k, (int)sub, (int)det);
    int code = (int)json_integer_value(json_object_get(resp, "code"));
    const char *content = str(resp, "content");
    snprintf(buf, sizeof buf, "%d%s%s %s", code, enhs[0] ? " " : "", enhs, content ? content : "");
    lp_reply_parse(buf, strlen(buf), &rec->r);
    if (code >= 200 && code < 600) {
        rec->r.code = code;
        rec->r.fail = LF_REPLY;
        lp_copy(rec->r.enh, sizeof rec->r.enh, enhs, strlen(enhs));
    }
    const char *cmd = str(resp, "command");
    if (cmd)
        rec->r.stage = !strncmp(cmd, "RCPT", 4) ? CS_RCPT : !strncmp(cmd, "MAIL", 4) ? CS_MAIL
                     : cmd[0] == '.' ? CS_BODY : !strncmp(cmd, "DATA", 4) ? CS_DATA
                     : !strncmp(cmd, "EHLO", 4) ? CS_EHLO : CS_ANY;
}

/* kumo - a KumoMTA log record */
static enum lp_kind kumo(json_t *o, logrec *rec)
{
    rec->fmt = LPF_KUMOMTA;
    json_time(json_object_get(o, "timestamp"), rec);
    copy_str(rec->qid, sizeof rec->qid, o, "id");
    const char *to = str(o, "recipient");
    if (to)
        lp_addr(rec, to, strlen(to));
    json_t *peer = json_object_get(o, "peer_address");
    copy_str(rec->relay, sizeof rec->relay, peer, "name");
    copy_str(rec->relay_ip, sizeof rec->relay_ip, peer, "addr");
    json_t *resp = json_object_get(o, "response");
    if (json_is_object(resp))
        kumo_response(resp, rec);
    rec->status = kumo_status(str(o, "type"));
    if (rec->status == LS_NONE && json_is_object(resp) && rec->r.code)
        return LK_HOSTREPLY;   /* a fragment with only the response */
    return rec->status == LS_NONE ? LK_OTHER : LK_DELIVERY;
}

/* journald - unwrap journalctl's JSON export */
static enum lp_kind journald(const lp_ctx *ctx, json_t *o, logrec *rec)
{
    const char *msg = str(o, "MESSAGE"), *prog = str(o, "SYSLOG_IDENTIFIER"), *t = str(o, "__REALTIME_TIMESTAMP");
    if (!prog)
        prog = str(o, "_COMM");
    const char *pid = str(o, "SYSLOG_PID");
    if (!pid)
        pid = str(o, "_PID");
    long long us = t ? strtoll(t, NULL, 10) : 0;
    if (us > 0 && us < 100000000000000000LL) {   /* before the year 5000 */
        rec->t_us = us;
        rec->has_time = 1;
    }
    if (pid)
        rec->pid = strtol(pid, NULL, 10);
    if (prog)
        lp_copy(rec->prog, sizeof rec->prog, prog, strlen(prog));
    return lp_dispatch(ctx, prog ? prog : "", msg, strlen(msg), rec);
}

/* load - the object of the line (or of its member fragment) */
static json_t *load(const char *s, size_t n)
{
    if (n && s[0] == '{')
        return json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!n || s[0] != '"' || n > 1 << 20)
        return NULL;
    char *buf = malloc(n + 3);
    if (!buf)
        return NULL;
    buf[0] = '{';
    memcpy(buf + 1, s, n);
    size_t k = n + 1;
    while (k > 1 && (buf[k - 1] == ',' || buf[k - 1] == ' '))
        k--;
    buf[k++] = '}';
    json_t *o = json_loadb(buf, k, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    return o;
}

enum lp_kind lp_body_json(const lp_ctx *ctx, const char *s, size_t n, logrec *rec)
{
    json_t *o = load(s, n);
    enum lp_kind k = LK_UNRECOGNISED;
    if (json_is_object(o)) {
        if (json_is_string(json_object_get(o, "MESSAGE")))
            k = journald(ctx, o, rec);
        else if (json_object_get(o, "queue_id") && json_object_get(o, "status"))
            k = sluice(o, rec);
        else if (json_object_get(o, "type") || json_object_get(o, "response"))
            k = kumo(o, rec);
    }
    json_decref(o);
    return k;
}
