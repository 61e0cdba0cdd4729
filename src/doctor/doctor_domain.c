/* doctor_domain.c - placeholder until `sluice doctor domain` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_domain(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor domain: not available yet\n");
    return EX_UNAVAILABLE;
}
