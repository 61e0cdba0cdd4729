/* doctor_all.c - placeholder until `sluice doctor all` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_all(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor all: not available yet\n");
    return EX_UNAVAILABLE;
}
