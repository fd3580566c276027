/* main.c - stockctl, the operator CLI of stockd.
 *
 * Offline: validate a command or event envelope exactly as stockd will, tell which partition a SKU lives
 * in. Against Kafka (configured like stockd: flags, STOCKD_* environment, --config): send commands to
 * <prefix>.commands, tail events or the DLQ. Exit codes: 0 success, 1 invalid input, 2 usage error,
 * 3 I/O or Kafka error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <stdatomic.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "domain/codec.h"
#include "kafka/client.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "limits.h"
#include "verify.h"
#include "version.h"

enum {
    EXIT_OK = 0,
    EXIT_INVALID = 1,
    EXIT_USAGE = 2,
    EXIT_IO = 3,
};

static const char usage_text[] =
    "Usage: stockctl <command> [arguments]\n"
    "\n"
    "Commands:\n"
    "  validate command|event [FILE]   decode one JSON envelope from FILE (default: standard input) with\n"
    "                                  the same strict codec stockd uses; prints it normalised, or the\n"
    "                                  error naming the field. Exit 0 valid, 1 invalid.\n"
    "  partition SKU [--partitions P]  print the partition of SKU among P (default 6), as Java's default\n"
    "                                  partitioner and stockd's router compute it (murmur2).\n"
    "  send [FILE] [--KEY=VALUE]...     validate each line of FILE (default: standard input) as a command\n"
    "                                  and produce the valid ones to <prefix>.commands, keyed by SKU (one\n"
    "                                  SKU's commands keep their order); invalid lines are reported with\n"
    "                                  their line number and skipped.\n"
    "                                  Exit 0 all sent, 1 some line invalid, 3 Kafka error.\n"
    "  tail events|dlq [--count N] [--from-beginning] [--KEY=VALUE]...\n"
    "                                  print records of <prefix>.events (decoded) or <prefix>.dlq (with\n"
    "                                  the error headers), read_committed, until N records or Ctrl-C.\n"
    "  verify [--KEY=VALUE]...         fold <prefix>.events from offset 0 and compare the handler shards\n"
    "                                  in data_dir with it; prints the first differences. Run it while\n"
    "                                  no commands flow. Exit 0 equal, 1 different, 3 could not run.\n"
    "  --version                       print the version\n"
    "  --help                          print this help\n"
    "\n"
    "Kafka commands take stockd's configuration keys (--kafka.bootstrap=H:P, --kafka.topic_prefix=P,\n"
    "--kafka.properties=..., --config FILE, or STOCKD_* variables; see stockd --help).\n"
    "\n"
    "Exit codes: 0 success, 1 invalid input, 2 usage error, 3 I/O or Kafka error.\n";

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

static int command_validate(int argc, char **argv)
{
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
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 || value > STOCKD_PARTITIONS_MAX) return -1;
    return value;
}

static int command_partition(int argc, char **argv)
{
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

/* ---- commands against Kafka ------------------------------------------------------------------------- */

static atomic_bool interrupted;

static void on_interrupt(int signal_number)
{
    (void)signal_number;
    atomic_store(&interrupted, true);
}

/* Loads stockd's configuration from the --key=value arguments; the others are left in positional
 * (at most positional_max). Returns 0, or an exit code after printing why. */
static int kafka_config_load(int argc, char **argv, struct stockd_config *config, const char **positional,
                             int positional_max, int *positional_count)
{
    static char *flags[256];
    int flag_count = 0;
    flags[flag_count++] = "stockctl";
    *positional_count = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && flag_count < 255) {
            flags[flag_count++] = argv[i];
        } else if (*positional_count < positional_max) {
            positional[(*positional_count)++] = argv[i];
        } else {
            fprintf(stderr, "stockctl: unexpected argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct stockd_config_error error;
    if (stockd_config_load(config, flag_count, flags, NULL, &error) != 0) {
        fprintf(stderr, "stockctl: %s\n", error.message);
        return EXIT_USAGE;
    }
    log_init(config->log_level);
    return EXIT_OK;
}

static void on_delivery(rd_kafka_t *producer, const rd_kafka_message_t *message, void *opaque)
{
    (void)producer;
    long *failed = opaque;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    fprintf(stderr, "stockctl: not delivered: %s\n", rd_kafka_err2str(message->err));
    (*failed)++;
}

/* Produces one validated command line, keyed by its SKU: the commands of one SKU land on one partition of
 * <prefix>.commands and so keep the order of the file. Returns 0, or 1 for an invalid line. */
static int send_line(rd_kafka_t *producer, const char *topic, const char *line, size_t length,
                     long line_number)
{
    static struct command command;
    struct codec_error error;
    if (codec_command_decode(line, length, &command, &error) != 0) {
        fprintf(stderr, "stockctl: line %ld: %s\n", line_number, error.message);
        return 1;
    }
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_KEY(command.sku, strlen(command.sku)),
                             RD_KAFKA_V_VALUE((void *)line, length), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 10);
    rd_kafka_poll(producer, 0);
    return 0;
}

static int command_send(int argc, char **argv)
{
    static struct stockd_config config;
    const char *file = NULL;
    int positional_count = 0;
    int status = kafka_config_load(argc, argv, &config, &file, 1, &positional_count);
    if (status != EXIT_OK) return status;
    FILE *stream = positional_count == 0 || strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (stream == NULL) {
        fprintf(stderr, "stockctl: %s: %s\n", file, strerror(errno));
        return EXIT_IO;
    }
    char error[512];
    long failed = 0;
    rd_kafka_conf_t *conf = kafka_conf_new(&config, "stockctl", error, sizeof(error));
    if (conf != NULL && (kafka_conf_set(conf, "enable.idempotence", "true", error, sizeof(error)) != 0 ||
                         kafka_conf_set(conf, "partitioner", "murmur2_random", error, sizeof(error)) != 0)) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    rd_kafka_t *producer = NULL;
    if (conf != NULL) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, &failed);
        producer = kafka_client_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    }
    if (producer == NULL) {
        fprintf(stderr, "stockctl: %s\n", error);
        if (stream != stdin) fclose(stream);
        return EXIT_IO;
    }
    struct kafka_topics topics;
    kafka_topics_names(config.topic_prefix, &topics);
    static char line[STOCKD_MESSAGE_BYTES_MAX + 2];
    long line_number = 0, sent = 0, invalid = 0;
    while (fgets(line, sizeof(line), stream) != NULL) {
        line_number++;
        size_t length = strlen(line);
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
            line[--length] = '\0';
        if (length == 0) continue;
        if (send_line(producer, topics.commands, line, length, line_number) == 0)
            sent++;
        else
            invalid++;
    }
    if (stream != stdin) fclose(stream);
    rd_kafka_flush(producer, 30000);
    long unsent = rd_kafka_outq_len(producer) + failed;
    rd_kafka_destroy(producer);
    fprintf(stderr, "stockctl: sent %ld command(s) to %s, %ld invalid line(s), %ld not delivered\n",
            sent - failed, topics.commands, invalid, unsent);
    return unsent > 0 ? EXIT_IO : invalid > 0 ? EXIT_INVALID : EXIT_OK;
}

/* Prints one record: events decoded and normalised, DLQ records with their error headers. */
static void tail_print(const rd_kafka_message_t *message, bool events)
{
    printf("[%d@%lld] ", (int)message->partition, (long long)message->offset);
    if (events) {
        static struct event event;
        struct codec_error error;
        if (codec_event_decode(message->payload, message->len, &event, &error) == 0) {
            char *json = codec_event_encode(&event);
            printf("%s\n", json ? json : "(out of memory)");
            free(json);
            return;
        }
        printf("(undecodable: %s) ", error.message);
    } else {
        rd_kafka_headers_t *headers = NULL;
        const void *value = NULL;
        size_t size = 0;
        if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(headers, "stockd_error", &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR)
            printf("error: %.*s | ", (int)size, (const char *)value);
    }
    printf("%.*s\n", (int)message->len, message->payload ? (const char *)message->payload : "");
}

static int command_tail(int argc, char **argv)
{
    static struct stockd_config config;
    static char *rest[256];
    const char *positional[1] = {NULL};
    int positional_count = 0, rest_count = 0;
    long count_max = -1;
    bool from_beginning = false;
    for (int i = 0; i < argc && rest_count < 255; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count_max = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--from-beginning") == 0)
            from_beginning = true;
        else
            rest[rest_count++] = argv[i];
    }
    int status = kafka_config_load(rest_count, rest, &config, positional, 1, &positional_count);
    if (status != EXIT_OK) return status;
    if (positional_count != 1 ||
        (strcmp(positional[0], "events") != 0 && strcmp(positional[0], "dlq") != 0)) {
        fprintf(stderr, "stockctl: usage: stockctl tail events|dlq [--count N] [--from-beginning]\n");
        return EXIT_USAGE;
    }
    bool events = strcmp(positional[0], "events") == 0;
    struct kafka_topics topics;
    kafka_topics_names(config.topic_prefix, &topics);
    char error[512];
    rd_kafka_conf_t *conf = kafka_conf_new(&config, "stockctl-tail", error, sizeof(error));
    char group[64];
    snprintf(group, sizeof(group), "stockctl-tail-%d", (int)getpid());
    if (conf != NULL && (kafka_conf_set(conf, "group.id", group, error, sizeof(error)) != 0 ||
                         kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof(error)) != 0 ||
                         kafka_conf_set(conf, "auto.offset.reset", from_beginning ? "earliest" : "latest",
                                        error, sizeof(error)) != 0)) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    rd_kafka_t *consumer = conf ? kafka_client_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error)) : NULL;
    if (consumer == NULL) {
        fprintf(stderr, "stockctl: %s\n", error);
        return EXIT_IO;
    }
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *subscription = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subscription, events ? topics.events : topics.dlq,
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, subscription);
    rd_kafka_topic_partition_list_destroy(subscription);
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    long printed = 0;
    while (!atomic_load(&interrupted) && (count_max < 0 || printed < count_max)) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 200);
        if (message == NULL) continue;
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            tail_print(message, events);
            fflush(stdout);
            printed++;
        } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "stockctl: %s\n", rd_kafka_message_errstr(message));
        }
        rd_kafka_message_destroy(message);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return EXIT_OK;
}

static int command_verify(int argc, char **argv)
{
    static struct stockd_config config;
    const char *positional[1];
    int positional_count = 0;
    int status = kafka_config_load(argc, argv, &config, positional, 0, &positional_count);
    if (status != EXIT_OK) return status;
    char scratch[] = "/tmp/stockctl-verify-XXXXXX";
    if (mkdtemp(scratch) == NULL) {
        fprintf(stderr, "stockctl: cannot create a scratch directory: %s\n", strerror(errno));
        return EXIT_IO;
    }
    signal(SIGINT, on_interrupt);
    static struct verify_report report;
    char error[1024];
    int ran = verify_run(&config, scratch, &interrupted, &report, error, sizeof(error));
    char command[sizeof(scratch) + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", scratch);
    if (system(command) != 0) fprintf(stderr, "stockctl: could not remove %s\n", scratch);
    if (ran != 0) {
        fprintf(stderr, "stockctl: verify: %s\n", error);
        return EXIT_IO;
    }
    printf("folded %llu events (%llu SKU keys), compared %d shard(s) of %s, %d behind: %llu difference(s)\n",
           (unsigned long long)report.events, (unsigned long long)report.skus, (int)report.shards_compared,
           config.data_dir, (int)report.shards_behind, (unsigned long long)report.differences);
    for (size_t i = 0; i < report.kept; i++)
        printf("  %s\n", report.differences_kept[i]);
    if (report.differences > report.kept)
        printf("  ... and %llu more\n", (unsigned long long)(report.differences - report.kept));
    return report.differences == 0 ? EXIT_OK : EXIT_INVALID;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(command, "--version") == 0) {
        printf("stockctl %s\n", stockd_version());
        return EXIT_OK;
    }
    if (strcmp(command, "validate") == 0) return command_validate(argc - 2, argv + 2);
    if (strcmp(command, "partition") == 0) return command_partition(argc - 2, argv + 2);
    if (strcmp(command, "send") == 0) return command_send(argc - 2, argv + 2);
    if (strcmp(command, "tail") == 0) return command_tail(argc - 2, argv + 2);
    if (strcmp(command, "verify") == 0) return command_verify(argc - 2, argv + 2);
    fprintf(stderr, "stockctl: unknown command \"%s\" (see stockctl --help)\n", command);
    return EXIT_USAGE;
}
