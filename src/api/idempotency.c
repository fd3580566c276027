/* idempotency.c - the last N idempotency keys this instance accepted, with a fingerprint of their command.
 *
 * Catches a key reused for another command (422) without a round trip, also between two requests in flight
 * at once: a key is claimed before its command is produced. Keys are stored as 64-bit hashes
 * (24 bytes an entry: 100,000 keys take 2.4 MB); the oldest entry is forgotten when the table is full. */
#include "api/internal.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NO_ENTRY UINT32_MAX

struct entry {
    uint64_t key_hash;
    uint64_t fingerprint;
    uint32_t next; /* next entry in the bucket's chain */
    bool linked;   /* in a chain: false once forgotten (the ring slot waits for its turn) */
};

struct api_idempotency {
    pthread_mutex_t mutex;
    size_t capacity;
    size_t count;
    size_t oldest; /* ring position of the oldest entry when full */
    size_t bucket_count;
    uint32_t *buckets;
    struct entry *entries;
};

uint64_t api_fingerprint(const void *bytes, size_t count)
{
    const unsigned char *data = bytes;
    uint64_t hash = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < count; i++) {
        hash ^= data[i];
        hash *= UINT64_C(1099511628211);
    }
    return hash;
}

struct api_idempotency *api_idempotency_create(size_t capacity)
{
    assert(capacity < NO_ENTRY);
    struct api_idempotency *table = calloc(1, sizeof(*table));
    if (table == NULL) return NULL;
    pthread_mutex_init(&table->mutex, NULL);
    table->capacity = capacity;
    table->bucket_count = 1;
    while (table->bucket_count < capacity)
        table->bucket_count *= 2;
    table->buckets = malloc(table->bucket_count * sizeof(uint32_t));
    table->entries = capacity > 0 ? calloc(capacity, sizeof(struct entry)) : NULL;
    if (table->buckets == NULL || (capacity > 0 && table->entries == NULL)) {
        api_idempotency_destroy(table);
        return NULL;
    }
    for (size_t i = 0; i < table->bucket_count; i++)
        table->buckets[i] = NO_ENTRY;
    return table;
}

/* Unlinks entry index from its bucket chain (nothing when it was forgotten already). */
static void entry_unlink(struct api_idempotency *table, uint32_t index)
{
    if (!table->entries[index].linked) return;
    table->entries[index].linked = false;
    uint32_t *link = &table->buckets[table->entries[index].key_hash & (table->bucket_count - 1)];
    while (*link != index) {
        assert(*link != NO_ENTRY);
        link = &table->entries[*link].next;
    }
    *link = table->entries[index].next;
}

static uint64_t key_hash_of(const char *key)
{
    return api_fingerprint(key, strlen(key)) ^ UINT64_C(0x9e3779b97f4a7c15);
}

/* The entry of key_hash, or NO_ENTRY. Called with the mutex held. */
static uint32_t entry_find(const struct api_idempotency *table, uint64_t key_hash)
{
    uint32_t index = table->buckets[key_hash & (table->bucket_count - 1)];
    while (index != NO_ENTRY && table->entries[index].key_hash != key_hash)
        index = table->entries[index].next;
    return index;
}

enum api_idempotency_result api_idempotency_claim(struct api_idempotency *table, const char *key,
                                                  uint64_t fingerprint)
{
    assert(table != NULL && key != NULL);
    if (table->capacity == 0) return API_IDEMPOTENCY_NEW;
    uint64_t key_hash = key_hash_of(key);
    size_t bucket = key_hash & (table->bucket_count - 1);
    pthread_mutex_lock(&table->mutex);
    uint32_t index = entry_find(table, key_hash);
    enum api_idempotency_result result = API_IDEMPOTENCY_NEW;
    if (index != NO_ENTRY) {
        result = table->entries[index].fingerprint == fingerprint ? API_IDEMPOTENCY_SAME
                                                                  : API_IDEMPOTENCY_CONFLICT;
    } else {
        if (table->count < table->capacity) {
            index = (uint32_t)table->count++;
        } else {
            index = (uint32_t)table->oldest;
            entry_unlink(table, index);
            table->oldest = (table->oldest + 1) % table->capacity;
        }
        table->entries[index] = (struct entry){key_hash, fingerprint, table->buckets[bucket], true};
        table->buckets[bucket] = index;
    }
    pthread_mutex_unlock(&table->mutex);
    return result;
}

void api_idempotency_forget(struct api_idempotency *table, const char *key, uint64_t fingerprint)
{
    assert(table != NULL && key != NULL);
    if (table->capacity == 0) return;
    uint64_t key_hash = key_hash_of(key);
    pthread_mutex_lock(&table->mutex);
    uint32_t index = entry_find(table, key_hash);
    if (index != NO_ENTRY && table->entries[index].fingerprint == fingerprint) entry_unlink(table, index);
    pthread_mutex_unlock(&table->mutex);
}

void api_idempotency_destroy(struct api_idempotency *table)
{
    if (table == NULL) return;
    pthread_mutex_destroy(&table->mutex);
    free(table->buckets);
    free(table->entries);
    free(table);
}
