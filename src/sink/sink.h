/* sink.h - `sluice sink`: an SMTP receiver that greylists, throttles and fails like real
 * mail servers (docs/sink.md).  The one entry point the `sluice` command dispatches to. */
#ifndef SLUICE_SINK_H
#define SLUICE_SINK_H

/* sink_main - run the sink; argv[0] is "sink", the options follow.  Returns the exit
 * status: 0 after the summary, 64 on a usage error, 69 when a listener can't be opened. */
int sink_main(int argc, char **argv);

#endif
