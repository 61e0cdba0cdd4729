/* doctor_warmup.c - placeholder until `sluice doctor warmup` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_warmup(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor warmup: not available yet\n");
    return EX_UNAVAILABLE;
}
