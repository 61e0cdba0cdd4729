/* pem_nopass.h - OpenSSL's passphrase callback for keys sluice reads unattended */
#ifndef SLUICE_PEM_NOPASS_H
#define SLUICE_PEM_NOPASS_H

/* pem_no_passphrase - refuse an encrypted key (never prompt for it on a terminal); pass it as
 * the pem_password_cb of PEM_read_*PrivateKey */
int pem_no_passphrase(char *buf, int size, int rwflag, void *u);

#endif
