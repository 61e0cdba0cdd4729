/* doctor_queue.c - placeholder until `sluice doctor queue` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_queue(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor queue: not available yet\n");
    return EX_UNAVAILABLE;
}
