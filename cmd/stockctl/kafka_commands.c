/* kafka_commands.c - stockctl's commands against Kafka, configured like stockd: send, tail, verify.
 *
 * send produces command envelopes to <prefix>.commands, tail prints <prefix>.events (one decoded event a
 * line) or <prefix>.dlq, verify folds the events topic and compares the handler's shards with it, then
 * checks every order of the orders topic against its lines' events. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <signal.h>
#include <sys/stat.h>
#include <stdatomic.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "domain/codec.h"
#include "domain/number.h"
#include "domain/order.h"
#include "domain/domain.h"
#include "kafka/client.h"
#include "limits.h"
#include "log.h"
#include "stockctl.h"
#include "verify.h"

static const char kafka_options_help[] =
    "Kafka options: stockd's configuration keys, as --KEY=VALUE or --KEY VALUE (--kafka.bootstrap=H:P,\n"
    "--kafka.topic_prefix=P, --kafka.properties=..., --config FILE, or STOCKD_* variables; see stockd "
    "--help).\n";

static const char send_help[] =
    "Usage: stockctl send [FILE] [--KEY=VALUE]...\n"
    "\n"
    "Validates each line of FILE (default: standard input) as a command envelope and produces the valid "
    "ones\n"
    "to <prefix>.commands, keyed by SKU (one SKU's commands keep their order); invalid lines are reported "
    "with\n"
    "their line number and skipped. Bypasses the HTTP API (see stockctl submit for that).\n"
    "Exit codes: 0 all sent, 1 some line invalid, 2 usage, 3 Kafka error.\n"
    "\n";

static const char tail_help[] =
    "Usage: stockctl tail events|dlq [--count N] [--from-beginning] [--json] [--KEY=VALUE]...\n"
    "\n"
    "Prints records of <prefix>.events or <prefix>.dlq (read_committed) until N records or Ctrl-C.\n"
    "events: one line per event: time (UTC), partition:offset, type, SKU, sequence, the event's fields and\n"
    "its command id. dlq: partition:offset, the stockd_error header and the record.\n"
    "  --count N          stop after N records\n"
    "  --from-beginning   start at the oldest record, not at the end\n"
    "  --json             print each record's value as it is, one a line\n"
    "Exit codes: 0 done, 2 usage, 3 Kafka error (no broker reachable, no such topic, a fatal error).\n"
    "\n";

static const char verify_help[] =
    "Usage: stockctl verify [--KEY=VALUE]...\n"
    "\n"
    "Folds <prefix>.events from offset 0 into scratch shards and compares the handler shards in data_dir\n"
    "(and the views) with it. Then folds <prefix>.orders on its own and checks every order against its\n"
    "lines' events: each order placed is confirmed or rejected (or in flight, within orders.saga_timeout_ms\n"
    "and 10 s more); each line of a confirmed order has its ReserveStock (order:<order_id>:<line>) accepted\n"
    "for its SKU, location and quantity; no line of a rejected order holds units; the lines of a released "
    "or\n"
    "fulfilled order were released or fulfilled as the order says; an expired order's line expired on\n"
    "events and its other lines were released, none holding units. The catalog view is compared with its\n"
    "own merge of CatalogUpdated by --catalog.source_precedence: give it stockd's value (or --config).\n"
    "The order stage's shards in data_dir (orders/orders-NNNN.db) are compared with verify's fold of their\n"
    "partition of <prefix>.orders (the stage's order_apply) up to each shard's checkpoint: the same orders,\n"
    "each with the same status, reason, lines (SKU, location, quantity, status, reason, pending release or\n"
    "fulfilment, event position) and offset of its last change; a checkpoint past the end of its partition\n"
    "differs, one before it is counted as behind (the stage restores from there).\n"
    "Prints the first differences. Run it while no commands flow.\n"
    "Exit codes: 0 equal, 1 different, 2 usage, 3 could not run or nothing to compare (no shard, view or\n"
    "order stage shard files under data_dir).\n"
    "\n";

/* Prints a Kafka command's help. */
static int kafka_help_print(const char *help)
{
    fputs(help, stdout);
    fputs(kafka_options_help, stdout);
    return EXIT_OK;
}

static atomic_bool interrupted;

static void on_interrupt(int signal_number)
{
    (void)signal_number;
    atomic_store(&interrupted, true);
}

/* Loads stockd's configuration from its flags (--KEY=VALUE or --KEY VALUE, as stockd reads them); the
 * other arguments are left in positional (at most positional_max). Returns 0, or an exit code after
 * printing why. */
static int kafka_config_load(int argc, char **argv, struct stockd_config *config, const char **positional,
                             int positional_max, int *positional_count)
{
    static char *flags[256];
    int flag_count = 0;
    flags[flag_count++] = "stockctl";
    *positional_count = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            int span = stockd_config_flag_span(argc, argv, i);
            if (span == 0) span = 1; /* not stockd's: the load below says why */
            if (flag_count + span >= 256) {
                fprintf(stderr, "stockctl: more than %d flags\n", 254);
                return EXIT_USAGE;
            }
            for (int k = 0; k < span; k++)
                flags[flag_count++] = argv[i + k];
            i += span - 1;
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
 * <prefix>.commands and so keep the order of the file. Returns 0, 1 for an invalid line, or -1 when the
 * producer refused it (after printing why): the lines after it must not go out of order. */
static int send_line(rd_kafka_t *producer, const char *topic, const char *line, size_t length,
                     long line_number)
{
    static struct command command;
    struct codec_error error;
    if (codec_command_decode(line, length, &command, &error) != 0) {
        fprintf(stderr, "stockctl: line %ld: %s\n", line_number, error.message);
        return 1;
    }
    /* The router dead-letters these: say so here (docs/orders.md). */
    size_t prefix_bytes = sizeof(ORDER_ID_PREFIX) - 1;
    if (strncmp(command.command_id, ORDER_ID_PREFIX, prefix_bytes) == 0 ||
        strncmp(command.reservation_id, ORDER_ID_PREFIX, prefix_bytes) == 0) {
        fprintf(stderr,
                "stockctl: line %ld: ids beginning with \"%s\" belong to the order stage (POST /v1/orders)\n",
                line_number, ORDER_ID_PREFIX);
        return 1;
    }
    rd_kafka_resp_err_t status;
    while ((status = rd_kafka_producev(
                producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(command.sku, strlen(command.sku)),
                RD_KAFKA_V_VALUE((void *)line, length), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 10);
    rd_kafka_poll(producer, 0);
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "stockctl: line %ld: not sent: %s (stopping here)\n", line_number,
                rd_kafka_err2str(status));
        return -1;
    }
    return 0;
}

int command_send(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) return kafka_help_print(send_help);
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
    bool kafka_failed = false;
    size_t length = 0;
    enum stockctl_line read;
    while (!kafka_failed &&
           (read = stockctl_line_next(stream, line, sizeof(line), &length)) != STOCKCTL_LINE_END) {
        line_number++;
        if (read == STOCKCTL_LINE_TOO_LONG) {
            fprintf(stderr, "stockctl: line %ld: longer than %d bytes, skipped\n", line_number,
                    STOCKD_MESSAGE_BYTES_MAX);
            invalid++;
            continue;
        }
        if (length == 0) continue;
        int sent_line = send_line(producer, topics.commands, line, length, line_number);
        if (sent_line == 0)
            sent++;
        else if (sent_line == 1)
            invalid++;
        else
            kafka_failed = true;
    }
    if (stream != stdin) fclose(stream);
    rd_kafka_flush(producer, 30000);
    long unsent = rd_kafka_outq_len(producer) + failed;
    rd_kafka_destroy(producer);
    fprintf(stderr, "stockctl: sent %ld command(s) to %s, %ld invalid line(s), %ld not delivered\n",
            sent - failed, topics.commands, invalid, unsent);
    return unsent > 0 || kafka_failed ? EXIT_IO : invalid > 0 ? EXIT_INVALID : EXIT_OK;
}

/* Formats Unix epoch milliseconds as kafka_time_rfc3339 does, and a negative time (none) as "-". */
static void time_format(int64_t time_ms, char *out, size_t out_bytes)
{
    if (time_ms < 0) {
        snprintf(out, out_bytes, "-");
        return;
    }
    kafka_time_rfc3339(time_ms, out, out_bytes);
}

/* Writes the fields that say what an event did: "location=WH-1 quantity=5". */
static void event_fields_format(const struct event *event, char *out, size_t out_bytes)
{
    char expires[48] = "";
    switch (event->type) {
    case EVENT_SKU_CREATED:
        snprintf(out, out_bytes, "name=\"%s\" reorder_point=%" PRId64 " lead_time_days=%" PRId64, event->name,
                 event->reorder_point, event->lead_time_days);
        break;
    case EVENT_STOCK_RECEIVED:
        snprintf(out, out_bytes, "location=%s quantity=%" PRId64, event->location, event->quantity);
        break;
    case EVENT_STOCK_ADJUSTED:
        if (event->counted_set)
            snprintf(out, out_bytes, "location=%s delta=%" PRId64 " counted=%" PRId64 " reason=\"%s\"",
                     event->location, event->delta, event->counted, event->reason);
        else
            snprintf(out, out_bytes, "location=%s delta=%" PRId64 " reason=\"%s\"", event->location,
                     event->delta, event->reason);
        break;
    case EVENT_STOCK_RESERVED:
        if (event->expires_at_ms > 0) {
            char when[32];
            time_format(event->expires_at_ms, when, sizeof(when));
            snprintf(expires, sizeof(expires), " expires_at=%s", when);
        }
        snprintf(out, out_bytes, "reservation_id=%s location=%s quantity=%" PRId64 "%s",
                 event->reservation_id, event->location, event->quantity, expires);
        break;
    case EVENT_RESERVATION_RELEASED:
    case EVENT_RESERVATION_FULFILLED:
    case EVENT_RESERVATION_EXPIRED:
        snprintf(out, out_bytes, "reservation_id=%s location=%s quantity=%" PRId64, event->reservation_id,
                 event->location, event->quantity);
        break;
    case EVENT_STOCK_TRANSFERRED:
        snprintf(out, out_bytes, "from_location=%s to_location=%s quantity=%" PRId64, event->location,
                 event->to_location, event->quantity);
        break;
    case EVENT_COMMAND_REJECTED: {
        const char *command_type = domain_command_type_name(event->rejected_type);
        const char *reason = domain_reject_reason_code(event->reject_reason);
        snprintf(out, out_bytes, "command_type=%s reason=%s detail=\"%s\"", command_type ? command_type : "?",
                 reason ? reason : "?", event->detail);
        break;
    }
    default:
        snprintf(out, out_bytes, "-");
        break;
    }
}

/* Prints one record. Events: one decoded line (time, partition:offset, type, SKU, sequence, the fields,
 * command id); DLQ records: partition:offset, the error header and the record. raw: the value as it is. */
static void tail_print(const rd_kafka_message_t *message, bool events, bool raw)
{
    const char *payload = message->payload ? (const char *)message->payload : "";
    if (raw) {
        printf("%.*s\n", (int)message->len, payload);
        return;
    }
    char position[48];
    snprintf(position, sizeof(position), "%d:%lld", (int)message->partition, (long long)message->offset);
    if (events) {
        static struct event event;
        struct codec_error error;
        if (codec_event_decode(payload, message->len, &event, &error) == 0) {
            char time_text[32], fields[1024];
            time_format(event.time_ms, time_text, sizeof(time_text));
            event_fields_format(&event, fields, sizeof(fields));
            printf("%s  %-9s  %-19s  %-12s  seq=%-5" PRIu64 "  %s  command_id=%s\n", time_text, position,
                   domain_event_type_name(event.type), event.sku, event.sequence, fields, event.command_id);
            return;
        }
        char time_text[32];
        rd_kafka_timestamp_type_t timestamp_type;
        time_format(rd_kafka_message_timestamp(message, &timestamp_type), time_text, sizeof(time_text));
        printf("%s  %-9s  (undecodable: %s) ", time_text, position, error.message);
    } else {
        rd_kafka_headers_t *headers = NULL;
        const void *value = NULL;
        size_t size = 0;
        printf("%s  ", position);
        if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(headers, "stockd_error", &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR)
            printf("error: %.*s | ", (int)size, (const char *)value);
    }
    printf("%.*s\n", (int)message->len, payload);
}

/* The Kafka error that ends tail (exit 3), 0 while none: no broker reachable, no such topic (a misspelt
 * prefix), or a fatal client error. librdkafka retries the first two for ever, which is right for a
 * service and wrong for a command a script waits on. Set by tail_on_error, from librdkafka's threads. */
static _Atomic int tail_kafka_error;

static bool tail_error_ends(int code)
{
    return code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
           code == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || code == RD_KAFKA_RESP_ERR__FATAL;
}

static void tail_on_error(rd_kafka_t *consumer, int code, const char *reason, void *opaque)
{
    (void)opaque;
    if (!tail_error_ends(code)) {
        log_info(rd_kafka_name(consumer), "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
        return;
    }
    int none = 0;
    if (atomic_compare_exchange_strong(&tail_kafka_error, &none, code))
        fprintf(stderr, "stockctl: tail: Kafka: %s\n", reason);
}

int command_tail(int argc, char **argv)
{
    static struct stockd_config config;
    static char *rest[256];
    const char *positional[1] = {NULL};
    int positional_count = 0, rest_count = 0;
    long count_max = -1;
    bool from_beginning = false, raw = false;
    if (stockctl_wants_help(argc, argv)) return kafka_help_print(tail_help);
    for (int i = 0; i < argc && rest_count < 255; i++) {
        const char *count = NULL;
        if (strcmp(argv[i], "--count") == 0)
            count = i + 1 < argc ? argv[++i] : "";
        else if (strncmp(argv[i], "--count=", 8) == 0)
            count = argv[i] + 8;
        else if (strcmp(argv[i], "--from-beginning") == 0)
            from_beginning = true;
        else if (strcmp(argv[i], "--json") == 0)
            raw = true;
        else
            rest[rest_count++] = argv[i];
        if (count != NULL) {
            int64_t parsed = 0;
            if (number_integer_parse_string(count, 1, INT32_MAX, &parsed) != NUMBER_OK) {
                fprintf(stderr, "stockctl: tail: --count must be a positive integer, got \"%s\"\n", count);
                return EXIT_USAGE;
            }
            count_max = (long)parsed;
        }
    }
    int status = kafka_config_load(rest_count, rest, &config, positional, 1, &positional_count);
    if (status != EXIT_OK) return status;
    if (positional_count != 1 ||
        (strcmp(positional[0], "events") != 0 && strcmp(positional[0], "dlq") != 0)) {
        fprintf(stderr,
                "stockctl: usage: stockctl tail events|dlq [--count N] [--from-beginning] [--json]\n");
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
    if (conf != NULL) rd_kafka_conf_set_error_cb(conf, tail_on_error);
    rd_kafka_t *consumer = conf ? kafka_client_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error)) : NULL;
    if (consumer == NULL) {
        fprintf(stderr, "stockctl: %s\n", error);
        return EXIT_IO;
    }
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *subscription = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subscription, events ? topics.events : topics.dlq,
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t subscribed = rd_kafka_subscribe(consumer, subscription);
    rd_kafka_topic_partition_list_destroy(subscription);
    if (subscribed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "stockctl: tail: subscribe: %s\n", rd_kafka_err2str(subscribed));
        rd_kafka_destroy(consumer);
        return EXIT_IO;
    }
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    long printed = 0;
    status = EXIT_OK;
    while (status == EXIT_OK && !atomic_load(&interrupted) && (count_max < 0 || printed < count_max)) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 200);
        if (atomic_load(&tail_kafka_error) != 0) status = EXIT_IO; /* printed by tail_on_error */
        if (message == NULL) continue;
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            tail_print(message, events, raw);
            fflush(stdout);
            printed++;
        } else if (tail_error_ends(message->err)) {
            fprintf(stderr, "stockctl: tail: Kafka: %s\n", rd_kafka_message_errstr(message));
            status = EXIT_IO;
        } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "stockctl: %s\n", rd_kafka_message_errstr(message));
        }
        rd_kafka_message_destroy(message);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return status;
}

int command_verify(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) return kafka_help_print(verify_help);
    static struct stockd_config config;
    const char *positional[1];
    int positional_count = 0;
    int status = kafka_config_load(argc, argv, &config, positional, 0, &positional_count);
    if (status != EXIT_OK) return status;
    /* A data_dir without shards or views proves nothing: most likely a typo in --data_dir. */
    char path[4096];
    struct stat state_dir, views_dir, orders_dir;
    snprintf(path, sizeof(path), "%s/state", config.data_dir);
    bool has_state = stat(path, &state_dir) == 0 && S_ISDIR(state_dir.st_mode);
    snprintf(path, sizeof(path), "%s/views", config.data_dir);
    bool has_views = stat(path, &views_dir) == 0 && S_ISDIR(views_dir.st_mode);
    snprintf(path, sizeof(path), "%s/orders", config.data_dir);
    bool has_orders = stat(path, &orders_dir) == 0 && S_ISDIR(orders_dir.st_mode);
    if (!has_state && !has_views && !has_orders) {
        fprintf(stderr,
                "stockctl: verify: nothing to compare: %s has no state/, views/ or orders/ (is --data_dir "
                "right?)\n",
                config.data_dir);
        return EXIT_IO;
    }
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
    printf("folded %llu events (%llu SKU keys), compared %d shard(s) and %d view partition(s) of %s, %d "
           "behind: %llu difference(s)\n",
           (unsigned long long)report.events, (unsigned long long)report.skus, (int)report.shards_compared,
           (int)report.views_compared, config.data_dir, (int)report.shards_behind,
           (unsigned long long)report.differences);
    if (report.orders_checked)
        printf("orders: %llu placed (%llu confirmed, %llu of them expired since, %llu rejected, %llu in "
               "flight), "
               "%llu line event(s), %llu record(s) folded (%llu not decodable); compared %d order stage "
               "shard(s) (%llu orders), %d behind\n",
               (unsigned long long)report.orders.orders, (unsigned long long)report.orders.confirmed,
               (unsigned long long)report.orders.expired, (unsigned long long)report.orders.rejected,
               (unsigned long long)report.orders.in_flight, (unsigned long long)report.orders.decisions,
               (unsigned long long)report.orders.records,
               (unsigned long long)report.orders.records_undecodable, (int)report.orders.shards_compared,
               (unsigned long long)report.orders.shard_orders_compared, (int)report.orders.shards_behind);
    else
        printf("orders: no %s.orders topic, no order to check\n", config.topic_prefix);
    for (size_t i = 0; i < report.kept; i++)
        printf("  %s\n", report.differences_kept[i]);
    if (report.differences > report.kept)
        printf("  ... and %llu more\n", (unsigned long long)(report.differences - report.kept));
    if (report.differences == 0 && report.shards_compared == 0 && report.views_compared == 0 &&
        report.orders.shards_compared == 0) {
        fprintf(stderr,
                "stockctl: verify: nothing was compared (no shard, view or orders shard file under %s)\n",
                config.data_dir);
        return EXIT_IO;
    }
    return report.differences == 0 ? EXIT_OK : EXIT_INVALID;
}
