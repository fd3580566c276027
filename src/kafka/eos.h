/* eos.h - the exactly-once consume-process-produce loop that the router and the handler share.
 *
 * One consumer in a group (eager range assignment, read_committed, no auto commit) and one transactional
 * producer. Each turn: collect a bounded batch (until the poll runs dry or the batch is full), begin a
 * transaction, let the stage process it (producing what it wants), send the consumed offsets with fresh
 * group metadata, commit. Abortable errors abort, rewind to the batch start and tell the stage; fatal
 * errors (fenced) tear both clients down and rejoin. The stage never calls transaction functions. */
#ifndef STOCKD_EOS_H
#define STOCKD_EOS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "metrics.h"

struct eos_stage;

/* process's answer for a batch that wrote nothing: reading it again after a crash or a rebalance does
 * nothing either, so its offsets need no transaction of their own. */
#define EOS_PROCESS_NOTHING 1

#define EOS_OUTPUT_TOPICS_MAX 2

/* What a stage plugs into the loop. Every callback runs on the stage's thread. */
struct eos_stage_ops {
    /* Partitions were assigned; their previous owner's transactions are settled (committed offsets were
     * fetched with require_stable). Restore state here. Returns 0, or -1 to stop the stage. */
    int (*assigned)(void *context, const rd_kafka_topic_partition_list_t *partitions);
    /* Partitions are being revoked; no transaction is open. */
    void (*revoked)(void *context, const rd_kafka_topic_partition_list_t *partitions);
    /* Processes a batch inside the open transaction; count may be 0 when tick_due asked for a turn.
     * Returns 0, EOS_PROCESS_NOTHING when the batch produced nothing and changed no state (its offsets are
     * then committed with a later transaction, see EOS_DEFER_OFFSETS_MS_MAX in eos.c), or -1 on an
     * operating error (the transaction is then aborted and the batch retried). */
    int (*process)(void *context, rd_kafka_t *producer, rd_kafka_message_t **messages, size_t count);
    /* The Kafka transaction committed: make local state durable. */
    void (*committed)(void *context);
    /* The Kafka transaction was aborted: discard local changes of the batch. */
    void (*aborted)(void *context);
    /* A produced message was delivered (or failed); optional. */
    void (*delivered)(void *context, const rd_kafka_message_t *message);
    /* True when the stage wants a turn even without input (punctuation); optional. */
    bool (*tick_due)(void *context, int64_t now_ms);
    /* Called with each new producer, before any transaction of its: the partitions of *topic on which
     * records this producer id left open must be aborted (see seal_run in eos.c). Returns how many it
     * wrote to partitions (at most partitions_max); optional. */
    size_t (*seal_wanted)(void *context, rd_kafka_t *producer, const char **topic, int32_t *partitions,
                          size_t partitions_max);
};

struct eos_stage_settings {
    const char *name;             /* log component and client role: "router", "handler" */
    const char *input_topic;      /* subscribed topic */
    const char *input_topic_more; /* optional (NULL): a second subscribed topic (the order stage's events) */
    /* The topics the stage's producer writes (unused slots NULL): their metadata is fetched when the
     * producer is created, before the group is joined, so the first transaction does not wait for it. */
    const char *output_topics[EOS_OUTPUT_TOPICS_MAX];
    const char *group_id;         /* consumer group */
    const char *transactional_id; /* stable across restarts of this instance, unique among live ones */
    int32_t batch_max;            /* messages per transaction */
    int32_t poll_timeout_ms;      /* wait for more input before committing a non-empty batch */
    /* The consumer's fetch.wait.max.ms; 0 keeps librdkafka's (500 ms). A read_committed fetch that found
     * nothing is not answered when a transaction commits on the partition, only when it times out: an idle
     * stage reading transactional input sees each commit that late. */
    int32_t fetch_wait_max_ms;
    /* Which stage's transactions, batch sizes and consumer lag the loop records (metrics.h); NONE (the
     * zero value) records nothing. */
    enum metrics_stage metrics_stage;
    /* How long offsets of batches that wrote nothing may wait for a transaction (EOS_PROCESS_NOTHING);
     * 0: EOS_DEFER_OFFSETS_MS_MAX (eos.c). */
    int32_t defer_offsets_ms_max;
};

/* Creates the stage (no clients yet: they are created by eos_stage_run). Copies the settings' strings.
 * Returns NULL with a message in error. */
struct eos_stage *eos_stage_create(const struct stockd_config *config,
                                   const struct eos_stage_settings *settings, const struct eos_stage_ops *ops,
                                   void *context, char *error, size_t error_bytes);

/* Runs the loop until *stop becomes true, then finishes the open batch (commit or abort), closes the
 * consumer (revoking partitions) and the producer. Returns 0 on a clean stop, -1 when the stage could not
 * go on (a message was logged). */
int eos_stage_run(struct eos_stage *stage, const atomic_bool *stop);

/* The committed offset of an assigned partition as fetched at its assignment (the stage's assigned callback
 * may ask): the next offset to consume, 0 when nothing was committed, -1 when the partition is not in the
 * current assignment or its offset could not be fetched. Stage thread only. */
int64_t eos_stage_committed_offset(const struct eos_stage *stage, const char *topic, int32_t partition);

/* Counters since start, for logs and metrics. */
/* For a stage's assigned callback (no transaction is open then): aborts a transaction holding an empty
 * record on each of count partitions of topic, which ends any records of this stage's producer id left open
 * there (a transaction the broker completed without writing its markers, docs/chaos.md). Returns 0, or -1
 * with a message. */
int eos_stage_partitions_seal(struct eos_stage *stage, const char *topic, const int32_t *partitions,
                              size_t count, char *error, size_t error_bytes);

struct eos_stage_stats {
    uint64_t batches_committed;
    uint64_t batches_aborted;
    uint64_t messages_processed;
    uint64_t rejoins;
};
void eos_stage_stats_get(const struct eos_stage *stage, struct eos_stage_stats *out);

/* Destroys a stage that is not running. Accepts NULL. */
void eos_stage_destroy(struct eos_stage *stage);

#endif
