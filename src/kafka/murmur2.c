/* murmur2.c - Java-compatible murmur2 key hash and default partition choice, as Kafka's Java clients do it.
 *
 * A port of org.apache.kafka.common.utils.Utils.murmur2/toPositive: Java's int arithmetic wraps and its
 * >>> is a logical shift, which is uint32_t arithmetic in C. Bytes are read as unsigned (Java masks each
 * with & 0xff), so keys with bytes >= 0x80 hash the same here. Knows nothing of librdkafka. */
#include "kafka/murmur2.h"

#include <assert.h>
#include <stdint.h>

#define MURMUR2_SEED      0x9747b28cU /* Kafka's: another seed moves every key to another partition */
#define MURMUR2_MULTIPLY  0x5bd1e995U
#define MURMUR2_SHIFT     24
#define MURMUR2_BYTES_MAX ((size_t)INT32_MAX) /* Java arrays are int-indexed: no Java hash beyond */

/* Reads 4 bytes little-endian, as Java's block loop does; bytes is not necessarily aligned. */
static uint32_t murmur2_block_read(const unsigned char *bytes)
{
    assert(bytes != NULL);
    return (uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8) | ((uint32_t)bytes[2] << 16) |
           ((uint32_t)bytes[3] << 24);
}

/* Java's Utils.murmur2(byte[]): see murmur2.h. key may be NULL only when key_bytes is 0 (the empty key,
 * which Java hashes like any other byte array). Never fails. */
int32_t murmur2_hash(const void *key, size_t key_bytes)
{
    assert(key != NULL || key_bytes == 0);
    assert(key_bytes <= MURMUR2_BYTES_MAX);

    const unsigned char *bytes = key;
    uint32_t hash = MURMUR2_SEED ^ (uint32_t)key_bytes;
    size_t block_count = key_bytes / 4;

    for (size_t block = 0; block < block_count; block++) {
        uint32_t k = murmur2_block_read(bytes + block * 4);
        k *= MURMUR2_MULTIPLY;
        k ^= k >> MURMUR2_SHIFT;
        k *= MURMUR2_MULTIPLY;
        hash *= MURMUR2_MULTIPLY;
        hash ^= k;
    }

    const unsigned char *tail = bytes + block_count * 4;
    switch (key_bytes % 4) {
    case 3:
        hash ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        hash ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        hash ^= (uint32_t)tail[0];
        hash *= MURMUR2_MULTIPLY;
        break;
    default:
        break;
    }

    hash ^= hash >> 13;
    hash *= MURMUR2_MULTIPLY;
    hash ^= hash >> 15;
    /* Java returns the same 32 bits as a signed int: convert without implementation-defined behaviour. */
    return hash <= (uint32_t)INT32_MAX ? (int32_t)hash : -(int32_t)(UINT32_MAX - hash) - 1;
}

/* Java's default partitioner for a keyed record: Utils.toPositive(murmur2(key)) % partition_count, where
 * toPositive clears the sign bit (it is not abs()). Returns a partition in [0, partition_count). */
int32_t murmur2_partition(const void *key, size_t key_bytes, int32_t partition_count)
{
    assert(partition_count > 0);
    assert(key != NULL || key_bytes == 0);

    uint32_t positive = (uint32_t)murmur2_hash(key, key_bytes) & 0x7fffffffU;
    int32_t partition = (int32_t)(positive % (uint32_t)partition_count);
    assert(partition >= 0 && partition < partition_count);
    return partition;
}
