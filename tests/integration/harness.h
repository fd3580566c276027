/* harness.h - what the real-broker integration tests share: stockd subprocesses, a Kafka producer for
 * commands, a read_committed reader of whole topics, and the checks of the write path's invariants.
 *
 * Each test run gets its own topic prefix and temp directory, so runs never see each other's data on a
 * shared broker. The checks only read: they fold events in memory and compare with the shard files. */
#ifndef STOCKD_IT_HARNESS_H
#define STOCKD_IT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "domain/domain.h"
#include "kafka/client.h"

/* Bounds of the harness itself: stockd processes per run, arguments per process, headers per record. */
#define HARNESS_STOCKD_MAX      4
#define HARNESS_STOCKD_ARGS_MAX 8
/* Workers of one stage logging as "<stage>", "<stage>/1", ... (handler.threads) that the log parsers know. */
#define HARNESS_STAGE_WORKERS_MAX 16
#define HARNESS_HEADERS_MAX       12
#define HARNESS_PATH_BYTES_MAX    512
#define HARNESS_LOG_TAIL_LINES    60
#define HARNESS_ERROR_BYTES       2048

/* A set of strings with a number each (harness.c). */
struct harness_set;

/* One test run against the broker: configuration from the environment and the unique names. */
struct harness {
    char test_name[48];
    char prefix[STOCKD_SKU_BYTES_MAX + 1]; /* "it-<test>-<pid>-<random>", the kafka.topic_prefix */
    char root_dir[HARNESS_PATH_BYTES_MAX]; /* temp dir holding data dirs and logs of this run */
    char binary[HARNESS_PATH_BYTES_MAX];   /* $STOCKD_BINARY */
    char bootstrap[256];                   /* $STOCKD_TEST_BOOTSTRAP */
    int32_t partitions;                    /* kafka.partitions of the stockd processes */
    struct kafka_topics topics;
    bool passed; /* set by the test when it got to its end: teardown then removes what it made */
    char error[HARNESS_ERROR_BYTES];
};

/* One stockd process (possibly restarted several times with the same identity and data dir). */
struct harness_stockd {
    struct harness *harness;
    pid_t pid; /* 0 when not running */
    char instance_id[32];
    char data_dir[HARNESS_PATH_BYTES_MAX + 64];
    char log_path[HARNESS_PATH_BYTES_MAX + 64];
    off_t log_start; /* log size when the current incarnation started: waits look from here */
    int starts;
    int arg_count;
    char args[HARNESS_STOCKD_ARGS_MAX][128]; /* extra --key=value flags */
    int handler_threads;                     /* --handler.threads of the current incarnation */
};

/* Creates a run: reads STOCKD_BINARY and STOCKD_TEST_BOOTSTRAP (set by ctest), draws the prefix, makes
 * the temp dir. Returns NULL with a message printed when a variable is missing or the dir cannot be made
 * (the test's setup then fails). */
struct harness *harness_create(const char *test_name, int32_t partitions);

/* Kills every stockd still running (SIGKILL), and, when the run passed, deletes its topics and temp
 * dir; a failed run (or any run with STOCKD_IT_KEEP=1) keeps them for inspection. Accepts NULL. */
void harness_destroy(struct harness *harness);

/* Prints message, then the log tails of every stockd of the run, then fails the CMocka test. */
#define harness_fail(harness, ...) harness_fail_at((harness), __FILE__, __LINE__, __VA_ARGS__)
void harness_fail_at(struct harness *harness, const char *file, int line, const char *format, ...)
    __attribute__((format(printf, 4, 5), noreturn));

/* Fails the test (with log tails) unless condition holds. */
#define harness_check(harness, condition, ...)                                                               \
    do {                                                                                                     \
        if (!(condition)) harness_fail((harness), __VA_ARGS__);                                              \
    } while (0)

/* Monotonic milliseconds, for timings and deadlines. */
int64_t harness_now_ms(void);

/* Sleeps for milliseconds (0..a few seconds). */
void harness_sleep_ms(int milliseconds);

/* ---- stockd processes ------------------------------------------------------------------------------ */

/* Describes (does not start) a stockd with roles router,handler, its own data dir <root>/<instance_id>
 * and log <root>/<instance_id>.log. extra_args: NULL-terminated --key=value flags, or NULL. The
 * harness owns the returned process (freed by harness_destroy). Returns NULL when the run has
 * HARNESS_STOCKD_MAX processes already. */
struct harness_stockd *harness_stockd_new(struct harness *harness, const char *instance_id,
                                          const char *const *extra_args);

/* Starts (or restarts) the process, appending its output to its log. Returns 0 or -1 (fork failed). */
int harness_stockd_start(struct harness_stockd *stockd);

/* Waits until the log of the current incarnation holds a line containing every one of the
 * NULL-terminated needles, or the process exits, or timeout_ms passes. Returns 0 when found, -1
 * otherwise. The line found is copied to line_out when not NULL. */
int harness_stockd_wait_line(struct harness_stockd *stockd, const char *const *needles, int timeout_ms,
                             char *line_out, size_t line_bytes);

/* Waits until every handler worker of the current incarnation (handler.threads) logged its partitions
 * assignment. Returns 0 or -1. */
int harness_stockd_wait_assigned(struct harness_stockd *stockd, int timeout_ms);

/* Waits until the handler got its partitions and is still running a moment later (a handler that cannot
 * take its partitions over stops right after the assignment: on fresh topics it once did, because the
 * watermark query answered "Not leader for partition" before leaders were elected). Returns 0 or -1. */
int harness_stockd_wait_ready(struct harness_stockd *stockd, int timeout_ms);

/* Waits until the process logged its start (its SIGTERM handler is installed then), sends SIGTERM and
 * waits for the exit. Returns the exit status (0 is a clean stop), or -1 when it did
 * not stop within timeout_ms (it is then killed) or died of a signal. */
int harness_stockd_stop(struct harness_stockd *stockd, int timeout_ms);

/* Kills the process with SIGKILL (a crash) and reaps it. No-op when not running. */
void harness_stockd_kill(struct harness_stockd *stockd);

/* True while the process runs (reaps it when it exited on its own). */
bool harness_stockd_running(struct harness_stockd *stockd);

/* Prints the last lines of the process's log to stderr. */
void harness_stockd_log_tail(const struct harness_stockd *stockd, int lines);

/* The partitions a stage ("handler", "router") of the current incarnation owns according to its log
 * ("assigned partitions [..]" and "revoked partitions [..]" lines, in order), over all its workers
 * ("handler", "handler/1", ...: handler.threads): owned[p] for p below partitions. Returns how many it
 * owns, or -1 when no worker logged an assignment yet. */
int harness_stockd_assignment(const struct harness_stockd *stockd, const char *stage, bool *owned,
                              int32_t partitions);

/* The same for one worker of the stage (0 logs as "handler", k as "handler/k"). Returns how many it owns,
 * or -1 when no worker logged an assignment yet. */
int harness_stockd_worker_assignment(const struct harness_stockd *stockd, const char *stage, int worker,
                                     bool *owned, int32_t partitions);

/* Waits until a line of stage, from any of its workers ("handler", "handler/1", ...), whose message starts
 * with message_prefix appears in the current incarnation's log; copies it into line_out when given.
 * Returns 0, or -1 on timeout or when stockd exited. */
int harness_stockd_wait_stage_line(struct harness_stockd *stockd, const char *stage,
                                   const char *message_prefix, int timeout_ms, char *line_out,
                                   size_t line_bytes);

/* Counts the log lines (all incarnations) of stage, any worker, whose message starts with message_prefix. */
int harness_stockd_stage_log_count(const struct harness_stockd *stockd, const char *stage,
                                   const char *message_prefix);

/* Counts the log lines (all incarnations) containing needle. */
int harness_stockd_log_count(const struct harness_stockd *stockd, const char *needle);

/* ---- producing commands ---------------------------------------------------------------------------- */

/* An idempotent producer (acks=all, enable.idempotence, partitioner murmur2_random) that counts failed
 * deliveries. Returns NULL with a message in harness->error. */
rd_kafka_t *harness_producer_create(struct harness *harness);

/* Queues one record (copying key and value; value may be NULL for an empty record), waiting while the
 * local queue is full. partition RD_KAFKA_PARTITION_UA lets the partitioner pick. Returns 0 or -1. */
int harness_produce(rd_kafka_t *producer, const char *topic, int32_t partition, const void *key,
                    size_t key_bytes, const void *value, size_t value_bytes);

/* Encodes a command with the codec and queues it to <prefix>.commands keyed by key (NULL: the command
 * id). Returns 0 or -1. */
int harness_produce_command(struct harness *harness, rd_kafka_t *producer, const struct command *command,
                            const char *key);

/* Waits until every queued record is delivered. Returns 0 when all were delivered without any failed
 * delivery since creation, -1 otherwise. */
int harness_producer_flush(rd_kafka_t *producer, int timeout_ms);

/* Flushes (bounded) and destroys. Accepts NULL. */
void harness_producer_destroy(rd_kafka_t *producer);

/* Fills a command envelope of a type with its ids; the caller sets the type's fields. */
void harness_command_init(struct command *command, enum command_type type, const char *command_id,
                          const char *sku);

/* Builders of each command type (they never fail; ids are copied). adjust: counted_set selects counted
 * over delta. settle: type is COMMAND_RELEASE_RESERVATION or COMMAND_FULFIL_RESERVATION. */
void harness_command_create_sku(struct command *out, const char *id, const char *sku, const char *name,
                                int64_t reorder_point);
void harness_command_receive(struct command *out, const char *id, const char *sku, const char *location,
                             int64_t quantity);
void harness_command_reserve(struct command *out, const char *id, const char *sku, const char *reservation_id,
                             const char *location, int64_t quantity, int64_t ttl_s);
void harness_command_settle(struct command *out, enum command_type type, const char *id, const char *sku,
                            const char *reservation_id);
void harness_command_transfer(struct command *out, const char *id, const char *sku, const char *from,
                              const char *to, int64_t quantity);
void harness_command_adjust(struct command *out, const char *id, const char *sku, const char *location,
                            bool counted_set, int64_t amount, const char *reason);

/* ---- reading topics -------------------------------------------------------------------------------- */

struct harness_header {
    char *name;
    char *value; /* NUL-terminated copy; NULL for a header without value */
};

struct harness_record {
    int32_t partition;
    int64_t offset;
    char *key; /* NUL-terminated copies; NULL when absent */
    size_t key_bytes;
    char *value;
    size_t value_bytes;
    int header_count;
    struct harness_header headers[HARNESS_HEADERS_MAX];
};

/* A read_committed consumer assigned to every partition of one topic from the beginning; keeps every
 * record it read. */
struct harness_reader {
    rd_kafka_t *consumer;
    char topic[STOCKD_SKU_BYTES_MAX + 32];
    int32_t partition_count;
    struct harness_record *records;
    size_t count;
    size_t capacity;
    struct harness_set *command_ids; /* distinct stockd_command_id header values seen */
};

/* Creates a reader of topic (which must exist). Returns NULL with a message in harness->error. */
struct harness_reader *harness_reader_create(struct harness *harness, const char *topic);

/* Closes the consumer and frees the records. Accepts NULL. */
void harness_reader_destroy(struct harness_reader *reader);

/* Reads what arrives within timeout_ms (returns early after a quiet 200 ms once something came).
 * Returns the number of new records, or -1 on a consumer error. */
int harness_reader_poll(struct harness_reader *reader, int timeout_ms);

/* Reads until every one of the count ids has been seen in a stockd_command_id header, or timeout_ms.
 * Returns 0 when all were seen, -1 on timeout (the number missing is in harness->error). */
int harness_reader_wait_ids(struct harness *harness, struct harness_reader *reader, const char *const *ids,
                            size_t count, int timeout_ms);

/* Reads until at least count records are held, or timeout_ms. Returns 0 or -1. */
int harness_reader_wait_count(struct harness_reader *reader, size_t count, int timeout_ms);

/* Distinct stockd_command_id header values read so far. */
size_t harness_reader_distinct_ids(const struct harness_reader *reader);

/* The value of a record's header, or NULL when absent. */
const char *harness_record_header(const struct harness_record *record, const char *name);

/* ---- command id lists ------------------------------------------------------------------------------- */

/* A growable list of command ids a test sent and expects decided. */
struct harness_ids {
    char **items;
    size_t count;
    size_t capacity;
};

/* Appends a copy of id. Asserts on out of memory. */
void harness_ids_add(struct harness_ids *ids, const char *id);

/* Frees the ids and empties the list (it may be reused). */
void harness_ids_free(struct harness_ids *ids);

/* ---- a realistic command stream with known outcomes ---------------------------------------------- */

/* Draws commands over SKUs "SKU-000".. (create, receive, reserve, release, fulfil, transfer, adjust, and
 * about 5% that must be rejected for a known reason), modelling the domain as the handler will decide.
 * The model is exact only when the commands of one SKU are decided in the order drawn: produce them
 * keyed by SKU (one partition of <prefix>.commands each). */
struct harness_model;
struct harness_fold;

/* Creates a model of sku_count SKUs (at most 1000) with a seed. Asserts on out of memory. */
struct harness_model *harness_model_create(int sku_count, uint64_t seed);

/* Accepts NULL. */
void harness_model_destroy(struct harness_model *model);

/* Draws the next command with the given id; returns its JSON (malloc'd, the caller frees) and copies the
 * SKU (the record key) to sku. */
char *harness_model_next(struct harness_model *model, const char *command_id, char *sku, size_t sku_bytes);

/* Compares the fold with the model: every SKU's existence and stock per location, and the number of
 * rejections of each reason.
 * Returns 0 or -1 with a message. */
int harness_model_check(struct harness *harness, const struct harness_model *model,
                        const struct harness_fold *fold);

/* ---- the invariants --------------------------------------------------------------------------------- */

/* The outcome of one command id as found on the events topic. */
struct harness_decision {
    char *command_id;
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    int32_t partition;
    uint64_t first_sequence;
    uint32_t event_count;
    enum event_type first_type;
    enum reject_reason reject_reason; /* REJECT_NONE when accepted */
};

/* The in-memory fold of an events topic: every SKU's state and reservations, every decision. */
struct harness_fold;

/* Decodes and checks every events record and folds it (domain_evolve from an empty state per SKU):
 * headers present and consistent (ce_subject == key == sku, ce_id == "<sku>:<sequence>", ce_type,
 * stockd_command_id), each SKU only on partition murmur2(sku) % partitions, per-SKU sequences 1..n
 * without gaps or repeats, the events of one command id contiguous on one SKU and never repeated, every
 * event following from the state. Returns the fold, or NULL with the first violation in harness->error. */
struct harness_fold *harness_fold_create(struct harness *harness, const struct harness_reader *events,
                                         int32_t partitions);

/* Accepts NULL. */
void harness_fold_destroy(struct harness_fold *fold);

/* Checks that every expected id was decided (exactly once: the fold refuses repeats), and that every
 * decided id is expected or an internal expiry ("expire."). Returns 0, or -1 with a message. */
int harness_fold_expect(struct harness *harness, const struct harness_fold *fold,
                        const struct harness_ids *expected);

/* The decision of a command id, or NULL when it has none. */
const struct harness_decision *harness_fold_decision(const struct harness_fold *fold, const char *command_id);

/* Events of a type in the fold, and rejections with a reason. */
size_t harness_fold_event_count(const struct harness_fold *fold, enum event_type type);
size_t harness_fold_reject_count(const struct harness_fold *fold, enum reject_reason reason);
size_t harness_fold_total_events(const struct harness_fold *fold);
size_t harness_fold_sku_count(const struct harness_fold *fold);

/* A SKU's folded state, or NULL when the SKU has no events. */
const struct sku_state *harness_fold_sku(const struct harness_fold *fold, const char *sku);

/* A reservation of a SKU in the fold, or NULL when it has none of that id. */
const struct reservation_state *harness_fold_reservation(const struct harness_fold *fold, const char *sku,
                                                         const char *reservation_id);

/* Compares the shards in data_dir (stockd must be stopped) with the fold: every SKU (exists, name,
 * reorder point, sequence, stock per location) and reservation, row counts, the command records, and a
 * checkpoint past the last event offset of the partition. Partitions with events but no shard file fail
 * when require_all, else are skipped. Returns the number of shards compared, or -1 with a message. */
int harness_shards_check(struct harness *harness, const struct harness_fold *fold, const char *data_dir,
                         bool require_all);

#endif
