/* version.c - the versions stockd reports: its own and those of the libraries it runs on.
 *
 * Used by `stockd --version` and by the API's build info; reads only what the libraries say of
 * themselves. */
#include "version.h"

#include <stdio.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

const char *stockd_version(void)
{
    return STOCKD_VERSION;
}

int stockd_version_describe(char *buffer, size_t buffer_bytes)
{
    int written = snprintf(buffer, buffer_bytes, "stockd %s (librdkafka %s, SQLite %s, cJSON %s)",
                           STOCKD_VERSION, rd_kafka_version_str(), sqlite3_libversion(), cJSON_Version());
    return written < 0 || (size_t)written >= buffer_bytes ? -1 : 0;
}
