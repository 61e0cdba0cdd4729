/* doctor_probe.c - placeholder until `sluice doctor probe` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_probe(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor probe: not available yet\n");
    return EX_UNAVAILABLE;
}
