/* topics_delete.c - deletes the topics and consumer groups of one kafka.topic_prefix after a benchmark
 * (bench/http.sh) or an e2e test, so that a development broker does not fill up with their prefixes.
 *
 * Usage: bench_topics_delete BOOTSTRAP PREFIX. Deletes <prefix>.commands, .commands.by-sku, .events, .dlq and
 * the groups <prefix>-router and <prefix>-handler (topics_delete in src/kafka/topics.c); what is already gone
 * is not an error. Exit 0 when the requests were answered, 1 otherwise, 2 on a usage error. */
#include <stdio.h>
#include <string.h>

#include "kafka/topics.h"
#include "limits.h"

int main(int argc, char **argv)
{
    if (argc != 3 || strlen(argv[2]) == 0 || strlen(argv[2]) > STOCKD_SKU_BYTES_MAX) {
        fprintf(stderr, "usage: bench_topics_delete BOOTSTRAP PREFIX (a prefix of 1-%d bytes)\n",
                STOCKD_SKU_BYTES_MAX);
        return 2;
    }
    char error[512];
    if (topics_delete(argv[1], argv[2], error, sizeof(error)) != 0) {
        fprintf(stderr, "topics_delete: %s\n", error);
        return 1;
    }
    return 0;
}
