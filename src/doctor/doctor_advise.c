/* doctor_advise.c - placeholder until `sluice doctor advise` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_advise(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor advise: not available yet\n");
    return EX_UNAVAILABLE;
}
