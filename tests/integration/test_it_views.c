/* test_it_views.c - the read side against a real broker: the six views stockd projects (stock,
 * reservations, history, outcomes, movements, catalog) equal the fold of the events topic, after a mixed
 * workload and after kill -9 during projection, and read-only queries of the stock view never fail nor see
 * it empty while writes flow.
 *
 * One stockd with all roles (router, handler, projector). Commands come from the harness's model (a
 * realistic mix with known rejections), keyed by SKU. A view has caught up when its stored positions
 * (view_positions, read on a read-only connection) reach the high watermarks of <prefix>.events; then
 * stockd is stopped and verify_run folds the events into scratch shards and compares the handler's shards
 * and the six views with them: no difference may remain (an event applied twice or skipped shows). That
 * the comparison can fail is checked too: a tampered stock row and a deleted history event are reported. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config.h"
#include "harness.h"
#include "log.h"
#include "projector.h"
#include "verify.h"
#include "store/sqlite_util.h"
#include "views/query.h"

#define PARTITIONS       4
#define SKUS             300
#define MIX_COMMANDS     50000 /* test 1: produced as fast as the producer goes */
#define KILL_COMMANDS    15000 /* test 2: at KILL_PER_TICK per TICK_MS */
#define KILL_PER_TICK    80
#define QUERY_COMMANDS   8000 /* test 3: at QUERY_PER_TICK per TICK_MS */
#define QUERY_PER_TICK   40
#define QUERY_THREADS    3
#define TICK_MS          100
#define KILLS            2
#define WAIT_MS          60000
#define DECIDE_TIMEOUT   300000
#define CATCH_UP_TIMEOUT 180000
#define STALL_MS         120000
#define VIEW_COUNT       6

static const char *const view_names[VIEW_COUNT] = {"stock",    "reservations", "history",
                                                   "outcomes", "movements",    "catalog"};
static const char *const all_roles[] = {"--roles=router,handler,projector", NULL};

struct generated {
    char *json;
    char sku[16];
    char id[32];
};

struct fixture {
    struct harness *harness;
    struct harness_stockd *stockd;
    struct harness_reader *events;
    struct harness_ids sent;
    struct harness_model *model;
    struct generated *commands;
    int command_count;
    int send_per_tick; /* 0: as fast as the producer goes */
    pthread_t producer_thread;
    bool producer_started;
    atomic_bool producer_stop; /* teardown of a failed test: stop sending */
    atomic_int produced;
    atomic_int producer_status;
    int scratch_runs;
};

static int setup_named(void **state, const char *name)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    f->harness = harness_create(name, PARTITIONS);
    if (f->harness == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup_mixed(void **state)
{
    return setup_named(state, "views-mixed");
}

static int setup_kill(void **state)
{
    return setup_named(state, "views-kill");
}

static int setup_query(void **state)
{
    return setup_named(state, "views-query");
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    atomic_store(&f->producer_stop, true);
    if (f->producer_started) pthread_join(f->producer_thread, NULL);
    harness_reader_destroy(f->events);
    harness_ids_free(&f->sent);
    harness_destroy(f->harness);
    for (int i = 0; i < f->command_count && f->commands != NULL; i++)
        free(f->commands[i].json);
    free(f->commands);
    harness_model_destroy(f->model);
    free(f);
    return 0;
}

/* Draws the whole stream up front: JSON, key and id of each command. */
static void stream_generate(struct fixture *f, int count, const char *id_prefix, uint64_t seed)
{
    f->commands = calloc((size_t)count, sizeof(*f->commands));
    assert_non_null(f->commands);
    f->command_count = count;
    f->model = harness_model_create(SKUS, seed);
    for (int i = 0; i < count; i++) {
        struct generated *out = &f->commands[i];
        snprintf(out->id, sizeof(out->id), "%s-%05d", id_prefix, i);
        out->json = harness_model_next(f->model, out->id, out->sku, sizeof(out->sku));
        harness_ids_add(&f->sent, out->id);
    }
}

/* The client: sends the stream keyed by SKU (at a steady rate when send_per_tick > 0). */
static void *producer_run(void *argument)
{
    struct fixture *f = argument;
    rd_kafka_t *producer = harness_producer_create(f->harness);
    int status = producer == NULL ? -1 : 0;
    for (int i = 0; i < f->command_count && status == 0 && !atomic_load(&f->producer_stop); i++) {
        const struct generated *command = &f->commands[i];
        status = harness_produce(producer, f->harness->topics.commands, RD_KAFKA_PARTITION_UA, command->sku,
                                 strlen(command->sku), command->json, strlen(command->json));
        atomic_store(&f->produced, i + 1);
        if (f->send_per_tick > 0 && (i + 1) % f->send_per_tick == 0) {
            struct timespec pause = {0, TICK_MS * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    if (status == 0) status = harness_producer_flush(producer, DECIDE_TIMEOUT);
    if (producer != NULL) harness_producer_destroy(producer);
    atomic_store(&f->producer_status, status == 0 ? 1 : -1);
    return NULL;
}

static void producer_start(struct fixture *f)
{
    harness_check(f->harness, pthread_create(&f->producer_thread, NULL, producer_run, f) == 0, "thread");
    f->producer_started = true;
}

static void producer_join(struct fixture *f)
{
    pthread_join(f->producer_thread, NULL);
    f->producer_started = false;
    harness_check(f->harness, atomic_load(&f->producer_status) == 1, "the producer could not deliver");
}

/* Starts stockd with all roles and the events reader. */
static void stockd_start_all_roles(struct fixture *f)
{
    f->stockd = harness_stockd_new(f->harness, "a", all_roles);
    harness_check(f->harness, f->stockd != NULL, "stockd slot");
    harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "start stockd");
    harness_check(f->harness, harness_stockd_wait_ready(f->stockd, WAIT_MS) == 0, "stockd not ready");
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    harness_check(f->harness, f->events != NULL, "%s", f->harness->error);
}

static void view_path(const struct fixture *f, const char *name, char *path, size_t path_bytes)
{
    snprintf(path, path_bytes, "%s/views/%s.db", f->stockd->data_dir, name);
}

/* Opens a view file read-only (stockd writes it meanwhile). NULL when there is none yet. */
static sqlite3 *view_file_open(const char *path)
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

/* Reads a view's stored positions in one read transaction. Returns 0, or -1 when it cannot be read yet. */
static int view_positions_read(const char *path, int64_t *positions)
{
    sqlite3 *db = view_file_open(path);
    if (db == NULL) return -1;
    char error[256];
    int status = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    if (status == 0) status = projector_positions_read(db, positions, PARTITIONS, error, sizeof(error));
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return status;
}

/* Events behind the end of <prefix>.events, summed over the four views and the partitions (-1 when a
 * view cannot be read yet or the watermarks are unknown). */
static int64_t views_lag(struct fixture *f)
{
    int64_t ends[PARTITIONS];
    for (int32_t partition = 0; partition < PARTITIONS; partition++) {
        int64_t low = 0;
        if (rd_kafka_query_watermark_offsets(f->events->consumer, f->harness->topics.events, partition, &low,
                                             &ends[partition], 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
    }
    int64_t lag = 0;
    for (int view = 0; view < VIEW_COUNT; view++) {
        char path[HARNESS_PATH_BYTES_MAX + 128];
        view_path(f, view_names[view], path, sizeof(path));
        int64_t positions[PARTITIONS] = {0};
        if (view_positions_read(path, positions) != 0) return -1;
        for (int32_t partition = 0; partition < PARTITIONS; partition++)
            if (positions[partition] < ends[partition]) lag += ends[partition] - positions[partition];
    }
    return lag;
}

/* Waits until every view has reached the end of every events partition. Returns the wait in ms. */
static int64_t views_wait_caught_up(struct fixture *f)
{
    int64_t started_ms = harness_now_ms();
    int64_t lag = -1;
    while ((lag = views_lag(f)) != 0) {
        harness_check(f->harness, harness_now_ms() - started_ms < CATCH_UP_TIMEOUT,
                      "views not caught up after %d ms (lag %lld)", CATCH_UP_TIMEOUT, (long long)lag);
        harness_check(f->harness, harness_stockd_running(f->stockd), "stockd exited by itself");
        harness_sleep_ms(200);
    }
    return harness_now_ms() - started_ms;
}

/* Every view file exists (verify_run skips an absent one silently). */
static void views_present(struct fixture *f)
{
    for (int view = 0; view < VIEW_COUNT; view++) {
        char path[HARNESS_PATH_BYTES_MAX + 128];
        view_path(f, view_names[view], path, sizeof(path));
        harness_check(f->harness, access(path, F_OK) == 0, "no view file %s", path);
    }
}

/* Runs verify_run over the stopped stockd's data dir into report (a fresh scratch dir each time); fails
 * the test when it cannot run. Returns its duration in ms. */
static int64_t verify_report_run(struct fixture *f, struct verify_report *report)
{
    views_present(f);
    struct stockd_config config;
    stockd_config_defaults(&config);
    snprintf(config.kafka_bootstrap, sizeof(config.kafka_bootstrap), "%s", f->harness->bootstrap);
    snprintf(config.topic_prefix, sizeof(config.topic_prefix), "%s", f->harness->prefix);
    snprintf(config.data_dir, sizeof(config.data_dir), "%s", f->stockd->data_dir);
    snprintf(config.instance_id, sizeof(config.instance_id), "%s", f->stockd->instance_id);
    config.partitions = PARTITIONS;
    char scratch[HARNESS_PATH_BYTES_MAX + 64];
    snprintf(scratch, sizeof(scratch), "%s/scratch-%d", f->harness->root_dir, ++f->scratch_runs);
    harness_check(f->harness, mkdir(scratch, 0700) == 0, "mkdir %s: %s", scratch, strerror(errno));
    char error[512] = "";
    atomic_bool stop = false;
    int64_t started_ms = harness_now_ms();
    int status = verify_run(&config, scratch, &stop, report, error, sizeof(error));
    harness_check(f->harness, status == 0, "verify_run could not run: %s", error);
    return harness_now_ms() - started_ms;
}

/* Runs verify_run and fails with the kept differences unless there are none. Returns the events folded. */
static uint64_t verify_no_differences(struct fixture *f)
{
    static struct verify_report report;
    int64_t duration_ms = verify_report_run(f, &report);
    if (report.differences != 0) {
        for (size_t i = 0; i < report.kept; i++)
            fprintf(stderr, "views: difference %zu: %s\n", i + 1, report.differences_kept[i]);
        harness_fail(f->harness, "verify_run: %llu differences (%zu kept, printed above)",
                     (unsigned long long)report.differences, report.kept);
    }
    harness_check(f->harness, report.shards_compared == PARTITIONS, "%d shards compared",
                  (int)report.shards_compared);
    harness_check(f->harness, report.events > 0 && report.events_undecodable == 0, "%llu events folded",
                  (unsigned long long)report.events);
    fprintf(stderr, "views: verify_run folded %llu events over %llu SKUs in %lld ms: 0 differences\n",
            (unsigned long long)report.events, (unsigned long long)report.skus, (long long)duration_ms);
    return report.events;
}

/* Runs one statement on a view file of the stopped stockd. */
static void view_tamper(struct fixture *f, const char *name, const char *sql)
{
    char path[HARNESS_PATH_BYTES_MAX + 128];
    view_path(f, name, path, sizeof(path));
    sqlite3 *db = NULL;
    int status = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (status == SQLITE_OK) status = sqlite3_exec(db, sql, NULL, NULL, NULL);
    harness_check(f->harness, status == SQLITE_OK && sqlite3_changes(db) == 1, "%s: %s: %s", path, sql,
                  sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* The check itself can fail: one stock row off by one and one history event missing (an event applied
 * twice, an event skipped) are each reported. */
static void verify_detects_tampering(struct fixture *f)
{
    view_tamper(f, "stock",
                "UPDATE stock_locations SET on_hand = on_hand + 1 WHERE (sku, location) = "
                "(SELECT sku, location FROM stock_locations ORDER BY sku, location LIMIT 1)");
    view_tamper(
        f, "history",
        "DELETE FROM history WHERE (sku, sequence) = (SELECT sku, sequence FROM history ORDER BY sku, "
        "sequence DESC LIMIT 1)");
    view_tamper(f, "movements",
                "UPDATE movement_skus SET reserved = reserved + 1 WHERE sku = (SELECT sku FROM movement_skus "
                "ORDER BY sku LIMIT 1)");
    static struct verify_report report;
    verify_report_run(f, &report);
    bool stock = false;
    bool history = false;
    bool movements = false;
    for (size_t i = 0; i < report.kept; i++) {
        stock = stock || strstr(report.differences_kept[i], "stock") != NULL;
        history = history || strstr(report.differences_kept[i], "history") != NULL;
        movements = movements || strstr(report.differences_kept[i], "movements") != NULL;
    }
    harness_check(
        f->harness, report.differences >= 3 && stock && history && movements,
        "tampered views: %llu differences (stock named: %d, history named: %d, movements named: %d)",
        (unsigned long long)report.differences, stock, history, movements);
    fprintf(stderr, "views: tampered stock and history views: %llu differences reported, e.g. \"%s\"\n",
            (unsigned long long)report.differences, report.kept > 0 ? report.differences_kept[0] : "");
}

/* Every sent command id is on the events topic; the fold of it agrees with the model. */
static void events_check(struct fixture *f)
{
    int status = harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items,
                                         f->sent.count, DECIDE_TIMEOUT);
    harness_check(f->harness, status == 0, "%s", f->harness->error);
}

static void fold_check(struct fixture *f)
{
    harness_reader_poll(f->events, 1000);
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "%s", f->harness->error);
    if (harness_fold_expect(f->harness, fold, &f->sent) != 0 ||
        harness_model_check(f->harness, f->model, fold) != 0) {
        harness_fold_destroy(fold);
        harness_fail(f->harness, "%s", f->harness->error);
    }
    harness_fold_destroy(fold);
}

/* ---- 1. views equal the fold after a mixed workload ------------------------------------------------- */

static void test_views_equal_fold_after_mixed_workload(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    stream_generate(f, MIX_COMMANDS, "mix", 0x71e5a11d0c0ffeeULL);
    stockd_start_all_roles(f);
    int64_t stream_started_ms = harness_now_ms();
    producer_start(f);
    events_check(f);
    int64_t decided_ms = harness_now_ms();
    producer_join(f);
    int64_t caught_up_wait_ms = views_wait_caught_up(f);
    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "stockd did not stop cleanly");
    fold_check(f);
    uint64_t events = verify_no_differences(f);
    verify_detects_tampering(f);
    fprintf(stderr,
            "views: %d commands over %d SKUs decided after %lld ms (%.0f/s), views caught up %lld ms later; "
            "%llu events; total %lld ms\n",
            MIX_COMMANDS, SKUS, (long long)(decided_ms - stream_started_ms),
            MIX_COMMANDS * 1000.0 / (double)(decided_ms - stream_started_ms + 1),
            (long long)caught_up_wait_ms, (unsigned long long)events,
            (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

/* ---- 2. exactly once into every view through kill -9 ----------------------------------------------- */

static void test_views_exactly_once_after_kill_9_during_projection(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    stream_generate(f, KILL_COMMANDS, "kill", 0x6b696c6c39393939ULL);
    f->send_per_tick = KILL_PER_TICK;
    stockd_start_all_roles(f);
    producer_start(f);
    size_t threshold = 0;
    for (int kill = 1; kill <= KILLS; kill++) {
        size_t planned = (size_t)KILL_COMMANDS * (size_t)kill / (KILLS + 1);
        threshold = planned > threshold ? planned : threshold + 1;
        int64_t deadline_ms = harness_now_ms() + STALL_MS;
        while (harness_reader_distinct_ids(f->events) < threshold) {
            harness_check(f->harness, harness_now_ms() < deadline_ms, "stalled at %zu decided ids",
                          harness_reader_distinct_ids(f->events));
            harness_check(f->harness, harness_stockd_running(f->stockd), "stockd exited by itself");
            harness_check(f->harness, harness_reader_poll(f->events, 100) >= 0, "reading events");
        }
        /* During projection: the views have events still to apply (the stream keeps them busy). Looked
         * for at most 2 s: when the views have caught up with a finished stream, each views_lag takes ~2 s
         * (its ListOffsets wait behind the reader's 500 ms long-poll fetches), and 200 tries took 500 s
         * in a CI run. */
        int64_t lag = views_lag(f);
        int64_t lag_deadline_ms = harness_now_ms() + 2000;
        while (lag <= 0 && harness_now_ms() < lag_deadline_ms) {
            harness_sleep_ms(5);
            lag = views_lag(f);
        }
        harness_stockd_kill(f->stockd);
        fprintf(stderr, "views: kill %d (SIGKILL) at %zu ids seen decided, views %lld events behind\n", kill,
                harness_reader_distinct_ids(f->events), (long long)lag);
        harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "restart %d", kill);
        harness_check(f->harness, harness_stockd_wait_ready(f->stockd, WAIT_MS) == 0, "not ready after %d",
                      kill);
    }
    events_check(f);
    producer_join(f);
    int64_t caught_up_wait_ms = views_wait_caught_up(f);
    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "stockd did not stop cleanly");
    fold_check(f);
    uint64_t events = verify_no_differences(f);
    fprintf(stderr,
            "views: %d commands, %d kills, views caught up %lld ms after all decided; %llu events; "
            "total %lld ms\n",
            KILL_COMMANDS, KILLS, (long long)caught_up_wait_ms, (unsigned long long)events,
            (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

/* ---- 3. read-only queries while writes flow --------------------------------------------------------- */

struct query_worker {
    pthread_t thread;
    char path[HARNESS_PATH_BYTES_MAX + 128];
    const atomic_bool *stop;
    int index;
    uint64_t queries;
    uint64_t failures;
    uint64_t empty_after_rows; /* a listing that came back empty after one had rows */
    char first_failure[512];
};

static void query_failure(struct query_worker *worker, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void query_failure(struct query_worker *worker, const char *format, ...)
{
    if (worker->failures++ == 0) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(worker->first_failure, sizeof(worker->first_failure), format, arguments);
        va_end(arguments);
    }
}

static void *query_run(void *argument)
{
    struct query_worker *worker = argument;
    sqlite3 *db = NULL;
    while (db == NULL && !atomic_load(worker->stop)) {
        db = view_file_open(worker->path);
        if (db == NULL) harness_sleep_ms(20);
    }
    struct view_stock_sku *sku = malloc(sizeof(*sku));
    struct view_stock_page *page = malloc(sizeof(*page));
    assert(sku != NULL && page != NULL);
    bool had_rows = false;
    char error[256];
    for (uint64_t round = 0; db != NULL && !atomic_load(worker->stop); round++) {
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
            query_failure(worker, "BEGIN: %s", sqlite3_errmsg(db));
            continue;
        }
        char name[16];
        snprintf(name, sizeof(name), "SKU-%03d", (int)((round * 7 + (uint64_t)worker->index) % SKUS));
        int found = view_stock_get(db, name, sku, error, sizeof(error));
        if (found < 0) query_failure(worker, "view_stock_get %s: %d %s", name, found, error);
        int listed = view_stock_list(db, round % 2 == 1, NULL, VIEW_PAGE_MAX, page, error, sizeof(error));
        if (listed < 0) query_failure(worker, "view_stock_list: %d %s", listed, error);
        if (round % 2 == 0) {
            if (listed > 0) had_rows = true;
            if (listed == 0 && had_rows) {
                worker->empty_after_rows++;
                query_failure(worker, "view_stock_list: empty after it had rows (round %llu)",
                              (unsigned long long)round);
            }
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            query_failure(worker, "COMMIT: %s", sqlite3_errmsg(db));
        worker->queries += 2;
    }
    free(sku);
    free(page);
    sqlite_util_cached_close(db); /* the queries keep their statements on it */
    return NULL;
}

static void test_views_stock_queries_under_write_load(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    stream_generate(f, QUERY_COMMANDS, "query", 0x9e3779b97f4a7c15ULL);
    f->send_per_tick = QUERY_PER_TICK;
    stockd_start_all_roles(f);
    static struct query_worker workers[QUERY_THREADS];
    atomic_bool stop = false;
    memset(workers, 0, sizeof(workers));
    for (int i = 0; i < QUERY_THREADS; i++) {
        workers[i].stop = &stop;
        workers[i].index = i;
        view_path(f, "stock", workers[i].path, sizeof(workers[i].path));
        harness_check(f->harness, pthread_create(&workers[i].thread, NULL, query_run, &workers[i]) == 0,
                      "query thread");
    }
    producer_start(f);
    events_check(f);
    producer_join(f);
    views_wait_caught_up(f);
    atomic_store(&stop, true);
    uint64_t queries = 0;
    uint64_t failures = 0;
    for (int i = 0; i < QUERY_THREADS; i++) {
        pthread_join(workers[i].thread, NULL);
        queries += workers[i].queries;
        failures += workers[i].failures;
        if (workers[i].failures != 0)
            fprintf(stderr, "views: query thread %d: %llu failures, first: %s\n", i,
                    (unsigned long long)workers[i].failures, workers[i].first_failure);
    }
    harness_check(f->harness, failures == 0, "%llu of %llu queries failed", (unsigned long long)failures,
                  (unsigned long long)queries);
    harness_check(f->harness, queries > 0, "no query ran");
    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "stockd did not stop cleanly");
    fprintf(stderr,
            "views: %llu stock queries in %d threads while %d commands flowed, none failed; total %lld ms\n",
            (unsigned long long)queries, QUERY_THREADS, QUERY_COMMANDS,
            (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

int main(void)
{
    log_init("warn");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_views_equal_fold_after_mixed_workload, setup_mixed, teardown),
        cmocka_unit_test_setup_teardown(test_views_exactly_once_after_kill_9_during_projection, setup_kill,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_views_stock_queries_under_write_load, setup_query, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
