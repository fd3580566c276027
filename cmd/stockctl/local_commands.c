/* local_commands.c - stockctl's offline commands: validate an envelope, tell a SKU's partition.
 *
 * Nothing here talks to Kafka or to stockd: the same strict codec and the same murmur2 partitioner stockd
 * uses, run on the operator's input. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/codec.h"
#include "domain/number.h"
#include "kafka/murmur2.h"
#include "limits.h"
#include "stockctl.h"

static const char validate_help[] =
    "Usage: stockctl validate command|event [FILE]\n"
    "\n"
    "Decodes one JSON envelope from FILE (default: standard input) with the same strict codec stockd uses;\n"
    "prints it normalised, or the error naming the field. Works offline.\n"
    "Exit codes: 0 valid, 1 invalid, 2 usage, 3 cannot read FILE.\n";

static const char partition_help[] =
    "Usage: stockctl partition SKU [--partitions P]\n"
    "\n"
    "Prints the partition of SKU among P (default 6), as Java's default partitioner and stockd's API and\n"
    "router compute it (murmur2). Works offline.\n"
    "Exit codes: 0 printed, 1 not a valid SKU, 2 usage.\n";

/* Reads all of a stream, at most STOCKD_MESSAGE_BYTES_MAX + 1 bytes (one more shows it was too big).
 * Returns a malloc'd buffer and its length, or NULL on a read error. */
static char *read_all(FILE *stream, size_t *length_out)
{
    size_t capacity = STOCKD_MESSAGE_BYTES_MAX + 2;
    char *buffer = malloc(capacity);
    if (buffer == NULL) return NULL;
    size_t length = fread(buffer, 1, capacity - 1, stream);
    if (ferror(stream)) {
        free(buffer);
        return NULL;
    }
    buffer[length] = '\0';
    *length_out = length;
    return buffer;
}

/* Decodes and re-encodes; prints the canonical JSON on success, the codec's message on failure. */
static int validate_buffer(bool is_command, const char *buffer, size_t length)
{
    struct codec_error error;
    char *json = NULL;
    if (is_command) {
        static struct command command;
        if (codec_command_decode(buffer, length, &command, &error) != 0) goto out_invalid;
        json = codec_command_encode(&command);
    } else {
        static struct event event;
        if (codec_event_decode(buffer, length, &event, &error) != 0) goto out_invalid;
        json = codec_event_encode(&event);
    }
    if (json == NULL) {
        fprintf(stderr, "stockctl: out of memory\n");
        return EXIT_IO;
    }
    printf("%s\n", json);
    free(json);
    return EXIT_OK;
out_invalid:
    fprintf(stderr, "stockctl: invalid %s: %s\n", is_command ? "command" : "event", error.message);
    return EXIT_INVALID;
}

int command_validate(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) {
        fputs(validate_help, stdout);
        return EXIT_OK;
    }
    if (argc < 1 || argc > 2 || (strcmp(argv[0], "command") != 0 && strcmp(argv[0], "event") != 0)) {
        fprintf(stderr, "stockctl: usage: stockctl validate command|event [FILE]\n");
        return EXIT_USAGE;
    }
    FILE *stream = stdin;
    if (argc == 2 && strcmp(argv[1], "-") != 0) {
        stream = fopen(argv[1], "rb");
        if (stream == NULL) {
            fprintf(stderr, "stockctl: %s: %s\n", argv[1], strerror(errno));
            return EXIT_IO;
        }
    }
    size_t length = 0;
    char *buffer = read_all(stream, &length);
    if (stream != stdin) fclose(stream);
    if (buffer == NULL) {
        fprintf(stderr, "stockctl: cannot read the input\n");
        return EXIT_IO;
    }
    int status = validate_buffer(strcmp(argv[0], "command") == 0, buffer, length);
    free(buffer);
    return status;
}

/* Parses a partition count in [1, STOCKD_PARTITIONS_MAX]; -1 when it is not one. */
static long partitions_parse(const char *text)
{
    int64_t value = 0;
    if (number_integer_parse_string(text, 1, STOCKD_PARTITIONS_MAX, &value) != NUMBER_OK) return -1;
    return (long)value;
}

int command_partition(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) {
        fputs(partition_help, stdout);
        return EXIT_OK;
    }
    const char *sku = NULL;
    long partitions = 6;
    for (int i = 0; i < argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc)
            value = argv[++i];
        else if (strncmp(argv[i], "--partitions=", 13) == 0)
            value = argv[i] + 13;
        else if (sku == NULL && argv[i][0] != '-')
            sku = argv[i];
        else {
            fprintf(stderr, "stockctl: partition: unexpected argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
        if (value != NULL && (partitions = partitions_parse(value)) < 0) {
            fprintf(stderr, "stockctl: --partitions: must be an integer in [1, %d], got \"%s\"\n",
                    STOCKD_PARTITIONS_MAX, value);
            return EXIT_USAGE;
        }
    }
    if (sku == NULL) {
        fprintf(stderr, "stockctl: usage: stockctl partition SKU [--partitions P]\n");
        return EXIT_USAGE;
    }
    if (!codec_identifier_valid(sku, STOCKD_SKU_BYTES_MAX)) {
        fprintf(stderr, "stockctl: partition: \"%s\" is not a valid SKU (1-%d of [A-Za-z0-9._:-])\n", sku,
                STOCKD_SKU_BYTES_MAX);
        return EXIT_INVALID;
    }
    printf("%d\n", (int)murmur2_partition(sku, strlen(sku), (int32_t)partitions));
    return EXIT_OK;
}
