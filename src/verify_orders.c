/* verify_orders.c - stockctl verify's fold of the orders topic, checked against the order lines' events.
 *
 * Three tables in a scratch SQLite file: decisions (the event of each order line command, by command id),
 * reservations (the last status of each order line's reservation, by SKU and id) and orders (what the
 * orders topic says of each order: its lines as placed, its saga's final event, its release or
 * fulfilment). The line ids are derived here as docs/orders.md documents them, not with order.c's
 * functions, so that a change of the scheme on one side shows. Nothing of order_apply is used there.
 *
 * A fourth table, states, is the fold the order stage's shards are compared with: order_apply over each
 * partition's inputs up to its shard's checkpoint, the way the stage folds them (src/orders.c), so that
 * the comparison is exact; the judging above stays independent of it. */
#include "verify_orders.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "domain/order.h"
#include "domain/order_codec.h"
#include "kafka/murmur2.h"
#include "store/order_store.h"

/* Writes per scratch transaction (the file has no journal: it is thrown away after the run). */
#define VERIFY_ORDERS_COMMIT_EVERY 20000

/* One line of an order: as placed, and what the order's events said of it. */
struct kept_line {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char location[STOCKD_LOCATION_BYTES_MAX + 1];
    int64_t quantity;
    enum order_line_status settled_status; /* in OrderConfirmed or OrderRejected */
    enum order_line_status closed_status;  /* in OrderReleased, OrderFulfilled or OrderExpired */
    char settled_reason[ORDER_REASON_BYTES_MAX + 1];
    char closed_reason[ORDER_REASON_BYTES_MAX + 1];
};

/* One order as the orders topic tells it, stored as the bytes up to its last line. */
struct kept_order {
    char order_id[STOCKD_ORDER_ID_BYTES_MAX + 1];
    int32_t partition;
    int64_t placed_offset;
    int64_t submitted_ms;
    bool asked;                    /* a ReleaseOrder or FulfilOrder came after the PlaceOrder */
    enum order_event_type settled; /* OrderConfirmed or OrderRejected; NONE while placing */
    int64_t settled_offset;
    enum order_event_type closed; /* OrderReleased, OrderFulfilled or OrderExpired; NONE until then */
    int64_t closed_offset;
    uint32_t line_count;
    struct kept_line lines[STOCKD_ORDER_LINES_MAX];
};

/* The event of one order line command. */
struct kept_decision {
    bool found;
    int32_t partition;
    int64_t offset;
    enum event_type type;
    char reason[ORDER_REASON_BYTES_MAX + 1]; /* CommandRejected's reason code */
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char location[STOCKD_LOCATION_BYTES_MAX + 1];
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];
    int64_t quantity;
};

/* The last status of an order line's reservation on events (0: never reserved). */
struct kept_reservation {
    enum reservation_status status;
    int32_t partition;
    int64_t offset;
};

enum statement {
    DECISION_INSERT,
    DECISION_GET,
    DECISION_EACH,
    RESERVATION_PUT,
    RESERVATION_GET,
    ORDER_PUT,
    ORDER_GET,
    ORDER_EACH,
    STATE_GET,
    STATE_PUT,
    STATE_EACH,
    STATEMENT_COUNT
};

static const char *const statement_sql[STATEMENT_COUNT] = {
    [DECISION_INSERT] = "INSERT OR IGNORE INTO decisions(command_id, partition, offset, type, reason, sku, "
                        "location, reservation_id, quantity) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [DECISION_GET] = "SELECT partition, offset, type, reason, sku, location, reservation_id, quantity "
                     "FROM decisions WHERE command_id = ?1",
    [DECISION_EACH] = "SELECT command_id, partition, offset, sku FROM decisions ORDER BY partition, offset",
    [RESERVATION_PUT] = "INSERT INTO reservations(sku, reservation_id, status, partition, offset) "
                        "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(sku, reservation_id) DO UPDATE SET "
                        "status = excluded.status, partition = excluded.partition, offset = excluded.offset",
    [RESERVATION_GET] = "SELECT status, partition, offset FROM reservations WHERE sku = ?1 AND "
                        "reservation_id = ?2",
    [ORDER_PUT] = "INSERT OR REPLACE INTO orders(order_id, partition, offset, body) VALUES(?1, ?2, ?3, ?4)",
    [ORDER_GET] = "SELECT body FROM orders WHERE order_id = ?1",
    [ORDER_EACH] = "SELECT body FROM orders ORDER BY partition, offset",
    [STATE_GET] = "SELECT body FROM states WHERE order_id = ?1",
    [STATE_PUT] = "INSERT OR REPLACE INTO states(order_id, partition, offset, body) VALUES(?1, ?2, ?3, ?4)",
    [STATE_EACH] = "SELECT order_id, offset, body FROM states WHERE partition = ?1 ORDER BY order_id",
};

struct verify_orders {
    sqlite3 *db;
    int32_t partitions;
    void (*difference)(void *context, const char *text);
    void *context;
    struct verify_orders_counts counts;
    sqlite3_stmt *statements[STATEMENT_COUNT];
    uint64_t writes; /* in the open scratch transaction */
    /* Work space (tens of KB: not on the stack). */
    struct order_record record;
    struct kept_order order;  /* order_load's */
    struct kept_order judged; /* the order verify_orders_check is at */
    struct kept_decision decisions[3];
    /* The order stage's shards (verify_orders_shards_find): checkpoint -1 where there is no file. */
    char data_dir[4096];
    int64_t shard_checkpoints[STOCKD_PARTITIONS_MAX];
    struct order_state state;  /* state_fold's */
    struct order_state folded; /* the fold's state of the order a shard comparison is at */
};

static void difference(struct verify_orders *orders, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void difference(struct verify_orders *orders, const char *format, ...)
{
    char text[512];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof(text), format, arguments);
    va_end(arguments);
    orders->difference(orders->context, text);
}

static int sqlite_failed(struct verify_orders *orders, char *error, size_t error_bytes)
{
    snprintf(error, error_bytes, "verify orders scratch: %s", sqlite3_errmsg(orders->db));
    return -1;
}

static bool id_ours(const char *id)
{
    return strncmp(id, ORDER_ID_PREFIX, sizeof(ORDER_ID_PREFIX) - 1) == 0;
}

/* Runs a write statement (bound by the caller) and resets it; commits every VERIFY_ORDERS_COMMIT_EVERY. */
static int write_run(struct verify_orders *orders, sqlite3_stmt *statement, char *error, size_t error_bytes)
{
    int status = sqlite3_step(statement);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (status != SQLITE_DONE) return sqlite_failed(orders, error, error_bytes);
    if (++orders->writes % VERIFY_ORDERS_COMMIT_EVERY == 0 &&
        sqlite3_exec(orders->db, "COMMIT; BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sqlite_failed(orders, error, error_bytes);
    return 0;
}

static void text_copy(char *out, size_t out_bytes, const unsigned char *text)
{
    snprintf(out, out_bytes, "%s", text != NULL ? (const char *)text : "");
}

struct verify_orders *verify_orders_create(const char *scratch_dir, int32_t partitions,
                                           void (*difference_callback)(void *context, const char *text),
                                           void *context, char *error, size_t error_bytes)
{
    assert(scratch_dir != NULL && difference_callback != NULL);
    assert(partitions >= 1 && partitions <= STOCKD_PARTITIONS_MAX);
    struct verify_orders *orders = calloc(1, sizeof(*orders));
    if (orders == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    orders->partitions = partitions;
    for (int32_t partition = 0; partition < STOCKD_PARTITIONS_MAX; partition++)
        orders->shard_checkpoints[partition] = -1;
    orders->difference = difference_callback;
    orders->context = context;
    char path[4096];
    snprintf(path, sizeof(path), "%s/verify-orders.db", scratch_dir);
    static const char schema[] =
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
        "CREATE TABLE decisions(command_id TEXT PRIMARY KEY, partition INTEGER, offset INTEGER, type INTEGER,"
        " reason TEXT, sku TEXT, location TEXT, reservation_id TEXT, quantity INTEGER);"
        "CREATE TABLE reservations(sku TEXT, reservation_id TEXT, status INTEGER, partition INTEGER,"
        " offset INTEGER, PRIMARY KEY(sku, reservation_id));"
        "CREATE TABLE orders(order_id TEXT PRIMARY KEY, partition INTEGER, offset INTEGER, body BLOB);"
        "CREATE INDEX orders_by_position ON orders(partition, offset);"
        "CREATE TABLE states(order_id TEXT PRIMARY KEY, partition INTEGER, offset INTEGER, body BLOB);"
        "CREATE INDEX states_by_partition ON states(partition, order_id);"
        "BEGIN";
    if (sqlite3_open_v2(path, &orders->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        sqlite3_exec(orders->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        sqlite_failed(orders, error, error_bytes);
        verify_orders_destroy(orders);
        return NULL;
    }
    for (int i = 0; i < STATEMENT_COUNT; i++) {
        if (sqlite3_prepare_v2(orders->db, statement_sql[i], -1, &orders->statements[i], NULL) != SQLITE_OK) {
            sqlite_failed(orders, error, error_bytes);
            verify_orders_destroy(orders);
            return NULL;
        }
    }
    return orders;
}

void verify_orders_destroy(struct verify_orders *orders)
{
    if (orders == NULL) return;
    for (int i = 0; i < STATEMENT_COUNT; i++)
        sqlite3_finalize(orders->statements[i]);
    sqlite3_close(orders->db);
    free(orders);
}

void verify_orders_counts_get(const struct verify_orders *orders, struct verify_orders_counts *out)
{
    assert(orders != NULL && out != NULL);
    *out = orders->counts;
}

/* ---- the events of order lines ---------------------------------------------------------------------- */

static int decision_load(struct verify_orders *orders, const char *command_id, struct kept_decision *out,
                         char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = orders->statements[DECISION_GET];
    memset(out, 0, sizeof(*out));
    sqlite3_bind_text(statement, 1, command_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW) {
        out->found = true;
        out->partition = sqlite3_column_int(statement, 0);
        out->offset = sqlite3_column_int64(statement, 1);
        out->type = (enum event_type)sqlite3_column_int(statement, 2);
        text_copy(out->reason, sizeof(out->reason), sqlite3_column_text(statement, 3));
        text_copy(out->sku, sizeof(out->sku), sqlite3_column_text(statement, 4));
        text_copy(out->location, sizeof(out->location), sqlite3_column_text(statement, 5));
        text_copy(out->reservation_id, sizeof(out->reservation_id), sqlite3_column_text(statement, 6));
        out->quantity = sqlite3_column_int64(statement, 7);
    }
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return status == SQLITE_ROW || status == SQLITE_DONE ? 0 : sqlite_failed(orders, error, error_bytes);
}

static int decision_keep(struct verify_orders *orders, int32_t partition, int64_t offset,
                         const struct event *event, char *error, size_t error_bytes)
{
    orders->counts.decisions++;
    const char *reason =
        event->type == EVENT_COMMAND_REJECTED ? domain_reject_reason_code(event->reject_reason) : "";
    sqlite3_stmt *statement = orders->statements[DECISION_INSERT];
    sqlite3_bind_text(statement, 1, event->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, partition);
    sqlite3_bind_int64(statement, 3, offset);
    sqlite3_bind_int(statement, 4, (int)event->type);
    sqlite3_bind_text(statement, 5, reason != NULL ? reason : "?", -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 6, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 7, event->location, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 8, event->reservation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 9, event->quantity);
    if (write_run(orders, statement, error, error_bytes) != 0) return -1;
    if (sqlite3_changes(orders->db) == 1) return 0;
    struct kept_decision *first = &orders->decisions[0];
    if (decision_load(orders, event->command_id, first, error, error_bytes) != 0) return -1;
    difference(
        orders,
        "events [%d] offset %lld: order line command %s decided again (first at events [%d] offset %lld)",
        (int)partition, (long long)offset, event->command_id, (int)first->partition,
        (long long)first->offset);
    return 0;
}

int verify_orders_event(struct verify_orders *orders, int32_t partition, int64_t offset,
                        const struct event *event, char *error, size_t error_bytes)
{
    assert(orders != NULL && event != NULL);
    bool command_ours = id_ours(event->command_id);
    if (!command_ours && !id_ours(event->reservation_id)) return 0; /* the common case */
    if (command_ours && decision_keep(orders, partition, offset, event, error, error_bytes) != 0) return -1;
    enum reservation_status status = 0;
    switch (event->type) {
    case EVENT_STOCK_RESERVED:
        status = RESERVATION_ACTIVE;
        break;
    case EVENT_RESERVATION_RELEASED:
        status = RESERVATION_RELEASED;
        break;
    case EVENT_RESERVATION_FULFILLED:
        status = RESERVATION_FULFILLED;
        break;
    case EVENT_RESERVATION_EXPIRED:
        status = RESERVATION_EXPIRED;
        break;
    default:
        return 0; /* a rejection changes no reservation */
    }
    if (!id_ours(event->reservation_id)) return 0;
    sqlite3_stmt *statement = orders->statements[RESERVATION_PUT];
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, event->reservation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 3, (int)status);
    sqlite3_bind_int(statement, 4, partition);
    sqlite3_bind_int64(statement, 5, offset);
    return write_run(orders, statement, error, error_bytes);
}

static int reservation_load(struct verify_orders *orders, const char *sku, const char *reservation_id,
                            struct kept_reservation *out, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = orders->statements[RESERVATION_GET];
    memset(out, 0, sizeof(*out));
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, reservation_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW) {
        out->status = (enum reservation_status)sqlite3_column_int(statement, 0);
        out->partition = sqlite3_column_int(statement, 1);
        out->offset = sqlite3_column_int64(statement, 2);
    }
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return status == SQLITE_ROW || status == SQLITE_DONE ? 0 : sqlite_failed(orders, error, error_bytes);
}

/* ---- the orders topic ------------------------------------------------------------------------------- */

static size_t order_bytes(const struct kept_order *order)
{
    return offsetof(struct kept_order, lines) + order->line_count * sizeof(order->lines[0]);
}

static void order_from_body(const void *body, size_t body_bytes, struct kept_order *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out, body, body_bytes < sizeof(*out) ? body_bytes : sizeof(*out));
}

/* Loads an order into orders->order. Returns 1, 0 when it was never placed, or -1 with a message. */
static int order_load(struct verify_orders *orders, const char *order_id, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = orders->statements[ORDER_GET];
    sqlite3_bind_text(statement, 1, order_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW)
        order_from_body(sqlite3_column_blob(statement, 0), (size_t)sqlite3_column_bytes(statement, 0),
                        &orders->order);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (status != SQLITE_ROW && status != SQLITE_DONE) return sqlite_failed(orders, error, error_bytes);
    return status == SQLITE_ROW;
}

static int order_store(struct verify_orders *orders, char *error, size_t error_bytes)
{
    const struct kept_order *order = &orders->order;
    sqlite3_stmt *statement = orders->statements[ORDER_PUT];
    sqlite3_bind_text(statement, 1, order->order_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, order->partition);
    sqlite3_bind_int64(statement, 3, order->placed_offset);
    sqlite3_bind_blob(statement, 4, order, (int)order_bytes(order), SQLITE_STATIC);
    return write_run(orders, statement, error, error_bytes);
}

static int order_place(struct verify_orders *orders, int32_t partition, int64_t offset,
                       const struct order_input *input, char *error, size_t error_bytes)
{
    int found = order_load(orders, input->order_id, error, error_bytes);
    if (found != 0) return found < 0 ? -1 : 0; /* the first PlaceOrder of an id wins */
    struct kept_order *order = &orders->order;
    memset(order, 0, sizeof(*order));
    snprintf(order->order_id, sizeof(order->order_id), "%s", input->order_id);
    order->partition = partition;
    order->placed_offset = offset;
    order->submitted_ms = input->submitted_ms;
    order->line_count = input->line_count;
    for (uint32_t i = 0; i < input->line_count; i++) {
        snprintf(order->lines[i].sku, sizeof(order->lines[i].sku), "%s", input->lines[i].sku);
        snprintf(order->lines[i].location, sizeof(order->lines[i].location), "%s", input->lines[i].location);
        order->lines[i].quantity = input->lines[i].quantity;
    }
    orders->counts.orders++;
    return order_store(orders, error, error_bytes);
}

/* The lines of an order event must be the lines placed. Returns true when they are (else a difference). */
static bool event_lines_match(struct verify_orders *orders, const char *where,
                              const struct order_state *state)
{
    const struct kept_order *order = &orders->order;
    if (state->line_count != order->line_count) {
        difference(orders, "%s: %u lines, PlaceOrder (offset %lld) placed %u", where,
                   (unsigned)state->line_count, (long long)order->placed_offset, (unsigned)order->line_count);
        return false;
    }
    for (uint32_t i = 0; i < state->line_count; i++) {
        const struct order_line *line = &state->lines[i];
        const struct kept_line *placed = &order->lines[i];
        if (strcmp(line->sku, placed->sku) != 0 || strcmp(line->location, placed->location) != 0 ||
            line->quantity != placed->quantity) {
            difference(
                orders,
                "%s: line %u is SKU %s at %s, quantity %lld; PlaceOrder (offset %lld) placed %s at %s, %lld",
                where, (unsigned)i, line->sku, line->location, (long long)line->quantity,
                (long long)order->placed_offset, placed->sku, placed->location, (long long)placed->quantity);
            return false;
        }
    }
    return true;
}

/* Folds one of the order's own events (OrderConfirmed, ...) into the kept order. */
static int order_event_fold(struct verify_orders *orders, int32_t partition, int64_t offset,
                            enum order_event_type type, const struct order_state *state, char *error,
                            size_t error_bytes)
{
    char where[STOCKD_ORDER_ID_BYTES_MAX + 128];
    snprintf(where, sizeof(where), "orders [%d] offset %lld: %s of order %s", (int)partition,
             (long long)offset, order_event_type_name(type), state->order_id);
    int found = order_load(orders, state->order_id, error, error_bytes);
    if (found < 0) return -1;
    struct kept_order *order = &orders->order;
    if (found == 0 || order->partition != partition) {
        difference(orders, "%s: %s", where,
                   found ? "on another partition than its PlaceOrder" : "the order was never placed");
        return 0;
    }
    if (!event_lines_match(orders, where, state)) return 0;
    bool settles = type == ORDER_EVENT_CONFIRMED || type == ORDER_EVENT_REJECTED;
    if (settles && order->settled != ORDER_EVENT_NONE) {
        difference(orders, "%s: the saga had already ended with %s at offset %lld", where,
                   order_event_type_name(order->settled), (long long)order->settled_offset);
        return 0;
    }
    if (!settles && (order->settled != ORDER_EVENT_CONFIRMED || order->closed != ORDER_EVENT_NONE)) {
        difference(orders, "%s: the order was %s", where,
                   order->settled != ORDER_EVENT_CONFIRMED ? "not confirmed before"
                                                           : "already released or fulfilled");
        return 0;
    }
    for (uint32_t i = 0; i < state->line_count; i++) {
        struct kept_line *line = &order->lines[i];
        if (settles) {
            line->settled_status = state->lines[i].status;
            snprintf(line->settled_reason, sizeof(line->settled_reason), "%s", state->lines[i].reason);
        } else {
            line->closed_status = state->lines[i].status;
            snprintf(line->closed_reason, sizeof(line->closed_reason), "%s", state->lines[i].reason);
        }
    }
    if (settles) {
        order->settled = type;
        order->settled_offset = offset;
        if (type == ORDER_EVENT_CONFIRMED)
            orders->counts.confirmed++;
        else
            orders->counts.rejected++;
    } else {
        order->closed = type;
        order->closed_offset = offset;
        if (type == ORDER_EVENT_EXPIRED) orders->counts.expired++;
    }
    return order_store(orders, error, error_bytes);
}

/* ---- the fold the order stage's shards are compared with ------------------------------------------- */

static size_t state_bytes(const struct order_state *state)
{
    return offsetof(struct order_state, lines) + state->line_count * sizeof(state->lines[0]);
}

static void state_from_body(const void *body, size_t body_bytes, struct order_state *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out, body, body_bytes < sizeof(*out) ? body_bytes : sizeof(*out));
}

/* Folds an input the stage folds (decoded, on its order's partition) into states, as order_record_fold
 * does in src/orders.c, when its partition has a shard whose checkpoint is past offset. Returns 0 or -1. */
static int state_fold(struct verify_orders *orders, int32_t partition, int64_t offset,
                      const struct order_input *input, char *error, size_t error_bytes)
{
    assert(partition >= 0 && partition < orders->partitions);
    if (offset >= orders->shard_checkpoints[partition]) return 0; /* no shard (-1), or past it */
    struct order_state *state = &orders->state;
    memset(state, 0, sizeof(*state));
    sqlite3_stmt *statement = orders->statements[STATE_GET];
    sqlite3_bind_text(statement, 1, input->order_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW)
        state_from_body(sqlite3_column_blob(statement, 0), (size_t)sqlite3_column_bytes(statement, 0), state);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (status != SQLITE_ROW && status != SQLITE_DONE) return sqlite_failed(orders, error, error_bytes);
    struct order_effects effects;
    order_apply(state, input, &effects);
    if (effects.ignored != ORDER_IGNORED_NONE) return 0; /* the stage stores nothing either */
    statement = orders->statements[STATE_PUT];
    sqlite3_bind_text(statement, 1, state->order_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, partition);
    sqlite3_bind_int64(statement, 3, offset);
    sqlite3_bind_blob(statement, 4, state, (int)state_bytes(state), SQLITE_STATIC);
    return write_run(orders, statement, error, error_bytes);
}

int verify_orders_record(struct verify_orders *orders, int32_t partition, int64_t offset, const void *value,
                         size_t value_bytes, char *error, size_t error_bytes)
{
    assert(orders != NULL);
    orders->counts.records++;
    struct order_record *record = &orders->record;
    struct codec_error codec_error;
    if (value == NULL || order_codec_record_decode(value, value_bytes, record, &codec_error) != 0) {
        orders->counts.records_undecodable++; /* the stage dead-letters it: it never counted */
        return 0;
    }
    if (record->event != ORDER_EVENT_NONE)
        return order_event_fold(orders, partition, offset, record->event, &record->order, error, error_bytes);
    const struct order_input *input = &record->input;
    /* An input on another partition than its order id's is dead-lettered by the stage: it never counted. */
    if (murmur2_partition(input->order_id, strlen(input->order_id), orders->partitions) != partition)
        return 0;
    if (state_fold(orders, partition, offset, input, error, error_bytes) != 0) return -1;
    if (input->type == ORDER_INPUT_PLACE)
        return order_place(orders, partition, offset, input, error, error_bytes);
    if (input->type != ORDER_INPUT_RELEASE && input->type != ORDER_INPUT_FULFIL)
        return 0; /* the stage's own */
    int found = order_load(orders, input->order_id, error, error_bytes);
    if (found <= 0 || orders->order.asked) return found < 0 ? -1 : 0;
    orders->order.asked = true;
    return order_store(orders, error, error_bytes);
}

/* ---- judging ---------------------------------------------------------------------------------------- */

/* A released or fulfilled line against its release or fulfilment's event. where says which line. */
static void line_close_judge(struct verify_orders *orders, const char *where, const struct kept_line *line,
                             const char *command_id, const struct kept_decision *decision,
                             enum event_type accepted_type, enum order_line_status accepted_status,
                             enum order_line_status refused_status)
{
    const char *said = order_line_status_name(line->closed_status);
    if (!decision->found) {
        difference(orders, "%s: the order says %s, but no %s was decided on events", where, said ? said : "?",
                   command_id);
    } else if (decision->type != EVENT_COMMAND_REJECTED) {
        if (decision->type != accepted_type || line->closed_status != accepted_status)
            difference(orders, "%s: the order says %s, but %s was accepted (%s) at events [%d] offset %lld",
                       where, said ? said : "?", command_id, domain_event_type_name(decision->type),
                       (int)decision->partition, (long long)decision->offset);
    } else if (line->closed_status != refused_status || strcmp(line->closed_reason, decision->reason) != 0) {
        difference(orders, "%s: the order says %s (%s), but %s was rejected (%s) at events [%d] offset %lld",
                   where, said ? said : "?", line->closed_reason, command_id, decision->reason,
                   (int)decision->partition, (long long)decision->offset);
    }
}

/* A line of an order that expired after it was confirmed: the line that expired has its reservation
 * expired on events; every other line was released as the order says (refused when it had expired too);
 * none was fulfilled, none holds a unit. */
static void line_expired_judge(struct verify_orders *orders, const char *where, const struct kept_line *line,
                               const struct kept_reservation *reservation, const char *const command_ids[3])
{
    const struct kept_decision *release = &orders->decisions[1];
    const struct kept_decision *fulfil = &orders->decisions[2];
    if (fulfil->found) {
        difference(orders, "%s: the order expired, but %s was decided at events [%d] offset %lld", where,
                   command_ids[2], (int)fulfil->partition, (long long)fulfil->offset);
        return;
    }
    if (reservation->status == RESERVATION_ACTIVE) {
        difference(orders,
                   "%s: the order expired, but its reservation still holds the units (events [%d] "
                   "offset %lld)",
                   where, (int)reservation->partition, (long long)reservation->offset);
        return;
    }
    if (line->closed_status != ORDER_LINE_EXPIRED) {
        line_close_judge(orders, where, line, command_ids[1], release, EVENT_RESERVATION_RELEASED,
                         ORDER_LINE_RELEASED, ORDER_LINE_RELEASED);
        return;
    }
    if (reservation->status != RESERVATION_EXPIRED)
        difference(orders,
                   "%s: the order says the line expired, but its reservation %s (events [%d] offset %lld)",
                   where, reservation->status == 0 ? "was never reserved" : "did not expire",
                   (int)reservation->partition, (long long)reservation->offset);
}

/* A confirmed order's line: reserved as placed; released, fulfilled or expired as its events say. Sets
 * *closing when its release or fulfilment is under way (asked for, or following an expiry: expiring). */
static void line_confirmed_judge(struct verify_orders *orders, const char *where,
                                 const struct kept_order *order, uint32_t index,
                                 const struct kept_reservation *reservation, bool expiring,
                                 const char *const command_ids[3], bool *closing)
{
    const struct kept_line *line = &order->lines[index];
    const struct kept_decision *reserve = &orders->decisions[0];
    const struct kept_decision *release = &orders->decisions[1];
    const struct kept_decision *fulfil = &orders->decisions[2];
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];
    snprintf(reservation_id, sizeof(reservation_id), "%s%s:%u", ORDER_ID_PREFIX, order->order_id,
             (unsigned)index);
    if (line->settled_status != ORDER_LINE_RESERVED) {
        const char *status = order_line_status_name(line->settled_status);
        difference(orders, "%s: OrderConfirmed with the line %s", where, status ? status : "?");
        return;
    }
    if (!reserve->found) {
        difference(orders, "%s: OrderConfirmed, but no ReserveStock %s was decided on events", where,
                   command_ids[0]);
        return;
    }
    if (reserve->type == EVENT_COMMAND_REJECTED) {
        difference(orders,
                   "%s: OrderConfirmed, but its ReserveStock was rejected (%s) at events [%d] offset %lld",
                   where, reserve->reason, (int)reserve->partition, (long long)reserve->offset);
        return;
    }
    if (reserve->type != EVENT_STOCK_RESERVED || strcmp(reserve->reservation_id, reservation_id) != 0 ||
        strcmp(reserve->sku, line->sku) != 0 || strcmp(reserve->location, line->location) != 0 ||
        reserve->quantity != line->quantity) {
        difference(orders,
                   "%s: OrderConfirmed, but %s at events [%d] offset %lld reserved %s of SKU %s at %s, "
                   "quantity %lld",
                   where, command_ids[0], (int)reserve->partition, (long long)reserve->offset,
                   reserve->reservation_id, reserve->sku, reserve->location, (long long)reserve->quantity);
        return;
    }
    if (order->closed == ORDER_EVENT_NONE) {
        const struct kept_decision *close = release->found ? release : fulfil->found ? fulfil : NULL;
        if (close == NULL) return;
        if (order->asked || (expiring && close == release))
            *closing = true;
        else
            difference(
                orders,
                "%s: nobody released or fulfilled the order, but %s was decided at events [%d] offset %lld",
                where, release->found ? command_ids[1] : command_ids[2], (int)close->partition,
                (long long)close->offset);
        return;
    }
    if (order->closed == ORDER_EVENT_EXPIRED) {
        line_expired_judge(orders, where, line, reservation, command_ids);
        return;
    }
    bool released = order->closed == ORDER_EVENT_RELEASED;
    const struct kept_decision *other = released ? fulfil : release;
    if (other->found) {
        difference(orders, "%s: the order was %s, but %s was decided at events [%d] offset %lld", where,
                   released ? "released" : "fulfilled", command_ids[released ? 2 : 1], (int)other->partition,
                   (long long)other->offset);
        return;
    }
    if (released)
        line_close_judge(orders, where, line, command_ids[1], release, EVENT_RESERVATION_RELEASED,
                         ORDER_LINE_RELEASED, ORDER_LINE_RELEASED);
    else
        line_close_judge(orders, where, line, command_ids[2], fulfil, EVENT_RESERVATION_FULFILLED,
                         ORDER_LINE_FULFILLED, ORDER_LINE_FAILED);
}

/* A rejected order's line holds nothing, and is released or refused as its events say. */
static void line_rejected_judge(struct verify_orders *orders, const char *where, const struct kept_line *line,
                                const char *reservation_id, const struct kept_reservation *reservation,
                                const char *const command_ids[3])
{
    const struct kept_decision *reserve = &orders->decisions[0];
    const struct kept_decision *release = &orders->decisions[1];
    const struct kept_decision *fulfil = &orders->decisions[2];
    if (reservation->status == RESERVATION_ACTIVE || reservation->status == RESERVATION_FULFILLED ||
        fulfil->found) {
        difference(orders, "%s: OrderRejected, but its reservation %s %s (events [%d] offset %lld)", where,
                   reservation_id,
                   reservation->status == RESERVATION_ACTIVE ? "still holds the units" : "was fulfilled",
                   (int)(fulfil->found ? fulfil->partition : reservation->partition),
                   (long long)(fulfil->found ? fulfil->offset : reservation->offset));
        return;
    }
    if (line->settled_status == ORDER_LINE_RELEASED) {
        if (!release->found)
            difference(orders, "%s: OrderRejected says released, but no %s was decided on events", where,
                       command_ids[1]);
        else if (release->type == EVENT_COMMAND_REJECTED &&
                 strcmp(release->reason, line->settled_reason) != 0)
            difference(
                orders,
                "%s: OrderRejected says released (%s), but %s was rejected (%s) at events [%d] offset %lld",
                where, line->settled_reason, command_ids[1], release->reason, (int)release->partition,
                (long long)release->offset);
    } else if (line->settled_status == ORDER_LINE_REJECTED) {
        if (!reserve->found || reserve->type != EVENT_COMMAND_REJECTED)
            difference(orders, "%s: OrderRejected says refused, but %s was %s", where, command_ids[0],
                       reserve->found ? "accepted" : "never decided on events");
    } else if (line->settled_status == ORDER_LINE_EXPIRED) {
        if (reservation->status != RESERVATION_EXPIRED)
            difference(orders, "%s: OrderRejected says the line expired, but its reservation %s", where,
                       reservation->status == 0 ? "was never reserved" : "did not expire");
    } else {
        const char *status = order_line_status_name(line->settled_status);
        difference(orders, "%s: OrderRejected with the line %s", where, status ? status : "?");
    }
}

/* Whether a confirmed order nobody asked to release or fulfil has a line whose reservation expired on
 * events: the order stage then releases the other lines (expiring) before it writes OrderExpired. Returns 1,
 * 0, or -1 with a message. */
static int order_expiring(struct verify_orders *orders, const struct kept_order *order, char *error,
                          size_t error_bytes)
{
    if (order->settled != ORDER_EVENT_CONFIRMED || order->closed != ORDER_EVENT_NONE || order->asked)
        return 0;
    for (uint32_t index = 0; index < order->line_count; index++) {
        char reservation_id[STOCKD_ID_BYTES_MAX + 1];
        snprintf(reservation_id, sizeof(reservation_id), "%s%s:%u", ORDER_ID_PREFIX, order->order_id,
                 (unsigned)index);
        struct kept_reservation reservation;
        if (reservation_load(orders, order->lines[index].sku, reservation_id, &reservation, error,
                             error_bytes) != 0)
            return -1;
        if (reservation.status == RESERVATION_EXPIRED) return 1;
    }
    return 0;
}

/* Judges one order's lines against their events. */
static int order_lines_judge(struct verify_orders *orders, const struct kept_order *order, char *error,
                             size_t error_bytes)
{
    bool closing = false;
    int expiring = order_expiring(orders, order, error, error_bytes);
    if (expiring < 0) return -1;
    for (uint32_t index = 0; index < order->line_count; index++) {
        const struct kept_line *line = &order->lines[index];
        char reservation_id[STOCKD_ID_BYTES_MAX + 1];
        char command_ids[3][STOCKD_ID_BYTES_MAX + 16];
        snprintf(reservation_id, sizeof(reservation_id), "%s%s:%u", ORDER_ID_PREFIX, order->order_id,
                 (unsigned)index);
        static const char *const ops[3] = {"reserve", "release", "fulfil"};
        const char *ids[3];
        for (int op = 0; op < 3; op++) {
            snprintf(command_ids[op], sizeof(command_ids[op]), "%s:%s", reservation_id, ops[op]);
            ids[op] = command_ids[op];
            if (decision_load(orders, ids[op], &orders->decisions[op], error, error_bytes) != 0) return -1;
        }
        struct kept_reservation reservation;
        if (reservation_load(orders, line->sku, reservation_id, &reservation, error, error_bytes) != 0)
            return -1;
        bool closed = order->closed != ORDER_EVENT_NONE;
        char where[STOCKD_ORDER_ID_BYTES_MAX + STOCKD_SKU_BYTES_MAX + STOCKD_LOCATION_BYTES_MAX + 128];
        snprintf(where, sizeof(where),
                 "orders [%d] offset %lld: order %s line %u (SKU %s at %s, quantity %lld)",
                 (int)order->partition, (long long)(closed ? order->closed_offset : order->settled_offset),
                 order->order_id, (unsigned)index, line->sku, line->location, (long long)line->quantity);
        if (order->settled == ORDER_EVENT_CONFIRMED)
            line_confirmed_judge(orders, where, order, index, &reservation, expiring == 1, ids, &closing);
        else
            line_rejected_judge(orders, where, line, reservation_id, &reservation, ids);
    }
    if (closing) orders->counts.in_flight++;
    return 0;
}

/* Every order line decision must belong to a line of an order placed, on that line's SKU. */
static int decisions_judge(struct verify_orders *orders, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = orders->statements[DECISION_EACH];
    int status;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        char command_id[STOCKD_ID_BYTES_MAX + 1];
        char sku[STOCKD_SKU_BYTES_MAX + 1];
        text_copy(command_id, sizeof(command_id), sqlite3_column_text(statement, 0));
        int partition = sqlite3_column_int(statement, 1);
        long long offset = (long long)sqlite3_column_int64(statement, 2);
        text_copy(sku, sizeof(sku), sqlite3_column_text(statement, 3));
        char order_id[STOCKD_ORDER_ID_BYTES_MAX + 1];
        uint32_t line = 0;
        enum order_op op = ORDER_OP_NONE;
        if (order_command_id_parse(command_id, order_id, sizeof(order_id), &line, &op) != 0) {
            difference(orders, "events [%d] offset %lld: command %s is not an order line's", partition,
                       offset, command_id);
            continue;
        }
        int found = order_load(orders, order_id, error, error_bytes);
        if (found < 0) {
            sqlite3_reset(statement);
            return -1;
        }
        const struct kept_order *order = &orders->order;
        if (found == 0 || line >= order->line_count || strcmp(order->lines[line].sku, sku) != 0)
            difference(orders, "events [%d] offset %lld: %s decided on SKU %s, but order %s %s", partition,
                       offset, command_id, sku, order_id,
                       found == 0                  ? "was never placed"
                       : line >= order->line_count ? "has no such line"
                                                   : "placed that line on another SKU");
    }
    sqlite3_reset(statement);
    return status == SQLITE_DONE ? 0 : sqlite_failed(orders, error, error_bytes);
}

int verify_orders_check(struct verify_orders *orders, int64_t now_ms, int64_t saga_timeout_ms, char *error,
                        size_t error_bytes)
{
    assert(orders != NULL && saga_timeout_ms >= 0);
    if (sqlite3_exec(orders->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return sqlite_failed(orders, error, error_bytes);
    sqlite3_stmt *statement = orders->statements[ORDER_EACH];
    struct kept_order *order = &orders->judged;
    int status;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        order_from_body(sqlite3_column_blob(statement, 0), (size_t)sqlite3_column_bytes(statement, 0), order);
        if (order->settled != ORDER_EVENT_NONE) {
            if (order_lines_judge(orders, order, error, error_bytes) != 0) {
                sqlite3_reset(statement);
                return -1;
            }
            continue;
        }
        int64_t late_ms = now_ms - order->submitted_ms - saga_timeout_ms;
        if (late_ms < VERIFY_ORDERS_SETTLE_GRACE_MS) {
            orders->counts.in_flight++;
            continue;
        }
        difference(orders,
                   "orders [%d] offset %lld: order %s is neither confirmed nor rejected %lld s past its saga "
                   "timeout (%lld s): is the order stage running?",
                   (int)order->partition, (long long)order->placed_offset, order->order_id,
                   (long long)(late_ms / 1000), (long long)(saga_timeout_ms / 1000));
    }
    sqlite3_reset(statement);
    if (status != SQLITE_DONE) return sqlite_failed(orders, error, error_bytes);
    return decisions_judge(orders, error, error_bytes);
}

/* ---- the order stage's shards ---------------------------------------------------------------------- */

int verify_orders_shards_find(struct verify_orders *orders, const char *data_dir, char *error,
                              size_t error_bytes)
{
    assert(orders != NULL && data_dir != NULL);
    assert(orders->counts.records == 0); /* before the fold: it folds up to these checkpoints */
    snprintf(orders->data_dir, sizeof(orders->data_dir), "%s", data_dir);
    int found = 0;
    for (int32_t partition = 0; partition < orders->partitions; partition++) {
        int64_t checkpoint = 0;
        int status = order_store_scan(data_dir, partition, &checkpoint, NULL, NULL, error, error_bytes);
        if (status < 0) return -1;
        orders->shard_checkpoints[partition] = status == 1 ? checkpoint : -1;
        found += status;
    }
    return found;
}

/* Writes into out the first field in which a shard's order state differs from the fold's; "" if none. */
static void state_difference(const struct order_state *want, const struct order_state *got, char *out,
                             size_t out_bytes)
{
    out[0] = '\0';
    const char *want_status = order_status_name(want->status);
    const char *got_status = order_status_name(got->status);
    if (strcmp(want->order_id, got->order_id) != 0)
        snprintf(out, out_bytes, "its state names order %s", got->order_id);
    else if (want->status != got->status)
        snprintf(out, out_bytes, "status %s, the fold says %s", got_status ? got_status : "?",
                 want_status ? want_status : "?");
    else if (strcmp(want->reason, got->reason) != 0)
        snprintf(out, out_bytes, "reason \"%s\", the fold says \"%s\"", got->reason, want->reason);
    else if (want->ttl_s != got->ttl_s || want->submitted_ms != got->submitted_ms)
        snprintf(out, out_bytes, "ttl_s %lld, submitted_ms %lld, the fold says %lld, %lld",
                 (long long)got->ttl_s, (long long)got->submitted_ms, (long long)want->ttl_s,
                 (long long)want->submitted_ms);
    else if (want->line_count != got->line_count)
        snprintf(out, out_bytes, "%u lines, the fold says %u", (unsigned)got->line_count,
                 (unsigned)want->line_count);
    for (uint32_t i = 0; out[0] == '\0' && i < want->line_count; i++) {
        const struct order_line *a = &want->lines[i];
        const struct order_line *b = &got->lines[i];
        const char *a_status = order_line_status_name(a->status);
        const char *b_status = order_line_status_name(b->status);
        if (strcmp(a->sku, b->sku) != 0 || strcmp(a->location, b->location) != 0 ||
            a->quantity != b->quantity)
            snprintf(out, out_bytes, "line %u is SKU %s at %s, quantity %lld; the fold says %s at %s, %lld",
                     (unsigned)i, b->sku, b->location, (long long)b->quantity, a->sku, a->location,
                     (long long)a->quantity);
        else if (a->status != b->status || strcmp(a->reason, b->reason) != 0)
            snprintf(out, out_bytes, "line %u %s (\"%s\"), the fold says %s (\"%s\")", (unsigned)i,
                     b_status ? b_status : "?", b->reason, a_status ? a_status : "?", a->reason);
        else if (a->release_pending != b->release_pending || a->fulfil_pending != b->fulfil_pending)
            snprintf(out, out_bytes,
                     "line %u waits for release %d, fulfilment %d; the fold says release %d, fulfilment %d",
                     (unsigned)i, (int)b->release_pending, (int)b->fulfil_pending, (int)a->release_pending,
                     (int)a->fulfil_pending);
        else if (a->position.partition != b->position.partition ||
                 (a->position.partition >= 0 && a->position.offset != b->position.offset))
            snprintf(out, out_bytes, "line %u at events [%d] offset %lld, the fold says [%d] offset %lld",
                     (unsigned)i, (int)b->position.partition, (long long)b->position.offset,
                     (int)a->position.partition, (long long)a->position.offset);
    }
}

/* A shard comparison under way: the shard's orders, in order id order, merged with the fold's. */
struct shard_compare {
    struct verify_orders *orders;
    int32_t partition;
    int64_t checkpoint;         /* read before the fold */
    int64_t checkpoint_scanned; /* read by the comparison's scan */
    bool moved;                 /* they differ: the shard was not compared */
    int status;                 /* of the fold's statement: SQLITE_ROW while it is on an order */
    char error[256];
};

/* Steps the fold's statement to its next order. Returns 0, or -1 (SQLite; error set). */
static int fold_next(struct shard_compare *compare)
{
    compare->status = sqlite3_step(compare->orders->statements[STATE_EACH]);
    if (compare->status == SQLITE_ROW || compare->status == SQLITE_DONE) return 0;
    snprintf(compare->error, sizeof(compare->error), "%s", sqlite3_errmsg(compare->orders->db));
    return -1;
}

static const char *fold_order_id(const struct shard_compare *compare)
{
    const unsigned char *text = sqlite3_column_text(compare->orders->statements[STATE_EACH], 0);
    return text != NULL ? (const char *)text : "";
}

/* Reports the fold's orders before order_id (all of them when NULL) as missing from the shard. */
static int fold_missing(struct shard_compare *compare, const char *order_id)
{
    sqlite3_stmt *statement = compare->orders->statements[STATE_EACH];
    while (compare->status == SQLITE_ROW &&
           (order_id == NULL || strcmp(fold_order_id(compare), order_id) < 0)) {
        difference(compare->orders,
                   "orders shard %d (checkpoint %lld): order %s is not there, the fold of orders has it "
                   "(last changed at offset %lld)",
                   (int)compare->partition, (long long)compare->checkpoint, fold_order_id(compare),
                   (long long)sqlite3_column_int64(statement, 1));
        if (fold_next(compare) != 0) return -1;
    }
    return 0;
}

/* order_store_scan's visit: one order of the shard against the fold's. */
static int shard_order_compare(void *context, const char *order_id, const char *status,
                               const struct order_state *state, const char *decoded, int64_t offset)
{
    struct shard_compare *compare = context;
    struct verify_orders *orders = compare->orders;
    if (compare->checkpoint_scanned != compare->checkpoint) {
        compare->moved = true;
        return -1;
    }
    if (fold_missing(compare, order_id) != 0) return -1;
    orders->counts.shard_orders_compared++;
    char where[STOCKD_ORDER_ID_BYTES_MAX + 96];
    snprintf(where, sizeof(where), "orders shard %d (checkpoint %lld): order %s", (int)compare->partition,
             (long long)compare->checkpoint, order_id);
    if (compare->status != SQLITE_ROW || strcmp(fold_order_id(compare), order_id) != 0) {
        difference(orders, "%s: not in the fold of orders up to the checkpoint", where);
        return 0;
    }
    sqlite3_stmt *statement = orders->statements[STATE_EACH];
    int64_t fold_offset = sqlite3_column_int64(statement, 1);
    state_from_body(sqlite3_column_blob(statement, 2), (size_t)sqlite3_column_bytes(statement, 2),
                    &orders->folded);
    char text[384];
    const char *fold_status = order_status_name(orders->folded.status);
    if (state == NULL)
        difference(orders, "%s: %s", where, decoded);
    else if (state_difference(&orders->folded, state, text, sizeof(text)), text[0] != '\0')
        difference(orders, "%s: %s", where, text);
    else if (strcmp(status, fold_status ? fold_status : "") != 0)
        difference(orders, "%s: status column %s, its state says %s", where, status, fold_status);
    else if (offset != fold_offset)
        difference(orders, "%s: last changed at offset %lld, the fold says %lld", where, (long long)offset,
                   (long long)fold_offset);
    return fold_next(compare);
}

/* Compares one shard with the fold. Returns 0, or -1 with a message. */
static int shard_compare(struct verify_orders *orders, int32_t partition, int64_t after_last, int64_t end,
                         char *error, size_t error_bytes)
{
    struct shard_compare compare = {
        .orders = orders, .partition = partition, .checkpoint = orders->shard_checkpoints[partition]};
    if (compare.checkpoint > end) {
        difference(orders,
                   "orders shard %d: checkpoint %lld is past the end of its partition (%lld): was the topic "
                   "recreated?",
                   (int)partition, (long long)compare.checkpoint, (long long)end);
        return 0;
    }
    if (compare.checkpoint < after_last) orders->counts.shards_behind++;
    sqlite3_stmt *statement = orders->statements[STATE_EACH];
    sqlite3_bind_int(statement, 1, partition);
    int status = fold_next(&compare);
    if (status == 0)
        status = order_store_scan(orders->data_dir, partition, &compare.checkpoint_scanned,
                                  shard_order_compare, &compare, error, error_bytes) == 1
                     ? 0
                     : -1;
    if (status == 0 && compare.checkpoint_scanned != compare.checkpoint) compare.moved = true;
    if (status == 0 && !compare.moved) status = fold_missing(&compare, NULL);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (compare.error[0] != '\0') {
        snprintf(error, error_bytes, "verify orders scratch: %s", compare.error);
        return -1;
    }
    if (compare.moved) {
        difference(orders,
                   "orders shard %d: checkpoint %lld when verify began, %lld now: the order stage is running "
                   "(verify a quiet system)",
                   (int)partition, (long long)compare.checkpoint, (long long)compare.checkpoint_scanned);
        return 0;
    }
    if (status != 0) return -1;
    orders->counts.shards_compared++;
    return 0;
}

int verify_orders_shards_check(struct verify_orders *orders, const int64_t *after_last, const int64_t *ends,
                               char *error, size_t error_bytes)
{
    assert(orders != NULL && after_last != NULL && ends != NULL);
    for (int32_t partition = 0; partition < orders->partitions; partition++) {
        if (orders->shard_checkpoints[partition] < 0) continue;
        if (shard_compare(orders, partition, after_last[partition], ends[partition], error, error_bytes) != 0)
            return -1;
    }
    return 0;
}
