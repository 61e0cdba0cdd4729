/* doctor_logs.c - placeholder until `sluice doctor logs` is written (issue 6, in progress). */
#include <stdio.h>

#include "doctor/doctor.h"

int doctor_logs(const doctor_opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice doctor logs: not available yet\n");
    return EX_UNAVAILABLE;
}
