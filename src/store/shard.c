/* shard.c - the handler's SQLite state shard for one partition.
 *
 * Prepared statements over the tables of schema/state/; one transaction per batch; the checkpoint is a
 * row of the same transaction, so the shard and its checkpoint always agree. No Kafka here. */
#include "store/shard.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/sqlite_util.h"

enum shard_statement {
    STATEMENT_META_GET,
    STATEMENT_META_PUT,
    STATEMENT_SKU_GET,
    STATEMENT_SKU_PUT,
    STATEMENT_RESERVATION_GET,
    STATEMENT_RESERVATION_PUT,
    STATEMENT_COMMAND_GET,
    STATEMENT_COMMAND_PUT,
    STATEMENT_DUE,
    STATEMENT_PRUNE,
    STATEMENT_COUNT
};

static const char *const statement_sql[STATEMENT_COUNT] = {
    [STATEMENT_META_GET] = "SELECT value FROM shard_meta WHERE key = ?1",
    [STATEMENT_META_PUT] = "INSERT OR REPLACE INTO shard_meta (key, value) VALUES (?1, ?2)",
    [STATEMENT_SKU_GET] = "SELECT created, name, reorder_point, sequence, stock, lead_time_days FROM skus"
                          " WHERE sku = ?1",
    [STATEMENT_SKU_PUT] = "INSERT OR REPLACE INTO skus (sku, created, name, reorder_point, sequence, stock,"
                          " lead_time_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [STATEMENT_RESERVATION_GET] = "SELECT location, quantity, status, expires_at_ms, created_ms, updated_ms"
                                  " FROM reservations WHERE sku = ?1 AND reservation_id = ?2",
    [STATEMENT_RESERVATION_PUT] =
        "INSERT OR REPLACE INTO reservations (sku, reservation_id, location, quantity,"
        " status, expires_at_ms, created_ms, updated_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [STATEMENT_COMMAND_GET] = "SELECT sku, first_sequence, event_count, rejected, reason, decided_ms"
                              " FROM commands WHERE command_id = ?1",
    [STATEMENT_COMMAND_PUT] = "INSERT INTO commands (command_id, sku, first_sequence, event_count, rejected,"
                              " reason, decided_ms) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)"
                              " ON CONFLICT (command_id) DO UPDATE SET event_count = event_count + 1",
    [STATEMENT_DUE] = "SELECT sku, reservation_id FROM reservations"
                      " WHERE status = 1 AND expires_at_ms > 0 AND expires_at_ms <= ?1"
                      " ORDER BY expires_at_ms, sku LIMIT ?2",
    [STATEMENT_PRUNE] = "DELETE FROM commands WHERE command_id IN (SELECT command_id FROM commands"
                        " WHERE decided_ms < ?1 ORDER BY decided_ms LIMIT ?2)",
};

struct shard {
    sqlite3 *db;
    int32_t partition;
    int64_t checkpoint; /* committed value */
    bool in_transaction;
    sqlite3_stmt *statements[STATEMENT_COUNT];
};

#define SHARD_META_CHECKPOINT "checkpoint"
#define SHARD_META_PARTITION  "partition"

int shard_path(const char *data_dir, int32_t partition, char *path, size_t path_bytes)
{
    assert(data_dir != NULL && partition >= 0);
    int written = snprintf(path, path_bytes, "%s/state/shard-%04d.db", data_dir, (int)partition);
    return written < 0 || (size_t)written >= path_bytes ? -1 : 0;
}

int64_t shard_checkpoint_peek(const char *data_dir, int32_t partition)
{
    char path[4096];
    if (shard_path(data_dir, partition, path, sizeof(path)) != 0) return -1;
    if (access(path, F_OK) != 0) return errno == ENOENT ? 0 : -1;
    sqlite3 *db = NULL;
    int64_t checkpoint = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        sqlite3_stmt *statement = NULL;
        if (sqlite3_prepare_v2(db, "SELECT value FROM shard_meta WHERE key = '" SHARD_META_CHECKPOINT "'", -1,
                               &statement, NULL) == SQLITE_OK) {
            int status = sqlite3_step(statement);
            if (status == SQLITE_ROW) checkpoint = sqlite3_column_int64(statement, 0);
            if (status == SQLITE_DONE) checkpoint = 0;
        }
        sqlite3_finalize(statement);
    }
    sqlite3_close(db);
    return checkpoint;
}

/* mkdir -p for the parent directories of path. */
static int directories_create(const char *path, char *error, size_t error_bytes)
{
    char buffer[4096];
    if (snprintf(buffer, sizeof(buffer), "%s", path) >= (int)sizeof(buffer)) {
        snprintf(error, error_bytes, "path too long: %s", path);
        return -1;
    }
    for (char *slash = strchr(buffer + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(buffer, 0750) != 0 && errno != EEXIST) {
            snprintf(error, error_bytes, "cannot create %s: %s", buffer, strerror(errno));
            return -1;
        }
        *slash = '/';
    }
    return 0;
}

/* Resets a statement for reuse (every use starts here). */
static sqlite3_stmt *statement_get(struct shard *shard, enum shard_statement which)
{
    sqlite3_stmt *statement = shard->statements[which];
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return statement;
}

static int step_done(struct shard *shard, sqlite3_stmt *statement, char *error, size_t error_bytes)
{
    int status = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (status == SQLITE_DONE) return 0;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    return -1;
}

static int meta_get(struct shard *shard, const char *key, int64_t *value, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_META_GET);
    sqlite3_bind_text(statement, 1, key, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW) *value = sqlite3_column_int64(statement, 0);
    sqlite3_reset(statement);
    if (status == SQLITE_ROW) return 1;
    if (status == SQLITE_DONE) return 0;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    return -1;
}

static int meta_put(struct shard *shard, const char *key, int64_t value, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_META_PUT);
    sqlite3_bind_text(statement, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, value);
    return step_done(shard, statement, error, error_bytes);
}

/* Prepares the statements and reads (or, for a new file, writes) the shard's identity and checkpoint. */
static int shard_prepare(struct shard *shard, char *error, size_t error_bytes)
{
    for (int i = 0; i < STATEMENT_COUNT; i++) {
        shard->statements[i] = sqlite_util_prepare(shard->db, statement_sql[i], error, error_bytes);
        if (shard->statements[i] == NULL) return -1;
    }
    int64_t partition = -1;
    int found = meta_get(shard, SHARD_META_PARTITION, &partition, error, error_bytes);
    if (found < 0) return -1;
    if (found == 0) {
        if (meta_put(shard, SHARD_META_PARTITION, shard->partition, error, error_bytes) != 0) return -1;
    } else if (partition != shard->partition) {
        snprintf(error, error_bytes, "shard file of partition %lld opened as partition %d",
                 (long long)partition, (int)shard->partition);
        return -1;
    }
    shard->checkpoint = 0;
    return meta_get(shard, SHARD_META_CHECKPOINT, &shard->checkpoint, error, error_bytes) < 0 ? -1 : 0;
}

struct shard *shard_open(const char *data_dir, int32_t partition, char *error, size_t error_bytes)
{
    assert(data_dir != NULL && partition >= 0);
    char path[4096];
    if (shard_path(data_dir, partition, path, sizeof(path)) != 0) {
        snprintf(error, error_bytes, "data_dir too long: %s", data_dir);
        return NULL;
    }
    if (directories_create(path, error, error_bytes) != 0) return NULL;
    struct shard *shard = calloc(1, sizeof(*shard));
    if (shard == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    shard->partition = partition;
    shard->db = sqlite_util_open(path, 1, error, error_bytes);
    if (shard->db == NULL) goto out_free;
    if (sqlite_util_migrate(shard->db, "state", error, error_bytes) < 0) goto out_free;
    if (shard_prepare(shard, error, error_bytes) != 0) goto out_free;
    return shard;
out_free:
    shard_close(shard);
    return NULL;
}

void shard_close(struct shard *shard)
{
    if (shard == NULL) return;
    shard_rollback(shard);
    for (int i = 0; i < STATEMENT_COUNT; i++)
        sqlite3_finalize(shard->statements[i]);
    sqlite3_close(shard->db);
    free(shard);
}

int shard_remove(const char *data_dir, int32_t partition, char *error, size_t error_bytes)
{
    char path[4096];
    char companion[4200];
    if (shard_path(data_dir, partition, path, sizeof(path)) != 0) {
        snprintf(error, error_bytes, "data_dir too long: %s", data_dir);
        return -1;
    }
    const char *suffixes[] = {"-wal", "-shm", ""};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(companion, sizeof(companion), "%s%s", path, suffixes[i]);
        if (unlink(companion) != 0 && errno != ENOENT) {
            snprintf(error, error_bytes, "cannot remove %s: %s", companion, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int32_t shard_partition(const struct shard *shard)
{
    return shard->partition;
}

int64_t shard_checkpoint(const struct shard *shard)
{
    return shard->checkpoint;
}

enum shard_restore_plan shard_restore_plan(int64_t checkpoint, int64_t log_start, int64_t stable_end,
                                           int64_t log_end)
{
    assert(checkpoint >= 0 && log_start >= 0);
    assert(log_start <= stable_end && stable_end <= log_end);
    if (checkpoint > log_end) return SHARD_RESTORE_REBUILD;
    if (log_start > 0 && checkpoint < log_start) return SHARD_RESTORE_GAP;
    if (checkpoint > stable_end) return SHARD_RESTORE_AHEAD;
    return SHARD_RESTORE_REPLAY;
}

bool shard_in_transaction(const struct shard *shard)
{
    return shard->in_transaction;
}

int shard_begin(struct shard *shard, char *error, size_t error_bytes)
{
    assert(shard != NULL);
    if (shard->in_transaction) return 0;
    if (sqlite_util_exec(shard->db, "BEGIN IMMEDIATE", error, error_bytes) != 0) return -1;
    shard->in_transaction = true;
    return 0;
}

int shard_commit(struct shard *shard, int64_t checkpoint, char *error, size_t error_bytes)
{
    assert(shard != NULL && shard->in_transaction);
    if (checkpoint >= 0 && meta_put(shard, SHARD_META_CHECKPOINT, checkpoint, error, error_bytes) != 0) {
        shard_rollback(shard);
        return -1;
    }
    if (sqlite_util_exec(shard->db, "COMMIT", error, error_bytes) != 0) {
        shard_rollback(shard);
        return -1;
    }
    shard->in_transaction = false;
    if (checkpoint >= 0) shard->checkpoint = checkpoint;
    return 0;
}

void shard_rollback(struct shard *shard)
{
    if (shard == NULL || !shard->in_transaction) return;
    char ignored[128];
    sqlite_util_exec(shard->db, "ROLLBACK", ignored, sizeof(ignored));
    shard->in_transaction = false;
}

/* Copies a column's text into a fixed field; -1 when it is NULL or does not fit (a corrupt row). */
static int column_text(sqlite3_stmt *statement, int column, char *out, size_t out_bytes)
{
    const unsigned char *text = sqlite3_column_text(statement, column);
    int length = sqlite3_column_bytes(statement, column);
    if (text == NULL || length < 0 || (size_t)length >= out_bytes) return -1;
    memcpy(out, text, (size_t)length + 1);
    return 0;
}

/* ---- the stock blob: locations of a SKU in one column ------------------------------------------------ */

#define STOCK_BLOB_VERSION 1
/* version, count, then per location: length byte, name, on-hand and reserved as 8 bytes each. */
#define STOCK_BLOB_BYTES_MAX (2 + STOCKD_LOCATIONS_PER_SKU_MAX * (1 + STOCKD_LOCATION_BYTES_MAX + 16))

static size_t int64_put(unsigned char *out, int64_t value)
{
    uint64_t bits = (uint64_t)value;
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(bits >> (8 * i));
    return 8;
}

static int64_t int64_get(const unsigned char *in)
{
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)in[i] << (8 * i);
    return (int64_t)bits;
}

/* Encodes the locations of a state; returns the blob's length. */
static size_t stock_blob_encode(const struct sku_state *state, unsigned char out[STOCK_BLOB_BYTES_MAX])
{
    assert(state->location_count <= STOCKD_LOCATIONS_PER_SKU_MAX);
    size_t length = 0;
    out[length++] = STOCK_BLOB_VERSION;
    out[length++] = (unsigned char)state->location_count;
    for (uint32_t i = 0; i < state->location_count; i++) {
        const struct location_stock *stock = &state->locations[i];
        size_t name_length = strlen(stock->location);
        assert(name_length <= STOCKD_LOCATION_BYTES_MAX);
        out[length++] = (unsigned char)name_length;
        memcpy(out + length, stock->location, name_length);
        length += name_length;
        length += int64_put(out + length, stock->on_hand);
        length += int64_put(out + length, stock->reserved);
    }
    return length;
}

/* Decodes a blob into state's locations. Returns 0, or -1 when the blob is not one this code wrote. */
static int stock_blob_decode(const unsigned char *blob, size_t length, struct sku_state *state)
{
    if (length < 2 || blob[0] != STOCK_BLOB_VERSION || blob[1] > STOCKD_LOCATIONS_PER_SKU_MAX) return -1;
    size_t offset = 2;
    for (uint32_t i = 0; i < blob[1]; i++) {
        if (offset >= length) return -1;
        size_t name_length = blob[offset++];
        if (name_length == 0 || name_length > STOCKD_LOCATION_BYTES_MAX || offset + name_length + 16 > length)
            return -1;
        struct location_stock *stock = &state->locations[i];
        memcpy(stock->location, blob + offset, name_length);
        stock->location[name_length] = '\0';
        offset += name_length;
        stock->on_hand = int64_get(blob + offset);
        stock->reserved = int64_get(blob + offset + 8);
        offset += 16;
    }
    state->location_count = blob[1];
    return offset == length ? 0 : -1;
}

int shard_sku_load(struct shard *shard, const char *sku, struct sku_state *out, char *error,
                   size_t error_bytes)
{
    assert(shard != NULL && sku != NULL && out != NULL);
    domain_sku_state_init(out, sku);
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_SKU_GET);
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW) {
        out->exists = sqlite3_column_int(statement, 0) != 0;
        int corrupt = column_text(statement, 1, out->name, sizeof(out->name));
        out->reorder_point = sqlite3_column_int64(statement, 2);
        out->sequence = (uint64_t)sqlite3_column_int64(statement, 3);
        out->lead_time_days = sqlite3_column_int64(statement, 5);
        const unsigned char *blob = sqlite3_column_blob(statement, 4);
        int blob_length = sqlite3_column_bytes(statement, 4);
        if (corrupt == 0 && (blob == NULL || stock_blob_decode(blob, (size_t)blob_length, out) != 0))
            corrupt = -1;
        sqlite3_reset(statement);
        if (corrupt != 0) {
            snprintf(error, error_bytes, "shard %d: corrupt row for SKU %s", (int)shard->partition, sku);
            return -1;
        }
        return 0;
    }
    sqlite3_reset(statement);
    if (status == SQLITE_DONE) return 0;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    return -1;
}

int shard_reservation_load(struct shard *shard, const char *sku, const char *reservation_id,
                           struct reservation_set *set, char *error, size_t error_bytes)
{
    assert(shard != NULL && set != NULL && set->count < STOCKD_EXPIRE_BATCH_MAX);
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_RESERVATION_GET);
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, reservation_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW) {
        struct reservation_state *reservation = &set->items[set->count];
        memset(reservation, 0, sizeof(*reservation));
        snprintf(reservation->reservation_id, sizeof(reservation->reservation_id), "%s", reservation_id);
        int corrupt = column_text(statement, 0, reservation->location, sizeof(reservation->location));
        reservation->quantity = sqlite3_column_int64(statement, 1);
        reservation->status = (enum reservation_status)sqlite3_column_int(statement, 2);
        reservation->expires_at_ms = sqlite3_column_int64(statement, 3);
        reservation->created_ms = sqlite3_column_int64(statement, 4);
        reservation->updated_ms = sqlite3_column_int64(statement, 5);
        sqlite3_reset(statement);
        if (corrupt != 0) {
            snprintf(error, error_bytes, "shard %d: corrupt reservation %s", (int)shard->partition,
                     reservation_id);
            return -1;
        }
        set->count++;
        return 1;
    }
    sqlite3_reset(statement);
    if (status == SQLITE_DONE) return 0;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    return -1;
}

static int reservation_store(struct shard *shard, const char *sku,
                             const struct reservation_state *reservation, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_RESERVATION_PUT);
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, reservation->reservation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 3, reservation->location, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 4, reservation->quantity);
    sqlite3_bind_int(statement, 5, (int)reservation->status);
    sqlite3_bind_int64(statement, 6, reservation->expires_at_ms);
    sqlite3_bind_int64(statement, 7, reservation->created_ms);
    sqlite3_bind_int64(statement, 8, reservation->updated_ms);
    return step_done(shard, statement, error, error_bytes);
}

int shard_sku_store(struct shard *shard, const struct sku_state *state, const struct reservation_set *set,
                    char *error, size_t error_bytes)
{
    assert(shard != NULL && state != NULL && set != NULL && shard->in_transaction);
    unsigned char blob[STOCK_BLOB_BYTES_MAX];
    size_t blob_length = stock_blob_encode(state, blob);
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_SKU_PUT);
    sqlite3_bind_text(statement, 1, state->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, state->exists ? 1 : 0);
    sqlite3_bind_text(statement, 3, state->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 4, state->reorder_point);
    sqlite3_bind_int64(statement, 5, (sqlite3_int64)state->sequence);
    sqlite3_bind_blob(statement, 6, blob, (int)blob_length, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 7, state->lead_time_days);
    if (step_done(shard, statement, error, error_bytes) != 0) return -1;
    for (uint32_t i = 0; i < set->count; i++) {
        if (reservation_store(shard, state->sku, &set->items[i], error, error_bytes) != 0) return -1;
    }
    return 0;
}

int shard_command_find(struct shard *shard, const char *command_id, struct shard_command_outcome *out,
                       char *error, size_t error_bytes)
{
    assert(shard != NULL && command_id != NULL);
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_COMMAND_GET);
    sqlite3_bind_text(statement, 1, command_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW && out != NULL) {
        memset(out, 0, sizeof(*out));
        column_text(statement, 0, out->sku, sizeof(out->sku));
        out->first_sequence = (uint64_t)sqlite3_column_int64(statement, 1);
        out->event_count = (uint32_t)sqlite3_column_int(statement, 2);
        out->rejected = sqlite3_column_int(statement, 3) != 0;
        column_text(statement, 4, out->reason, sizeof(out->reason));
        out->decided_ms = sqlite3_column_int64(statement, 5);
    }
    sqlite3_reset(statement);
    if (status == SQLITE_ROW) return 1;
    if (status == SQLITE_DONE) return 0;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    return -1;
}

int shard_command_record(struct shard *shard, const struct event *event, char *error, size_t error_bytes)
{
    assert(shard != NULL && event != NULL && shard->in_transaction);
    bool rejected = event->type == EVENT_COMMAND_REJECTED;
    const char *reason = rejected ? domain_reject_reason_code(event->reject_reason) : "";
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_COMMAND_PUT);
    sqlite3_bind_text(statement, 1, event->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 3, (sqlite3_int64)event->sequence);
    sqlite3_bind_int(statement, 4, rejected ? 1 : 0);
    sqlite3_bind_text(statement, 5, reason ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 6, event->time_ms);
    return step_done(shard, statement, error, error_bytes);
}

int shard_event_apply(struct shard *shard, const struct event *event, char *error, size_t error_bytes)
{
    assert(shard != NULL && event != NULL && shard->in_transaction);
    static _Thread_local struct sku_state state;
    struct reservation_set set = {.count = 0};
    if (shard_sku_load(shard, event->sku, &state, error, error_bytes) != 0) return -1;
    if (event->reservation_id[0] != '\0' &&
        shard_reservation_load(shard, event->sku, event->reservation_id, &set, error, error_bytes) < 0)
        return -1;
    if (domain_evolve(&state, &set, event) != 0) {
        snprintf(error, error_bytes, "shard %d: event %s #%llu of %s does not follow from the shard's state",
                 (int)shard->partition,
                 domain_event_type_name(event->type) ? domain_event_type_name(event->type) : "?",
                 (unsigned long long)event->sequence, event->sku);
        return -1;
    }
    if (shard_sku_store(shard, &state, &set, error, error_bytes) != 0) return -1;
    return shard_command_record(shard, event, error, error_bytes);
}

int shard_due_reservations(struct shard *shard, int64_t now_ms, struct shard_due_reservation *out, int max,
                           char *error, size_t error_bytes)
{
    assert(shard != NULL && out != NULL && max > 0);
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_DUE);
    sqlite3_bind_int64(statement, 1, now_ms);
    sqlite3_bind_int(statement, 2, max);
    int count = 0;
    int status;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW && count < max) {
        if (column_text(statement, 0, out[count].sku, sizeof(out[count].sku)) != 0 ||
            column_text(statement, 1, out[count].reservation_id, sizeof(out[count].reservation_id)) != 0)
            continue;
        count++;
    }
    sqlite3_reset(statement);
    if (status == SQLITE_DONE || status == SQLITE_ROW) return count;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    return -1;
}

int shard_commands_prune(struct shard *shard, int64_t before_ms, int max, char *error, size_t error_bytes)
{
    assert(shard != NULL && max > 0 && shard->in_transaction);
    sqlite3_stmt *statement = statement_get(shard, STATEMENT_PRUNE);
    sqlite3_bind_int64(statement, 1, before_ms);
    sqlite3_bind_int(statement, 2, max);
    if (step_done(shard, statement, error, error_bytes) != 0) return -1;
    return sqlite3_changes(shard->db);
}

/* ---- whole-shard reads ------------------------------------------------------------------------------------
 */

/* Prepares a one-off statement of the iteration functions (not kept: they run rarely). */
static sqlite3_stmt *iteration_prepare(struct shard *shard, const char *sql, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2(shard->db, sql, -1, &statement, NULL) == SQLITE_OK) return statement;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    sqlite3_finalize(statement);
    return NULL;
}

/* Ends an iteration: finalises, and turns a SQLite error into -1 with a message. */
static int iteration_end(struct shard *shard, sqlite3_stmt *statement, int step_status, int visit_status,
                         char *error, size_t error_bytes)
{
    sqlite3_finalize(statement);
    if (visit_status != 0) return visit_status;
    if (step_status == SQLITE_DONE) return 0;
    snprintf(error, error_bytes, "shard %d: %s", (int)shard->partition, sqlite3_errmsg(shard->db));
    return -1;
}

int shard_each_sku(struct shard *shard, int (*visit)(void *context, const char *sku), void *context,
                   char *error, size_t error_bytes)
{
    sqlite3_stmt *statement =
        iteration_prepare(shard, "SELECT sku FROM skus ORDER BY sku", error, error_bytes);
    if (statement == NULL) return -1;
    int status;
    int visited = 0;
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    while (visited == 0 && (status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (column_text(statement, 0, sku, sizeof(sku)) != 0) continue;
        visited = visit(context, sku);
    }
    return iteration_end(shard, statement, visited ? SQLITE_DONE : status, visited, error, error_bytes);
}

int shard_each_reservation(struct shard *shard,
                           int (*visit)(void *context, const char *sku,
                                        const struct reservation_state *reservation),
                           void *context, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement =
        iteration_prepare(shard,
                          "SELECT sku, reservation_id, location, quantity, status, expires_at_ms,"
                          " created_ms, updated_ms FROM reservations ORDER BY sku, reservation_id",
                          error, error_bytes);
    if (statement == NULL) return -1;
    int status;
    int visited = 0;
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    struct reservation_state reservation;
    while (visited == 0 && (status = sqlite3_step(statement)) == SQLITE_ROW) {
        memset(&reservation, 0, sizeof(reservation));
        if (column_text(statement, 0, sku, sizeof(sku)) != 0 ||
            column_text(statement, 1, reservation.reservation_id, sizeof(reservation.reservation_id)) != 0 ||
            column_text(statement, 2, reservation.location, sizeof(reservation.location)) != 0)
            continue;
        reservation.quantity = sqlite3_column_int64(statement, 3);
        reservation.status = (enum reservation_status)sqlite3_column_int(statement, 4);
        reservation.expires_at_ms = sqlite3_column_int64(statement, 5);
        reservation.created_ms = sqlite3_column_int64(statement, 6);
        reservation.updated_ms = sqlite3_column_int64(statement, 7);
        visited = visit(context, sku, &reservation);
    }
    return iteration_end(shard, statement, visited ? SQLITE_DONE : status, visited, error, error_bytes);
}

int shard_each_command(struct shard *shard,
                       int (*visit)(void *context, const char *command_id,
                                    const struct shard_command_outcome *outcome),
                       void *context, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement =
        iteration_prepare(shard,
                          "SELECT command_id, sku, first_sequence, event_count, rejected, reason,"
                          " decided_ms FROM commands ORDER BY command_id",
                          error, error_bytes);
    if (statement == NULL) return -1;
    int status;
    int visited = 0;
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    struct shard_command_outcome outcome;
    while (visited == 0 && (status = sqlite3_step(statement)) == SQLITE_ROW) {
        memset(&outcome, 0, sizeof(outcome));
        if (column_text(statement, 0, command_id, sizeof(command_id)) != 0 ||
            column_text(statement, 1, outcome.sku, sizeof(outcome.sku)) != 0)
            continue;
        outcome.first_sequence = (uint64_t)sqlite3_column_int64(statement, 2);
        outcome.event_count = (uint32_t)sqlite3_column_int(statement, 3);
        outcome.rejected = sqlite3_column_int(statement, 4) != 0;
        column_text(statement, 5, outcome.reason, sizeof(outcome.reason));
        outcome.decided_ms = sqlite3_column_int64(statement, 6);
        visited = visit(context, command_id, &outcome);
    }
    return iteration_end(shard, statement, visited ? SQLITE_DONE : status, visited, error, error_bytes);
}
