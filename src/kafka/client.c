/* client.c - librdkafka configuration from stockd's config, with logs routed to log.h.
 *
 * Order matters: defaults, then the user's kafka.properties (SASL, TLS, tuning), then what each stage
 * sets for correctness (transactional.id, isolation.level, ...), which therefore always wins. */
#include "kafka/client.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

void kafka_topics_names(const char *prefix, struct kafka_topics *out)
{
    assert(prefix != NULL && strlen(prefix) <= STOCKD_SKU_BYTES_MAX);
    snprintf(out->commands, sizeof(out->commands), "%s.commands", prefix);
    snprintf(out->by_sku, sizeof(out->by_sku), "%s.commands.by-sku", prefix);
    snprintf(out->events, sizeof(out->events), "%s.events", prefix);
    snprintf(out->dlq, sizeof(out->dlq), "%s.dlq", prefix);
    snprintf(out->orders, sizeof(out->orders), "%s.orders", prefix);
}

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *error,
                   size_t error_bytes)
{
    char reason[256];
    if (rd_kafka_conf_set(conf, name, value, reason, sizeof(reason)) == RD_KAFKA_CONF_OK) return 0;
    snprintf(error, error_bytes, "kafka property %s: %s", name, reason);
    return -1;
}

/* librdkafka's own log lines, at a level mapped onto ours (syslog levels: 3 error, 4 warning, 6 info). */
static void client_log(const rd_kafka_t *rk, int level, const char *facility, const char *message)
{
    enum log_level mapped = level <= 3   ? LOG_ERROR
                            : level == 4 ? LOG_WARN
                            : level <= 6 ? LOG_INFO
                                         : LOG_DEBUG;
    log_write(mapped, rd_kafka_name(rk), "%s: %s", facility, message);
}

/* Client-level errors: most are transient (a broker down) and librdkafka retries them itself. */
static void client_error(rd_kafka_t *rk, int error_code, const char *reason, void *opaque)
{
    (void)opaque;
    rd_kafka_resp_err_t code = (rd_kafka_resp_err_t)error_code;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[256];
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        log_error(rd_kafka_name(rk), "fatal: %s", fatal);
        return;
    }
    enum log_level level = code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? LOG_WARN : LOG_INFO;
    log_write(level, rd_kafka_name(rk), "%s: %s", rd_kafka_err2name(code), reason);
}

rd_kafka_conf_t *kafka_conf_new(const struct stockd_config *config, const char *role, char *error,
                                size_t error_bytes)
{
    assert(config != NULL && role != NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char client_id[STOCKD_ID_BYTES_MAX + 64];
    snprintf(client_id, sizeof(client_id), "%s-%s", config->instance_id, role);
    if (kafka_conf_set(conf, "bootstrap.servers", config->kafka_bootstrap, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "client.id", client_id, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "log.connection.close", "false", error, error_bytes) != 0)
        goto out_destroy;
    for (size_t i = 0; i < config->kafka_property_count; i++) {
        const struct stockd_kafka_property *property = &config->kafka_properties[i];
        if (kafka_conf_set(conf, property->name, property->value, error, error_bytes) != 0) goto out_destroy;
    }
    rd_kafka_conf_set_log_cb(conf, client_log);
    rd_kafka_conf_set_error_cb(conf, client_error);
    return conf;
out_destroy:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *error, size_t error_bytes)
{
    assert(conf != NULL);
    char reason[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, reason, sizeof(reason));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes ownership only on success */
        snprintf(error, error_bytes, "cannot create Kafka client: %s", reason);
        return NULL;
    }
    return rk;
}

int kafka_topics_warm(rd_kafka_t *rk, const char *const *topics, size_t count, int timeout_ms, char *error,
                      size_t error_bytes)
{
    assert(rk != NULL && (topics != NULL || count == 0));
    int status = 0;
    for (size_t i = 0; i < count; i++) {
        rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, topics[i], NULL);
        if (topic == NULL) {
            if (status == 0)
                snprintf(error, error_bytes, "%s: %s", topics[i], rd_kafka_err2str(rd_kafka_last_error()));
            status = -1;
            continue;
        }
        const struct rd_kafka_metadata *metadata = NULL;
        rd_kafka_resp_err_t result = rd_kafka_metadata(rk, 0, topic, &metadata, timeout_ms);
        if (result == RD_KAFKA_RESP_ERR_NO_ERROR && metadata != NULL && metadata->topic_cnt == 1 &&
            metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            result = metadata->topics[0].err;
        if (metadata != NULL) rd_kafka_metadata_destroy(metadata);
        rd_kafka_topic_destroy(topic);
        if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (status == 0) snprintf(error, error_bytes, "%s: %s", topics[i], rd_kafka_err2str(result));
            status = -1;
        }
    }
    return status;
}

void kafka_time_rfc3339(int64_t time_ms, char *out, size_t out_bytes)
{
    time_t seconds = (time_t)(time_ms / 1000);
    struct tm utc;
    char date[32];
    /* RFC 3339 has four-digit years: a time before 1970 or past year 9999 (only a foreign record's timestamp
     * can be one; the codec bounds event times) is written as its milliseconds instead. */
    if (time_ms < 0 || gmtime_r(&seconds, &utc) == NULL ||
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &utc) == 0 || strlen(date) != 19) {
        snprintf(out, out_bytes, "%" PRId64 "ms", time_ms);
        return;
    }
    snprintf(out, out_bytes, "%s.%03dZ", date, (int)(time_ms % 1000));
}

int kafka_log_end_offset(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                         int64_t *log_end, char *error, size_t error_bytes)
{
    assert(rk != NULL && topic != NULL && log_end != NULL && timeout_ms > 0);
    char reason[256];
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTOFFSETS);
    rd_kafka_error_t *refused =
        rd_kafka_AdminOptions_set_isolation_level(options, RD_KAFKA_ISOLATION_LEVEL_READ_UNCOMMITTED);
    if (refused != NULL ||
        rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, reason, sizeof(reason)) != 0) {
        snprintf(error, error_bytes, "log end of %s [%d]: options refused", topic, (int)partition);
        if (refused != NULL) rd_kafka_error_destroy(refused);
        rd_kafka_AdminOptions_destroy(options);
        return -1;
    }
    rd_kafka_topic_partition_list_t *request = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(request, topic, partition)->offset = RD_KAFKA_OFFSET_SPEC_LATEST;
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_ListOffsets(rk, request, options, queue);
    rd_kafka_topic_partition_list_destroy(request);
    rd_kafka_AdminOptions_destroy(options);
    /* The request times out by itself after timeout_ms: the extra second only covers its answer's way. */
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, timeout_ms + 1000);
    int status = -1;
    if (event == NULL) {
        snprintf(error, error_bytes, "log end of %s [%d]: no answer", topic, (int)partition);
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_bytes, "log end of %s [%d]: %s", topic, (int)partition,
                 rd_kafka_event_error_string(event));
    } else {
        size_t count = 0;
        const rd_kafka_ListOffsetsResultInfo_t **infos =
            rd_kafka_ListOffsets_result_infos(rd_kafka_event_ListOffsets_result(event), &count);
        const rd_kafka_topic_partition_t *answer =
            count == 1 ? rd_kafka_ListOffsetsResultInfo_topic_partition(infos[0]) : NULL;
        if (answer == NULL || answer->err != RD_KAFKA_RESP_ERR_NO_ERROR || answer->offset < 0) {
            snprintf(error, error_bytes, "log end of %s [%d]: %s", topic, (int)partition,
                     answer == NULL ? "no partition in the answer" : rd_kafka_err2str(answer->err));
        } else {
            *log_end = answer->offset;
            status = 0;
        }
    }
    if (event != NULL) rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    return status;
}
