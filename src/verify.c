/* verify.c - folds <prefix>.events into scratch shards and compares the handler's shards with them.
 *
 * One partition at a time, so memory stays that of one SQLite shard: read from offset 0 to the end
 * (read_committed), fold with shard_event_apply (domain_evolve), then walk the scratch shard and the live
 * one side by side, and the views (opened read-only). The live shard may have forgotten old command ids
 * (retention): only the ones it still has must agree; the outcomes view forgets nothing. The events of order
 * lines go to verify_orders too, which then folds <prefix>.orders and judges every order. */
#include "verify.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "domain/codec.h"
#include "kafka/client.h"
#include "log.h"
#include "projector.h"
#include "store/shard.h"
#include "store/sqlite_util.h"
#include "views/movements.h"
#include "verify_catalog.h"
#include "verify_orders.h"
#include "views/query.h"

#define COMPONENT "verify"
/* Events folded per scratch transaction. */
#define VERIFY_COMMIT_EVERY 20000
/* How long the fold waits for data or end-of-partition before giving up. */
#define VERIFY_IDLE_TIMEOUT_MS 60000
/* The consumer's fetch.wait.max.ms. Each partition is read to its end, and a read_committed fetch at the end
 * waits this long for more: with librdkafka's 500 ms a partition took about a second even when nearly empty
 * (verify_run over 6 + 6 partitions holding 46 events: 12.6 s in test_it_orders; with 10 ms, 1.3 s,
 * and 1.3-1.5 s over 1,300 events and 1,700 orders records; 2026-12-05). */
#define VERIFY_FETCH_WAIT_MS "10"
/* How long the cluster's metadata may take (whether the orders topic exists). */
#define VERIFY_METADATA_TIMEOUT_MS 10000

static void difference(struct verify_report *report, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Counts a difference and keeps its text while there is room. */
static void difference(struct verify_report *report, const char *format, ...)
{
    report->differences++;
    if (report->kept >= VERIFY_DIFFERENCES_KEPT) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(report->differences_kept[report->kept++], sizeof(report->differences_kept[0]), format,
              arguments);
    va_end(arguments);
}

static rd_kafka_t *consumer_create(const struct stockd_config *config, char *error, size_t error_bytes)
{
    rd_kafka_conf_t *conf = kafka_conf_new(config, "verify", error, error_bytes);
    if (conf == NULL) return NULL;
    char group_id[64];
    snprintf(group_id, sizeof(group_id), "stockd-verify-%d", (int)getpid());
    if (kafka_conf_set(conf, "group.id", group_id, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "isolation.level", "read_committed", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "queued.max.messages.kbytes", "8192", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "fetch.queue.backoff.ms", KAFKA_FETCH_QUEUE_BACKOFF_MS, error, error_bytes) !=
            0 ||
        kafka_conf_set(conf, "fetch.wait.max.ms", VERIFY_FETCH_WAIT_MS, error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return kafka_client_new(RD_KAFKA_CONSUMER, conf, error, error_bytes);
}

/* What partition_read hands each record to. Returns 0, or -1 with a message (the read stops). */
typedef int (*record_take_fn)(void *context, const rd_kafka_message_t *message, char *error,
                              size_t error_bytes);

/* Reads a partition of topic from offset 0 to its end (read_committed), handing each record to take.
 * Returns the offset after the last record (the end offset itself may be one further, past a transaction
 * marker: *end_out, when not NULL), or -1 with a message. */
static int64_t partition_read(rd_kafka_t *consumer, const char *topic, int32_t partition,
                              const atomic_bool *stop, record_take_fn take, void *context, int64_t *end_out,
                              char *error, size_t error_bytes)
{
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    int64_t end = -1;
    int64_t after_last = 0;
    int idle_ms = 0;
    while (end < 0 && !(stop != NULL && atomic_load(stop))) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 500);
        if (message == NULL) {
            if ((idle_ms += 500) >= VERIFY_IDLE_TIMEOUT_MS) break;
            continue;
        }
        idle_ms = 0;
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            end = message->offset;
        } else if (message->err) {
            log_warn(COMPONENT, "%s", rd_kafka_message_errstr(message));
        } else {
            after_last = message->offset + 1;
            if (take(context, message, error, error_bytes) != 0) end = -2;
        }
        rd_kafka_message_destroy(message);
    }
    rd_kafka_assign(consumer, NULL);
    if (end == -1)
        snprintf(error, error_bytes, "%s [%d]: no end of partition within %d s", topic, (int)partition,
                 VERIFY_IDLE_TIMEOUT_MS / 1000);
    if (end_out != NULL) *end_out = end;
    return end < 0 ? -1 : after_last;
}

/* The events fold of one partition. */
struct events_fold {
    struct shard *scratch;
    struct verify_catalog *catalog;
    struct verify_orders *orders;
    struct verify_report *report;
    long folded;
};

/* Folds one record into the scratch shard and hands it to the orders check; an undecodable or
 * non-following event is a difference. */
static int fold_record(void *context, const rd_kafka_message_t *message, char *error, size_t error_bytes)
{
    struct events_fold *fold = context;
    struct verify_report *report = fold->report;
    static struct event event;
    struct codec_error codec_error;
    report->events++;
    if (codec_event_decode(message->payload, message->len, &event, &codec_error) != 0) {
        report->events_undecodable++;
        difference(report, "events [%d] offset %lld: not a valid event: %s", (int)message->partition,
                   (long long)message->offset, codec_error.message);
        return 0;
    }
    verify_catalog_add(fold->catalog, &event); /* past its bound it keeps nothing: reported after the fold */
    if (verify_orders_event(fold->orders, message->partition, message->offset, &event, error, error_bytes) !=
        0)
        return -1;
    if (shard_begin(fold->scratch, error, error_bytes) != 0) return -1;
    char reason[512];
    if (shard_event_apply(fold->scratch, &event, reason, sizeof(reason)) != 0)
        difference(report, "events [%d] offset %lld: %s", (int)message->partition, (long long)message->offset,
                   reason);
    if (++fold->folded % VERIFY_COMMIT_EVERY == 0 && shard_commit(fold->scratch, -1, error, error_bytes) != 0)
        return -1;
    return 0;
}

/* Folds events partition from 0 to its end into scratch. Returns the offset after the last event (the end
 * offset itself may be one further, past a transaction marker), or -1 with a message. */
static int64_t fold_partition(rd_kafka_t *consumer, const char *topic, int32_t partition,
                              struct events_fold *fold, const atomic_bool *stop, char *error,
                              size_t error_bytes)
{
    int64_t after_last_event =
        partition_read(consumer, topic, partition, stop, fold_record, fold, NULL, error, error_bytes);
    if (after_last_event >= 0 && shard_in_transaction(fold->scratch) &&
        shard_commit(fold->scratch, after_last_event, error, error_bytes) != 0)
        return -1;
    return after_last_event;
}

/* ---- comparison ------------------------------------------------------------------------------------ */

/* The read models compared, each NULL when its file is absent or behind on the partition at hand. */
enum verify_view {
    VERIFY_STOCK,
    VERIFY_RESERVATIONS,
    VERIFY_HISTORY,
    VERIFY_OUTCOMES,
    VERIFY_MOVEMENTS,
    VERIFY_CATALOG,
    VERIFY_VIEW_COUNT
};
static const char *const verify_view_names[VERIFY_VIEW_COUNT] = {"stock",    "reservations", "history",
                                                                 "outcomes", "movements",    "catalog"};

struct compare {
    struct shard *expected; /* the scratch fold */
    struct shard *actual;   /* the handler's shard, or NULL when there is none */
    sqlite3 *views[VERIFY_VIEW_COUNT];
    struct verify_report *report;
    struct verify_catalog *catalog; /* the partition's CatalogUpdated events */
    int32_t partition;
    char error[512];
};

/* verify_catalog's difference callback. */
static void catalog_difference(void *context, const char *text)
{
    struct compare *compare = context;
    difference(compare->report, "%s", text);
}

static int location_compare(struct compare *compare, const struct sku_state *want,
                            const struct sku_state *got)
{
    for (uint32_t i = 0; i < want->location_count; i++) {
        const struct location_stock *a = &want->locations[i];
        const struct location_stock *b = domain_location_find(got, a->location);
        if (b == NULL || a->on_hand != b->on_hand || a->reserved != b->reserved) {
            difference(compare->report,
                       "shard %d: SKU %s at %s: fold on_hand %lld reserved %lld, shard %s %lld %lld",
                       (int)compare->partition, want->sku, a->location, (long long)a->on_hand,
                       (long long)a->reserved, b ? "has" : "lacks it:", b ? (long long)b->on_hand : 0LL,
                       b ? (long long)b->reserved : 0LL);
            return 0;
        }
    }
    return 0;
}

/* The handler's shard against the fold, for one SKU. */
static int shard_sku_compare(struct compare *compare, const char *sku, const struct sku_state *fold)
{
    const struct sku_state want = *fold;
    static struct sku_state got;
    if (shard_sku_load(compare->actual, sku, &got, compare->error, sizeof(compare->error)) != 0) return -1;
    if (want.exists != got.exists || want.sequence != got.sequence ||
        want.reorder_point != got.reorder_point || want.lead_time_days != got.lead_time_days ||
        strcmp(want.name, got.name) != 0 || want.location_count != got.location_count) {
        difference(
            compare->report,
            "shard %d: SKU %s: fold has sequence %llu, %u locations, exists %d; shard has %llu, %u, %d",
            (int)compare->partition, sku, (unsigned long long)want.sequence, want.location_count,
            (int)want.exists, (unsigned long long)got.sequence, got.location_count, (int)got.exists);
        return 0;
    }
    return location_compare(compare, &want, &got);
}

/* SKUs the shard has and the fold does not. */
static int sku_extra(void *context, const char *sku)
{
    struct compare *compare = context;
    static struct sku_state want;
    if (shard_sku_load(compare->expected, sku, &want, compare->error, sizeof(compare->error)) != 0) return -1;
    if (want.sequence == 0)
        difference(compare->report, "shard %d: SKU %s is in the shard but has no events",
                   (int)compare->partition, sku);
    return 0;
}

static int shard_reservation_compare(struct compare *compare, const char *sku,
                                     const struct reservation_state *want)
{
    struct reservation_set set = {.count = 0};
    int found = shard_reservation_load(compare->actual, sku, want->reservation_id, &set, compare->error,
                                       sizeof(compare->error));
    if (found < 0) return -1;
    const struct reservation_state *got = found ? &set.items[0] : NULL;
    if (got == NULL || got->status != want->status || got->quantity != want->quantity ||
        got->expires_at_ms != want->expires_at_ms || strcmp(got->location, want->location) != 0)
        difference(compare->report, "shard %d: reservation %s of %s: fold status %d quantity %lld, shard %s",
                   (int)compare->partition, want->reservation_id, sku, (int)want->status,
                   (long long)want->quantity, got ? "differs" : "lacks it");
    return 0;
}

/* Every command id the shard still remembers must have the fold's outcome. */
static int command_compare(void *context, const char *command_id, const struct shard_command_outcome *got)
{
    struct compare *compare = context;
    struct shard_command_outcome want;
    int found =
        shard_command_find(compare->expected, command_id, &want, compare->error, sizeof(compare->error));
    if (found < 0) return -1;
    if (!found || want.rejected != got->rejected || want.first_sequence != got->first_sequence ||
        want.event_count != got->event_count || strcmp(want.reason, got->reason) != 0 ||
        strcmp(want.sku, got->sku) != 0)
        difference(compare->report, "shard %d: command %s: %s", (int)compare->partition, command_id,
                   found ? "outcome differs from its events" : "recorded but has no event");
    return 0;
}

/* The stock view against the fold, for one SKU (a key with only rejections has no row). */
static int view_stock_compare(struct compare *compare, const char *sku, const struct sku_state *want)
{
    static struct view_stock_sku got;
    int found =
        view_stock_get(compare->views[VERIFY_STOCK], sku, &got, compare->error, sizeof(compare->error));
    if (found < 0) return -1;
    if (!want->exists) {
        if (found) difference(compare->report, "view stock: SKU %s has a row but was never created", sku);
        return 0;
    }
    if (!found || got.location_count != want->location_count ||
        got.summary.reorder_point != want->reorder_point ||
        got.summary.lead_time_days != want->lead_time_days || strcmp(got.summary.name, want->name) != 0) {
        difference(compare->report, "view stock: SKU %s: %s", sku,
                   found ? "row differs from the fold" : "missing");
        return 0;
    }
    for (uint32_t i = 0; i < got.location_count; i++) {
        const struct location_stock *stock = domain_location_find(want, got.locations[i].location);
        if (stock == NULL || stock->on_hand != got.locations[i].on_hand ||
            stock->reserved != got.locations[i].reserved) {
            difference(compare->report,
                       "view stock: SKU %s at %s: view on_hand %lld reserved %lld, fold %lld %lld", sku,
                       got.locations[i].location, (long long)got.locations[i].on_hand,
                       (long long)got.locations[i].reserved, stock ? (long long)stock->on_hand : 0LL,
                       stock ? (long long)stock->reserved : 0LL);
            return 0;
        }
    }
    return 0;
}

/* The history view holds every event of the key: its newest sequence is the fold's. */
static int view_history_compare(struct compare *compare, const char *sku, const struct sku_state *want)
{
    static struct view_history_page page;
    int count = view_history_list(compare->views[VERIFY_HISTORY], sku, VIEW_ORDER_NEWEST_FIRST, NULL, 1,
                                  &page, compare->error, sizeof(compare->error));
    if (count < 0) return -1;
    uint64_t newest = count > 0 ? page.events[0].sequence : 0;
    if (newest != want->sequence)
        difference(compare->report, "view history: SKU %s: newest sequence %llu, fold %llu", sku,
                   (unsigned long long)newest, (unsigned long long)want->sequence);
    return 0;
}

/* The movements view's totals and lead time against the fold (its days have no counterpart in a shard). */
static int view_movements_compare(struct compare *compare, const char *sku, const struct sku_state *want)
{
    static struct view_movements got;
    int found = view_movements_get(compare->views[VERIFY_MOVEMENTS], sku, 0, 1, &got, compare->error,
                                   sizeof(compare->error));
    if (found < 0) return -1;
    int64_t on_hand = 0, reserved = 0;
    for (uint32_t i = 0; i < want->location_count; i++) {
        on_hand += want->locations[i].on_hand;
        reserved += want->locations[i].reserved;
    }
    if (found != (want->exists ? 1 : 0) || (found && (got.on_hand != on_hand || got.reserved != reserved ||
                                                      got.lead_time_days != want->lead_time_days)))
        difference(
            compare->report,
            "view movements: SKU %s: on_hand %lld reserved %lld lead_time_days %lld, fold %lld %lld %lld%s",
            sku, (long long)got.on_hand, (long long)got.reserved, (long long)got.lead_time_days,
            (long long)on_hand, (long long)reserved, (long long)want->lead_time_days,
            found ? "" : " (no row)");
    return 0;
}

static int sku_visit(void *context, const char *sku)
{
    struct compare *compare = context;
    static struct sku_state want;
    compare->report->skus++;
    if (shard_sku_load(compare->expected, sku, &want, compare->error, sizeof(compare->error)) != 0) return -1;
    if (compare->actual != NULL && shard_sku_compare(compare, sku, &want) != 0) return -1;
    if (compare->views[VERIFY_STOCK] != NULL && view_stock_compare(compare, sku, &want) != 0) return -1;
    if (compare->views[VERIFY_HISTORY] != NULL && view_history_compare(compare, sku, &want) != 0) return -1;
    if (compare->views[VERIFY_MOVEMENTS] != NULL && view_movements_compare(compare, sku, &want) != 0)
        return -1;
    return 0;
}

static int reservation_visit(void *context, const char *sku, const struct reservation_state *want)
{
    struct compare *compare = context;
    if (compare->actual != NULL && shard_reservation_compare(compare, sku, want) != 0) return -1;
    if (compare->views[VERIFY_RESERVATIONS] == NULL) return 0;
    struct view_reservation got;
    int found = view_reservation_get(compare->views[VERIFY_RESERVATIONS], sku, want->reservation_id, &got,
                                     compare->error, sizeof(compare->error));
    if (found < 0) return -1;
    if (!found || got.status != want->status || got.quantity != want->quantity ||
        got.expires_at_ms != want->expires_at_ms || strcmp(got.location, want->location) != 0)
        difference(compare->report, "view reservations: %s of %s: %s", want->reservation_id, sku,
                   found ? "differs from the fold" : "missing");
    return 0;
}

/* Every command of the fold has its outcome in the outcomes view. */
static int outcome_visit(void *context, const char *command_id, const struct shard_command_outcome *want)
{
    struct compare *compare = context;
    static struct view_outcome got;
    int found = view_outcome_get(compare->views[VERIFY_OUTCOMES], command_id, &got, compare->error,
                                 sizeof(compare->error));
    if (found < 0) return -1;
    const char *reason = found && !got.accepted ? domain_reject_reason_code(got.reason) : "";
    if (!found || got.accepted == want->rejected || got.event_count != want->event_count ||
        strcmp(reason ? reason : "?", want->reason) != 0 || strcmp(got.sku, want->sku) != 0 ||
        (got.event_count > 0 && got.events[0].sequence != want->first_sequence))
        difference(compare->report, "view outcomes: command %s: %s", command_id,
                   found ? "differs from its events" : "missing");
    return 0;
}

static int compare_all(struct compare *compare, char *error, size_t error_bytes)
{
    int status = shard_each_sku(compare->expected, sku_visit, compare, error, error_bytes);
    /* Walk the shard's own keys too, looking them up in the fold. */
    if (status == 0 && compare->actual != NULL)
        status = shard_each_sku(compare->actual, sku_extra, compare, error, error_bytes);
    if (status == 0)
        status = shard_each_reservation(compare->expected, reservation_visit, compare, error, error_bytes);
    if (status == 0 && compare->actual != NULL)
        status = shard_each_command(compare->actual, command_compare, compare, error, error_bytes);
    if (status == 0 && compare->views[VERIFY_OUTCOMES] != NULL)
        status = shard_each_command(compare->expected, outcome_visit, compare, error, error_bytes);
    if (status == 0 && compare->views[VERIFY_CATALOG] != NULL) {
        if (verify_catalog_overflowed(compare->catalog)) {
            difference(compare->report,
                       "view catalog: partition %d not compared: its catalog events pass %d MiB",
                       (int)compare->partition, VERIFY_CATALOG_BYTES_MAX / (1024 * 1024));
        } else {
            status =
                verify_catalog_compare(compare->catalog, compare->views[VERIFY_CATALOG], catalog_difference,
                                       compare, compare->error, sizeof(compare->error));
        }
    }
    if (status != 0 && compare->error[0] != '\0') snprintf(error, error_bytes, "%s", compare->error);
    return status == 0 ? 0 : -1;
}

/* Opens a view read-only, in a read transaction, when its file exists and its position on the partition
 * has reached the fold's end; a view that is behind is reported as behind. NULL otherwise. */
static sqlite3 *view_open(const struct stockd_config *config, enum verify_view which, int32_t partition,
                          int64_t end, struct verify_report *report)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/views/%s.db", config->data_dir, verify_view_names[which]);
    if (access(path, F_OK) != 0) return NULL;
    sqlite3 *db = NULL;
    static int64_t positions[STOCKD_PARTITIONS_MAX];
    char error[256];
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite_util_exec(db, "BEGIN", error, sizeof(error)) != 0 ||
        projector_positions_read(db, positions, config->partitions, error, sizeof(error)) != 0) {
        difference(report, "view %s: cannot be read: %s", verify_view_names[which],
                   db ? sqlite3_errmsg(db) : "");
        sqlite3_close(db);
        return NULL;
    }
    if (positions[partition] >= end) return db;
    difference(report, "view %s: partition %d at %lld, behind the end of its events (%lld)",
               verify_view_names[which], (int)partition, (long long)positions[partition], (long long)end);
    sqlite3_close(db);
    return NULL;
}

/* Folds one partition into a scratch shard and compares the handler's shard of it (when this instance
 * has one) and the views with it. */
static int partition_verify(const struct stockd_config *config, rd_kafka_t *consumer, const char *topic,
                            const char *scratch_dir, int32_t partition, struct verify_catalog *catalog,
                            struct verify_orders *orders, const atomic_bool *stop,
                            struct verify_report *report, char *error, size_t error_bytes)
{
    struct shard *scratch = shard_open(scratch_dir, partition, error, error_bytes);
    if (scratch == NULL) return -1;
    verify_catalog_reset(catalog);
    struct events_fold fold = {.scratch = scratch, .catalog = catalog, .orders = orders, .report = report};
    int64_t end = fold_partition(consumer, topic, partition, &fold, stop, error, error_bytes);
    if (end < 0) {
        shard_close(scratch);
        return -1;
    }
    struct compare compare = {
        .expected = scratch, .report = report, .catalog = catalog, .partition = partition};
    char path[4096];
    if (shard_path(config->data_dir, partition, path, sizeof(path)) == 0 && access(path, F_OK) == 0) {
        compare.actual = shard_open(config->data_dir, partition, error, error_bytes);
        if (compare.actual == NULL) {
            shard_close(scratch);
            return -1;
        }
        report->shards_compared++;
        if (shard_checkpoint(compare.actual) < end) {
            report->shards_behind++;
            difference(report, "shard %d: checkpoint %lld is behind the end of its partition (%lld)",
                       (int)partition, (long long)shard_checkpoint(compare.actual), (long long)end);
            shard_close(compare.actual);
            compare.actual = NULL;
        }
    }
    for (int view = 0; view < VERIFY_VIEW_COUNT; view++) {
        compare.views[view] = view_open(config, (enum verify_view)view, partition, end, report);
        if (compare.views[view] != NULL) report->views_compared++;
    }
    int status = compare_all(&compare, error, error_bytes);
    for (int view = 0; view < VERIFY_VIEW_COUNT; view++)
        sqlite_util_cached_close(compare.views[view]); /* the queries keep their statements on it */
    shard_close(compare.actual);
    shard_close(scratch);
    return status;
}

/* verify_orders' difference callback. */
static void report_difference(void *context, const char *text)
{
    difference(context, "%s", text);
}

/* The number of partitions of topic: 0 when it does not exist, -1 with a message when the cluster does not
 * answer. */
static int topic_partition_count(rd_kafka_t *consumer, const char *topic, char *error, size_t error_bytes)
{
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_resp_err_t status = rd_kafka_metadata(consumer, 1, NULL, &metadata, VERIFY_METADATA_TIMEOUT_MS);
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_bytes, "metadata: %s", rd_kafka_err2str(status));
        return -1;
    }
    int count = 0;
    for (int i = 0; i < metadata->topic_cnt; i++) {
        if (strcmp(metadata->topics[i].topic, topic) == 0 &&
            metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            count = metadata->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
    return count;
}

/* The orders topic's part of an orders record: handed to verify_orders. */
static int order_record_take(void *context, const rd_kafka_message_t *message, char *error,
                             size_t error_bytes)
{
    return verify_orders_record(context, message->partition, message->offset, message->payload, message->len,
                                error, error_bytes);
}

/* Folds <prefix>.orders (when it exists) with verify_orders, which has the order lines' events already,
 * compares the order stage's shards in data_dir with that fold, and judges every order. */
static int orders_verify(const struct stockd_config *config, rd_kafka_t *consumer, const char *topic,
                         struct verify_orders *orders, const atomic_bool *stop, struct verify_report *report,
                         char *error, size_t error_bytes)
{
    int count = topic_partition_count(consumer, topic, error, error_bytes);
    if (count < 0) return -1;
    int shards = verify_orders_shards_find(orders, config->data_dir, error, error_bytes);
    if (shards < 0) return -1;
    if (count == 0) { /* no orders topic: no order was ever placed */
        if (shards > 0)
            difference(report, "orders: %d order stage shard file(s) under %s, but no %s topic", shards,
                       config->data_dir, topic);
        return 0;
    }
    if (count != config->partitions)
        difference(report, "orders: %s has %d partitions, kafka.partitions is %d", topic, count,
                   (int)config->partitions);
    static int64_t after_last[STOCKD_PARTITIONS_MAX], ends[STOCKD_PARTITIONS_MAX];
    for (int32_t partition = 0; partition < config->partitions; partition++) {
        after_last[partition] = ends[partition] = 0;
        if (partition >= count) continue;
        after_last[partition] = partition_read(consumer, topic, partition, stop, order_record_take, orders,
                                               &ends[partition], error, error_bytes);
        if (after_last[partition] < 0) return -1;
    }
    report->orders_checked = true;
    if (verify_orders_shards_check(orders, after_last, ends, error, error_bytes) != 0) return -1;
    int status =
        verify_orders_check(orders, clock_wall_ms(), config->orders_saga_timeout_ms, error, error_bytes);
    verify_orders_counts_get(orders, &report->orders);
    return status;
}

int verify_run(const struct stockd_config *config, const char *scratch_dir, const atomic_bool *stop,
               struct verify_report *report, char *error, size_t error_bytes)
{
    assert(config != NULL && scratch_dir != NULL && report != NULL);
    memset(report, 0, sizeof(*report));
    struct kafka_topics topics;
    kafka_topics_names(config->topic_prefix, &topics);
    struct catalog_precedence precedence; /* the catalog view's: the same key of the same configuration */
    char reason[256];
    if (catalog_precedence_parse(config->catalog_source_precedence, &precedence, reason, sizeof(reason)) !=
        0) {
        snprintf(error, error_bytes, "catalog.source_precedence: %s", reason);
        return -1;
    }
    struct verify_catalog *catalog = verify_catalog_create(&precedence);
    if (catalog == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return -1;
    }
    struct verify_orders *orders =
        verify_orders_create(scratch_dir, config->partitions, report_difference, report, error, error_bytes);
    if (orders == NULL) {
        verify_catalog_destroy(catalog);
        return -1;
    }
    rd_kafka_t *consumer = consumer_create(config, error, error_bytes);
    if (consumer == NULL) {
        verify_orders_destroy(orders);
        verify_catalog_destroy(catalog);
        return -1;
    }
    int status = 0;
    for (int32_t partition = 0; status == 0 && partition < config->partitions; partition++) {
        status = partition_verify(config, consumer, topics.events, scratch_dir, partition, catalog, orders,
                                  stop, report, error, error_bytes);
        log_info(COMPONENT, "partition %d: %llu events so far, %llu differences", (int)partition,
                 (unsigned long long)report->events, (unsigned long long)report->differences);
    }
    if (status == 0) {
        status = orders_verify(config, consumer, topics.orders, orders, stop, report, error, error_bytes);
        log_info(COMPONENT, "orders: %llu placed, %llu in flight, %llu differences in all",
                 (unsigned long long)report->orders.orders, (unsigned long long)report->orders.in_flight,
                 (unsigned long long)report->differences);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    verify_orders_destroy(orders);
    verify_catalog_destroy(catalog);
    return status;
}
