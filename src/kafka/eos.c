/* eos.c - the exactly-once consume-process-produce loop (librdkafka transactions, KIP-447 style).
 *
 * Batches are collected while no transaction is open, so rebalances (served inside consumer_poll) never
 * meet an open transaction: a revoke just drops the not-yet-processed messages of the revoked partitions.
 * Error handling follows librdkafka's examples/transactions.c: retriable -> retry, abortable -> abort and
 * rewind, fatal -> tear down and rejoin. */
#include "kafka/eos.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kafka/client.h"
#include "limits.h"
#include "log.h"

/* Every blocking Kafka call of the loop is bounded three ways: a timeout per call, an attempt bound (or a
 * total time) and the stop flag, looked at between calls.
 *
 * The transactional calls that librdkafka lets an application resume after a timeout (init_transactions,
 * send_offsets_to_transaction, commit_transaction, abort_transaction: call it again and it goes on where it
 * was) wait at most
 * EOS_CALL_SLICE_MS each, so that a SIGTERM is seen within that even while a broker is away; a healthy
 * commit takes a few ms and never meets the slice. */
#define EOS_CALL_SLICE_MS 500
/* A commit whose outcome is still unknown after this long is given up: the stage rejoins (a fatal turn),
 * which drops the batch, recreates both clients (init_transactions fences the old producer, aborting the
 * transaction if it never completed) and restores the shards from the events topic, so a commit that did go
 * through is neither lost nor decided again. 30 s: three times transaction.timeout.ms below, after which the
 * coordinator has aborted a transaction that was never committed. */
#define EOS_COMMIT_MS_MAX 30000
/* An abort that cannot complete within this long: rejoin the same way. */
#define EOS_ABORT_MS_MAX 30000
/* send_offsets_to_transaction (resumed in slices) and the rewind seek, in all: then abort (or rejoin). */
#define EOS_CALL_TIMEOUT_MS 10000
/* A call that keeps timing out in slices is logged at most this often. */
#define EOS_WARN_INTERVAL_MS 5000
#define EOS_IDLE_POLL_MS     100
/* Fetching the committed offsets of newly assigned partitions (with require_stable, waiting for the previous
 * owner's transaction): attempts of EOS_COMMITTED_TIMEOUT_MS each. When they all fail the stage takes no
 * partition on unknown offsets: it assigns nothing and rejoins. 6 x 5 s covers the previous owner's 5 s
 * transaction timeout plus the broker's sweep interval (10 s by default) with room to spare. */
#define EOS_COMMITTED_TIMEOUT_MS 5000
#define EOS_COMMITTED_ATTEMPTS   6
/* A batch stops collecting this long after its first message. With a poll_timeout_ms above 0 and a steady
 * trickle (an HTTP client sending every few ms) the poll never runs dry, and a stage would hold the commands
 * it has until a gap came. A backlog still fills batch_max from the prefetched queue well within it. */
#define EOS_BATCH_COLLECT_MS_MAX 10
/* Longest pause between attempts after repeated aborts (and between abort retries). */
#define EOS_BACKOFF_MAX_MS 1000
/* A rejoin after a rebalance that could not complete pauses as the backoff's attempt number this: 640 ms. */
#define EOS_REJOIN_BACKOFF_ATTEMPT 7
/* begin_transaction failures in a row after which the clients are recreated. */
#define EOS_BEGIN_FAILURES_MAX 5
/* Prefetched input: librdkafka's defaults (100,000 messages, 64 MiB) would be most of the memory budget of
 * an instance. 10,000 messages per partition or 1 MiB of payload in the consumer's queue still hold more
 * than a full batch (about 7,000 commands) while the previous transaction commits; 4 MiB had cost 30-40 MB
 * of peak RSS with two handler threads at the same CPU per command (bench_handler, 300k commands). */
#define EOS_PREFETCH_MESSAGES "10000"
#define EOS_PREFETCH_KBYTES   "1024"
/* A transaction's messages wait up to this long to be sent in larger ProduceRequests; commit_transaction
 * flushes what is left at once, so a lone command waits for none of it. With 0 (each message sent as soon
 * as it is queued) a busy stage sent many tiny requests: bench_handler, 300k commands, 2 threads, CPU per
 * command stockd + broker: linger 0 24.4 + 11.2 us, 1 ms 20.3 + 5.8, 2 ms 18.0 + 3.8, 5 ms 17.8 + 4.1. */
#define EOS_LINGER_MS "2"
/* A transaction begun right after the previous commit often meets the coordinator still writing that
 * commit's markers: AddOffsetsToTxn gets CONCURRENT_TRANSACTIONS and librdkafka retries it after
 * retry.backoff.ms, 100 ms by default, which stalled the stage (and every command behind it) for 100 ms
 * several times a second under a steady load. The window is a few milliseconds. */
#define EOS_RETRY_BACKOFF_MS "10"
/* The coordinator finishes a commit (markers, then the transaction log) a few ms after EndTxn answered; a
 * transaction begun meanwhile is refused (CONCURRENT_TRANSACTIONS) and retried after EOS_RETRY_BACKOFF_MS
 * or, for AddPartitionsToTxn, a fixed 20 ms. So a batch whose first message comes within this long of the
 * last commit keeps collecting until then. At 500 sync submits/s (bench/http.sh): p50 34-35 ms -> 25-27 ms,
 * p99 89-103 -> 63-93 ms (0, 4, 6 and 10 ms compared: 4 and 6 best). A lone command is not delayed. */
#define EOS_COMMIT_GAP_MS 4
/* A batch that wrote nothing (EOS_PROCESS_NOTHING: the order stage reads every event, and most are not its
 * lines) commits no offsets of its own: its transaction is empty, which librdkafka ends without a request.
 * The next transaction that commits offsets takes them along; at the latest one this old commits them by
 * itself, so that a restart does not read back more than about this much of the input. Each such
 * offsets-only transaction had cost the coordinator as much as a real one, on every commit of the handler. */
#define EOS_DEFER_OFFSETS_MS_MAX 1000
/* How long the group waits for a member that vanished (kill -9, a cut network) before its partitions move:
 * the floor of the time to recover from a crashed instance. 6 s is the broker's default
 * group.min.session.timeout.ms, the lowest it accepts; 10 s gave 12.1 s from kill -9 to every partition
 * answering again (tests/chaos/instances). Heartbeats come from librdkafka's own thread, not the loop, so a
 * busy loop does not miss them.
 * A member that stops cleanly (SIGTERM) leaves the group at once, but the others learn of the rebalance
 * only from their next heartbeat's answer: with librdkafka's default 3 s between heartbeats, every
 * partition stalled 1.4-3.0 s after a SIGTERM (tests/chaos/instances). 500 ms: twelve heartbeats per
 * session, a negligible load on the coordinator. */
#define EOS_SESSION_TIMEOUT_MS "6000"
/* transaction.timeout.ms bounds how long a crashed instance's open transaction blocks the new owner of its
 * partitions (committed offsets with require_stable, the shard restore reading to the last stable offset):
 * the coordinator aborts it this long after it began, plus its sweep interval (the broker's
 * transaction.abort.timed.out.transaction.cleanup.interval.ms, 1 s in scripts/kafka). At 10 s a kill -9
 * stalled the partitions 14 s; 5 s keeps it near the session timeout. A batch's transaction lasts
 * milliseconds; one that a broker outage holds longer is aborted and its batch retried. */
#define EOS_TRANSACTION_TIMEOUT_MS "5000"
#define EOS_HEARTBEAT_INTERVAL_MS  "500"
/* Consumer lag is sampled at most this often: it reads librdkafka's cached watermarks, no round trip. */
#define EOS_LAG_SAMPLE_INTERVAL_MS 1000
/* How long the producer's creation waits for the output topics' metadata (best effort). */
#define EOS_WARM_TIMEOUT_MS 5000

struct eos_stage {
    const struct stockd_config *config;
    char name[32];
    char input_topic[256];
    char output_topics[EOS_OUTPUT_TOPICS_MAX][256]; /* "" for an unused slot */
    char input_topic_more[256];                     /* "" when the stage reads one topic */
    char group_id[256];
    char transactional_id[256];
    int32_t batch_max;
    int32_t poll_timeout_ms;
    int32_t fetch_wait_max_ms; /* 0: librdkafka's */
    int32_t defer_offsets_ms_max;
    struct eos_stage_ops ops;
    void *context;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_message_t **batch;
    size_t batch_count;
    bool failed;             /* the stage asked to stop (assigned returned -1) */
    bool rejoin;             /* a rebalance could not complete (offsets unknown, assign failed): rejoin */
    const atomic_bool *stop; /* while running: the shutdown flag */
    int aborts_in_a_row;     /* transactions aborted since the last commit: the backoff grows with it */
    double turn_ended_ms;    /* monotonic: when the last transaction was committed or aborted */
    enum metrics_stage metrics_stage;
    double lag_sample_next_ms;
    /* Committed offsets of the current assignment (fetched at assign): the position of a partition that
     * has delivered nothing since, for the lag. NULL while nothing is assigned. */
    rd_kafka_topic_partition_list_t *assigned_committed;
    /* Offsets (last + 1) of batches that wrote nothing (EOS_PROCESS_NOTHING) and are not committed yet: the
     * next transaction that commits offsets takes them along. NULL when there are none. */
    rd_kafka_topic_partition_list_t *deferred;
    double deferred_since_ms; /* monotonic: when the oldest of them was processed */
    _Atomic uint64_t batches_committed;
    _Atomic uint64_t batches_aborted;
    _Atomic uint64_t messages_processed;
    _Atomic uint64_t rejoins;
};

/* The opaque of the empty records a seal produces (seal_run): delivered() does not pass them on. */
static char seal_record_opaque;

static int copy_string(char *out, size_t out_bytes, const char *value, const char *what, char *error,
                       size_t error_bytes)
{
    if (value == NULL || strlen(value) >= out_bytes) {
        snprintf(error, error_bytes, "%s is missing or too long", what);
        return -1;
    }
    memcpy(out, value, strlen(value) + 1);
    return 0;
}

struct eos_stage *eos_stage_create(const struct stockd_config *config,
                                   const struct eos_stage_settings *settings, const struct eos_stage_ops *ops,
                                   void *context, char *error, size_t error_bytes)
{
    assert(config != NULL && settings != NULL && ops != NULL);
    assert(ops->process != NULL && ops->committed != NULL && ops->aborted != NULL);
    assert(settings->batch_max > 0 && settings->poll_timeout_ms >= 0);
    struct eos_stage *stage = calloc(1, sizeof(*stage));
    if (stage == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    stage->batch = calloc((size_t)settings->batch_max, sizeof(*stage->batch));
    if (stage->batch == NULL ||
        copy_string(stage->name, sizeof(stage->name), settings->name, "stage name", error, error_bytes) !=
            0 ||
        copy_string(stage->input_topic, sizeof(stage->input_topic), settings->input_topic, "input topic",
                    error, error_bytes) != 0 ||
        (settings->input_topic_more != NULL &&
         copy_string(stage->input_topic_more, sizeof(stage->input_topic_more), settings->input_topic_more,
                     "second input topic", error, error_bytes) != 0) ||
        copy_string(stage->group_id, sizeof(stage->group_id), settings->group_id, "group id", error,
                    error_bytes) != 0 ||
        copy_string(stage->transactional_id, sizeof(stage->transactional_id), settings->transactional_id,
                    "transactional id", error, error_bytes) != 0) {
        if (stage->batch == NULL) snprintf(error, error_bytes, "out of memory");
        eos_stage_destroy(stage);
        return NULL;
    }
    for (size_t i = 0; i < EOS_OUTPUT_TOPICS_MAX; i++) {
        if (settings->output_topics[i] != NULL &&
            copy_string(stage->output_topics[i], sizeof(stage->output_topics[i]), settings->output_topics[i],
                        "output topic", error, error_bytes) != 0) {
            eos_stage_destroy(stage);
            return NULL;
        }
    }
    stage->config = config;
    stage->batch_max = settings->batch_max;
    stage->poll_timeout_ms = settings->poll_timeout_ms;
    stage->fetch_wait_max_ms = settings->fetch_wait_max_ms;
    stage->defer_offsets_ms_max =
        settings->defer_offsets_ms_max > 0 ? settings->defer_offsets_ms_max : EOS_DEFER_OFFSETS_MS_MAX;
    stage->metrics_stage = settings->metrics_stage;
    stage->ops = *ops;
    stage->context = context;
    return stage;
}

void eos_stage_destroy(struct eos_stage *stage)
{
    if (stage == NULL) return;
    assert(stage->consumer == NULL && stage->producer == NULL);
    if (stage->assigned_committed != NULL) rd_kafka_topic_partition_list_destroy(stage->assigned_committed);
    free(stage->batch);
    free(stage);
}

int64_t eos_stage_committed_offset(const struct eos_stage *stage, const char *topic, int32_t partition)
{
    assert(stage != NULL && topic != NULL);
    if (stage->assigned_committed == NULL) return -1;
    const rd_kafka_topic_partition_t *entry =
        rd_kafka_topic_partition_list_find(stage->assigned_committed, topic, partition);
    if (entry == NULL || entry->err != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
    return entry->offset >= 0 ? entry->offset : 0; /* OFFSET_INVALID: nothing committed, start from 0 */
}

void eos_stage_stats_get(const struct eos_stage *stage, struct eos_stage_stats *out)
{
    out->batches_committed = atomic_load(&stage->batches_committed);
    out->batches_aborted = atomic_load(&stage->batches_aborted);
    out->messages_processed = atomic_load(&stage->messages_processed);
    out->rejoins = atomic_load(&stage->rejoins);
}

/* ---- batch ----------------------------------------------------------------------------------------- */

static void batch_clear(struct eos_stage *stage)
{
    for (size_t i = 0; i < stage->batch_count; i++)
        rd_kafka_message_destroy(stage->batch[i]);
    stage->batch_count = 0;
}

/* Drops the collected messages of revoked partitions: their new owner will process them. */
static void batch_drop_partitions(struct eos_stage *stage, const rd_kafka_topic_partition_list_t *partitions)
{
    size_t kept = 0;
    for (size_t i = 0; i < stage->batch_count; i++) {
        rd_kafka_message_t *message = stage->batch[i];
        if (rd_kafka_topic_partition_list_find(partitions, rd_kafka_topic_name(message->rkt),
                                               message->partition) != NULL)
            rd_kafka_message_destroy(message);
        else
            stage->batch[kept++] = message;
    }
    stage->batch_count = kept;
}

/* The offsets to commit (last + 1) or to rewind to (first) of each partition in the batch. */
static rd_kafka_topic_partition_list_t *batch_offsets(const struct eos_stage *stage, bool rewind)
{
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < stage->batch_count; i++) {
        const rd_kafka_message_t *message = stage->batch[i];
        const char *topic = rd_kafka_topic_name(message->rkt);
        rd_kafka_topic_partition_t *entry =
            rd_kafka_topic_partition_list_find(offsets, topic, message->partition);
        if (entry == NULL) {
            entry = rd_kafka_topic_partition_list_add(offsets, topic, message->partition);
            entry->offset = rewind ? message->offset : message->offset + 1;
        } else if (!rewind && message->offset + 1 > entry->offset) {
            entry->offset = message->offset + 1;
        } else if (rewind && message->offset < entry->offset) {
            entry->offset = message->offset;
        }
    }
    return offsets;
}

/* Takes the batch's offsets (last + 1) into the deferred ones, keeping the larger of two. */
static void deferred_add_batch(struct eos_stage *stage)
{
    rd_kafka_topic_partition_list_t *offsets = batch_offsets(stage, false);
    if (stage->deferred == NULL) {
        stage->deferred = offsets;
        stage->deferred_since_ms = clock_monotonic_ms();
        return;
    }
    for (int i = 0; i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *batch = &offsets->elems[i];
        rd_kafka_topic_partition_t *entry =
            rd_kafka_topic_partition_list_find(stage->deferred, batch->topic, batch->partition);
        if (entry == NULL)
            rd_kafka_topic_partition_list_add(stage->deferred, batch->topic, batch->partition)->offset =
                batch->offset;
        else if (batch->offset > entry->offset)
            entry->offset = batch->offset;
    }
    rd_kafka_topic_partition_list_destroy(offsets);
}

/* Adds the deferred offsets to a transaction's, where they are ahead. */
static void deferred_merge_into(const struct eos_stage *stage, rd_kafka_topic_partition_list_t *offsets)
{
    for (int i = 0; stage->deferred != NULL && i < stage->deferred->cnt; i++) {
        const rd_kafka_topic_partition_t *deferred = &stage->deferred->elems[i];
        rd_kafka_topic_partition_t *entry =
            rd_kafka_topic_partition_list_find(offsets, deferred->topic, deferred->partition);
        if (entry == NULL)
            rd_kafka_topic_partition_list_add(offsets, deferred->topic, deferred->partition)->offset =
                deferred->offset;
        else if (deferred->offset > entry->offset)
            entry->offset = deferred->offset;
    }
}

/* Forgets deferred offsets: all (NULL), or those of revoked partitions, whose new owner reads them again
 * (a batch that wrote nothing writes nothing the second time either). */
static void deferred_drop(struct eos_stage *stage, const rd_kafka_topic_partition_list_t *partitions)
{
    if (stage->deferred == NULL) return;
    for (int i = 0; partitions != NULL && i < partitions->cnt; i++)
        rd_kafka_topic_partition_list_del(stage->deferred, partitions->elems[i].topic,
                                          partitions->elems[i].partition);
    if (partitions == NULL || stage->deferred->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(stage->deferred);
        stage->deferred = NULL;
    }
}

/* Adds a polled message to the batch; consumer errors are logged and dropped. */
/* Whether a consumer error says librdkafka could not fetch the committed offsets of the assignment. It
 * fetches them itself after the rebalance callback assigned the partitions; when the group coordinator has
 * just moved (a broker cut or restart) that fetch fails with a coordinator error, and librdkafka 2.8.0 does
 * not try again: the partitions stay assigned and are never fetched, and every command on them waits until
 * the next rebalance (chaos_cluster_cut_instance: 75 commands acknowledged and not decided for 2.5 min). */
static bool committed_fetch_failed(const rd_kafka_message_t *message)
{
    static const char prefix[] = "Failed to fetch committed offsets";
    bool coordinator = message->err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
                       message->err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                       message->err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    const char *text = rd_kafka_message_errstr(message);
    return coordinator && text != NULL && strncmp(text, prefix, sizeof(prefix) - 1) == 0;
}

static void batch_add(struct eos_stage *stage, rd_kafka_message_t *message)
{
    if (message->err) {
        if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn(stage->name, "consumer: %s", rd_kafka_message_errstr(message));
        if (committed_fetch_failed(message)) {
            /* As when committed_wait cannot have them: take nothing on unknown offsets, rejoin. */
            log_error(stage->name, "the assignment's committed offsets were not fetched: rejoining");
            stage->rejoin = true;
        }
        rd_kafka_message_destroy(message);
        return;
    }
    if (stage->rejoin) { /* partitions taken without known offsets are never processed */
        rd_kafka_message_destroy(message);
        return;
    }
    assert(stage->batch_count < (size_t)stage->batch_max);
    stage->batch[stage->batch_count++] = message;
}

/* Polls into the batch until it is full or until_ms. With idle_ms >= 0 a poll waits at most that long and
 * one that finds nothing ends it; with idle_ms < 0 it goes on until until_ms whatever comes. */
static void batch_fill(struct eos_stage *stage, double until_ms, int idle_ms)
{
    while (stage->batch_count < (size_t)stage->batch_max && !stage->failed && !stage->rejoin) {
        int remaining_ms = (int)(until_ms - clock_monotonic_ms());
        if (remaining_ms <= 0) return;
        int wait_ms = idle_ms >= 0 && idle_ms < remaining_ms ? idle_ms : remaining_ms;
        rd_kafka_message_t *message = rd_kafka_consumer_poll(stage->consumer, wait_ms);
        if (message != NULL)
            batch_add(stage, message);
        else if (idle_ms >= 0)
            return;
    }
}

/* Collects a batch: waits briefly for a first message (and, right after a commit, until EOS_COMMIT_GAP_MS
 * after it), then takes what comes until the poll runs dry (no message within poll_timeout_ms; with 0, what
 * has already arrived), the batch is full, or it is EOS_BATCH_COLLECT_MS_MAX old. With 0 the batch is what
 * arrived during the previous transaction, so it grows with the load by itself (bench_handler, backlog: 46k
 * commands/s, 37k with 5 ms). */
static void batch_collect(struct eos_stage *stage)
{
    rd_kafka_message_t *message = rd_kafka_consumer_poll(stage->consumer, EOS_IDLE_POLL_MS);
    if (message == NULL) return;
    batch_add(stage, message);
    batch_fill(stage, stage->turn_ended_ms + EOS_COMMIT_GAP_MS, -1); /* the coordinator finishing a commit */
    batch_fill(stage, clock_monotonic_ms() + EOS_BATCH_COLLECT_MS_MAX, stage->poll_timeout_ms);
}

/* ---- callbacks ------------------------------------------------------------------------------------- */

/* The first error among a fetched offset list's partitions, or NO_ERROR. */
static rd_kafka_resp_err_t partitions_error(const rd_kafka_topic_partition_list_t *partitions)
{
    for (int i = 0; i < partitions->cnt; i++)
        if (partitions->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) return partitions->elems[i].err;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static int seal_run(struct eos_stage *stage, rd_kafka_t *producer, const char *topic,
                    const int32_t *partitions, size_t count, bool offsets, bool *offsets_refused, char *error,
                    size_t error_bytes);

/* Ends whatever offsets this stage's producer id left open in the group's offsets partition (seal_run),
 * after a committed-offset fetch was held back. Only this producer id's next marker there ends such offsets
 * (a transaction whose markers the broker skipped, docs/chaos.md), and the stage makes none while it waits
 * in the rebalance callback: every member of the group could wait on another's, or on its own, until the
 * attempts ran out (30 s) and the rejoin's new producer sealed them. No transaction is open here (turns
 * begin and end outside the poll that serves the callback). When the offsets are refused (the coordinator
 * had fenced the epoch after timing a transaction out), the abort has bumped the epoch: once more. */
static void committed_seal(struct eos_stage *stage)
{
    if (stage->producer == NULL) return;
    char error[256];
    bool refused = false;
    for (int round = 0; round < 2 && !atomic_load(stage->stop); round++) {
        if (seal_run(stage, stage->producer, NULL, NULL, 0, true, &refused, error, sizeof(error)) != 0) {
            log_warn(stage->name, "closing this producer id's open offsets: %s", error);
            return;
        }
        if (!refused) return;
    }
}

/* Waits until the committed offsets of partitions are stable: with read_committed, librdkafka fetches
 * them with require_stable, which waits for the previous owner's pending transaction to finish. Keeps
 * them (stage->assigned_committed) as the starting positions the lag needs. At most EOS_COMMITTED_ATTEMPTS
 * attempts of EOS_COMMITTED_TIMEOUT_MS, fewer when the stage is stopping; after each failed one the stage
 * closes its own producer id's open offsets (committed_seal). Returns 0, or -1 when the offsets are still
 * unknown (a message was logged): the partitions must not be taken then. */
static int committed_wait(struct eos_stage *stage, rd_kafka_t *consumer,
                          const rd_kafka_topic_partition_list_t *partitions)
{
    rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(partitions);
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (int attempt = 1; attempt <= EOS_COMMITTED_ATTEMPTS && !atomic_load(stage->stop); attempt++) {
        error = rd_kafka_committed(consumer, copy, EOS_COMMITTED_TIMEOUT_MS);
        if (error == RD_KAFKA_RESP_ERR_NO_ERROR) error = partitions_error(copy);
        if (error == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        log_warn(stage->name, "fetching committed offsets (attempt %d of %d): %s", attempt,
                 EOS_COMMITTED_ATTEMPTS, rd_kafka_err2str(error));
        if (attempt < EOS_COMMITTED_ATTEMPTS) committed_seal(stage);
    }
    if (stage->assigned_committed != NULL) rd_kafka_topic_partition_list_destroy(stage->assigned_committed);
    stage->assigned_committed = NULL;
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(copy);
        return -1;
    }
    stage->assigned_committed = copy;
    return 0;
}

/* Assigns partitions (NULL: none); a failure leaves the consumer's assignment unknown, so the stage rejoins.
 */
static void assign_checked(struct eos_stage *stage, rd_kafka_t *consumer,
                           const rd_kafka_topic_partition_list_t *partitions)
{
    rd_kafka_resp_err_t error = rd_kafka_assign(consumer, partitions);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    log_error(stage->name, "assign: %s (rejoining)", rd_kafka_err2str(error));
    stage->rejoin = true;
}

/* Forgets the lag of partitions this stage no longer owns (all it was last assigned when partitions is
 * NULL). Only its own: the other workers of a stage (handler.threads) share the metrics stage. */
static void lag_forget(struct eos_stage *stage, const rd_kafka_topic_partition_list_t *partitions)
{
    if (partitions == NULL) {
        if (stage->assigned_committed == NULL) return;
        lag_forget(stage, stage->assigned_committed);
        rd_kafka_topic_partition_list_destroy(stage->assigned_committed);
        stage->assigned_committed = NULL;
        return;
    }
    for (int i = 0; i < partitions->cnt; i++)
        metrics_consumer_lag_clear(stage->metrics_stage, partitions->elems[i].partition);
}

/* Sets the consumer lag of every assigned partition: the end librdkafka last heard of (the last stable
 * offset under read_committed) minus the position (past transaction markers), or minus the committed
 * offset while nothing was delivered since the assignment. At most once per EOS_LAG_SAMPLE_INTERVAL_MS;
 * local calls only, no broker round trip. */
static void lag_sample(struct eos_stage *stage)
{
    if (stage->metrics_stage == METRICS_STAGE_NONE || stage->consumer == NULL) return;
    double now_ms = clock_monotonic_ms();
    if (now_ms < stage->lag_sample_next_ms) return;
    stage->lag_sample_next_ms = now_ms + EOS_LAG_SAMPLE_INTERVAL_MS;
    rd_kafka_topic_partition_list_t *assignment = NULL;
    if (rd_kafka_assignment(stage->consumer, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    rd_kafka_position(stage->consumer, assignment);
    for (int i = 0; i < assignment->cnt; i++) {
        const rd_kafka_topic_partition_t *element = &assignment->elems[i];
        int64_t position = element->err == RD_KAFKA_RESP_ERR_NO_ERROR ? element->offset : -1;
        if (position < 0 && stage->assigned_committed != NULL) {
            const rd_kafka_topic_partition_t *committed = rd_kafka_topic_partition_list_find(
                stage->assigned_committed, element->topic, element->partition);
            if (committed != NULL && committed->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                position = committed->offset;
        }
        int64_t low = -1;
        int64_t high = -1;
        if (rd_kafka_get_watermark_offsets(stage->consumer, element->topic, element->partition, &low,
                                           &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            high < 0)
            continue;                                    /* no fetch answered yet: unknown, not zero */
        if (position < 0) position = low >= 0 ? low : 0; /* nothing committed: auto.offset.reset=earliest */
        metrics_consumer_lag_set(stage->metrics_stage, element->partition, high - position);
    }
    rd_kafka_topic_partition_list_destroy(assignment);
}

static void partitions_describe(const rd_kafka_topic_partition_list_t *partitions, char *out,
                                size_t out_bytes)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < partitions->cnt && used + 12 < out_bytes; i++) {
        used += (size_t)snprintf(out + used, out_bytes - used, "%s%d", i ? "," : "",
                                 (int)partitions->elems[i].partition);
    }
}

static void rebalance(rd_kafka_t *consumer, rd_kafka_resp_err_t error,
                      rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    struct eos_stage *stage = opaque;
    char list[512];
    partitions_describe(partitions, list, sizeof(list));
    if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info(stage->name, "assigned partitions [%s]", list);
        if (committed_wait(stage, consumer, partitions) != 0) {
            /* The previous owner's transaction may still be open: taking the partitions on unknown
             * offsets could decide its input twice. Take none; the main loop rejoins. */
            if (!atomic_load(stage->stop))
                log_error(stage->name, "committed offsets of partitions [%s] unknown: rejoining", list);
            stage->rejoin = true;
            assign_checked(stage, consumer, NULL);
            return;
        }
        if (stage->ops.assigned != NULL && stage->ops.assigned(stage->context, partitions) != 0) {
            /* Never process input of partitions the stage could not take over: stop instead. */
            if (!atomic_load(stage->stop))
                log_error(stage->name, "could not take over partitions [%s]: stopping", list);
            stage->failed = true;
        }
        assign_checked(stage, consumer, partitions);
        return;
    }
    if (error == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        log_info(stage->name, "revoked partitions [%s]", list);
    else
        log_warn(stage->name, "rebalance error: %s", rd_kafka_err2str(error));
    batch_drop_partitions(stage, partitions);
    deferred_drop(stage, partitions);
    lag_forget(stage, partitions);
    if (stage->ops.revoked != NULL) stage->ops.revoked(stage->context, partitions);
    assign_checked(stage, consumer, NULL);
}

static void delivered(rd_kafka_t *producer, const rd_kafka_message_t *message, void *opaque)
{
    (void)producer;
    struct eos_stage *stage = opaque;
    if (message->_private == &seal_record_opaque) return; /* aborted on purpose */
    if (message->err) log_warn(stage->name, "delivery failed: %s", rd_kafka_err2str(message->err));
    if (stage->ops.delivered != NULL) stage->ops.delivered(stage->context, message);
}

/* ---- clients --------------------------------------------------------------------------------------- */

static rd_kafka_t *consumer_create(struct eos_stage *stage, char *error, size_t error_bytes)
{
    rd_kafka_conf_t *conf = kafka_conf_new(stage->config, stage->name, error, error_bytes);
    if (conf == NULL) return NULL;
    /* Set after the user's properties: exactly-once depends on them. Eager range: cooperative rebalancing
     * with transactions is buggy in librdkafka 2.0.x (its issue 4059). */
    if (kafka_conf_set(conf, "group.id", stage->group_id, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "partition.assignment.strategy", "range", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "isolation.level", "read_committed", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "session.timeout.ms", EOS_SESSION_TIMEOUT_MS, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "heartbeat.interval.ms", EOS_HEARTBEAT_INTERVAL_MS, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "queued.min.messages", EOS_PREFETCH_MESSAGES, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "fetch.queue.backoff.ms", KAFKA_FETCH_QUEUE_BACKOFF_MS, error, error_bytes) !=
            0 ||
        kafka_conf_set(conf, "queued.max.messages.kbytes", EOS_PREFETCH_KBYTES, error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char fetch_wait_ms[16];
    snprintf(fetch_wait_ms, sizeof(fetch_wait_ms), "%d", (int)stage->fetch_wait_max_ms);
    if (stage->fetch_wait_max_ms > 0 &&
        kafka_conf_set(conf, "fetch.wait.max.ms", fetch_wait_ms, error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance);
    rd_kafka_conf_set_opaque(conf, stage);
    rd_kafka_t *consumer = kafka_client_new(RD_KAFKA_CONSUMER, conf, error, error_bytes);
    conf = NULL; /* owned by kafka_client_new from here */
    if (consumer == NULL) return NULL;
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, stage->input_topic, RD_KAFKA_PARTITION_UA);
    if (stage->input_topic_more[0] != '\0')
        rd_kafka_topic_partition_list_add(topics, stage->input_topic_more, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t status = rd_kafka_subscribe(consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_bytes, "subscribe to %s: %s", stage->input_topic, rd_kafka_err2str(status));
        rd_kafka_destroy(consumer);
        return NULL;
    }
    return consumer;
}

/* Fetches the output topics' metadata (best effort: a cold topic is only slower). */
static void producer_warm(struct eos_stage *stage, rd_kafka_t *producer)
{
    const char *topics[EOS_OUTPUT_TOPICS_MAX];
    size_t count = 0;
    for (size_t i = 0; i < EOS_OUTPUT_TOPICS_MAX; i++) {
        if (stage->output_topics[i][0] != '\0') topics[count++] = stage->output_topics[i];
    }
    char error[256];
    if (kafka_topics_warm(producer, topics, count, EOS_WARM_TIMEOUT_MS, error, sizeof(error)) != 0)
        log_warn(stage->name, "metadata of the output topics: %s (the first transaction may wait for it)",
                 error);
}

/* Runs one transaction that is aborted on purpose, holding an empty record on each of count partitions of
 * topic and, with offsets, the group's offsets partition (send_offsets_to_transaction). Its ABORT markers
 * end whatever records of this producer id are still open on those partitions. Kafka 4.1-4.4 complete a
 * transaction without writing its markers to a partition that has no leader at that moment (after a broker
 * restart, docs/chaos.md); those records stay open, hold the last stable offset back, and the next marker of
 * this producer id there decides them: a commit would commit records of a transaction the stage aborted.
 * Needs a producer with no transaction open. Returns 0, or -1 with a message. */
static int seal_run(struct eos_stage *stage, rd_kafka_t *producer, const char *topic,
                    const int32_t *partitions, size_t count, bool offsets, bool *offsets_refused, char *error,
                    size_t error_bytes)
{
    if (offsets_refused != NULL) *offsets_refused = false;
    rd_kafka_error_t *failure = rd_kafka_begin_transaction(producer);
    for (size_t i = 0; failure == NULL && i < count; i++) {
        rd_kafka_resp_err_t status = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partitions[i]), RD_KAFKA_V_VALUE(NULL, 0),
            RD_KAFKA_V_OPAQUE(&seal_record_opaque), RD_KAFKA_V_END);
        if (status != RD_KAFKA_RESP_ERR_NO_ERROR)
            failure = rd_kafka_error_new(status, "produce: %s", rd_kafka_err2str(status));
    }
    /* abort_transaction purges what is still queued, and a partition none of whose records was sent never
     * joins the transaction: the abort would write no marker there. Send them first. */
    if (failure == NULL && count > 0 &&
        rd_kafka_flush(producer, EOS_CALL_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        failure = rd_kafka_error_new(RD_KAFKA_RESP_ERR__TIMED_OUT,
                                     "the empty records were not sent within %d ms", EOS_CALL_TIMEOUT_MS);
    if (failure == NULL && offsets) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, stage->input_topic, 0)->offset = 0; /* aborted: never read */
        rd_kafka_consumer_group_metadata_t *metadata = rd_kafka_consumer_group_metadata_new(stage->group_id);
        /* The offsets may be refused (no member id): AddOffsetsToTxn has added the partition to the
         * transaction by then, which is all the abort needs. */
        rd_kafka_error_t *refused =
            rd_kafka_send_offsets_to_transaction(producer, list, metadata, EOS_CALL_TIMEOUT_MS);
        if (refused != NULL) {
            if (offsets_refused != NULL) *offsets_refused = true;
            rd_kafka_error_destroy(refused);
        }
        rd_kafka_consumer_group_metadata_destroy(metadata);
        rd_kafka_topic_partition_list_destroy(list);
    }
    if (failure == NULL || !rd_kafka_error_is_fatal(failure)) {
        bool began = failure == NULL || rd_kafka_error_code(failure) != RD_KAFKA_RESP_ERR__STATE;
        if (failure != NULL) rd_kafka_error_destroy(failure);
        failure = NULL;
        double deadline_ms = clock_monotonic_ms() + EOS_ABORT_MS_MAX;
        while (began && (failure = rd_kafka_abort_transaction(producer, EOS_CALL_SLICE_MS)) != NULL &&
               rd_kafka_error_is_retriable(failure) && !atomic_load(stage->stop) &&
               clock_monotonic_ms() < deadline_ms)
            rd_kafka_error_destroy(failure);
    }
    if (failure == NULL) return 0;
    snprintf(error, error_bytes, "%s", rd_kafka_error_string(failure));
    rd_kafka_error_destroy(failure);
    return -1;
}

int eos_stage_partitions_seal(struct eos_stage *stage, const char *topic, const int32_t *partitions,
                              size_t count, char *error, size_t error_bytes)
{
    assert(stage != NULL && topic != NULL && partitions != NULL && count > 0);
    if (stage->producer == NULL) {
        snprintf(error, error_bytes, "no producer");
        return -1;
    }
    return seal_run(stage, stage->producer, topic, partitions, count, false, NULL, error, error_bytes);
}

/* The transactional producer; init_transactions fences any older incarnation of this transactional id and
 * aborts its open transaction. Retries (resuming the call) while the broker is unreachable, until stop,
 * which it looks at every EOS_CALL_SLICE_MS. */
static rd_kafka_t *producer_create(struct eos_stage *stage, const atomic_bool *stop, char *error,
                                   size_t error_bytes)
{
    rd_kafka_conf_t *conf = kafka_conf_new(stage->config, stage->name, error, error_bytes);
    if (conf == NULL) return NULL;
    if (kafka_conf_set(conf, "transactional.id", stage->transactional_id, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "transaction.timeout.ms", EOS_TRANSACTION_TIMEOUT_MS, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "partitioner", "murmur2_random", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "linger.ms", EOS_LINGER_MS, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "retry.backoff.ms", EOS_RETRY_BACKOFF_MS, error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* A delivery-report callback is mandatory: without it commit_transaction polls in 10 ms steps. */
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    rd_kafka_conf_set_opaque(conf, stage);
    rd_kafka_t *producer = kafka_client_new(RD_KAFKA_PRODUCER, conf, error, error_bytes);
    conf = NULL;
    if (producer == NULL) return NULL;
    double warned_ms = 0;
    while (!atomic_load(stop)) {
        rd_kafka_error_t *failure = rd_kafka_init_transactions(producer, EOS_CALL_SLICE_MS);
        if (failure == NULL) {
            /* Offsets it left open would hold every committed-offset fetch of the group (require_stable)
             * back, and no member could take a partition. Aborting them is safe: the input they covered is
             * read again, and what was decided is skipped (the shards' deduplication). */
            const char *topic = NULL;
            int32_t partitions[STOCKD_PARTITIONS_MAX];
            size_t count = stage->ops.seal_wanted == NULL
                               ? 0
                               : stage->ops.seal_wanted(stage->context, producer, &topic, partitions,
                                                        STOCKD_PARTITIONS_MAX);
            if (seal_run(stage, producer, topic, partitions, count, true, NULL, error, error_bytes) != 0)
                log_warn(stage->name, "closing open records of this producer id: %s", error);
            producer_warm(stage, producer);
            return producer;
        }
        bool retriable = rd_kafka_error_is_retriable(failure);
        snprintf(error, error_bytes, "init_transactions: %s", rd_kafka_error_string(failure));
        rd_kafka_error_destroy(failure);
        if (!retriable) break;
        if (clock_monotonic_ms() - warned_ms >= EOS_WARN_INTERVAL_MS) { /* not one line per slice */
            log_warn(stage->name, "%s (retrying)", error);
            warned_ms = clock_monotonic_ms();
        }
    }
    rd_kafka_destroy(producer);
    return NULL;
}

static void clients_destroy(struct eos_stage *stage)
{
    batch_clear(stage);
    deferred_drop(stage, NULL);
    if (stage->consumer != NULL) {
        rd_kafka_consumer_close(stage->consumer); /* serves the final revoke */
        rd_kafka_destroy(stage->consumer);
        stage->consumer = NULL;
    }
    if (stage->producer != NULL) {
        rd_kafka_destroy(stage->producer);
        stage->producer = NULL;
    }
    lag_forget(stage, NULL);
}

static int clients_create(struct eos_stage *stage, const atomic_bool *stop)
{
    char error[512];
    stage->producer = producer_create(stage, stop, error, sizeof(error));
    if (stage->producer == NULL) {
        if (!atomic_load(stop)) log_error(stage->name, "%s", error);
        return -1;
    }
    stage->consumer = consumer_create(stage, error, sizeof(error));
    if (stage->consumer == NULL) {
        log_error(stage->name, "%s", error);
        clients_destroy(stage);
        return -1;
    }
    log_info(stage->name, "transactional id %s, group %s, reading %s", stage->transactional_id,
             stage->group_id, stage->input_topic);
    return 0;
}

/* Sleeps 10 ms doubling with each attempt, at most EOS_BACKOFF_MAX_MS. */
static void backoff_sleep(int attempt)
{
    long sleep_ms = 10;
    for (int i = 1; i < attempt && sleep_ms < EOS_BACKOFF_MAX_MS; i++)
        sleep_ms *= 2;
    if (sleep_ms > EOS_BACKOFF_MAX_MS) sleep_ms = EOS_BACKOFF_MAX_MS;
    struct timespec pause = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* ---- the transaction of one batch ----------------------------------------------------------------- */

enum turn_result {
    TURN_COMMITTED,
    TURN_ABORTED,
    TURN_FATAL,
};

/* Classifies a transactional error the way librdkafka documents it; destroys it. */
static enum turn_result error_classify(struct eos_stage *stage, const char *what, rd_kafka_error_t *failure)
{
    enum turn_result result = rd_kafka_error_is_fatal(failure) ? TURN_FATAL : TURN_ABORTED;
    log_write(result == TURN_FATAL ? LOG_ERROR : LOG_WARN, stage->name, "%s: %s%s", what,
              rd_kafka_error_string(failure),
              result == TURN_FATAL ? " (fatal: rejoining)" : " (aborting batch)");
    rd_kafka_error_destroy(failure);
    return result;
}

/* rd_kafka_seek_partitions reports per-partition failures in the list, not in its result. */
static rd_kafka_error_t *seek_result_error(const rd_kafka_topic_partition_list_t *partitions)
{
    rd_kafka_resp_err_t error = partitions_error(partitions);
    return error == RD_KAFKA_RESP_ERR_NO_ERROR
               ? NULL
               : rd_kafka_error_new(error, "seek: %s", rd_kafka_err2str(error));
}

/* Seeks the consumer back to the start of the batch, so that it is read again. */
static enum turn_result batch_rewind(struct eos_stage *stage)
{
    if (stage->batch_count > 0) {
        rd_kafka_topic_partition_list_t *rewind = batch_offsets(stage, true);
        rd_kafka_error_t *failure = rd_kafka_seek_partitions(stage->consumer, rewind, EOS_CALL_TIMEOUT_MS);
        if (failure == NULL) failure = seek_result_error(rewind);
        rd_kafka_topic_partition_list_destroy(rewind);
        if (failure != NULL) {
            log_error(stage->name, "rewind: %s (rejoining)", rd_kafka_error_string(failure));
            rd_kafka_error_destroy(failure);
            return TURN_FATAL;
        }
    }
    atomic_fetch_add(&stage->batches_aborted, 1);
    return TURN_ABORTED;
}

/* Aborts the open transaction and rewinds the consumer to the start of the batch. A failed abort that is
 * not fatal leaves librdkafka in its abort state, wanting abort_transaction again: resume it in slices of
 * EOS_CALL_SLICE_MS until it is done, the error is fatal, the stage is stopping or EOS_ABORT_MS_MAX has
 * passed; each of the last three is a fatal turn (rejoin, or stop). */
static enum turn_result turn_abort(struct eos_stage *stage)
{
    double deadline_ms = clock_monotonic_ms() + EOS_ABORT_MS_MAX;
    for (int attempt = 1;; attempt++) {
        rd_kafka_error_t *failure = rd_kafka_abort_transaction(stage->producer, EOS_CALL_SLICE_MS);
        if (failure == NULL) break;
        bool fatal = rd_kafka_error_is_fatal(failure);
        bool give_up = fatal || atomic_load(stage->stop) || clock_monotonic_ms() >= deadline_ms;
        if (give_up || !rd_kafka_error_is_retriable(failure) || attempt == 1)
            log_error(stage->name, "abort_transaction (attempt %d): %s%s", attempt,
                      rd_kafka_error_string(failure), give_up ? " (giving up: rejoining)" : " (retrying)");
        rd_kafka_error_destroy(failure);
        if (give_up) return TURN_FATAL;
        if (attempt > 1) backoff_sleep(attempt);
    }
    return batch_rewind(stage);
}

/* The commit of turn_commit: the offsets unless defer, then commit_transaction, resumed in slices. */
static enum turn_result turn_commit_transaction(struct eos_stage *stage, bool defer)
{
    if (!defer && (stage->batch_count > 0 || stage->deferred != NULL)) {
        rd_kafka_topic_partition_list_t *offsets = batch_offsets(stage, false);
        deferred_merge_into(stage, offsets);
        rd_kafka_consumer_group_metadata_t *metadata = rd_kafka_consumer_group_metadata(stage->consumer);
        /* Resumed in slices like the commit; stopping or EOS_CALL_TIMEOUT_MS in all aborts the batch. */
        double offsets_started_ms = clock_monotonic_ms();
        rd_kafka_error_t *failure = NULL;
        for (;;) {
            failure =
                rd_kafka_send_offsets_to_transaction(stage->producer, offsets, metadata, EOS_CALL_SLICE_MS);
            if (failure == NULL || !rd_kafka_error_is_retriable(failure) || atomic_load(stage->stop) ||
                clock_monotonic_ms() - offsets_started_ms >= EOS_CALL_TIMEOUT_MS)
                break;
            rd_kafka_error_destroy(failure);
        }
        rd_kafka_consumer_group_metadata_destroy(metadata);
        rd_kafka_topic_partition_list_destroy(offsets);
        if (failure != NULL) return error_classify(stage, "send_offsets_to_transaction", failure);
    }
    double started_ms = clock_monotonic_ms();
    double warned_ms = 0;
    for (;;) {
        rd_kafka_error_t *failure = rd_kafka_commit_transaction(stage->producer, EOS_CALL_SLICE_MS);
        if (failure == NULL) return TURN_COMMITTED;
        if (!rd_kafka_error_is_retriable(failure))
            return error_classify(stage, "commit_transaction", failure);
        double waited_ms = clock_monotonic_ms() - started_ms;
        bool stopping = atomic_load(stage->stop);
        if (stopping || waited_ms >= EOS_COMMIT_MS_MAX) {
            log_error(stage->name, "commit_transaction: %s after %.0f ms%s: outcome unknown, rejoining",
                      rd_kafka_error_string(failure), waited_ms, stopping ? " (stopping)" : "");
            rd_kafka_error_destroy(failure);
            return TURN_FATAL;
        }
        if (clock_monotonic_ms() - warned_ms >= EOS_WARN_INTERVAL_MS) {
            log_warn(stage->name, "commit_transaction: %s (resuming)", rd_kafka_error_string(failure));
            warned_ms = clock_monotonic_ms();
        }
        rd_kafka_error_destroy(failure);
    }
}

/* Sends the batch's offsets, with the deferred ones, with fresh group metadata and commits; with defer, sends
 * none and keeps the batch's for later (an empty transaction, EOS_DEFER_OFFSETS_MS_MAX). A retriable commit
 * failure (a timed-out slice among them) resumes the commit, until it is done, EOS_COMMIT_MS_MAX has passed
 * or the stage is stopping: then the outcome is unknown, which is a fatal turn (see EOS_COMMIT_MS_MAX). */
static enum turn_result turn_commit(struct eos_stage *stage, bool defer)
{
    enum turn_result result = turn_commit_transaction(stage, defer);
    if (result != TURN_COMMITTED) return result;
    if (defer)
        deferred_add_batch(stage);
    else
        deferred_drop(stage, NULL);
    return result;
}

/* One transaction over the collected batch (which may be empty when the stage asked for a tick). Whatever
 * happens, the batch is gone afterwards: committed, or aborted and rewound to be read again, or dropped
 * with the clients on a fatal error (the rejoin resumes from the committed offsets). */
static enum turn_result turn_run(struct eos_stage *stage)
{
    double start_ms = (double)clock_monotonic_us() / 1000.0; /* fractions for the debug line */
    enum turn_result result = TURN_ABORTED;
    double processed_ms = start_ms;
    bool deferred = false; /* a batch that wrote nothing, its offsets kept for a later transaction */
    rd_kafka_error_t *failure = rd_kafka_begin_transaction(stage->producer);
    if (failure != NULL) {
        /* No transaction began: nothing to abort, but the input must be read again. A producer that keeps
         * refusing to begin is recreated. */
        result = error_classify(stage, "begin_transaction", failure);
        if (result != TURN_FATAL)
            result = stage->aborts_in_a_row >= EOS_BEGIN_FAILURES_MAX ? TURN_FATAL : batch_rewind(stage);
    } else {
        int processed = stage->ops.process(stage->context, stage->producer, stage->batch, stage->batch_count);
        processed_ms = (double)clock_monotonic_us() / 1000.0;
        deferred = processed == EOS_PROCESS_NOTHING && stage->batch_count > 0 &&
                   (stage->deferred == NULL ||
                    clock_monotonic_ms() - stage->deferred_since_ms < stage->defer_offsets_ms_max);
        if (processed == 0 || processed == EOS_PROCESS_NOTHING) result = turn_commit(stage, deferred);
        if (result == TURN_ABORTED) result = turn_abort(stage);
    }
    log_debug(stage->name, "batch of %zu: process %.1f ms, commit %.1f ms (%s)", stage->batch_count,
              processed_ms - start_ms, (double)clock_monotonic_us() / 1000.0 - processed_ms,
              result != TURN_COMMITTED ? "not committed"
              : deferred               ? "wrote nothing, offsets deferred"
                                       : "committed");
    if (!deferred || result != TURN_COMMITTED) /* an empty transaction reaches no broker: not counted */
        metrics_transaction_observe(stage->metrics_stage, result == TURN_COMMITTED, stage->batch_count);
    if (!deferred) stage->turn_ended_ms = clock_monotonic_ms(); /* the coordinator had nothing to finish */
    if (result == TURN_COMMITTED) {
        stage->ops.committed(stage->context);
        atomic_fetch_add(&stage->batches_committed, 1);
        atomic_fetch_add(&stage->messages_processed, stage->batch_count);
        stage->aborts_in_a_row = 0;
    } else {
        stage->ops.aborted(stage->context);
        stage->aborts_in_a_row++;
    }
    batch_clear(stage);
    return result;
}

int eos_stage_run(struct eos_stage *stage, const atomic_bool *stop)
{
    assert(stage != NULL && stop != NULL);
    stage->stop = stop;
    int status = 0;
    while (!atomic_load(stop) && !stage->failed) {
        if (stage->consumer == NULL && clients_create(stage, stop) != 0) {
            status = atomic_load(stop) ? 0 : -1;
            break;
        }
        batch_collect(stage);
        if (stage->failed) break;
        if (stage->rejoin) {
            clients_destroy(stage);
            stage->rejoin = false;
            atomic_fetch_add(&stage->rejoins, 1);
            backoff_sleep(EOS_REJOIN_BACKOFF_ATTEMPT);
            continue;
        }
        lag_sample(stage);
        bool tick = stage->ops.tick_due != NULL && stage->ops.tick_due(stage->context, clock_wall_ms());
        if (stage->batch_count == 0 && !tick) continue;
        if (turn_run(stage) == TURN_FATAL) {
            clients_destroy(stage);
            atomic_fetch_add(&stage->rejoins, 1);
        }
        /* An error that keeps aborting (a topic whose access was revoked) must not spin: back off. */
        if (stage->aborts_in_a_row > 0) backoff_sleep(stage->aborts_in_a_row);
    }
    if (stage->failed && !atomic_load(stop)) status = -1; /* a restore cut short by shutdown is no failure */
    clients_destroy(stage);
    log_info(stage->name, "stopped");
    return status;
}
