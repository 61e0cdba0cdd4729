/* readfile.h - a whole (small) file into memory */
#ifndef SLUICE_READFILE_H
#define SLUICE_READFILE_H
#include <stddef.h>

/* read_file_all - the file at path into a new NUL-terminated buffer (the caller frees it) of
 * at most max bytes, its length in *len; NULL with a message in err */
char *read_file_all(const char *path, size_t max, size_t *len, char *err, int errlen);

#endif
