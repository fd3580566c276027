/* murmur2.h - Java-compatible key partitioning (org.apache.kafka.common.utils.Utils.murmur2).
 *
 * Router, handler and any Java client must agree on which partition a SKU lives in: this is Kafka's
 * DefaultPartitioner for keyed records, toPositive(murmur2(key)) % partitions. No librdkafka needed. */
#ifndef STOCKD_MURMUR2_H
#define STOCKD_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* Java's Utils.murmur2(byte[]) with seed 0x9747b28c, as a signed 32-bit value. */
int32_t murmur2_hash(const void *key, size_t key_bytes);

/* The partition Java's default partitioner picks for a non-null key: (murmur2 & 0x7fffffff) % count.
 * partition_count must be > 0 (asserted). */
int32_t murmur2_partition(const void *key, size_t key_bytes, int32_t partition_count);

#endif
