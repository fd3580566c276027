/* test_it_projector.c - the projector against a real broker: exactly-once into a view through kill -9,
 * positions that pass transaction markers, and a projection added to a running system.
 *
 * stockd (router, handler) turns command streams into transactional events. The "ledger" view records one
 * row per event it applies and ignores CommandRejected. It runs in a child process (this binary run again
 * with --projector-child, so that it can be killed with SIGKILL) or in a thread of the test. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "projector.h"
#include "store/sqlite_util.h"

#define PARTITIONS       3
#define SKUS             60
#define KILL_COMMANDS    6000 /* at SEND_PER_TICK per TICK_MS: about 20 s of stream */
#define CATCH_COMMANDS   3000
#define SEND_PER_TICK    30
#define TICK_MS          100
#define KILLS            3
#define REJECTS_PER_PART 2
#define WAIT_MS          120000
#define STOP_MS          30000
#define CHILD_FLAG       "--projector-child"
#define CHILD_REBUILD    "rebuild" /* the child asks for a rebuild as it starts */
#define LEDGER_NAME      "ledger"
#define TEST_COUNT       3

/* ---- the ledger view ---------------------------------------------------------------------------------- */

struct ledger {
    sqlite3_stmt *insert;
};

static void *ledger_open(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes)
{
    (void)config;
    if (sqlite_util_exec(db,
                         "CREATE TABLE IF NOT EXISTS ledger_events (partition_id INTEGER NOT NULL, offset_id "
                         "INTEGER NOT NULL, sku TEXT NOT NULL, sequence INTEGER NOT NULL)",
                         error, error_bytes) != 0)
        return NULL;
    struct ledger *ledger = calloc(1, sizeof(*ledger));
    if (ledger == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    ledger->insert =
        sqlite_util_prepare(db, "INSERT INTO ledger_events VALUES (?1, ?2, ?3, ?4)", error, error_bytes);
    if (ledger->insert != NULL) return ledger;
    free(ledger);
    return NULL;
}

static int ledger_apply(void *state, const struct event *event, struct view_position position,
                        struct view_json json, char *error, size_t error_bytes)
{
    (void)json;
    struct ledger *ledger = state;
    if (event->type == EVENT_COMMAND_REJECTED) return 0; /* ignored: only the position moves past it */
    sqlite3_bind_int(ledger->insert, 1, position.partition);
    sqlite3_bind_int64(ledger->insert, 2, position.offset);
    sqlite3_bind_text(ledger->insert, 3, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ledger->insert, 4, (sqlite3_int64)event->sequence);
    int status = sqlite3_step(ledger->insert);
    sqlite3_reset(ledger->insert);
    if (status == SQLITE_DONE) return 0;
    snprintf(error, error_bytes, "ledger insert: %s", sqlite3_errstr(status));
    return -1;
}

static void ledger_close(void *state)
{
    struct ledger *ledger = state;
    if (ledger == NULL) return;
    sqlite3_finalize(ledger->insert);
    free(ledger);
}

static const struct view_ops ledger_ops = {
    .name = LEDGER_NAME,
    .open = ledger_open,
    .apply = ledger_apply,
    .close = ledger_close,
};

/* ---- the projector child process ---------------------------------------------------------------------- */

static atomic_bool child_stop;

static void child_on_signal(int signal_number)
{
    (void)signal_number;
    atomic_store(&child_stop, true);
}

/* --projector-child BOOTSTRAP PREFIX PARTITIONS DATA_DIR [rebuild]: runs the ledger projector until
 * SIGTERM. Exits 0 after a clean stop. */
static int child_main(int argc, char **argv)
{
    if (argc < 6) return 2;
    static struct stockd_config config;
    stockd_config_defaults(&config);
    snprintf(config.kafka_bootstrap, sizeof(config.kafka_bootstrap), "%s", argv[2]);
    snprintf(config.topic_prefix, sizeof(config.topic_prefix), "%s", argv[3]);
    config.partitions = atoi(argv[4]);
    snprintf(config.data_dir, sizeof(config.data_dir), "%s", argv[5]);
    snprintf(config.instance_id, sizeof(config.instance_id), "it-projector-child");
    log_init("info");
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = child_on_signal;
    sigaction(SIGTERM, &action, NULL);
    char error[1024];
    struct projector *projector = projector_create(&config, &ledger_ops, error, sizeof(error));
    if (projector == NULL) {
        fprintf(stderr, "projector child: %s\n", error);
        return 1;
    }
    if (argc > 6 && strcmp(argv[6], CHILD_REBUILD) == 0) projector_rebuild_request(projector);
    int status = projector_run(projector, &child_stop);
    projector_destroy(projector);
    fprintf(stderr, "projector child: stopped (%d)\n", status);
    return status == 0 ? 0 : 1;
}

struct child {
    pid_t pid;
    char data_dir[HARNESS_PATH_BYTES_MAX + 32];
    char log_path[HARNESS_PATH_BYTES_MAX + 32];
    char view_path[HARNESS_PATH_BYTES_MAX + 64];
    int starts;
};

static void child_init(struct harness *harness, struct child *child, const char *name)
{
    memset(child, 0, sizeof(*child));
    snprintf(child->data_dir, sizeof(child->data_dir), "%s/%s", harness->root_dir, name);
    snprintf(child->log_path, sizeof(child->log_path), "%s/%s.log", harness->root_dir, name);
    snprintf(child->view_path, sizeof(child->view_path), "%s/views/%s.db", child->data_dir, LEDGER_NAME);
}

static void child_start(struct harness *harness, struct child *child, bool rebuild)
{
    char partitions[16];
    snprintf(partitions, sizeof(partitions), "%d", (int)harness->partitions);
    char *argv[] = {"test_it_projector",
                    CHILD_FLAG,
                    harness->bootstrap,
                    harness->prefix,
                    partitions,
                    child->data_dir,
                    rebuild ? CHILD_REBUILD : NULL,
                    NULL};
    int log_fd = open(child->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    harness_check(harness, log_fd >= 0, "open %s: %s", child->log_path, strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    harness_check(harness, pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec: the test process has librdkafka threads. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(log_fd);
    child->pid = pid;
    child->starts++;
}

static void child_kill(struct child *child)
{
    if (child->pid == 0) return;
    kill(child->pid, SIGKILL);
    waitpid(child->pid, NULL, 0);
    child->pid = 0;
}

/* Stops the child with SIGTERM; it must exit 0 within STOP_MS. */
static void child_stop_clean(struct harness *harness, struct child *child)
{
    kill(child->pid, SIGTERM);
    int status = 0;
    int64_t deadline_ms = harness_now_ms() + STOP_MS;
    while (waitpid(child->pid, &status, WNOHANG) == 0) {
        if (harness_now_ms() > deadline_ms) {
            child_kill(child);
            harness_fail(harness, "the projector child did not stop within %d ms", STOP_MS);
        }
        harness_sleep_ms(50);
    }
    child->pid = 0;
    harness_check(harness, WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the projector child exited with status %d (see %s)", status, child->log_path);
}

static bool child_running(struct child *child)
{
    return child->pid != 0 && waitpid(child->pid, NULL, WNOHANG) == 0;
}

/* ---- reading a ledger --------------------------------------------------------------------------------- */

/* Opens a view file read-only, as another process may be writing it. NULL when there is none yet. */
static sqlite3 *ledger_file_open(const char *path)
{
    struct stat file_status;
    if (stat(path, &file_status) != 0) return NULL;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    return db;
}

/* Rows of a ledger (-1 when it cannot be read yet). */
static int64_t ledger_rows(sqlite3 *db)
{
    sqlite3_stmt *statement = NULL;
    int64_t rows = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM ledger_events", -1, &statement, NULL) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW)
        rows = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return rows;
}

static int64_t ledger_file_rows(const char *path)
{
    sqlite3 *db = ledger_file_open(path);
    if (db == NULL) return 0;
    int64_t rows = ledger_rows(db);
    sqlite3_close(db);
    return rows;
}

/* The records the view applies (everything but CommandRejected), as "partition:offset" per record. */
static size_t expected_count(const struct harness_reader *events)
{
    size_t count = 0;
    for (size_t i = 0; i < events->count; i++) {
        const char *type = harness_record_header(&events->records[i], "ce_type");
        count += type == NULL || strcmp(type, "stockd.CommandRejected") != 0;
    }
    return count;
}

static int position_compare(const void *a, const void *b)
{
    const int64_t *x = a;
    const int64_t *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Every record the view applies is a row exactly once, nothing else is, and the stored positions are past
 * the last record of each partition. */
static void ledger_check(struct harness *harness, sqlite3 *db, const struct harness_reader *events)
{
    size_t expected = expected_count(events);
    int64_t *want = calloc(2 * (expected + 1), sizeof(int64_t));
    int64_t last[PARTITIONS] = {-1, -1, -1};
    size_t wanted = 0;
    for (size_t i = 0; i < events->count; i++) {
        const struct harness_record *record = &events->records[i];
        if (record->offset > last[record->partition]) last[record->partition] = record->offset;
        const char *type = harness_record_header(record, "ce_type");
        if (type != NULL && strcmp(type, "stockd.CommandRejected") == 0) continue;
        want[2 * wanted] = record->partition;
        want[2 * wanted + 1] = record->offset;
        wanted++;
    }
    qsort(want, wanted, 2 * sizeof(int64_t), position_compare);
    sqlite3_stmt *statement = NULL;
    harness_check(harness,
                  sqlite3_prepare_v2(db, "SELECT partition_id, offset_id FROM ledger_events ORDER BY 1, 2",
                                     -1, &statement, NULL) == SQLITE_OK,
                  "ledger: %s", sqlite3_errmsg(db));
    size_t rows = 0;
    int mismatches = 0;
    while (sqlite3_step(statement) == SQLITE_ROW) {
        int64_t partition = sqlite3_column_int64(statement, 0);
        int64_t offset = sqlite3_column_int64(statement, 1);
        if ((rows >= wanted || want[2 * rows] != partition || want[2 * rows + 1] != offset) &&
            mismatches++ < 5)
            fprintf(stderr, "ledger row %zu is %lld:%lld, expected %lld:%lld\n", rows, (long long)partition,
                    (long long)offset, rows < wanted ? (long long)want[2 * rows] : -1LL,
                    rows < wanted ? (long long)want[2 * rows + 1] : -1LL);
        rows++;
    }
    sqlite3_finalize(statement);
    free(want);
    harness_check(harness, mismatches == 0 && rows == wanted,
                  "ledger has %zu rows, %d out of place; the topic has %zu events it applies", rows,
                  mismatches, wanted);
    int64_t positions[PARTITIONS];
    char error[256];
    harness_check(harness, projector_positions_read(db, positions, PARTITIONS, error, sizeof(error)) == 0,
                  "%s", error);
    for (int32_t partition = 0; partition < PARTITIONS; partition++)
        harness_check(harness, positions[partition] > last[partition],
                      "position %lld of partition %d is not past its last event %lld",
                      (long long)positions[partition], (int)partition, (long long)last[partition]);
}

/* ---- the group: one stockd and its topics for all tests ----------------------------------------------- */

struct fixture {
    struct harness *harness;
    struct harness_stockd *stockd;
    struct harness_reader *events;
    rd_kafka_t *producer;
    struct harness_ids sent;
    int passed;
};

static struct fixture *group;

static int group_setup(void **state)
{
    (void)state;
    log_init("warn");
    group = calloc(1, sizeof(*group));
    if (group == NULL) return -1;
    group->harness = harness_create("projector", PARTITIONS);
    if (group->harness == NULL) return -1;
    group->stockd = harness_stockd_new(group->harness, "writer", NULL);
    if (group->stockd == NULL || harness_stockd_start(group->stockd) != 0 ||
        harness_stockd_wait_ready(group->stockd, WAIT_MS) != 0) {
        harness_stockd_log_tail(group->stockd, HARNESS_LOG_TAIL_LINES);
        return -1;
    }
    group->events = harness_reader_create(group->harness, group->harness->topics.events);
    group->producer = harness_producer_create(group->harness);
    if (group->events == NULL || group->producer == NULL) {
        fprintf(stderr, "%s\n", group->harness->error);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (group == NULL) return 0;
    if (group->harness != NULL) group->harness->passed = group->passed == TEST_COUNT;
    harness_producer_destroy(group->producer);
    harness_reader_destroy(group->events);
    harness_ids_free(&group->sent);
    harness_destroy(group->harness);
    free(group);
    group = NULL;
    return 0;
}

/* Sends count commands drawn from a model (keyed by SKU, at a steady rate) and remembers their ids. */
static void stream_send(const char *id_prefix, int count, uint64_t seed)
{
    struct harness_model *model = harness_model_create(SKUS, seed);
    for (int i = 0; i < count; i++) {
        char id[48];
        char sku[STOCKD_SKU_BYTES_MAX + 1];
        snprintf(id, sizeof(id), "%s-%05d", id_prefix, i);
        char *json = harness_model_next(model, id, sku, sizeof(sku));
        harness_check(group->harness,
                      harness_produce(group->producer, group->harness->topics.commands, RD_KAFKA_PARTITION_UA,
                                      sku, strlen(sku), json, strlen(json)) == 0,
                      "produce %s", id);
        free(json);
        harness_ids_add(&group->sent, id);
        if ((i + 1) % SEND_PER_TICK == 0) harness_sleep_ms(TICK_MS);
    }
    harness_model_destroy(model);
    harness_check(group->harness, harness_producer_flush(group->producer, WAIT_MS) == 0, "flush");
}

/* Waits until every command sent so far is decided and read back. */
static void decided_wait(void)
{
    int status = harness_reader_wait_ids(group->harness, group->events,
                                         (const char *const *)group->sent.items, group->sent.count, WAIT_MS);
    harness_check(group->harness, status == 0, "%s", group->harness->error);
    while (harness_reader_poll(group->events, 500) > 0) {
    }
}

struct stream {
    const char *id_prefix;
    int count;
    uint64_t seed;
    atomic_bool done;
};

static void *stream_thread(void *argument)
{
    struct stream *stream = argument;
    stream_send(stream->id_prefix, stream->count, stream->seed);
    atomic_store(&stream->done, true);
    return NULL;
}

/* ---- tests -------------------------------------------------------------------------------------------- */

/* The projector child is killed with SIGKILL three times while events flow (once while it may be
 * rebuilding); after the last restart its ledger holds every applied event exactly once. */
static void test_kill_9_during_projection_applies_each_event_once(void **state)
{
    (void)state;
    struct harness *harness = group->harness;
    struct child child;
    child_init(harness, &child, "killed");
    struct stream stream = {.id_prefix = "kill", .count = KILL_COMMANDS, .seed = 0x6b696c6c39ULL};
    pthread_t thread;
    harness_check(harness, pthread_create(&thread, NULL, stream_thread, &stream) == 0, "thread");
    child_start(harness, &child, false);
    int64_t threshold = 0;
    for (int kill_number = 1; kill_number <= KILLS; kill_number++) {
        threshold += KILL_COMMANDS / (KILLS + 2);
        int64_t deadline_ms = harness_now_ms() + WAIT_MS;
        int64_t rows = 0;
        while ((rows = ledger_file_rows(child.view_path)) < threshold) {
            harness_check(harness, child_running(&child), "the projector child died (see %s)",
                          child.log_path);
            harness_check(harness, harness_now_ms() < deadline_ms, "the ledger stalled at %lld rows",
                          (long long)rows);
            harness_sleep_ms(20);
        }
        child_kill(&child);
        fprintf(stderr, "projector: kill %d (SIGKILL) at %lld ledger rows\n", kill_number, (long long)rows);
        child_start(harness, &child, kill_number == 1); /* the second incarnation starts with a rebuild */
        threshold = rows;
    }
    pthread_join(thread, NULL);
    decided_wait();
    size_t expected = expected_count(group->events);
    int64_t deadline_ms = harness_now_ms() + WAIT_MS;
    while (ledger_file_rows(child.view_path) < (int64_t)expected) {
        harness_check(harness, child_running(&child), "the projector child died (see %s)", child.log_path);
        harness_check(harness, harness_now_ms() < deadline_ms, "the ledger did not reach %zu rows", expected);
        harness_sleep_ms(50);
    }
    harness_sleep_ms(1000); /* anything applied twice would show up by now */
    child_stop_clean(harness, &child);
    sqlite3 *db = ledger_file_open(child.view_path);
    harness_check(harness, db != NULL, "no ledger at %s", child.view_path);
    ledger_check(harness, db, group->events);
    sqlite3_close(db);
    fprintf(stderr, "projector: %zu events, %zu applied by the ledger exactly once through %d kills\n",
            group->events->count, expected, KILLS);
    group->passed++;
}

struct running {
    struct projector *projector;
    pthread_t thread;
    atomic_bool stop;
    int status;
};

static void *projector_thread(void *argument)
{
    struct running *running = argument;
    running->status = projector_run(running->projector, &running->stop);
    return NULL;
}

static void running_start(struct running *running, struct stockd_config *config, const char *data_dir)
{
    stockd_config_defaults(config);
    snprintf(config->kafka_bootstrap, sizeof(config->kafka_bootstrap), "%s", group->harness->bootstrap);
    snprintf(config->topic_prefix, sizeof(config->topic_prefix), "%s", group->harness->prefix);
    config->partitions = PARTITIONS;
    snprintf(config->data_dir, sizeof(config->data_dir), "%s/%s", group->harness->root_dir, data_dir);
    snprintf(config->instance_id, sizeof(config->instance_id), "it-projector-%s", data_dir);
    config->views_lag_max = 0;
    char error[1024];
    memset(running, 0, sizeof(*running));
    running->projector = projector_create(config, &ledger_ops, error, sizeof(error));
    harness_check(group->harness, running->projector != NULL, "projector_create: %s", error);
    harness_check(group->harness, pthread_create(&running->thread, NULL, projector_thread, running) == 0,
                  "thread");
}

static void running_stop(struct running *running)
{
    atomic_store(&running->stop, true);
    pthread_join(running->thread, NULL);
    harness_check(group->harness, running->status == 0, "projector_run failed");
}

/* Waits until the in-process projector's positions equal the end offsets of every partition. */
static void running_caught_up_wait(struct running *running, struct projector_status *status)
{
    int64_t deadline_ms = harness_now_ms() + WAIT_MS;
    for (;;) {
        projector_status_get(running->projector, status);
        bool equal = status->lag_total == 0;
        for (int32_t partition = 0; partition < PARTITIONS; partition++)
            equal = equal && status->positions[partition] == status->ends[partition];
        if (equal) return;
        harness_check(group->harness, harness_now_ms() < deadline_ms,
                      "positions %lld %lld %lld never reached the ends %lld %lld %lld",
                      (long long)status->positions[0], (long long)status->positions[1],
                      (long long)status->positions[2], (long long)status->ends[0], (long long)status->ends[1],
                      (long long)status->ends[2]);
        harness_sleep_ms(50);
    }
}

/* A SKU name on each partition (murmur2, as the router places it). */
static void sku_for_partition(int32_t partition, int attempt, char *out, size_t out_bytes)
{
    for (int n = 0;; n++) {
        snprintf(out, out_bytes, "IT-NOPE-%d-%d", attempt, n);
        if (murmur2_partition(out, strlen(out), PARTITIONS) == partition) return;
    }
}

/* The last events of every partition are rejections the view ignores, each transaction followed by its
 * commit marker: waiting for them passes, and the positions end up past the markers, at the end offsets. */
static void test_wait_position_passes_when_the_last_events_are_ignored(void **state)
{
    (void)state;
    struct harness *harness = group->harness;
    for (int32_t partition = 0; partition < PARTITIONS; partition++) {
        for (int i = 0; i < REJECTS_PER_PART; i++) {
            char sku[STOCKD_SKU_BYTES_MAX + 1];
            char id[48];
            sku_for_partition(partition, i, sku, sizeof(sku));
            snprintf(id, sizeof(id), "reject-%d-%d", (int)partition, i);
            struct command command;
            harness_command_receive(&command, id, sku, "WH-1", 1); /* unknown SKU: rejected */
            harness_check(harness, harness_produce_command(harness, group->producer, &command, NULL) == 0,
                          "%s", id);
            harness_ids_add(&group->sent, id);
        }
    }
    harness_check(harness, harness_producer_flush(group->producer, WAIT_MS) == 0, "flush");
    decided_wait();
    int64_t last[PARTITIONS] = {-1, -1, -1};
    const char *last_type[PARTITIONS] = {NULL, NULL, NULL};
    for (size_t i = 0; i < group->events->count; i++) {
        const struct harness_record *record = &group->events->records[i];
        if (record->offset < last[record->partition]) continue;
        last[record->partition] = record->offset;
        last_type[record->partition] = harness_record_header(record, "ce_type");
    }
    static struct stockd_config config;
    struct running running;
    running_start(&running, &config, "waiter");
    for (int32_t partition = 0; partition < PARTITIONS; partition++) {
        harness_check(harness,
                      last_type[partition] && strcmp(last_type[partition], "stockd.CommandRejected") == 0,
                      "the last event of partition %d is %s", (int)partition,
                      last_type[partition] ? last_type[partition] : "none");
        int64_t started_ms = harness_now_ms();
        struct view_position position = {.partition = partition, .offset = last[partition]};
        int passed = projector_wait_position(running.projector, position, PROJECTOR_WAIT_MS_MAX);
        harness_check(harness, passed == 1, "wait for %d:%lld: %d", (int)partition,
                      (long long)last[partition], passed);
        fprintf(stderr, "projector: %d:%lld (ignored, last) passed after %lld ms\n", (int)partition,
                (long long)last[partition], (long long)(harness_now_ms() - started_ms));
    }
    static struct projector_status status;
    running_caught_up_wait(&running, &status);
    for (int32_t partition = 0; partition < PARTITIONS; partition++) /* past the commit marker */
        harness_check(harness, status.positions[partition] == last[partition] + 2,
                      "partition %d: position %lld, last event %lld, end %lld", (int)partition,
                      (long long)status.positions[partition], (long long)last[partition],
                      (long long)status.ends[partition]);
    harness_check(harness, status.ready, "caught up but not ready");
    struct view_position beyond = {.partition = 0, .offset = status.positions[0]};
    harness_check(harness, projector_wait_position(running.projector, beyond, 300) == 0,
                  "waited past the end");
    running_stop(&running);
    projector_destroy(running.projector);
    group->passed++;
}

/* A projection created while the system runs and commands flow folds the topic from offset 0 and catches
 * up with the live end. */
static void test_new_projection_catches_up_from_offset_zero(void **state)
{
    (void)state;
    struct harness *harness = group->harness;
    struct stream stream = {.id_prefix = "late", .count = CATCH_COMMANDS, .seed = 0x6c617465ULL};
    pthread_t thread;
    harness_check(harness, pthread_create(&thread, NULL, stream_thread, &stream) == 0, "thread");
    harness_sleep_ms(2000); /* the stream is under way */
    static struct stockd_config config;
    struct running running;
    running_start(&running, &config, "newcomer");
    static struct projector_status status;
    projector_status_get(running.projector, &status);
    for (int32_t partition = 0; partition < PARTITIONS; partition++)
        harness_check(harness, status.positions[partition] == 0, "a new view starts at offset 0");
    pthread_join(thread, NULL);
    decided_wait();
    running_caught_up_wait(&running, &status);
    size_t expected = expected_count(group->events);
    harness_check(harness, status.events_applied == group->events->count,
                  "folded %llu events, the topic has %zu", (unsigned long long)status.events_applied,
                  group->events->count);
    char error[256];
    sqlite3 *reader = projector_reader_acquire(running.projector, error, sizeof(error));
    harness_check(harness, reader != NULL, "%s", error);
    ledger_check(harness, reader, group->events);
    projector_reader_release(running.projector, reader);
    running_stop(&running);
    projector_destroy(running.projector);
    fprintf(stderr, "projector: a new projection folded %zu events from offset 0 while commands flowed\n",
            expected);
    group->passed++;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], CHILD_FLAG) == 0) return child_main(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_during_projection_applies_each_event_once),
        cmocka_unit_test(test_wait_position_passes_when_the_last_events_are_ignored),
        cmocka_unit_test(test_new_projection_catches_up_from_offset_zero),
    };
    _Static_assert(sizeof(tests) / sizeof(tests[0]) == TEST_COUNT, "TEST_COUNT counts the tests");
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
