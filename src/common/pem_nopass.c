/* pem_nopass.c - see pem_nopass.h */
#include "common/pem_nopass.h"

int pem_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}
