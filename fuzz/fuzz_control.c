/* fuzz_control.c - libFuzzer target for the daemon's control socket (daemon/control.c,
 * protocol in daemon/control_proto.h): the input is what a local client sends on one
 * connection - JSON request lines, a submit's message bytes after its line - to a real
 * control server of the small daemon in fuzz_daemon_common.h (spool, scheduler, cleanup,
 * DKIM signer).  Beyond "no crash, no leak, no hang", it checks: every complete request
 * gets exactly one final reply (a line with "ok"), even when several are sent at once, and
 * only a submit whose message bytes never all arrive gets none (unless its size was refused
 * at once); every reply line is a JSON
 * object; then the queue audit of fuzz_daemon_common.h (safe envelopes, every queue command
 * on every message, the listing) runs and empties the queue. */
#include "fuzz_daemon_common.h"

/* expected_replies - the complete requests in the input, read the way the daemon reads
 * them: a line each, and a submit with a size followed by that many bytes */
static int expected_replies(const uint8_t *p, size_t n)
{
    int k = 0;
    size_t off = 0;
    const uint8_t *nl;
    while (off < n && (nl = memchr(p + off, '\n', n - off))) {
        json_t *req = json_loadb((const char *)p + off, (size_t)(nl - p) - off, 0, NULL);
        const char *cmd = json_string_value(json_object_get(req, "cmd"));
        json_t *size = json_object_get(req, "size");
        off = (size_t)(nl - p) + 1;
        int body = cmd && !strcmp(cmd, "submit") && json_is_integer(size) && json_integer_value(size) >= 0;
        size_t need = body ? (size_t)json_integer_value(size) : 0;
        json_decref(req);
        if (need > n - off) {   /* the message bytes never all arrive: no reply, unless the */
            k += (int64_t)need > D.cfg->message_size_limit;   /* size was refused at once */
            break;
        }
        off += need;
        k++;
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!D.base)
        rig_init();
    dbuf out = {0};
    talk(data, size, &out);
    replies r = read_replies(&out);
    check(r.final == expected_replies(data, size));
    dbuf_free(&out);
    audit_queue();
    return 0;
}
