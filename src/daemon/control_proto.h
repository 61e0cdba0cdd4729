/* control_proto.h - the local control protocol between `sluice` and `sluiced`.
 *
 * Transport: a Unix stream socket, QUEUE_DIRECTORY/control.sock (mode 0666; the daemon
 * checks the caller's uid with SO_PEERCRED: changing the queue needs root or the daemon's
 * own uid, submitting and listing do not).
 * Framing: each request is one JSON object on one line; each response is one or more JSON
 * lines, the last of which has "ok" (true/false; on false "error" says why and "exit" is
 * the sysexits.h code a command line tool should exit with).  A request with "size": N is
 * followed by exactly N raw bytes (a message); a response with "size": N likewise.
 *
 *   {"cmd":"ping"}                          -> {"ok":true,"pid":..,"version":..,"queue_directory":..}
 *   {"cmd":"submit","sender":S,"rcpts":[..],"fullname":F,"flags":N,"size":N} + bytes
 *                                           -> {"ok":true,"queue_id":ID}
 *   {"cmd":"list"}                          -> one line per message (postqueue -j format), then
 *                                              {"ok":true,"count":N}
 *   {"cmd":"show","id":ID}                  -> {"ok":true,"message":{...}}
 *   {"cmd":"body","id":ID}                  -> {"ok":true,"size":N} + bytes
 *   {"cmd":"delete"|"hold"|"release","ids":[..]|"all":true}
 *                                           -> {"ok":true,"count":N,"missing":[..]}
 *   {"cmd":"flush"}                         -> {"ok":true,"count":N}
 * The maildrop folder holds submit requests (the same bytes: the JSON line and the message)
 * written by `sluice send` while the daemon was not running. */
#ifndef SLUICE_CONTROL_PROTO_H
#define SLUICE_CONTROL_PROTO_H

#define CTL_SOCKET_NAME "control.sock"
#define CTL_MAILDROP_NAME "maildrop"
#define CTL_MAX_LINE (1024 * 1024)

#endif
