/* producer.c - the API's Kafka producer: commands straight to <prefix>.commands.by-sku, each request waiting
 * for its ack.
 *
 * Idempotent (enable.idempotence: acks=all, no duplicates or reordering from retries), keyed by SKU on the
 * partition the handler expects, murmur2(SKU) % kafka.partitions, given explicitly: no router hop. A request
 * thread produces and sleeps on its own condition variable; one poller thread serves delivery reports. A
 * full local queue is retried briefly, then reported as overload. Never validates: the caller does. */
#include "api/internal.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "kafka/client.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "stage_threads.h"

#define COMPONENT "api"

/* Messages queued in the producer at most: bounded memory (each is < 1 KiB, so < 64 MiB), and a request
 * that finds it full waits up to API_PRODUCER_FULL_WAIT_MS before it is refused with 503. */
#define API_PRODUCER_QUEUE_MAX    65536
#define API_PRODUCER_FULL_WAIT_MS 1000
#define API_PRODUCER_DELIVERY_MS  15000
/* The in-sync replicas of every partition written to are read from the cluster's metadata this often (one
 * small request, on a thread of its own: the poller must not wait for it). A partition with fewer than
 * kafka.min_insync_replicas refuses acks=all writes (NOT_ENOUGH_REPLICAS), which librdkafka retries until
 * the delivery timeout: a client waited API_PRODUCER_DELIVERY_MS for its 503. Now a command for such a
 * partition is answered 503 at once, and not produced; the other partitions go on. A reading older than
 * API_PRODUCER_HEALTH_STALE_MS (the cluster did not answer) refuses nothing: the produce decides then. */
#define API_PRODUCER_HEALTH_INTERVAL_MS 1000
#define API_PRODUCER_HEALTH_STALE_MS    3000

struct api_producer {
    rd_kafka_t *kafka;
    /* Held from the start so that librdkafka fetches the topic's metadata in the background (its scan of
     * known topics) rather than when the first command is produced. */
    rd_kafka_topic_t *topic_handle;
    char topic[STOCKD_SKU_BYTES_MAX + 32];
    char orders_topic[STOCKD_SKU_BYTES_MAX + 32]; /* POST /v1/orders and its release and fulfil */
    int32_t partition_count; /* kafka.partitions: topics_ensure refused to start when by-sku differs */
    int32_t min_insync;      /* kafka.min_insync_replicas; 0 or 1: nothing to watch */
    pthread_t poller;
    pthread_t watcher; /* health_main, when min_insync > 1 */
    atomic_bool stop;
    bool poller_running;
    bool watcher_running;
    /* The last reading of each partition's in-sync replicas (-1: unknown), [0] by-sku, [1] orders, and when
     * it was taken (monotonic ms, 0: never). Written by the watcher, read by request threads. */
    _Atomic int32_t (*isr)[2];
    _Atomic int64_t isr_read_ms;
};

/* One request's wait for its delivery report. */
struct delivery {
    pthread_mutex_t mutex;
    pthread_cond_t done_cond;
    bool done;
    rd_kafka_resp_err_t status;
    struct view_position position; /* where the record was written, when status is NO_ERROR */
};

static void delivery_report(rd_kafka_t *kafka, const rd_kafka_message_t *message, void *opaque)
{
    (void)kafka;
    (void)opaque;
    struct delivery *delivery = message->_private;
    assert(delivery != NULL);
    pthread_mutex_lock(&delivery->mutex);
    delivery->status = message->err;
    delivery->position = (struct view_position){message->partition, message->offset};
    delivery->done = true;
    pthread_cond_signal(&delivery->done_cond);
    pthread_mutex_unlock(&delivery->mutex);
}

static void *poller_main(void *argument)
{
    struct api_producer *producer = argument;
    thread_name_set("api-producer", NULL);
    while (!atomic_load(&producer->stop))
        rd_kafka_poll(producer->kafka, 100);
    return NULL;
}

/* Reads the in-sync replica counts of the by-sku and orders topics from one metadata request. */
static void health_read(struct api_producer *producer)
{
    const struct rd_kafka_metadata *metadata = NULL;
    if (rd_kafka_metadata(producer->kafka, 0, NULL, &metadata, API_PRODUCER_HEALTH_INTERVAL_MS) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        metadata == NULL)
        return;
    for (int t = 0; t < metadata->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *topic = &metadata->topics[t];
        int slot = strcmp(topic->topic, producer->topic) == 0          ? 0
                   : strcmp(topic->topic, producer->orders_topic) == 0 ? 1
                                                                       : -1;
        if (slot < 0 || topic->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        for (int p = 0; p < topic->partition_cnt; p++) {
            const rd_kafka_metadata_partition_t *partition = &topic->partitions[p];
            if (partition->id < 0 || partition->id >= producer->partition_count) continue;
            atomic_store(&producer->isr[partition->id][slot], partition->leader < 0 ? 0 : partition->isr_cnt);
        }
    }
    rd_kafka_metadata_destroy(metadata);
    atomic_store(&producer->isr_read_ms, (int64_t)clock_monotonic_ms());
}

static void *health_main(void *argument)
{
    struct api_producer *producer = argument;
    thread_name_set("api-isr", NULL);
    while (!atomic_load(&producer->stop)) {
        double started_ms = clock_monotonic_ms();
        health_read(producer);
        while (!atomic_load(&producer->stop) &&
               clock_monotonic_ms() - started_ms < API_PRODUCER_HEALTH_INTERVAL_MS) {
            struct timespec pause = {0, 50 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

/* 0, or -1 with a message when the last fresh reading says partition of topic slot cannot take an acks=all
 * write now. */
static int health_refuses(struct api_producer *producer, int slot, const char *topic, int32_t partition,
                          char *error, size_t error_bytes)
{
    if (!producer->watcher_running || partition < 0 || partition >= producer->partition_count) return 0;
    int64_t read_ms = atomic_load(&producer->isr_read_ms);
    if (read_ms == 0 || clock_monotonic_ms() - (double)read_ms > API_PRODUCER_HEALTH_STALE_MS) return 0;
    int32_t isr = atomic_load(&producer->isr[partition][slot]);
    if (isr < 0 || isr >= producer->min_insync) return 0;
    snprintf(error, error_bytes,
             "partition %d of %s has %d in-sync replica(s), fewer than min.insync.replicas=%d: Kafka refuses "
             "writes there until a broker is back (nothing was written; retry later)",
             (int)partition, topic, (int)isr, (int)producer->min_insync);
    return -1;
}

struct api_producer *api_producer_create(const struct stockd_config *config, char *error, size_t error_bytes)
{
    struct api_producer *producer = calloc(1, sizeof(*producer));
    if (producer == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    struct kafka_topics topics;
    kafka_topics_names(config->topic_prefix, &topics);
    snprintf(producer->topic, sizeof(producer->topic), "%s", topics.by_sku);
    snprintf(producer->orders_topic, sizeof(producer->orders_topic), "%s", topics.orders);
    producer->partition_count = config->partitions;
    producer->min_insync = config->min_insync_replicas;
    producer->isr = calloc((size_t)config->partitions, sizeof(*producer->isr));
    if (producer->isr == NULL) {
        snprintf(error, error_bytes, "out of memory");
        free(producer);
        return NULL;
    }
    for (int32_t p = 0; p < config->partitions; p++) {
        atomic_init(&producer->isr[p][0], -1);
        atomic_init(&producer->isr[p][1], -1);
    }
    rd_kafka_conf_t *conf = kafka_conf_new(config, "api", error, error_bytes);
    if (conf == NULL) goto out_free;
    char queue_max[16];
    snprintf(queue_max, sizeof(queue_max), "%d", API_PRODUCER_QUEUE_MAX);
    char delivery_ms[16];
    snprintf(delivery_ms, sizeof(delivery_ms), "%d", API_PRODUCER_DELIVERY_MS);
    /* No partitioner: every record names its partition (record_queue). linger.ms 0: a command goes out at
     * once (records queued while earlier requests are in flight are batched all the same); 1 ms cost a
     * synchronous command 0.9 ms (p50 6.0-7.1 -> 5.1-6.3 ms, three alternating runs). */
    if (kafka_conf_set(conf, "enable.idempotence", "true", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "acks", "all", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "linger.ms", "0", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "queue.buffering.max.messages", queue_max, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "message.timeout.ms", delivery_ms, error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        goto out_free;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_report);
    producer->kafka = kafka_client_new(RD_KAFKA_PRODUCER, conf, error, error_bytes);
    conf = NULL; /* taken by kafka_client_new */
    if (producer->kafka == NULL) goto out_free;
    producer->topic_handle = rd_kafka_topic_new(producer->kafka, producer->topic, NULL);
    if (producer->topic_handle == NULL) {
        snprintf(error, error_bytes, "topic %s: %s", producer->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto out_free;
    }
    if (pthread_create(&producer->poller, NULL, poller_main, producer) != 0) {
        snprintf(error, error_bytes, "cannot start the producer's poll thread");
        goto out_free;
    }
    producer->poller_running = true;
    if (producer->min_insync > 1) {
        if (pthread_create(&producer->watcher, NULL, health_main, producer) != 0) {
            snprintf(error, error_bytes, "cannot start the producer's replica watcher");
            goto out_free;
        }
        producer->watcher_running = true;
    }
    return producer;
out_free:
    api_producer_destroy(producer);
    return NULL;
}

/* Queues one record on partition (the key's murmur2 partition, computed by the caller) of topic, retrying a
 * full local queue for up to API_PRODUCER_FULL_WAIT_MS. A command's header stockd_command_id is the one the
 * router writes too: what the handler reads is the same whichever way a command came (command_id NULL: no
 * header). */
static rd_kafka_resp_err_t record_queue(struct api_producer *producer, const char *topic, int32_t partition,
                                        const char *key, const char *command_id, const char *value,
                                        size_t value_bytes, struct delivery *delivery)
{
    size_t key_bytes = strlen(key);
    rd_kafka_headers_t *headers = NULL;
    if (command_id != NULL) {
        headers = rd_kafka_headers_new(1);
        rd_kafka_header_add(headers, "stockd_command_id", -1, command_id, -1);
    }
    int64_t full_since_ms = clock_wall_ms();
    for (;;) {
        rd_kafka_resp_err_t status =
            rd_kafka_producev(producer->kafka, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, key_bytes), RD_KAFKA_V_VALUE((void *)value, value_bytes),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                              RD_KAFKA_V_OPAQUE(delivery), RD_KAFKA_V_END);
        if (status == RD_KAFKA_RESP_ERR_NO_ERROR) return status; /* librdkafka owns the headers now */
        if (status != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
            clock_wall_ms() - full_since_ms > API_PRODUCER_FULL_WAIT_MS) {
            if (headers != NULL) rd_kafka_headers_destroy(headers);
            return status;
        }
        struct timespec pause = {0, 5 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* Produces one record and waits for its delivery report; as api_producer_send. On 0, *position (when not
 * NULL) is where the record was written. */
static int record_send(struct api_producer *producer, const char *topic, const char *key,
                       const char *command_id, const char *value, size_t value_bytes,
                       struct view_position *position, char *error, size_t error_bytes)
{
    int32_t partition = murmur2_partition(key, strlen(key), producer->partition_count);
    if (health_refuses(producer, topic == producer->topic ? 0 : 1, topic, partition, error, error_bytes) != 0)
        return -1;
    struct delivery delivery = {.done = false};
    pthread_mutex_init(&delivery.mutex, NULL);
    pthread_cond_init(&delivery.done_cond, NULL);
    rd_kafka_resp_err_t status =
        record_queue(producer, topic, partition, key, command_id, value, value_bytes, &delivery);
    int result = 0;
    if (status == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        snprintf(error, error_bytes, "the producer queue stayed full for %d ms", API_PRODUCER_FULL_WAIT_MS);
        result = 1;
    } else if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_bytes, "produce: %s", rd_kafka_err2str(status));
        result = -1;
    } else {
        pthread_mutex_lock(&delivery.mutex);
        while (!delivery.done)
            pthread_cond_wait(&delivery.done_cond, &delivery.mutex);
        pthread_mutex_unlock(&delivery.mutex);
        if (delivery.status != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(error, error_bytes, "delivery: %s", rd_kafka_err2str(delivery.status));
            result = -1;
        } else if (position != NULL) {
            *position = delivery.position;
        }
    }
    pthread_cond_destroy(&delivery.done_cond);
    pthread_mutex_destroy(&delivery.mutex);
    return result;
}

int api_producer_send(struct api_producer *producer, const char *sku, const char *command_id,
                      const char *value, size_t value_bytes, char *error, size_t error_bytes)
{
    assert(producer != NULL && sku != NULL && command_id != NULL && value != NULL);
    assert(sku[0] != '\0' && command_id[0] != '\0');
    return record_send(producer, producer->topic, sku, command_id, value, value_bytes, NULL, error,
                       error_bytes);
}

int api_producer_send_order(struct api_producer *producer, const char *order_id, const char *value,
                            size_t value_bytes, struct view_position *position, char *error,
                            size_t error_bytes)
{
    assert(producer != NULL && order_id != NULL && order_id[0] != '\0' && value != NULL && position != NULL);
    return record_send(producer, producer->orders_topic, order_id, NULL, value, value_bytes, position, error,
                       error_bytes);
}

void api_producer_broker_check(struct api_producer *producer, int timeout_ms, int32_t min_insync,
                               struct api_broker_health *health)
{
    assert(producer != NULL && health != NULL && timeout_ms > 0);
    *health = (struct api_broker_health){.reachable = false};
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_resp_err_t status =
        rd_kafka_metadata(producer->kafka, 0, producer->topic_handle, &metadata, timeout_ms);
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR || metadata == NULL) return;
    health->reachable = true;
    for (int t = 0; t < metadata->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *found = &metadata->topics[t];
        if (strcmp(found->topic, producer->topic) != 0 || found->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        health->partitions = found->partition_cnt;
        for (int p = 0; p < found->partition_cnt; p++) {
            const rd_kafka_metadata_partition_t *partition = &found->partitions[p];
            if (partition->leader < 0)
                health->partitions_leaderless++;
            else if (partition->isr_cnt < min_insync)
                health->partitions_short++;
        }
    }
    rd_kafka_metadata_destroy(metadata);
}

void api_producer_destroy(struct api_producer *producer)
{
    if (producer == NULL) return;
    if (producer->kafka != NULL) {
        rd_kafka_resp_err_t status = rd_kafka_flush(producer->kafka, 10000);
        if (status != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn(COMPONENT, "producer flush at stop: %s", rd_kafka_err2str(status));
    }
    atomic_store(&producer->stop, true);
    if (producer->poller_running) pthread_join(producer->poller, NULL);
    if (producer->watcher_running) pthread_join(producer->watcher, NULL);
    if (producer->topic_handle != NULL) rd_kafka_topic_destroy(producer->topic_handle);
    if (producer->kafka != NULL) rd_kafka_destroy(producer->kafka);
    free(producer->isr);
    free(producer);
}
