/* doctor_ip.c - placeholder until `sluice doctor ip` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_ip(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor ip: not available yet\n");
    return EX_UNAVAILABLE;
}
