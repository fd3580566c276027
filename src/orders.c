/* orders.c - the order stage: reserves an order's lines across SKU partitions, all or none (a saga).
 *
 * One consumer in group <prefix>-orders reads <prefix>.orders and <prefix>.events; kafka/eos.c runs the
 * exactly-once loop. An events record whose command id is an order line's (order:<id>:<line>:<op>) is
 * forwarded as an OrderLineOutcome to the order's partition of orders, a ReservationExpired of an order
 * line's reservation as an OrderLineExpired. An orders record is folded into the
 * partition's shard (src/store/order_store.c) by the pure core (src/domain/order.c), whose stock commands
 * go to commands.by-sku and whose event goes back to orders. SQLite commits after Kafka did; on assignment a
 * shard behind the committed offset folds the missing records again without sending anything. Never
 * writes <prefix>.events: the handler does. */
#include "orders.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "domain/codec.h"
#include "domain/order.h"
#include "domain/order_codec.h"
#include "kafka/client.h"
#include "kafka/dlq.h"
#include "kafka/eos.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "stage_threads.h"
#include "store/order_store.h"

#define COMPONENT "orders"

/* Records per transaction: a batch of orders inputs is a few hundred small SQLite writes. */
#define ORDERS_BATCH_MAX 1000
/* The consumer's fetch.wait.max.ms. Everything the stage reads was written in transactions (events by the
 * handler, line outcomes and deadlines by itself), and an idle read_committed fetch sees a commit only when
 * it times out: with librdkafka's 500 ms an order took 2 s alone (two such hops, and the handler's), with 20
 * ms 30-50 ms (measured on one instance, sync submits one after another, 2026-12-05). 50 idle fetches a
 * second are cheap. */
#define ORDERS_FETCH_WAIT_MS 20
/* Restore commits the shard every this many records, so a long replay keeps its progress. */
#define ORDERS_RESTORE_COMMIT_EVERY 1000
/* How long restore waits without any record before it gives up (a broker restart takes seconds). */
#define ORDERS_RESTORE_IDLE_TIMEOUT_MS 60000
/* The CloudEvents type the handler gives a ReservationExpired (src/handler.c: "stockd." and the type name):
 * the stage decodes only the events that carry it or an order line's command id. */
#define ORDERS_EXPIRED_CE_TYPE "stockd.ReservationExpired"

/* Indexes of counters, in the order of struct orders_stats. */
enum orders_counter {
    COUNTER_PLACED,
    COUNTER_CONFIRMED,
    COUNTER_REJECTED,
    COUNTER_RELEASED,
    COUNTER_FULFILLED,
    COUNTER_EXPIRED,
    COUNTER_FORWARDED,
    COUNTER_EXPIRIES_FORWARDED,
    COUNTER_COMMANDS,
    COUNTER_DEADLINES,
    COUNTER_IGNORED,
    COUNTER_RESTORED,
    COUNTER_DEAD_LETTERED,
    COUNTER_BATCHES_COMMITTED,
    COUNTER_BATCHES_ABORTED,
    COUNTER_COUNT
};

struct orders {
    const struct stockd_config *config;
    char name[32];
    struct kafka_topics topics;
    char group_id[STOCKD_SKU_BYTES_MAX + 32];
    char transactional_id[STOCKD_SKU_BYTES_MAX + STOCKD_ID_BYTES_MAX + 32];
    struct eos_stage *stage;
    const atomic_bool *stop;
    rd_kafka_t *restore_consumer;
    struct order_store *stores[STOCKD_PARTITIONS_MAX];
    /* The batch in flight: shards it wrote and the checkpoint each commits with. */
    bool touched[STOCKD_PARTITIONS_MAX];
    int64_t next_checkpoint[STOCKD_PARTITIONS_MAX];
    bool failed; /* a shard could not commit after Kafka did: the stage stops, the next start restores */
    int64_t tick_next_ms;
    bool deadlines_due; /* the last tick found a placing order past its deadline */
    atomic_bool owned[STOCKD_PARTITIONS_MAX];
    pthread_mutex_t commit_mutex;
    pthread_cond_t commit_changed;
    uint64_t commit_count;                      /* under commit_mutex */
    int64_t folded_next[STOCKD_PARTITIONS_MAX]; /* under commit_mutex: each shard's committed checkpoint here
                                                 * (0 while not assigned) */
    _Atomic uint64_t counters[COUNTER_COUNT];
    /* Work space of the stage's thread (tens of KB: not on the stack, and not thread-local, which every
     * thread of the process would carry, civetweb's 100 KiB stacks included). */
    struct {
        struct order_record record;
        struct order_state state;
        struct order_input input;
        struct event event;
        char due[ORDERS_DEADLINES_PER_TICK_MAX][STOCKD_ORDER_ID_BYTES_MAX + 1];
    } scratch;
};

static void count(struct orders *orders, enum orders_counter counter)
{
    atomic_fetch_add(&orders->counters[counter], 1);
}

/* ---- producing --------------------------------------------------------------------------------------- */

/* Produces an owned value (freed in every case) keyed by key to topic's partition. Returns 0 or -1. */
static int produce_owned(rd_kafka_t *producer, const char *topic, int32_t partition, const char *key,
                         char *value, const char *command_id)
{
    if (value == NULL) {
        log_error(COMPONENT, "out of memory encoding a record for %s", topic);
        return -1;
    }
    rd_kafka_headers_t *headers = NULL;
    if (command_id != NULL) {
        headers = rd_kafka_headers_new(1);
        rd_kafka_header_add(headers, "stockd_command_id", -1, command_id, -1);
    }
    return dlq_producev_owned(producer, topic, partition, key, strlen(key), value, strlen(value), headers,
                              NULL);
}

/* Sends a line's stock command to its SKU's partition of commands.by-sku, as the API and the router do. */
static int command_send(struct orders *orders, rd_kafka_t *producer, const struct order_state *state,
                        struct order_line_command line_command)
{
    struct command command;
    order_command_build(state, line_command, &command);
    int32_t partition = murmur2_partition(command.sku, strlen(command.sku), orders->config->partitions);
    if (produce_owned(producer, orders->topics.by_sku, partition, command.sku, codec_command_encode(&command),
                      command.command_id) != 0)
        return -1;
    count(orders, COUNTER_COMMANDS);
    return 0;
}

static int32_t order_partition(const struct orders *orders, const char *order_id)
{
    return murmur2_partition(order_id, strlen(order_id), orders->config->partitions);
}

/* ---- folding the orders partitions -------------------------------------------------------------------- */

static void event_count(struct orders *orders, enum order_event_type event)
{
    static const enum orders_counter counters[ORDER_EVENT_TYPE_COUNT] = {
        [ORDER_EVENT_CONFIRMED] = COUNTER_CONFIRMED, [ORDER_EVENT_REJECTED] = COUNTER_REJECTED,
        [ORDER_EVENT_RELEASED] = COUNTER_RELEASED,   [ORDER_EVENT_FULFILLED] = COUNTER_FULFILLED,
        [ORDER_EVENT_EXPIRED] = COUNTER_EXPIRED,
    };
    if (event != ORDER_EVENT_NONE) count(orders, counters[event]);
}

/* Folds one record of an orders partition into its shard (whose transaction is open). With a producer
 * (live), sends what the saga decided; without (restore), only folds. A record that is not valid is
 * dead-lettered (live) or skipped (restore: it was dead-lettered when it was first read). */
static int order_record_fold(struct orders *orders, struct order_store *store, rd_kafka_t *producer,
                             const rd_kafka_message_t *message)
{
    struct order_record *record = &orders->scratch.record;
    struct order_state *state = &orders->scratch.state;
    char error[512];
    struct codec_error codec_error;
    if (message->payload == NULL ||
        order_codec_record_decode(message->payload, message->len, record, &codec_error) != 0) {
        if (producer == NULL) return 0;
        count(orders, COUNTER_DEAD_LETTERED);
        return dlq_produce(producer, orders->topics.dlq, message, COMPONENT,
                           message->payload == NULL ? "empty record value" : codec_error.message,
                           message->payload == NULL ? "" : codec_error.field);
    }
    if (record->input.type == ORDER_INPUT_NONE) return 0; /* one of the stage's own events */
    const struct order_input *input = &record->input;
    if (order_partition(orders, input->order_id) != message->partition) {
        if (producer == NULL) return 0;
        count(orders, COUNTER_DEAD_LETTERED);
        return dlq_produce(producer, orders->topics.dlq, message, COMPONENT,
                           "order record on another partition than its order id's", "order_id");
    }
    if (order_store_load(store, input->order_id, state, error, sizeof(error)) < 0) {
        log_error(COMPONENT, "%s", error);
        return -1;
    }
    struct order_effects effects;
    order_apply(state, input, &effects);
    if (effects.ignored != ORDER_IGNORED_NONE) {
        count(orders, COUNTER_IGNORED);
        return 0;
    }
    if (order_store_save(store, state, message->offset, orders->config->orders_saga_timeout_ms, error,
                         sizeof(error)) != 0) {
        log_error(COMPONENT, "%s", error);
        return -1;
    }
    if (producer == NULL) {
        count(orders, COUNTER_RESTORED);
        return 0;
    }
    if (input->type == ORDER_INPUT_PLACE) count(orders, COUNTER_PLACED);
    for (uint32_t i = 0; i < effects.command_count; i++) {
        if (command_send(orders, producer, state, effects.commands[i]) != 0) return -1;
    }
    if (effects.event != ORDER_EVENT_NONE) {
        if (produce_owned(producer, orders->topics.orders, message->partition, state->order_id,
                          order_codec_event_encode(effects.event, state), NULL) != 0)
            return -1;
        event_count(orders, effects.event);
    }
    return 0;
}

/* Opens the batch's transaction on a partition's shard. Returns the shard, or NULL (logged). */
static struct order_store *store_touch(struct orders *orders, int32_t partition)
{
    struct order_store *store =
        partition >= 0 && partition < STOCKD_PARTITIONS_MAX ? orders->stores[partition] : NULL;
    if (store == NULL) {
        log_error(COMPONENT, "orders partition %d is not assigned here", (int)partition);
        return NULL;
    }
    char error[512];
    if (order_store_begin(store, error, sizeof(error)) != 0) {
        log_error(COMPONENT, "%s", error);
        return NULL;
    }
    if (!orders->touched[partition]) {
        orders->touched[partition] = true;
        orders->next_checkpoint[partition] = order_store_checkpoint(store);
    }
    return store;
}

/* ---- forwarding line outcomes from events ---------------------------------------------------------------
 */

/* Copies the value of a message's last header called name into out, NUL-terminated. Returns true, or false
 * when there is none or it does not fit. */
static bool header_copy(const rd_kafka_message_t *message, const char *name, char *out, size_t out_bytes)
{
    rd_kafka_headers_t *headers = NULL;
    const void *value = NULL;
    size_t value_bytes = 0;
    if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(headers, name, &value, &value_bytes) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        value == NULL || value_bytes >= out_bytes)
        return false;
    memcpy(out, value, value_bytes);
    out[value_bytes] = '\0';
    return true;
}

/* Decodes an events record into orders->scratch.event. Returns 0, or -1 (logged: the handler wrote it, so
 * this is a bug or another writer, and the record is passed over). */
static int event_decode(struct orders *orders, const rd_kafka_message_t *message)
{
    struct codec_error codec_error;
    if (message->payload != NULL &&
        codec_event_decode(message->payload, message->len, &orders->scratch.event, &codec_error) == 0)
        return 0;
    log_warn(COMPONENT, "events [%d] offset %lld is not a valid event: %s", (int)message->partition,
             (long long)message->offset, message->payload ? codec_error.message : "empty");
    return -1;
}

/* Sends an input forwarded from events to the order's partition of orders. Returns 1 (sent), or -1. */
static int input_forward(struct orders *orders, rd_kafka_t *producer, const rd_kafka_message_t *message,
                         struct order_input *input)
{
    input->position_partition = message->partition;
    input->position_offset = message->offset;
    if (produce_owned(producer, orders->topics.orders, order_partition(orders, input->order_id),
                      input->order_id, order_codec_input_encode(input), NULL) != 0)
        return -1;
    count(orders, input->type == ORDER_INPUT_LINE_EXPIRED ? COUNTER_EXPIRIES_FORWARDED : COUNTER_FORWARDED);
    return 1;
}

/* Forwards the event of an order line's command (command_id) as an OrderLineOutcome. Returns 1 forwarded,
 * 0 passed over, -1. */
static int outcome_forward(struct orders *orders, rd_kafka_t *producer, const rd_kafka_message_t *message,
                           const char *command_id)
{
    struct order_input *input = &orders->scratch.input;
    memset(input, 0, sizeof(*input));
    if (order_command_id_parse(command_id, input->order_id, sizeof(input->order_id), &input->line,
                               &input->op) != 0 ||
        event_decode(orders, message) != 0)
        return 0;
    const struct event *event = &orders->scratch.event;
    if (event->type == EVENT_RESERVATION_EXPIRED) return 0; /* not a line command's outcome */
    input->type = ORDER_INPUT_LINE_OUTCOME;
    input->accepted = event->type != EVENT_COMMAND_REJECTED;
    input->reject_reason = input->accepted ? REJECT_NONE : event->reject_reason;
    return input_forward(orders, producer, message, input);
}

/* Forwards a ReservationExpired of an order line's reservation as an OrderLineExpired (the handler's
 * punctuator decided it, under a command id of its own). Returns 1 forwarded, 0 passed over, -1. */
static int expiry_forward(struct orders *orders, rd_kafka_t *producer, const rd_kafka_message_t *message)
{
    if (event_decode(orders, message) != 0) return 0;
    const struct event *event = &orders->scratch.event;
    struct order_input *input = &orders->scratch.input;
    memset(input, 0, sizeof(*input));
    if (event->type != EVENT_RESERVATION_EXPIRED ||
        order_reservation_id_parse(event->reservation_id, input->order_id, sizeof(input->order_id),
                                   &input->line) != 0)
        return 0; /* a client's reservation */
    input->type = ORDER_INPUT_LINE_EXPIRED;
    return input_forward(orders, producer, message, input);
}

/* Forwards what the order stage follows on events: the outcome of an order line's command, and the expiry
 * of an order line's reservation. Other events pass, decided by their headers without decoding them.
 * Returns 1 forwarded, 0 passed over, -1. */
static int event_forward(struct orders *orders, rd_kafka_t *producer, const rd_kafka_message_t *message)
{
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    char type[64];
    if (header_copy(message, "stockd_command_id", command_id, sizeof(command_id)) &&
        strncmp(command_id, ORDER_ID_PREFIX, sizeof(ORDER_ID_PREFIX) - 1) == 0)
        return outcome_forward(orders, producer, message, command_id);
    if (header_copy(message, "ce_type", type, sizeof(type)) && strcmp(type, ORDERS_EXPIRED_CE_TYPE) == 0)
        return expiry_forward(orders, producer, message);
    return 0;
}

/* ---- deadlines ------------------------------------------------------------------------------------------
 */

/* Sends an OrderDeadline for every placing order past its deadline (bounded per shard). */
static int deadlines_send(struct orders *orders, rd_kafka_t *producer)
{
    char(*due)[STOCKD_ORDER_ID_BYTES_MAX + 1] = orders->scratch.due;
    int64_t now_ms = clock_wall_ms();
    char error[512];
    for (int32_t partition = 0; partition < orders->config->partitions; partition++) {
        if (orders->stores[partition] == NULL) continue;
        int found = order_store_due(orders->stores[partition], now_ms, due, ORDERS_DEADLINES_PER_TICK_MAX,
                                    error, sizeof(error));
        if (found < 0) {
            log_error(COMPONENT, "%s", error);
            return -1;
        }
        if (found == 0) continue;
        struct order_store *store = store_touch(orders, partition);
        if (store == NULL) return -1;
        for (int i = 0; i < found; i++) {
            struct order_input input = {.type = ORDER_INPUT_DEADLINE};
            snprintf(input.order_id, sizeof(input.order_id), "%s", due[i]);
            if (produce_owned(producer, orders->topics.orders, partition, input.order_id,
                              order_codec_input_encode(&input), NULL) != 0 ||
                order_store_deadline_sent(store, input.order_id, error, sizeof(error)) != 0) {
                log_error(COMPONENT, "deadline of order %s: %s", input.order_id, error);
                return -1;
            }
            count(orders, COUNTER_DEADLINES);
        }
        log_info(COMPONENT, "%d order(s) of partition %d passed their deadline: cancelling", found,
                 (int)partition);
    }
    return 0;
}

/* ---- the loop's callbacks -------------------------------------------------------------------------------
 */

/* Most batches hold only events of other commands: they write nothing, and say so (EOS_PROCESS_NOTHING), so
 * that they cost no transaction of their own. */
static int orders_process(void *context, rd_kafka_t *producer, rd_kafka_message_t **messages,
                          size_t message_count)
{
    struct orders *orders = context;
    if (orders->failed) return -1;
    bool wrote = false;
    for (size_t i = 0; i < message_count; i++) {
        const rd_kafka_message_t *message = messages[i];
        const char *topic = rd_kafka_topic_name(message->rkt);
        if (strcmp(topic, orders->topics.events) == 0) {
            int forwarded = event_forward(orders, producer, message);
            if (forwarded < 0) return -1;
            wrote = wrote || forwarded > 0;
            continue;
        }
        struct order_store *store = store_touch(orders, message->partition);
        if (store == NULL || order_record_fold(orders, store, producer, message) != 0) return -1;
        orders->next_checkpoint[message->partition] = message->offset + 1;
        wrote = true;
    }
    if (orders->deadlines_due) {
        orders->deadlines_due = false;
        if (deadlines_send(orders, producer) != 0) return -1;
        wrote = true;
    }
    return wrote ? 0 : EOS_PROCESS_NOTHING;
}

/* Publishes a shard's committed checkpoint for orders_wait_position (0: not assigned here). */
static void folded_next_set(struct orders *orders, int32_t partition, int64_t checkpoint)
{
    pthread_mutex_lock(&orders->commit_mutex);
    orders->folded_next[partition] = checkpoint;
    pthread_mutex_unlock(&orders->commit_mutex);
}

static void orders_committed(void *context)
{
    struct orders *orders = context;
    char error[512];
    for (int32_t partition = 0; partition < STOCKD_PARTITIONS_MAX; partition++) {
        if (!orders->touched[partition]) continue;
        orders->touched[partition] = false;
        if (order_store_commit(orders->stores[partition], orders->next_checkpoint[partition], error,
                               sizeof(error)) != 0) {
            /* Kafka has the batch, the shard does not: stop, and the next start folds it again. */
            log_error(COMPONENT, "%s: stopping (the next start restores the shard from the topic)", error);
            orders->failed = true;
            continue;
        }
        folded_next_set(orders, partition, orders->next_checkpoint[partition]);
    }
    count(orders, COUNTER_BATCHES_COMMITTED);
    pthread_mutex_lock(&orders->commit_mutex);
    orders->commit_count++;
    pthread_cond_broadcast(&orders->commit_changed);
    pthread_mutex_unlock(&orders->commit_mutex);
}

static void orders_aborted(void *context)
{
    struct orders *orders = context;
    for (int32_t partition = 0; partition < STOCKD_PARTITIONS_MAX; partition++) {
        if (!orders->touched[partition]) continue;
        orders->touched[partition] = false;
        order_store_rollback(orders->stores[partition]);
    }
    count(orders, COUNTER_BATCHES_ABORTED);
}

/* Once per ORDERS_TICK_INTERVAL_MS, asks the shards whether a placing order passed its deadline: only
 * then does the stage take a turn (a transaction) without input. */
static bool orders_tick_due(void *context, int64_t now_ms)
{
    (void)now_ms; /* the loop's clock; the stage keeps its own */
    struct orders *orders = context;
    int64_t monotonic_now_ms = clock_monotonic_ms();
    if (monotonic_now_ms < orders->tick_next_ms) return orders->deadlines_due;
    orders->tick_next_ms = monotonic_now_ms + ORDERS_TICK_INTERVAL_MS;
    int64_t wall_now_ms = clock_wall_ms();
    char error[512];
    for (int32_t partition = 0; partition < orders->config->partitions && !orders->deadlines_due;
         partition++) {
        if (orders->stores[partition] == NULL) continue;
        int found = order_store_due(orders->stores[partition], wall_now_ms, orders->scratch.due, 1, error,
                                    sizeof(error));
        if (found < 0) log_warn(COMPONENT, "%s", error); /* the next tick asks again */
        orders->deadlines_due = found > 0;
    }
    return orders->deadlines_due;
}

/* ---- restore --------------------------------------------------------------------------------------------
 */

static rd_kafka_t *restore_consumer_get(struct orders *orders, char *error, size_t error_bytes)
{
    if (orders->restore_consumer != NULL) return orders->restore_consumer;
    rd_kafka_conf_t *conf = kafka_conf_new(orders->config, "orders-restore", error, error_bytes);
    if (conf == NULL) return NULL;
    /* assign() only: the group id is never joined nor committed to, but consumer_poll needs one. */
    char group_id[sizeof(orders->group_id) + STOCKD_ID_BYTES_MAX + 16];
    snprintf(group_id, sizeof(group_id), "%s-restore-%s", orders->group_id, orders->config->instance_id);
    if (kafka_conf_set(conf, "group.id", group_id, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "isolation.level", "read_committed", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "fetch.queue.backoff.ms", KAFKA_FETCH_QUEUE_BACKOFF_MS, error, error_bytes) !=
            0 ||
        kafka_conf_set(conf, "fetch.wait.max.ms", "10", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    orders->restore_consumer = kafka_client_new(RD_KAFKA_CONSUMER, conf, error, error_bytes);
    return orders->restore_consumer;
}

/* Folds the records of a shard's partition from its checkpoint up to (not including) end, the group's
 * committed offset: what Kafka has and the shard lost in a crash between the two commits. Nothing is sent:
 * it was, when those records were first read. Returns 0, or -1 with a message. */
static int store_restore(struct orders *orders, struct order_store *store, int64_t end, char *error,
                         size_t error_bytes)
{
    int32_t partition = order_store_partition(store);
    int64_t next = order_store_checkpoint(store);
    if (next == end) return 0;
    if (next > end) {
        snprintf(error, error_bytes,
                 "orders shard %d is at offset %lld, past the group's committed offset %lld: was the topic "
                 "recreated? Delete %.200s/orders/orders-%04d.db to rebuild it",
                 (int)partition, (long long)next, (long long)end, orders->config->data_dir, (int)partition);
        return -1;
    }
    rd_kafka_t *consumer = restore_consumer_get(orders, error, error_bytes);
    if (consumer == NULL) return -1;
    log_info(COMPONENT, "restoring orders shard %d: offsets %lld to %lld", (int)partition, (long long)next,
             (long long)end);
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, orders->topics.orders, partition)->offset = next;
    rd_kafka_assign(consumer, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    int status = -1;
    int idle_ms = 0;
    long folded = 0;
    while (next < end) {
        if (atomic_load(orders->stop)) {
            snprintf(error, error_bytes, "restore interrupted by shutdown");
            goto out_unassign;
        }
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 500);
        if (message == NULL) {
            if ((idle_ms += 500) < ORDERS_RESTORE_IDLE_TIMEOUT_MS) continue;
            snprintf(error, error_bytes, "restore of orders shard %d: no record for %d s", (int)partition,
                     ORDERS_RESTORE_IDLE_TIMEOUT_MS / 1000);
            goto out_unassign;
        }
        idle_ms = 0;
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (message->offset >= end) next = end; /* only transaction markers were left */
        } else if (message->err) {
            log_warn(COMPONENT, "restore: %s", rd_kafka_message_errstr(message));
        } else if (message->offset >= end) {
            next = end;
        } else if (order_store_begin(store, error, error_bytes) != 0 ||
                   order_record_fold(orders, store, NULL, message) != 0) {
            snprintf(error, error_bytes, "restore of orders shard %d failed at offset %lld", (int)partition,
                     (long long)message->offset);
            rd_kafka_message_destroy(message);
            order_store_rollback(store);
            goto out_unassign;
        } else {
            next = message->offset + 1;
            if (++folded % ORDERS_RESTORE_COMMIT_EVERY == 0 &&
                order_store_commit(store, next, error, error_bytes) != 0) {
                rd_kafka_message_destroy(message);
                goto out_unassign;
            }
        }
        rd_kafka_message_destroy(message);
    }
    status = order_store_begin(store, error, error_bytes) == 0
                 ? order_store_commit(store, end, error, error_bytes)
                 : -1;
    if (status == 0)
        log_info(COMPONENT, "restored orders shard %d: %ld record(s) folded again", (int)partition, folded);
out_unassign:
    rd_kafka_assign(consumer, NULL);
    return status;
}

static void stores_close(struct orders *orders, const rd_kafka_topic_partition_list_t *partitions)
{
    for (int i = 0; partitions != NULL && i < partitions->cnt; i++) {
        const rd_kafka_topic_partition_t *element = &partitions->elems[i];
        if (strcmp(element->topic, orders->topics.orders) != 0) continue;
        int32_t partition = element->partition;
        if (partition < 0 || partition >= STOCKD_PARTITIONS_MAX) continue;
        atomic_store(&orders->owned[partition], false);
        folded_next_set(orders, partition, 0);
        order_store_close(orders->stores[partition]);
        orders->stores[partition] = NULL;
        orders->touched[partition] = false;
    }
}

static int orders_assigned(void *context, const rd_kafka_topic_partition_list_t *partitions)
{
    struct orders *orders = context;
    char error[512];
    for (int i = 0; i < partitions->cnt; i++) {
        const rd_kafka_topic_partition_t *element = &partitions->elems[i];
        if (strcmp(element->topic, orders->topics.orders) != 0) continue; /* events: nothing to restore */
        int32_t partition = element->partition;
        if (partition < 0 || partition >= orders->config->partitions) {
            log_error(COMPONENT, "orders partition %d is outside kafka.partitions", (int)partition);
            return -1;
        }
        int64_t committed = eos_stage_committed_offset(orders->stage, orders->topics.orders, partition);
        if (committed < 0) {
            log_error(COMPONENT, "no committed offset for orders partition %d", (int)partition);
            return -1;
        }
        if (orders->stores[partition] == NULL &&
            (orders->stores[partition] =
                 order_store_open(orders->config->data_dir, partition, error, sizeof(error))) == NULL) {
            log_error(COMPONENT, "%s", error);
            return -1;
        }
        if (store_restore(orders, orders->stores[partition], committed, error, sizeof(error)) != 0) {
            log_error(COMPONENT, "%s", error);
            return -1;
        }
        folded_next_set(orders, partition, order_store_checkpoint(orders->stores[partition]));
        atomic_store(&orders->owned[partition], true);
    }
    return 0;
}

static void orders_revoked(void *context, const rd_kafka_topic_partition_list_t *partitions)
{
    stores_close(context, partitions);
}

/* ---- lifecycle ------------------------------------------------------------------------------------------
 */

struct orders *orders_create(const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(config != NULL);
    assert(config->partitions >= 1 && config->partitions <= STOCKD_PARTITIONS_MAX);
    struct orders *orders = calloc(1, sizeof(*orders));
    if (orders == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    orders->config = config;
    kafka_topics_names(config->topic_prefix, &orders->topics);
    snprintf(orders->group_id, sizeof(orders->group_id), "%s-orders", config->topic_prefix);
    stage_threads_worker_names(config, "orders", 0, orders->name, sizeof(orders->name),
                               orders->transactional_id, sizeof(orders->transactional_id));
    pthread_mutex_init(&orders->commit_mutex, NULL);
    pthread_cond_init(&orders->commit_changed, NULL);
    for (int i = 0; i < STOCKD_PARTITIONS_MAX; i++)
        atomic_init(&orders->owned[i], false);
    struct eos_stage_settings settings = {
        .name = orders->name,
        .input_topic = orders->topics.orders,
        .input_topic_more = orders->topics.events,
        .output_topics = {orders->topics.orders, orders->topics.by_sku},
        .group_id = orders->group_id,
        .transactional_id = orders->transactional_id,
        .batch_max = ORDERS_BATCH_MAX,
        .poll_timeout_ms = 0,
        .fetch_wait_max_ms = ORDERS_FETCH_WAIT_MS,
    };
    static const struct eos_stage_ops ops = {
        .assigned = orders_assigned,
        .revoked = orders_revoked,
        .process = orders_process,
        .committed = orders_committed,
        .aborted = orders_aborted,
        .tick_due = orders_tick_due,
    };
    orders->stage = eos_stage_create(config, &settings, &ops, orders, error, error_bytes);
    if (orders->stage == NULL) {
        orders_destroy(orders);
        return NULL;
    }
    return orders;
}

int orders_run(struct orders *orders, const atomic_bool *stop)
{
    assert(orders != NULL && stop != NULL);
    orders->stop = stop;
    int status = eos_stage_run(orders->stage, stop);
    for (int32_t partition = 0; partition < STOCKD_PARTITIONS_MAX; partition++) {
        atomic_store(&orders->owned[partition], false);
        folded_next_set(orders, partition, 0);
        order_store_close(orders->stores[partition]);
        orders->stores[partition] = NULL;
    }
    if (orders->restore_consumer != NULL) {
        rd_kafka_consumer_close(orders->restore_consumer);
        rd_kafka_destroy(orders->restore_consumer);
        orders->restore_consumer = NULL;
    }
    /* Wake the API's waiters: nothing more will commit here. */
    pthread_mutex_lock(&orders->commit_mutex);
    orders->commit_count++;
    pthread_cond_broadcast(&orders->commit_changed);
    pthread_mutex_unlock(&orders->commit_mutex);
    return status != 0 || orders->failed ? -1 : 0;
}

void orders_destroy(struct orders *orders)
{
    if (orders == NULL) return;
    eos_stage_destroy(orders->stage);
    pthread_cond_destroy(&orders->commit_changed);
    pthread_mutex_destroy(&orders->commit_mutex);
    free(orders);
}

bool orders_partition_owned(const struct orders *orders, int32_t partition)
{
    assert(orders != NULL);
    return partition >= 0 && partition < STOCKD_PARTITIONS_MAX && atomic_load(&orders->owned[partition]);
}

uint64_t orders_commit_count(struct orders *orders)
{
    pthread_mutex_lock(&orders->commit_mutex);
    uint64_t value = orders->commit_count;
    pthread_mutex_unlock(&orders->commit_mutex);
    return value;
}

int orders_wait_commit(struct orders *orders, uint64_t seen_commits, int timeout_ms)
{
    assert(orders != NULL);
    struct timespec deadline = clock_deadline_after(CLOCK_REALTIME, timeout_ms); /* commit_changed's clock */
    pthread_mutex_lock(&orders->commit_mutex);
    while (orders->commit_count <= seen_commits) {
        if (pthread_cond_timedwait(&orders->commit_changed, &orders->commit_mutex, &deadline) != 0) break;
    }
    int passed = orders->commit_count > seen_commits;
    pthread_mutex_unlock(&orders->commit_mutex);
    return passed;
}

int orders_wait_position(struct orders *orders, int32_t partition, int64_t offset, int timeout_ms)
{
    assert(orders != NULL);
    if (partition < 0 || partition >= orders->config->partitions || offset < 0) return -1;
    struct timespec deadline = clock_deadline_after(CLOCK_REALTIME, timeout_ms); /* commit_changed's clock */
    pthread_mutex_lock(&orders->commit_mutex);
    while (orders->folded_next[partition] <= offset) {
        if (pthread_cond_timedwait(&orders->commit_changed, &orders->commit_mutex, &deadline) != 0) break;
    }
    int passed = orders->folded_next[partition] > offset;
    pthread_mutex_unlock(&orders->commit_mutex);
    return passed;
}

void orders_stats_get(const struct orders *orders, struct orders_stats *out)
{
    uint64_t values[COUNTER_COUNT];
    for (int i = 0; i < COUNTER_COUNT; i++)
        values[i] = atomic_load(&orders->counters[i]);
    *out = (struct orders_stats){
        .orders_placed = values[COUNTER_PLACED],
        .orders_confirmed = values[COUNTER_CONFIRMED],
        .orders_rejected = values[COUNTER_REJECTED],
        .orders_released = values[COUNTER_RELEASED],
        .orders_fulfilled = values[COUNTER_FULFILLED],
        .orders_expired = values[COUNTER_EXPIRED],
        .outcomes_forwarded = values[COUNTER_FORWARDED],
        .expiries_forwarded = values[COUNTER_EXPIRIES_FORWARDED],
        .commands_sent = values[COUNTER_COMMANDS],
        .deadlines_sent = values[COUNTER_DEADLINES],
        .inputs_ignored = values[COUNTER_IGNORED],
        .inputs_restored = values[COUNTER_RESTORED],
        .records_dead_lettered = values[COUNTER_DEAD_LETTERED],
        .batches_committed = values[COUNTER_BATCHES_COMMITTED],
        .batches_aborted = values[COUNTER_BATCHES_ABORTED],
    };
}
