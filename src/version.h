/* version.h - stockd's version and the versions of the libraries it is linked with. */
#ifndef STOCKD_VERSION_H
#define STOCKD_VERSION_H

#include <stddef.h>

/* The stockd release, e.g. "0.1.0". */
const char *stockd_version(void);

/* Writes one line naming stockd's and its libraries' versions. Returns 0, or -1 when it does not fit. */
int stockd_version_describe(char *buffer, size_t buffer_bytes);

#endif
