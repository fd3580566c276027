/* handler.c - decides commands for the SKU partitions this instance owns.
 *
 * Reads stockd.commands.by-sku, folds state in one SQLite shard per partition and writes stockd.events,
 * all in one Kafka transaction (kafka/eos.c runs the loop). SQLite commits only after Kafka did, so a
 * shard is never ahead of the topic; on assignment it replays its events partition from its checkpoint.
 * Never writes a view: projectors do. */
#include "handler.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "domain/codec.h"
#include "domain/domain.h"
#include "kafka/client.h"
#include "kafka/dlq.h"
#include "kafka/eos.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "metrics.h"
#include "outcome_board.h"
#include "stage_threads.h"
#include "store/shard.h"

#define COMPONENT "handler"

/* Restore commits the shard every this many events, so a long replay keeps its progress. */
#define RESTORE_COMMIT_EVERY 10000
/* Attempts at the events partition's watermarks before a restore gives up (200 ms apart). */
#define WATERMARK_ATTEMPTS_MAX 100
/* Consumer errors tolerated during one restore before it gives up (they are transient: a broker restart). */
#define RESTORE_ERRORS_MAX 100
/* How long restore waits without any record or end-of-partition before it gives up. */
#define RESTORE_IDLE_TIMEOUT_MS 60000
/* A new producer looks for open records of its producer id on every events partition (on_seal_wanted): two
 * offset queries per partition, a few ms each against a healthy broker. Right after a broker restart a
 * partition without a leader yet would hold each query for its whole timeout, and the producer, which every
 * partition waits for, with it: the queries share this budget, each at most SEAL_QUERY_MS_MAX; a partition
 * not answered in time is not sealed (logged), and its restore at the next assignment looks again. */
#define SEAL_QUERIES_MS_MAX 5000
#define SEAL_QUERY_MS_MAX   2000
/* Due reservations looked at per shard per tick, and command ids pruned per shard per tick. */
#define PUNCTUATE_DUE_MAX   256
#define PUNCTUATE_PRUNE_MAX 5000
/* Outcomes of one batch that the API waits for in this process (outcome_board.h). A batch holding more ends
 * every watch of the partitions it touched as gone: those requests read the outcomes view instead. */
#define PENDING_OUTCOMES_MAX 128

/* A decision of the batch in flight that a request of this process waits for: posted once Kafka committed. */
struct pending_outcome {
    int32_t partition;
    bool duplicate; /* dropped as a duplicate: the outcome is the first decision's, in the outcomes view */
    struct view_outcome outcome; /* positions filled from the delivery reports (on_delivered) */
};

/* One handler thread: its own consumer in the group, its own transactional producer and the shards of the
 * partitions the group gave it. Workers share nothing but the configuration and the metrics registry. */
struct handler_worker {
    const struct stockd_config *config;
    int index;     /* 0 .. handler.threads - 1 */
    char name[32]; /* log component and client role: "handler", then "handler/1", "handler/2", ... */
    struct kafka_topics topics;
    char group_id[STOCKD_SKU_BYTES_MAX + 32];
    char transactional_id[STOCKD_SKU_BYTES_MAX + STOCKD_ID_BYTES_MAX + 32];
    struct eos_stage *stage;
    const atomic_bool *stop;      /* set while running: a long restore gives up when it is raised */
    rd_kafka_t *restore_consumer; /* assign-only, read_committed; created on first restore */
    struct shard *shards[STOCKD_PARTITIONS_MAX];
    /* The batch in flight: shards it touched and the last event offset delivered per partition. */
    int32_t touched[STOCKD_PARTITIONS_MAX];
    size_t touched_count;
    int64_t delivered_offset_max[STOCKD_PARTITIONS_MAX];
    int64_t tick_next_ms;
    /* shards_restore's work space: STOCKD_PARTITIONS_MAX slots (300 KB, too large for a stack and for
     * thread-local storage, which every thread of the process would carry). */
    struct restore_slot *restore_slots;
    uint64_t expire_serial;
    /* Metrics of the batch in flight, added to the registry when it commits (see batch_metrics_commit):
     * no atomics per command, and a retried batch counts once. */
    struct metrics_commands_local metrics_commands;
    struct metrics_latency_local metrics_decide;
    int64_t *submitted_ms; /* CreateTime of each decided command read in the batch; batch_max of them */
    size_t submitted_count;
    struct outcome_board *board;     /* NULL: no request of this process waits on this handler */
    struct pending_outcome *pending; /* PENDING_OUTCOMES_MAX, when board */
    size_t pending_count;
    bool pending_overflow;
    atomic_bool ready; /* the current assignment's shards are restored (false before the first, during one) */
    /* Why a partition of this worker is paused (its shard could not be restored: a full disk), for /readyz;
     * "" when none is. */
    pthread_mutex_t paused_mutex;
    char paused[560]; /* "partition N paused: " and a 512-byte error */
    _Atomic uint64_t commands_decided;
    _Atomic uint64_t commands_rejected;
    _Atomic uint64_t commands_duplicate;
    _Atomic uint64_t commands_dead_lettered;
    _Atomic uint64_t events_produced;
    _Atomic uint64_t events_restored;
    _Atomic uint64_t reservations_expired;
};

/* ---- restore --------------------------------------------------------------------------------------- */

static rd_kafka_t *restore_consumer_get(struct handler_worker *worker, char *error, size_t error_bytes)
{
    if (worker->restore_consumer != NULL) return worker->restore_consumer;
    rd_kafka_conf_t *conf = kafka_conf_new(worker->config, "handler-restore", error, error_bytes);
    if (conf == NULL) return NULL;
    /* assign() only: the group id is never joined nor committed to, but consumer_poll needs one. */
    char group_id[sizeof(worker->group_id) + STOCKD_ID_BYTES_MAX + 16];
    snprintf(group_id, sizeof(group_id), "%s-restore-%s", worker->group_id, worker->config->instance_id);
    if (kafka_conf_set(conf, "group.id", group_id, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "isolation.level", "read_committed", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "queued.max.messages.kbytes", "8192", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "fetch.queue.backoff.ms", KAFKA_FETCH_QUEUE_BACKOFF_MS, error, error_bytes) !=
            0 ||
        /* Restore waits on each fetch: the default 500 ms made an up-to-date partition cost about 1 s. */
        kafka_conf_set(conf, "fetch.wait.max.ms", "10", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    worker->restore_consumer = kafka_client_new(RD_KAFKA_CONSUMER, conf, error, error_bytes);
    return worker->restore_consumer;
}

/* Decodes one events record and folds it into the shard (inside the shard's open transaction). */
static int restore_apply(struct handler_worker *worker, struct shard *shard,
                         const rd_kafka_message_t *message, char *error, size_t error_bytes)
{
    struct event event;
    struct codec_error codec_error;
    if (codec_event_decode(message->payload, message->len, &event, &codec_error) != 0) {
        /* Cut to fit the caller's buffer: the partition and offset matter most. */
        snprintf(error, error_bytes, "events [%d] offset %lld is not a valid event: %.100s",
                 (int)message->partition, (long long)message->offset, codec_error.message);
        return -1;
    }
    if (shard_event_apply(shard, &event, error, error_bytes) != 0) return -1;
    atomic_fetch_add(&worker->events_restored, 1);
    return 0;
}

/* One shard being restored by restore_replay. */
struct restore_slot {
    struct shard *shard;
    int64_t next_offset; /* after the last event folded, -1 before the first */
    long applied;
    bool done;          /* reached the end of its partition and committed */
    bool failed;        /* an event did not fold, or SQLite failed: error says why */
    int64_t stable_end; /* the events partition's last stable offset and log end when the shard was opened */
    int64_t log_end;
    char error[256];
};

static struct restore_slot *slot_find(struct restore_slot *slots, size_t count, int32_t partition)
{
    for (size_t i = 0; i < count; i++) {
        if (shard_partition(slots[i].shard) == partition) return &slots[i];
    }
    return NULL;
}

/* Folds one record into its slot's shard, committing the checkpoint every RESTORE_COMMIT_EVERY events. */
static void restore_record(struct handler_worker *worker, struct restore_slot *slot,
                           const rd_kafka_message_t *message)
{
    if (slot->done || slot->failed) return;
    if (shard_begin(slot->shard, slot->error, sizeof(slot->error)) != 0 ||
        restore_apply(worker, slot->shard, message, slot->error, sizeof(slot->error)) != 0) {
        slot->failed = true;
        return;
    }
    slot->next_offset = message->offset + 1;
    if (++slot->applied % RESTORE_COMMIT_EVERY == 0 &&
        shard_commit(slot->shard, slot->next_offset, slot->error, sizeof(slot->error)) != 0)
        slot->failed = true;
}

/* The end of a partition: commit what was folded with its checkpoint. */
static void restore_end(struct restore_slot *slot)
{
    if (slot->done || slot->failed) return;
    if (shard_in_transaction(slot->shard) &&
        shard_commit(slot->shard, slot->next_offset, slot->error, sizeof(slot->error)) != 0) {
        slot->failed = true;
        return;
    }
    slot->done = true;
}

/* Reads the events partitions of all slots at once, each from its shard's checkpoint to its end (the last
 * stable offset), folding every event into its shard. Returns 0 when every slot is done or failed (see the
 * slots), -1 with a message when the whole restore could not go on (shutdown, no progress, errors). */
static int restore_replay(struct handler_worker *worker, struct restore_slot *slots, size_t count,
                          char *error, size_t error_bytes)
{
    rd_kafka_t *consumer = restore_consumer_get(worker, error, error_bytes);
    if (consumer == NULL) return -1;
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++) {
        if (slots[i].done) continue; /* ahead of the last stable offset: nothing to replay */
        rd_kafka_topic_partition_list_add(assignment, worker->topics.events, shard_partition(slots[i].shard))
            ->offset = shard_checkpoint(slots[i].shard);
    }
    size_t open = (size_t)assignment->cnt;
    if (open > 0) rd_kafka_assign(consumer, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    int status = open == 0 ? 0 : -1;
    int idle_ms = 0;
    int errors_seen = 0;
    while (open > 0) {
        if (worker->stop != NULL && atomic_load(worker->stop)) {
            snprintf(error, error_bytes, "restore interrupted by shutdown");
            break;
        }
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 500);
        if (message == NULL) {
            if ((idle_ms += 500) < RESTORE_IDLE_TIMEOUT_MS) continue;
            snprintf(error, error_bytes, "restore: no data or end of partition for %d s",
                     RESTORE_IDLE_TIMEOUT_MS / 1000);
            break;
        }
        idle_ms = 0;
        struct restore_slot *slot = slot_find(slots, count, message->partition);
        if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR && message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            snprintf(error, error_bytes, "restore: %s", rd_kafka_message_errstr(message));
            rd_kafka_message_destroy(message);
            if (++errors_seen > RESTORE_ERRORS_MAX) break;
            log_warn(worker->name, "%s", error);
            continue;
        }
        bool was_open = slot != NULL && !slot->done && !slot->failed;
        if (slot != NULL && message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            restore_end(slot);
        else if (slot != NULL)
            restore_record(worker, slot, message);
        rd_kafka_message_destroy(message);
        if (was_open && (slot->done || slot->failed)) open--;
        if (open == 0) status = 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (!slots[i].done) shard_rollback(slots[i].shard);
        if (slots[i].done && slots[i].applied > 0)
            log_info(worker->name, "partition %d restored: %ld events, checkpoint %lld",
                     (int)shard_partition(slots[i].shard), slots[i].applied,
                     (long long)shard_checkpoint(slots[i].shard));
    }
    rd_kafka_assign(consumer, NULL);
    return status;
}

/* Decides what the restore does with a shard (shard_restore_plan) from the events partition's log start,
 * last stable offset (the restore consumer is read_committed) and log end. Returns 0, or -1 with a message
 * when the offsets are unknown or events the shard needs were deleted. */
static int restore_plan_get(struct handler_worker *worker, struct shard *shard, struct restore_slot *slot,
                            enum shard_restore_plan *plan, char *error, size_t error_bytes)
{
    int32_t partition = shard_partition(shard);
    int64_t low = 0;
    int64_t stable_end = 0;
    rd_kafka_resp_err_t status = RD_KAFKA_RESP_ERR_NO_ERROR;
    /* Just-created topics answer "not leader" until their leaders are elected: retry, bounded. */
    for (int attempt = 0; attempt < WATERMARK_ATTEMPTS_MAX; attempt++) {
        status = rd_kafka_query_watermark_offsets(worker->restore_consumer, worker->topics.events, partition,
                                                  &low, &stable_end, 10000);
        if (status == RD_KAFKA_RESP_ERR_NO_ERROR || (worker->stop != NULL && atomic_load(worker->stop)))
            break;
        log_info(worker->name, "watermarks of %s [%d]: %s (retrying)", worker->topics.events, (int)partition,
                 rd_kafka_err2str(status));
        struct timespec pause = {0, 200 * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_bytes, "watermarks of %s [%d]: %s", worker->topics.events, (int)partition,
                 rd_kafka_err2str(status));
        return -1;
    }
    int64_t log_end = stable_end;
    if (kafka_log_end_offset(worker->restore_consumer, worker->topics.events, partition, 10000, &log_end,
                             error, error_bytes) != 0)
        return -1;
    if (log_end < stable_end) log_end = stable_end; /* asked a moment later: it only grows */
    slot->stable_end = stable_end;
    slot->log_end = log_end;
    *plan = shard_restore_plan(shard_checkpoint(shard), low, stable_end, log_end);
    if (*plan == SHARD_RESTORE_GAP) {
        snprintf(error, error_bytes,
                 "%s [%d] starts at offset %lld but the shard needs %lld: events were deleted",
                 worker->topics.events, (int)partition, (long long)low, (long long)shard_checkpoint(shard));
        return -1;
    }
    if (*plan == SHARD_RESTORE_AHEAD)
        log_warn(
            worker->name,
            "partition %d: the shard's checkpoint %lld is past the last stable offset %lld of the events "
            "(log end %lld): a transaction Kafka acknowledged as committed has no commit markers yet; "
            "keeping the shard (nothing to replay)",
            (int)partition, (long long)shard_checkpoint(shard), (long long)stable_end, (long long)log_end);
    return 0;
}

/* Opens the shard of a partition ready to restore: a shard whose checkpoint is past the end of the events
 * partition (the topic was recreated) is removed and opened anew, from offset 0. *ahead is set when the
 * shard is ahead of the last stable offset: it is kept as it is, with nothing to replay. */
static struct shard *restore_open(struct handler_worker *worker, int32_t partition, struct restore_slot *slot,
                                  char *error, size_t error_bytes)
{
    const char *data_dir = worker->config->data_dir;
    struct shard *shard = shard_open(data_dir, partition, error, error_bytes);
    if (shard == NULL) return NULL;
    enum shard_restore_plan plan = SHARD_RESTORE_REPLAY;
    if (restore_plan_get(worker, shard, slot, &plan, error, error_bytes) != 0) {
        shard_close(shard);
        return NULL;
    }
    slot->done = plan == SHARD_RESTORE_AHEAD;
    if (plan != SHARD_RESTORE_REBUILD) return shard;
    log_warn(worker->name,
             "partition %d: checkpoint past the end of the events partition: rebuilding from offset 0",
             (int)partition);
    shard_close(shard);
    if (shard_remove(data_dir, partition, error, error_bytes) != 0) return NULL;
    return shard_open(data_dir, partition, error, error_bytes);
}

/* Records past the last stable offset of a partition the shard has not folded (the restore replays up to
 * that offset) are open transactions. The previous owner's are finished by now (its committed offsets were
 * fetched with require_stable), so what is still open is a transaction the broker completed without writing
 * its markers (docs/chaos.md). If it is this worker's producer id's, its next commit there would commit those
 * records, which belong to a transaction it aborted: their commands would be decided twice. Abort them now.
 * A shard ahead of the last stable offset is left alone: its open records are a commit Kafka acknowledged,
 * which the next commit completes. Another producer id's open records cannot be ended from here. */
static void restore_seal(struct handler_worker *worker, struct restore_slot *slots, size_t count)
{
    int32_t open[STOCKD_PARTITIONS_MAX];
    size_t open_count = 0;
    for (size_t i = 0; i < count; i++) {
        if (!slots[i].done && slots[i].log_end > slots[i].stable_end)
            open[open_count++] = shard_partition(slots[i].shard);
    }
    if (open_count == 0 || worker->stage == NULL) return;
    char error[512];
    for (size_t i = 0; i < open_count; i++)
        log_warn(worker->name,
                 "partition %d: open records past the last stable offset of the events: aborting "
                 "what this producer id left open there",
                 (int)open[i]);
    if (eos_stage_partitions_seal(worker->stage, worker->topics.events, open, open_count, error,
                                  sizeof(error)) != 0)
        log_error(worker->name, "aborting open records of the events: %s", error);
    for (size_t i = 0; i < count; i++) {
        int64_t low = 0;
        int64_t stable_end = 0;
        if (slots[i].done || slots[i].log_end <= slots[i].stable_end ||
            rd_kafka_query_watermark_offsets(worker->restore_consumer, worker->topics.events,
                                             shard_partition(slots[i].shard), &low, &stable_end,
                                             10000) != 0 ||
            stable_end >= slots[i].log_end)
            continue;
        log_error(
            worker->name,
            "partition %d: a transaction of another producer is open on %s at offset %lld (log end %lld): "
            "it holds every read_committed reader back until it is aborted "
            "(kafka-transactions.sh find-hanging, then abort)",
            (int)shard_partition(slots[i].shard), worker->topics.events, (long long)stable_end,
            (long long)slots[i].log_end);
    }
}

/* Restores the shards of several partitions at once (one consumer with all of them assigned, so their
 * round trips overlap). A shard that does not fold cleanly is removed and rebuilt from offset 0, once. On
 * success worker->shards[p] is set for each; on failure none is. Returns 0 or -1 with a message. */
static int shards_restore(struct handler_worker *worker, const int32_t *partitions, size_t count,
                          bool may_seal, char *error, size_t error_bytes)
{
    struct restore_slot *slots = worker->restore_slots;
    assert(count <= STOCKD_PARTITIONS_MAX);
    if (restore_consumer_get(worker, error, error_bytes) == NULL) return -1;
    int status = 0;
    for (int attempt = 0; attempt < 2 && status == 0; attempt++) {
        size_t pending = 0;
        for (size_t i = 0; i < count && status == 0; i++) {
            if (worker->shards[partitions[i]] != NULL) continue;
            memset(&slots[pending], 0, sizeof(slots[pending]));
            slots[pending].next_offset = -1;
            slots[pending].shard = restore_open(worker, partitions[i], &slots[pending], error, error_bytes);
            if (slots[pending].shard == NULL)
                status = -1;
            else
                pending++;
        }
        if (status == 0 && pending > 0 && may_seal) restore_seal(worker, slots, pending);
        if (status == 0 && pending > 0) status = restore_replay(worker, slots, pending, error, error_bytes);
        for (size_t i = 0; i < pending; i++) {
            int32_t partition = shard_partition(slots[i].shard);
            if (status == 0 && slots[i].done) {
                worker->shards[partition] = slots[i].shard;
                continue;
            }
            shard_close(slots[i].shard);
            if (status != 0) continue;
            if (attempt == 1) {
                snprintf(error, error_bytes, "partition %d: %s", (int)partition, slots[i].error);
                status = -1;
                continue;
            }
            log_warn(worker->name, "partition %d: %s; rebuilding the shard from offset 0", (int)partition,
                     slots[i].error);
            if (shard_remove(worker->config->data_dir, partition, error, error_bytes) != 0) status = -1;
        }
        if (pending == 0) break;
    }
    for (size_t i = 0; status != 0 && i < count; i++) {
        shard_close(worker->shards[partitions[i]]);
        worker->shards[partitions[i]] = NULL;
    }
    return status;
}

/* ---- eos callbacks: assignment ----------------------------------------------------------------------- */

static int on_assigned(void *context, const rd_kafka_topic_partition_list_t *partitions)
{
    struct handler_worker *worker = context;
    int32_t assigned[STOCKD_PARTITIONS_MAX];
    size_t count = 0;
    for (int i = 0; i < partitions->cnt; i++) {
        int32_t partition = partitions->elems[i].partition;
        if (partition < 0 || partition >= worker->config->partitions) {
            log_error(worker->name, "assigned partition %d, but kafka.partitions is %d", (int)partition,
                      (int)worker->config->partitions);
            return -1;
        }
        assigned[count++] = partition;
    }
    char error[512];
    int64_t start_ms = clock_wall_ms();
    atomic_store(&worker->ready, false);
    if (shards_restore(worker, assigned, count, true, error, sizeof(error)) == 0) {
        log_info(worker->name, "%zu shard(s) ready in %lld ms", count,
                 (long long)(clock_wall_ms() - start_ms));
        for (size_t i = 0; i < count; i++)
            outcome_board_partition_take(worker->board, assigned[i]);
        atomic_store(&worker->ready, true);
        return 0;
    }
    bool stopping = worker->stop != NULL && atomic_load(worker->stop);
    log_write(stopping ? LOG_INFO : LOG_ERROR, worker->name, "%s", error);
    return -1;
}

static void on_revoked(void *context, const rd_kafka_topic_partition_list_t *partitions)
{
    struct handler_worker *worker = context;
    atomic_store(&worker->ready, false); /* until the next assignment is restored */
    for (int i = 0; i < partitions->cnt; i++) {
        int32_t partition = partitions->elems[i].partition;
        if (partition < 0 || partition >= STOCKD_PARTITIONS_MAX) continue;
        if (worker->shards[partition] != NULL) outcome_board_partition_give_up(worker->board, partition);
        shard_close(worker->shards[partition]);
        worker->shards[partition] = NULL;
    }
}

/* ---- deciding ------------------------------------------------------------------------------------------ */

/* Records why a partition is paused (reason NULL: none is), logs it, and sets the worker not ready or
 * ready. */
static void partition_paused_set(struct handler_worker *worker, int32_t partition, const char *reason,
                                 const char *hint)
{
    pthread_mutex_lock(&worker->paused_mutex);
    if (reason != NULL)
        snprintf(worker->paused, sizeof(worker->paused), "partition %d paused: %s", (int)partition, reason);
    else
        worker->paused[0] = '\0';
    pthread_mutex_unlock(&worker->paused_mutex);
    if (reason != NULL)
        log_error(worker->name, "partition %d paused, not ready: %s%s", (int)partition, reason, hint);
    else
        log_info(worker->name, "partition %d resumed", (int)partition);
    atomic_store(&worker->ready, reason == NULL);
}

/* Opens the shard's transaction for this batch, remembering it for commit or rollback. */
static struct shard *batch_touch(struct handler_worker *worker, int32_t partition)
{
    struct shard *shard = worker->shards[partition];
    if (shard == NULL) {
        /* An assigned partition without a shard: its restore after a failed shard commit failed too (a full
         * disk). Try again; until it works, every batch holding its input aborts and is read again (the
         * loop backs off), and the instance is not ready. It used to assert here (tests/chaos/disk_full). */
        char error[512];
        if (shards_restore(worker, &partition, 1, false, error, sizeof(error)) != 0) {
            partition_paused_set(worker, partition, error, "");
            return NULL;
        }
        shard = worker->shards[partition];
        assert(shard != NULL);
        partition_paused_set(worker, partition, NULL, "");
    }
    if (!shard_in_transaction(shard)) {
        char error[512];
        if (shard_begin(shard, error, sizeof(error)) != 0) {
            log_error(worker->name, "%s", error);
            return NULL;
        }
        worker->touched[worker->touched_count++] = partition;
    }
    return shard;
}

/* Produces one event to the events partition of its shard, with CloudEvents binary-mode headers. opaque
 * comes back in the event's delivery report (on_delivered). */
static int event_produce(struct handler_worker *worker, rd_kafka_t *producer, int32_t partition,
                         const struct event *event, void *opaque)
{
    char *value = codec_event_encode(event);
    if (value == NULL) return -1;
    char id[STOCKD_SKU_BYTES_MAX + 32];
    char type[64];
    char source[STOCKD_SKU_BYTES_MAX + 16];
    char time[40];
    snprintf(id, sizeof(id), "%s:%llu", event->sku, (unsigned long long)event->sequence);
    snprintf(type, sizeof(type), "stockd.%s", domain_event_type_name(event->type));
    snprintf(source, sizeof(source), "/stockd/%s", worker->config->topic_prefix);
    kafka_time_rfc3339(event->time_ms, time, sizeof(time));
    rd_kafka_headers_t *headers = rd_kafka_headers_new(8);
    rd_kafka_header_add(headers, "ce_specversion", -1, "1.0", -1);
    rd_kafka_header_add(headers, "ce_id", -1, id, -1);
    rd_kafka_header_add(headers, "ce_type", -1, type, -1);
    rd_kafka_header_add(headers, "ce_source", -1, source, -1);
    rd_kafka_header_add(headers, "ce_time", -1, time, -1);
    rd_kafka_header_add(headers, "ce_subject", -1, event->sku, -1);
    rd_kafka_header_add(headers, "content-type", -1, "application/json", -1);
    rd_kafka_header_add(headers, "stockd_command_id", -1, event->command_id, -1);
    if (dlq_producev_owned(producer, worker->topics.events, partition, event->sku, strlen(event->sku), value,
                           strlen(value), headers, opaque) != 0)
        return -1;
    atomic_fetch_add(&worker->events_produced, 1);
    return 0;
}

/* A decision of the batch that a request of this process waits for (outcome_board.h), or NULL: nobody
 * waits, or the batch holds too many such decisions already (their watches end as gone at the commit). */
static struct pending_outcome *pending_add(struct handler_worker *worker, int32_t partition,
                                           const char *command_id)
{
    if (!outcome_board_wanted(worker->board, partition, command_id)) return NULL;
    if (worker->pending_count == PENDING_OUTCOMES_MAX) {
        worker->pending_overflow = true;
        return NULL;
    }
    struct pending_outcome *pending = &worker->pending[worker->pending_count++];
    pending->partition = partition;
    pending->duplicate = false;
    return pending;
}

/* Decides a command against its shard, stores the new state and produces the events. Its time (load,
 * decide, evolve, store, queueing the events) goes to stockd_decide_seconds, its outcome to the batch's
 * stockd_commands_total. */
static int command_decide(struct handler_worker *worker, rd_kafka_t *producer, int32_t partition,
                          struct shard *shard, const struct command *command, int64_t now_ms)
{
    struct sku_state state;
    struct decision decision;
    struct reservation_set set = {.count = 0};
    char error[512];
    int64_t start_us = clock_monotonic_us();
    if (shard_sku_load(shard, command->sku, &state, error, sizeof(error)) != 0) goto out_error;
    if (command->reservation_id[0] != '\0' &&
        shard_reservation_load(shard, command->sku, command->reservation_id, &set, error, sizeof(error)) < 0)
        goto out_error;
    for (uint32_t i = 0; i < command->expire_count; i++) {
        if (shard_reservation_load(shard, command->sku, command->expire_ids[i], &set, error, sizeof(error)) <
            0)
            goto out_error;
    }
    domain_decide(&state, &set, command, now_ms, &decision);
    for (uint32_t i = 0; i < decision.event_count; i++) {
        int evolved = domain_evolve(&state, &set, &decision.events[i]);
        assert(evolved == 0); /* decide only emits events that follow from the state */
        (void)evolved;
    }
    if (shard_sku_store(shard, &state, &set, error, sizeof(error)) != 0) goto out_error;
    struct pending_outcome *pending = pending_add(worker, partition, command->command_id);
    if (pending != NULL)
        outcome_board_outcome_of(decision.events, decision.event_count, partition, &pending->outcome);
    for (uint32_t i = 0; i < decision.event_count; i++) {
        if (shard_command_record(shard, &decision.events[i], error, sizeof(error)) != 0) goto out_error;
        void *opaque = pending != NULL ? &pending->outcome.events[i] : NULL;
        if (event_produce(worker, producer, partition, &decision.events[i], opaque) != 0) return -1;
    }
    atomic_fetch_add(&worker->commands_decided, 1);
    bool rejected = decision.events[0].type == EVENT_COMMAND_REJECTED;
    if (rejected) atomic_fetch_add(&worker->commands_rejected, 1);
    metrics_commands_local_add(&worker->metrics_commands, command->type,
                               metrics_outcome_of(rejected ? decision.events[0].reject_reason : REJECT_NONE));
    metrics_latency_local_add(&worker->metrics_decide, clock_monotonic_us() - start_us);
    if (command->type == COMMAND_EXPIRE_RESERVATIONS && decision.events[0].type == EVENT_RESERVATION_EXPIRED)
        atomic_fetch_add(&worker->reservations_expired, decision.event_count);
    return 0;
out_error:
    log_error(worker->name, "%s", error);
    return -1;
}

/* One by-sku record: decode, check it is on its SKU's partition, skip a seen command id, decide. */
static int message_handle(struct handler_worker *worker, rd_kafka_t *producer,
                          const rd_kafka_message_t *message, int64_t now_ms)
{
    struct command command;
    struct shard *shard = batch_touch(worker, message->partition);
    if (shard == NULL) return -1;
    struct codec_error codec_error;
    if (codec_command_decode(message->payload, message->len, &command, &codec_error) != 0) {
        atomic_fetch_add(&worker->commands_dead_lettered, 1);
        metrics_commands_local_add(&worker->metrics_commands, COMMAND_NONE, METRICS_OUTCOME_DEAD_LETTERED);
        return dlq_produce(producer, worker->topics.dlq, message, COMPONENT, codec_error.message,
                           codec_error.field);
    }
    int32_t expected = murmur2_partition(command.sku, strlen(command.sku), worker->config->partitions);
    if (expected != message->partition) {
        char reason[160];
        snprintf(reason, sizeof(reason), "SKU %s belongs to partition %d, not %d: written without murmur2?",
                 command.sku, (int)expected, (int)message->partition);
        atomic_fetch_add(&worker->commands_dead_lettered, 1);
        metrics_commands_local_add(&worker->metrics_commands, command.type, METRICS_OUTCOME_DEAD_LETTERED);
        return dlq_produce(producer, worker->topics.dlq, message, COMPONENT, reason, "sku");
    }
    char error[512];
    int seen = shard_command_find(shard, command.command_id, NULL, error, sizeof(error));
    if (seen < 0) {
        log_error(worker->name, "%s", error);
        return -1;
    }
    if (seen == 1) {
        struct pending_outcome *pending = pending_add(worker, message->partition, command.command_id);
        if (pending != NULL) {
            pending->duplicate = true;
            snprintf(pending->outcome.command_id, sizeof(pending->outcome.command_id), "%s",
                     command.command_id);
        }
        atomic_fetch_add(&worker->commands_duplicate, 1);
        metrics_commands_local_add(&worker->metrics_commands, command.type, METRICS_OUTCOME_DUPLICATE);
        return 0;
    }
    if (command_decide(worker, producer, message->partition, shard, &command, now_ms) != 0) return -1;
    /* The API stamps the submission's CreateTime and the router carries it over from commands; any
     * other kind of timestamp says nothing about when the command was submitted. */
    rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    int64_t submitted_ms = rd_kafka_message_timestamp(message, &timestamp_type);
    if (timestamp_type == RD_KAFKA_TIMESTAMP_CREATE_TIME && submitted_ms > 0) {
        assert(worker->submitted_count < (size_t)worker->config->handler_batch_max);
        worker->submitted_ms[worker->submitted_count++] = submitted_ms;
    }
    return 0;
}

/* ---- punctuation: reservation expiry and command-id retention ------------------------------------- */

/* Expires the due reservations of one shard: one ExpireReservations decision per SKU and up to
 * STOCKD_EXPIRE_BATCH_MAX reservations. Decided once, recorded as events, never re-decided on replay. */
static int shard_punctuate(struct handler_worker *worker, rd_kafka_t *producer, int32_t partition,
                           int64_t now_ms)
{
    struct shard_due_reservation due[PUNCTUATE_DUE_MAX];
    struct command command;
    bool used[PUNCTUATE_DUE_MAX];
    char error[512];
    struct shard *shard = batch_touch(worker, partition);
    if (shard == NULL) return -1;
    int count = shard_due_reservations(shard, now_ms, due, PUNCTUATE_DUE_MAX, error, sizeof(error));
    if (count < 0) goto out_error;
    memset(used, 0, sizeof(used));
    for (int i = 0; i < count; i++) {
        if (used[i]) continue;
        memset(&command, 0, sizeof(command));
        command.type = COMMAND_EXPIRE_RESERVATIONS;
        _Static_assert(sizeof(command.sku) == sizeof(due[i].sku), "same bound");
        memcpy(command.sku, due[i].sku, sizeof(command.sku));
        snprintf(command.command_id, sizeof(command.command_id), "expire.%.*s.%lld.%llu",
                 STOCKD_SKU_BYTES_MAX, due[i].sku, (long long)now_ms,
                 (unsigned long long)++worker->expire_serial);
        for (int j = i; j < count && command.expire_count < STOCKD_EXPIRE_BATCH_MAX; j++) {
            if (used[j] || strcmp(due[j].sku, due[i].sku) != 0) continue;
            used[j] = true;
            _Static_assert(sizeof(command.expire_ids[0]) == sizeof(due[j].reservation_id), "same bound");
            memcpy(command.expire_ids[command.expire_count++], due[j].reservation_id,
                   sizeof(due[j].reservation_id));
        }
        if (command_decide(worker, producer, partition, shard, &command, now_ms) != 0) return -1;
    }
    int64_t forget_before_ms = now_ms - worker->config->handler_dedup_retention_s * 1000;
    if (shard_commands_prune(shard, forget_before_ms, PUNCTUATE_PRUNE_MAX, error, sizeof(error)) < 0)
        goto out_error;
    return 0;
out_error:
    log_error(worker->name, "%s", error);
    return -1;
}

static bool on_tick_due(void *context, int64_t now_ms)
{
    const struct handler_worker *worker = context;
    return now_ms >= worker->tick_next_ms;
}

/* ---- eos callbacks: the batch ----------------------------------------------------------------------------
 */

static int on_process(void *context, rd_kafka_t *producer, rd_kafka_message_t **messages, size_t count)
{
    struct handler_worker *worker = context;
    int64_t now_ms = clock_wall_ms();
    for (size_t i = 0; i < count; i++) {
        if (message_handle(worker, producer, messages[i], now_ms) != 0) return -1;
    }
    if (now_ms < worker->tick_next_ms) return 0;
    for (int32_t partition = 0; partition < worker->config->partitions; partition++) {
        if (worker->shards[partition] != NULL && shard_punctuate(worker, producer, partition, now_ms) != 0)
            return -1;
    }
    worker->tick_next_ms = now_ms + worker->config->handler_punctuate_interval_ms;
    return 0;
}

/* The batch's Kafka transaction committed: its outcomes count, and its decided commands are done
 * end to end (their events are committed) now. */
static void batch_metrics_commit(struct handler_worker *worker)
{
    int64_t now_us = clock_wall_ms() * 1000;
    struct metrics_latency_local end_to_end = {.count = 0};
    for (size_t i = 0; i < worker->submitted_count; i++)
        metrics_latency_local_add(&end_to_end, now_us - worker->submitted_ms[i] * 1000);
    metrics_latency_merge(METRICS_LATENCY_END_TO_END, &end_to_end);
    metrics_commands_merge(&worker->metrics_commands);
    metrics_latency_merge(METRICS_LATENCY_DECIDE, &worker->metrics_decide);
}

/* Kafka committed: the decisions requests of this process wait for are final; post them. */
static void pending_post(struct handler_worker *worker)
{
    for (size_t i = 0; i < worker->pending_count; i++) {
        struct pending_outcome *pending = &worker->pending[i];
        bool positioned = !pending->duplicate;
        for (uint32_t j = 0; positioned && j < pending->outcome.event_count; j++)
            positioned = pending->outcome.events[j].position.offset >= 0;
        /* Without every position (a delivery report not seen: never expected) the view answers. */
        outcome_board_post(worker->board, pending->partition, pending->outcome.command_id,
                           positioned ? &pending->outcome : NULL);
    }
    if (worker->pending_overflow) {
        for (size_t i = 0; i < worker->touched_count; i++)
            outcome_board_partition_release(worker->board, worker->touched[i]);
    }
}

static void batch_reset(struct handler_worker *worker)
{
    for (size_t i = 0; i < worker->touched_count; i++)
        worker->delivered_offset_max[worker->touched[i]] = -1;
    worker->touched_count = 0;
    worker->submitted_count = 0;
    worker->pending_count = 0;
    worker->pending_overflow = false;
}

/* Kafka committed: commit each touched shard with its checkpoint. A shard whose commit fails is behind
 * Kafka, never ahead: it is reopened and restored from its checkpoint, which replays this batch. */
static void on_committed(void *context)
{
    struct handler_worker *worker = context;
    batch_metrics_commit(worker);
    pending_post(worker);
    for (size_t i = 0; i < worker->touched_count; i++) {
        int32_t partition = worker->touched[i];
        int64_t offset_max = worker->delivered_offset_max[partition];
        char error[512];
        if (shard_commit(worker->shards[partition], offset_max >= 0 ? offset_max + 1 : -1, error,
                         sizeof(error)) == 0)
            continue;
        log_error(worker->name, "%s: restoring partition %d from Kafka", error, (int)partition);
        shard_close(worker->shards[partition]);
        worker->shards[partition] = NULL;
        if (shards_restore(worker, &partition, 1, false, error, sizeof(error)) != 0) {
            partition_paused_set(worker, partition, error, " (restored at its next command)");
        }
    }
    batch_reset(worker);
}

static void on_aborted(void *context)
{
    struct handler_worker *worker = context;
    /* The batch will be read and decided again: its outcomes count then. The time spent was spent. */
    metrics_commands_local_clear(&worker->metrics_commands);
    metrics_latency_merge(METRICS_LATENCY_DECIDE, &worker->metrics_decide);
    for (size_t i = 0; i < worker->touched_count; i++)
        shard_rollback(worker->shards[worker->touched[i]]);
    batch_reset(worker);
}

static void on_delivered(void *context, const rd_kafka_message_t *message)
{
    struct handler_worker *worker = context;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (strcmp(rd_kafka_topic_name(message->rkt), worker->topics.events) != 0) return;
    int32_t partition = message->partition;
    if (partition < 0 || partition >= STOCKD_PARTITIONS_MAX) return;
    if (message->offset > worker->delivered_offset_max[partition])
        worker->delivered_offset_max[partition] = message->offset;
    /* An event a request waits for: its position (event_produce's opaque points into the batch's pending). */
    uintptr_t waited = (uintptr_t)message->_private;
    if (waited != 0 && waited >= (uintptr_t)worker->pending &&
        waited < (uintptr_t)(worker->pending + worker->pending_count))
        ((struct view_outcome_event *)message->_private)->position.offset = message->offset;
}

/* A new producer of this worker: the events partitions on which its producer id may have records the broker
 * left open (docs/chaos.md) and that must be aborted. Those are the partitions with records past their last
 * stable offset, except where this instance's shard is past that offset: there the open records are a
 * commit Kafka acknowledged, which must end committed (by the next commit there), never aborted. Whoever
 * owns a partition now, only this producer id can end its own records. Another producer id's open records
 * are unaffected by the abort. */
static size_t on_seal_wanted(void *context, rd_kafka_t *producer, const char **topic, int32_t *partitions,
                             size_t partitions_max)
{
    struct handler_worker *worker = context;
    *topic = worker->topics.events;
    size_t count = 0;
    int64_t deadline_ms = clock_wall_ms() + SEAL_QUERIES_MS_MAX;
    for (int32_t partition = 0; partition < worker->config->partitions && count < partitions_max;
         partition++) {
        int64_t remaining_ms = deadline_ms - clock_wall_ms();
        int timeout_ms = (int)(remaining_ms < SEAL_QUERY_MS_MAX ? remaining_ms : SEAL_QUERY_MS_MAX);
        int64_t low = 0;
        int64_t stable_end = 0;
        int64_t log_end = 0;
        char error[256] = "no time left";
        rd_kafka_resp_err_t status = RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (timeout_ms > 0)
            status = rd_kafka_query_watermark_offsets(producer, worker->topics.events, partition, &low,
                                                      &stable_end, timeout_ms);
        if (status != RD_KAFKA_RESP_ERR_NO_ERROR && timeout_ms > 0)
            snprintf(error, sizeof(error), "%s", rd_kafka_err2str(status));
        if (status != RD_KAFKA_RESP_ERR_NO_ERROR ||
            kafka_log_end_offset(producer, worker->topics.events, partition, timeout_ms, &log_end, error,
                                 sizeof(error)) != 0) {
            log_warn(worker->name, "partition %d: open records of the events not looked for: %s",
                     (int)partition, error);
            continue;
        }
        if (log_end <= stable_end) continue;
        int64_t checkpoint = shard_checkpoint_peek(worker->config->data_dir, partition);
        if (checkpoint < 0 || checkpoint > stable_end) continue; /* unknown, or a commit to keep */
        log_warn(worker->name,
                 "partition %d: open records from offset %lld to %lld of the events: aborting what this "
                 "producer id left open there",
                 (int)partition, (long long)stable_end, (long long)log_end);
        partitions[count++] = partition;
    }
    return count;
}

/* ---- lifecycle ----------------------------------------------------------------------------------------- */

static void worker_destroy(struct handler_worker *worker)
{
    if (worker == NULL) return;
    eos_stage_destroy(worker->stage);
    free(worker->pending);
    free(worker->submitted_ms);
    free(worker->restore_slots);
    pthread_mutex_destroy(&worker->paused_mutex);
    free(worker);
}

/* Names and transactional ids: stage_threads_worker_names. */
static struct handler_worker *worker_create(const struct stockd_config *config, int index, char *error,
                                            size_t error_bytes)
{
    assert(index >= 0 && index < STOCKD_STAGE_THREADS_MAX);
    struct handler_worker *worker = calloc(1, sizeof(*worker));
    if (worker == NULL) goto out_memory;
    worker->config = config;
    worker->index = index;
    pthread_mutex_init(&worker->paused_mutex, NULL);
    worker->restore_slots = calloc(STOCKD_PARTITIONS_MAX, sizeof(*worker->restore_slots));
    worker->submitted_ms = calloc((size_t)config->handler_batch_max, sizeof(*worker->submitted_ms));
    if (worker->restore_slots == NULL || worker->submitted_ms == NULL) goto out_memory;
    kafka_topics_names(config->topic_prefix, &worker->topics);
    snprintf(worker->group_id, sizeof(worker->group_id), "%s-handler", config->topic_prefix);
    stage_threads_worker_names(config, COMPONENT, index, worker->name, sizeof(worker->name),
                               worker->transactional_id, sizeof(worker->transactional_id));
    for (int i = 0; i < STOCKD_PARTITIONS_MAX; i++)
        worker->delivered_offset_max[i] = -1;
    static const struct eos_stage_ops ops = {
        .assigned = on_assigned,
        .revoked = on_revoked,
        .process = on_process,
        .committed = on_committed,
        .aborted = on_aborted,
        .delivered = on_delivered,
        .tick_due = on_tick_due,
        .seal_wanted = on_seal_wanted,
    };
    struct eos_stage_settings settings = {
        .name = worker->name,
        .input_topic = worker->topics.by_sku,
        .output_topics = {worker->topics.events, worker->topics.dlq},
        .group_id = worker->group_id,
        .transactional_id = worker->transactional_id,
        .batch_max = config->handler_batch_max,
        .poll_timeout_ms = config->handler_poll_timeout_ms,
        .metrics_stage = METRICS_STAGE_HANDLER,
    };
    worker->stage = eos_stage_create(config, &settings, &ops, worker, error, error_bytes);
    if (worker->stage == NULL) {
        worker_destroy(worker);
        return NULL;
    }
    return worker;
out_memory:
    snprintf(error, error_bytes, "out of memory");
    worker_destroy(worker);
    return NULL;
}

/* Runs a worker's loop until stop; closes what the loop leaves open. */
static int worker_run(struct handler_worker *worker, const atomic_bool *stop)
{
    worker->stop = stop;
    int status = eos_stage_run(worker->stage, stop);
    for (int i = 0; i < STOCKD_PARTITIONS_MAX; i++) {
        if (worker->shards[i] == NULL) continue; /* normally closed by the final revoke already */
        outcome_board_partition_give_up(worker->board, i);
        shard_close(worker->shards[i]);
        worker->shards[i] = NULL;
    }
    if (worker->restore_consumer != NULL) {
        rd_kafka_consumer_close(worker->restore_consumer);
        rd_kafka_destroy(worker->restore_consumer);
        worker->restore_consumer = NULL;
    }
    atomic_store(&worker->ready, false);
    return status;
}

/* ---- the handler: handler.threads workers ------------------------------------------------------------ */

struct handler {
    int worker_count;
    struct handler_worker *workers[STOCKD_STAGE_THREADS_MAX];
};

struct handler *handler_create(const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(config != NULL);
    assert(config->handler_batch_max > 0);
    assert(config->handler_threads >= 1 && config->handler_threads <= STOCKD_STAGE_THREADS_MAX);
    struct handler *handler = calloc(1, sizeof(*handler));
    if (handler == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    for (int i = 0; i < config->handler_threads; i++) {
        handler->workers[i] = worker_create(config, i, error, error_bytes);
        if (handler->workers[i] == NULL) {
            handler_destroy(handler);
            return NULL;
        }
        handler->worker_count++;
    }
    return handler;
}

int handler_outcome_board_set(struct handler *handler, struct outcome_board *board)
{
    assert(handler != NULL && board != NULL);
    for (int i = 0; i < handler->worker_count; i++) {
        struct handler_worker *worker = handler->workers[i];
        if (worker->pending == NULL) worker->pending = calloc(PENDING_OUTCOMES_MAX, sizeof(*worker->pending));
        if (worker->pending == NULL) return -1;
        worker->board = board;
    }
    return 0;
}

static int worker_run_stage(void *worker, const atomic_bool *stop)
{
    return worker_run(worker, stop);
}

int handler_run(struct handler *handler, const atomic_bool *stop)
{
    assert(handler != NULL && stop != NULL);
    return stage_threads_run_named("handler", worker_run_stage, (void *const *)handler->workers,
                                   handler->worker_count, stop);
}

void handler_stats_get(const struct handler *handler, struct handler_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < handler->worker_count; i++) {
        const struct handler_worker *worker = handler->workers[i];
        struct eos_stage_stats stage;
        eos_stage_stats_get(worker->stage, &stage);
        out->commands_decided += atomic_load(&worker->commands_decided);
        out->commands_rejected += atomic_load(&worker->commands_rejected);
        out->commands_duplicate += atomic_load(&worker->commands_duplicate);
        out->commands_dead_lettered += atomic_load(&worker->commands_dead_lettered);
        out->events_produced += atomic_load(&worker->events_produced);
        out->events_restored += atomic_load(&worker->events_restored);
        out->reservations_expired += atomic_load(&worker->reservations_expired);
        out->batches_committed += stage.batches_committed;
        out->batches_aborted += stage.batches_aborted;
    }
}

bool handler_ready(const struct handler *handler)
{
    assert(handler != NULL);
    for (int i = 0; i < handler->worker_count; i++) {
        if (!atomic_load(&((struct handler_worker *)handler->workers[i])->ready)) return false;
    }
    return true;
}

bool handler_paused_reason(struct handler *handler, char *out, size_t out_bytes)
{
    assert(handler != NULL && out != NULL && out_bytes > 0);
    out[0] = '\0';
    for (int i = 0; i < handler->worker_count && out[0] == '\0'; i++) {
        struct handler_worker *worker = handler->workers[i];
        pthread_mutex_lock(&worker->paused_mutex);
        if (worker->paused[0] != '\0') snprintf(out, out_bytes, "%s: %s", worker->name, worker->paused);
        pthread_mutex_unlock(&worker->paused_mutex);
    }
    return out[0] != '\0';
}

int handler_threads(const struct handler *handler)
{
    assert(handler != NULL);
    return handler->worker_count;
}

void handler_destroy(struct handler *handler)
{
    if (handler == NULL) return;
    for (int i = 0; i < handler->worker_count; i++)
        worker_destroy(handler->workers[i]);
    free(handler);
}
