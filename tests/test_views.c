/* test_views.c - the four read models (stock, reservations, history, outcomes) and their queries.
 *
 * Each test opens all four views on fresh migrated databases, drives commands through domain_decide and
 * domain_evolve on an in-memory model (so the event streams are realistic), folds the events into the
 * views in transactions as the projector does, then queries through read-only connections. The random
 * walk checks that the stock view equals the domain's fold. STOCKD_TEST_SEED=<n> replays a seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "domain/codec.h"
#include "domain/domain.h"
#include "store/sqlite_util.h"
#include "views/query.h"
#include "views/view.h"
#include "views/view_util.h"

#define NOW_MS     INT64_C(1764000000000)
#define PARTITIONS 4

enum view_index { VIEW_STOCK, VIEW_RESERVATIONS, VIEW_HISTORY, VIEW_OUTCOMES, VIEW_COUNT };

static const struct view_ops *const all_views[VIEW_COUNT] = {
    [VIEW_STOCK] = &view_stock_ops,
    [VIEW_RESERVATIONS] = &view_reservations_ops,
    [VIEW_HISTORY] = &view_history_ops,
    [VIEW_OUTCOMES] = &view_outcomes_ops,
};

struct view_handle {
    const struct view_ops *ops;
    sqlite3 *db;     /* the projector's read-write connection */
    void *state;     /* the view's statements */
    sqlite3 *reader; /* a read-only connection, as queries get */
};

/* One SKU key of the model: the domain's fold, every reservation it made, and what the stock view should
 * show as the row's last change (rejections change nothing there). */
struct model_sku {
    struct sku_state state;
    struct reservation_state *reservations;
    size_t reservation_count;
    size_t reservation_capacity;
    uint64_t changed_sequence;
    int64_t changed_ms;
};

struct fixture {
    char dir[256];
    char error[512];
    struct view_handle views[VIEW_COUNT];
    struct model_sku *skus;
    size_t sku_count;
    size_t sku_capacity;
    int64_t now_ms;
    long command_serial;
    int64_t offsets[PARTITIONS]; /* next offset per partition of the pretend events topic */
    bool in_batch;
    struct decision decision; /* the last one */
};

/* ---- fixture ------------------------------------------------------------------------------------------- */

static void view_handle_open(struct fixture *f, struct view_handle *view, const struct view_ops *ops)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s.db", f->dir, ops->name);
    char kind[64];
    snprintf(kind, sizeof(kind), "views/%s", ops->name);
    view->ops = ops;
    view->db = sqlite_util_open(path, 1, f->error, sizeof(f->error));
    assert_non_null(view->db);
    assert_int_equal(sqlite_util_migrate(view->db, kind, f->error, sizeof(f->error)),
                     sqlite_util_schema_version(kind));
    static struct stockd_config defaults;
    stockd_config_defaults(&defaults);
    view->state = ops->open(view->db, &defaults, f->error, sizeof(f->error));
    if (view->state == NULL) fail_msg("%s: %s", ops->name, f->error);
    assert_int_equal(sqlite3_open_v2(path, &view->reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/stockd-test-views-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    for (int i = 0; i < VIEW_COUNT; i++)
        view_handle_open(f, &f->views[i], all_views[i]);
    f->now_ms = NOW_MS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < VIEW_COUNT; i++) {
        f->views[i].ops->close(f->views[i].state);
        sqlite_util_cached_close(f->views[i].reader); /* the queries keep their statements on it */
        sqlite3_close(f->views[i].db);
    }
    for (size_t i = 0; i < f->sku_count; i++)
        free(f->skus[i].reservations);
    free(f->skus);
    char command[400];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char error[256];
    if (sqlite_util_exec(db, sql, error, sizeof(error)) != 0) fail_msg("%s: %s", sql, error);
}

static void batch_begin(struct fixture *f)
{
    assert_false(f->in_batch);
    for (int i = 0; i < VIEW_COUNT; i++)
        exec_ok(f->views[i].db, "BEGIN IMMEDIATE");
    f->in_batch = true;
}

static void batch_commit(struct fixture *f)
{
    assert_true(f->in_batch);
    for (int i = 0; i < VIEW_COUNT; i++)
        exec_ok(f->views[i].db, "COMMIT");
    f->in_batch = false;
}

/* Opens a read transaction on a view's reader and returns the reader; reader_end closes it. */
static sqlite3 *reader_begin(struct fixture *f, enum view_index index)
{
    exec_ok(f->views[index].reader, "BEGIN");
    return f->views[index].reader;
}

static void reader_end(sqlite3 *reader)
{
    exec_ok(reader, "COMMIT");
}

/* Folds one event into every view at the next offset of its SKU's partition. Every other event comes with
 * its canonical JSON, as the projector hands over a compact record, the others without: the views must
 * make the same rows of both. */
static struct view_position event_feed(struct fixture *f, const struct event *event)
{
    int32_t partition = 0;
    for (const char *c = event->sku; *c != '\0'; c++)
        partition = (partition + (unsigned char)*c) % PARTITIONS;
    struct view_position position = {.partition = partition, .offset = f->offsets[partition]++};
    bool has_json = position.offset % 2 == 0 && domain_event_type_name(event->type) != NULL;
    char *encoded = has_json ? codec_event_encode(event) : NULL;
    struct view_json json = {encoded, encoded != NULL ? strlen(encoded) : 0};
    for (int i = 0; i < VIEW_COUNT; i++) {
        const struct view_handle *view = &f->views[i];
        if (view->ops->apply(view->state, event, position, json, f->error, sizeof(f->error)) != 0)
            fail_msg("%s refused %s: %s", view->ops->name, domain_event_type_name(event->type), f->error);
    }
    free(encoded);
    return position;
}

/* ---- the model: decide and evolve, as the handler does ------------------------------------------------ */

static struct model_sku *model_sku_get(struct fixture *f, const char *sku)
{
    for (size_t i = 0; i < f->sku_count; i++) {
        if (strcmp(f->skus[i].state.sku, sku) == 0) return &f->skus[i];
    }
    if (f->sku_count == f->sku_capacity) {
        f->sku_capacity = f->sku_capacity ? f->sku_capacity * 2 : 16;
        f->skus = realloc(f->skus, f->sku_capacity * sizeof(*f->skus));
        assert_non_null(f->skus);
    }
    struct model_sku *model = &f->skus[f->sku_count++];
    memset(model, 0, sizeof(*model));
    domain_sku_state_init(&model->state, sku);
    return model;
}

static struct reservation_state *model_reservation_find(struct model_sku *model, const char *reservation_id)
{
    for (size_t i = model->reservation_count; i-- > 0;) {
        if (strcmp(model->reservations[i].reservation_id, reservation_id) == 0)
            return &model->reservations[i];
    }
    return NULL;
}

static void model_reservation_store(struct model_sku *model, const struct reservation_state *reservation)
{
    struct reservation_state *slot = model_reservation_find(model, reservation->reservation_id);
    if (slot == NULL) {
        if (model->reservation_count == model->reservation_capacity) {
            model->reservation_capacity = model->reservation_capacity ? model->reservation_capacity * 2 : 64;
            model->reservations =
                realloc(model->reservations, model->reservation_capacity * sizeof(*model->reservations));
            assert_non_null(model->reservations);
        }
        slot = &model->reservations[model->reservation_count++];
    }
    *slot = *reservation;
}

/* Adds a named reservation to a set when the model has it and the set does not, as a shard lookup. */
static void set_add(struct model_sku *model, const char *reservation_id, struct reservation_set *set)
{
    const struct reservation_state *reservation = model_reservation_find(model, reservation_id);
    if (reservation == NULL || domain_reservation_find(set, reservation_id) != NULL) return;
    assert_true(set->count < STOCKD_EXPIRE_BATCH_MAX);
    set->items[set->count++] = *reservation;
}

/* Decides a command at f->now_ms, folds its events into the model and into every view (in a transaction
 * of its own unless a batch is open). Returns the decision. */
static const struct decision *command_run(struct fixture *f, struct command *command)
{
    if (command->command_id[0] == '\0')
        snprintf(command->command_id, sizeof(command->command_id), "c-%ld", ++f->command_serial);
    struct model_sku *model = model_sku_get(f, command->sku);
    struct reservation_set set = {.count = 0};
    if (command->reservation_id[0] != '\0') set_add(model, command->reservation_id, &set);
    for (uint32_t i = 0; i < command->expire_count; i++)
        set_add(model, command->expire_ids[i], &set);
    domain_decide(&model->state, &set, command, f->now_ms, &f->decision);
    bool own_batch = !f->in_batch;
    if (own_batch) batch_begin(f);
    for (uint32_t i = 0; i < f->decision.event_count; i++) {
        const struct event *event = &f->decision.events[i];
        assert_int_equal(domain_evolve(&model->state, &set, event), 0);
        for (uint32_t r = 0; r < set.count; r++)
            model_reservation_store(model, &set.items[r]);
        if (event->type != EVENT_COMMAND_REJECTED) {
            model->changed_sequence = event->sequence;
            model->changed_ms = event->time_ms;
        }
        event_feed(f, event);
    }
    if (own_batch) batch_commit(f);
    return &f->decision;
}

static struct command command_make(enum command_type type, const char *sku)
{
    struct command command;
    memset(&command, 0, sizeof(command));
    command.type = type;
    snprintf(command.sku, sizeof(command.sku), "%s", sku);
    return command;
}

static bool accepted(const struct decision *decision)
{
    return decision->events[0].type != EVENT_COMMAND_REJECTED;
}

static const struct decision *create_sku(struct fixture *f, const char *sku, const char *name,
                                         int64_t reorder_point)
{
    struct command command = command_make(COMMAND_CREATE_SKU, sku);
    snprintf(command.name, sizeof(command.name), "%s", name);
    command.reorder_point = reorder_point;
    return command_run(f, &command);
}

static const struct decision *receive(struct fixture *f, const char *sku, const char *location,
                                      int64_t quantity)
{
    struct command command = command_make(COMMAND_RECEIVE_STOCK, sku);
    snprintf(command.location, sizeof(command.location), "%s", location);
    command.quantity = quantity;
    return command_run(f, &command);
}

static const struct decision *adjust(struct fixture *f, const char *sku, const char *location, bool counted,
                                     int64_t value)
{
    struct command command = command_make(COMMAND_ADJUST_STOCK, sku);
    snprintf(command.location, sizeof(command.location), "%s", location);
    snprintf(command.reason, sizeof(command.reason), "%s", counted ? "stock take" : "damaged \"in transit\"");
    command.counted_set = counted;
    if (counted)
        command.counted = value;
    else
        command.delta = value;
    return command_run(f, &command);
}

static const struct decision *reserve(struct fixture *f, const char *sku, const char *reservation_id,
                                      const char *location, int64_t quantity, int64_t ttl_s)
{
    struct command command = command_make(COMMAND_RESERVE_STOCK, sku);
    snprintf(command.reservation_id, sizeof(command.reservation_id), "%s", reservation_id);
    snprintf(command.location, sizeof(command.location), "%s", location);
    command.quantity = quantity;
    command.ttl_s = ttl_s;
    return command_run(f, &command);
}

static const struct decision *settle(struct fixture *f, enum command_type type, const char *sku,
                                     const char *reservation_id)
{
    struct command command = command_make(type, sku);
    snprintf(command.reservation_id, sizeof(command.reservation_id), "%s", reservation_id);
    return command_run(f, &command);
}

static const struct decision *transfer(struct fixture *f, const char *sku, const char *from, const char *to,
                                       int64_t quantity)
{
    struct command command = command_make(COMMAND_TRANSFER_STOCK, sku);
    snprintf(command.location, sizeof(command.location), "%s", from);
    snprintf(command.to_location, sizeof(command.to_location), "%s", to);
    command.quantity = quantity;
    return command_run(f, &command);
}

static const struct decision *expire(struct fixture *f, const char *sku, const char *const *ids,
                                     uint32_t count)
{
    struct command command = command_make(COMMAND_EXPIRE_RESERVATIONS, sku);
    for (uint32_t i = 0; i < count; i++)
        snprintf(command.expire_ids[i], sizeof(command.expire_ids[i]), "%s", ids[i]);
    command.expire_count = count;
    return command_run(f, &command);
}

/* ---- comparing the stock view with the fold ----------------------------------------------------------- */

/* Fails with a message naming the SKU when the condition does not hold. */
#define CHECK(condition, ...)                                                                                \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            print_message("FAILED: ");                                                                       \
            print_message(__VA_ARGS__);                                                                      \
            print_message("\n");                                                                             \
            fail();                                                                                          \
        }                                                                                                    \
    } while (0)

/* The stock view's row for a SKU equals the model's fold: definition, every location, totals, the below
 * flag, and the last change. */
static void stock_check_against_fold(struct fixture *f, const struct model_sku *model)
{
    static struct view_stock_sku row;
    sqlite3 *reader = reader_begin(f, VIEW_STOCK);
    int found = view_stock_get(reader, model->state.sku, &row, f->error, sizeof(f->error));
    reader_end(reader);
    const struct sku_state *state = &model->state;
    if (!state->exists) {
        CHECK(found == 0, "%s was never created but the view has it (%d)", state->sku, found);
        return;
    }
    CHECK(found == 1, "%s: view_stock_get gave %d: %s", state->sku, found, f->error);
    CHECK(strcmp(row.summary.name, state->name) == 0 && row.summary.reorder_point == state->reorder_point,
          "%s: definition differs", state->sku);
    CHECK(row.summary.sequence == model->changed_sequence && row.summary.updated_ms == model->changed_ms,
          "%s: sequence %llu at %lld, fold %llu at %lld", state->sku,
          (unsigned long long)row.summary.sequence, (long long)row.summary.updated_ms,
          (unsigned long long)model->changed_sequence, (long long)model->changed_ms);
    CHECK(row.location_count == state->location_count && !row.locations_truncated,
          "%s: %u locations, fold %u", state->sku, row.location_count, state->location_count);
    int64_t on_hand = 0, reserved = 0;
    for (uint32_t i = 0; i < state->location_count; i++) {
        const struct location_stock *stock = &state->locations[i];
        const struct view_stock_location *shown = NULL;
        for (uint32_t j = 0; j < row.location_count; j++) {
            if (strcmp(row.locations[j].location, stock->location) == 0) shown = &row.locations[j];
        }
        CHECK(shown != NULL, "%s: location %s missing", state->sku, stock->location);
        CHECK(shown->on_hand == stock->on_hand && shown->reserved == stock->reserved &&
                  shown->available == stock->on_hand - stock->reserved,
              "%s %s: view %lld/%lld, fold %lld/%lld", state->sku, stock->location, (long long)shown->on_hand,
              (long long)shown->reserved, (long long)stock->on_hand, (long long)stock->reserved);
        on_hand += stock->on_hand;
        reserved += stock->reserved;
    }
    for (uint32_t j = 1; j < row.location_count; j++)
        CHECK(strcmp(row.locations[j - 1].location, row.locations[j].location) < 0, "locations out of order");
    CHECK(row.summary.on_hand == on_hand && row.summary.reserved == reserved &&
              row.summary.available == on_hand - reserved,
          "%s: totals %lld/%lld, fold %lld/%lld", state->sku, (long long)row.summary.on_hand,
          (long long)row.summary.reserved, (long long)on_hand, (long long)reserved);
    CHECK(row.summary.below_reorder_point == (on_hand - reserved < state->reorder_point), "%s: below flag",
          state->sku);
}

/* The reservations view holds exactly the model's reservations of a SKU, field by field. */
static void reservations_check_against_fold(struct fixture *f, const struct model_sku *model)
{
    sqlite3 *reader = reader_begin(f, VIEW_RESERVATIONS);
    for (size_t i = 0; i < model->reservation_count; i++) {
        const struct reservation_state *expected = &model->reservations[i];
        struct view_reservation shown;
        int found = view_reservation_get(reader, model->state.sku, expected->reservation_id, &shown, f->error,
                                         sizeof(f->error));
        CHECK(found == 1, "%s %s: %d %s", model->state.sku, expected->reservation_id, found, f->error);
        CHECK(shown.status == expected->status && shown.quantity == expected->quantity &&
                  strcmp(shown.location, expected->location) == 0 &&
                  shown.expires_at_ms == expected->expires_at_ms &&
                  shown.created_ms == expected->created_ms && shown.updated_ms == expected->updated_ms,
              "%s %s differs", model->state.sku, expected->reservation_id);
    }
    reader_end(reader);
}

/* ---- stock -----------------------------------------------------------------------------------------------
 */

static void stock_get(struct fixture *f, const char *sku, struct view_stock_sku *out)
{
    sqlite3 *reader = reader_begin(f, VIEW_STOCK);
    int found = view_stock_get(reader, sku, out, f->error, sizeof(f->error));
    reader_end(reader);
    if (found != 1) fail_msg("view_stock_get(%s) = %d: %s", sku, found, f->error);
}

static void test_stock_folds_every_event_type(void **state)
{
    struct fixture *f = *state;
    struct model_sku *model = model_sku_get(f, "SKU-1");
    static struct view_stock_sku row;

    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 5)));
    stock_get(f, "SKU-1", &row);
    assert_string_equal(row.summary.name, "Blue widget");
    assert_int_equal(row.summary.reorder_point, 5);
    assert_int_equal(row.summary.sequence, 1);
    assert_int_equal(row.summary.updated_ms, NOW_MS);
    assert_int_equal(row.location_count, 0);
    assert_true(row.summary.below_reorder_point); /* 0 available < 5 */

    f->now_ms += 10;
    assert_true(accepted(receive(f, "SKU-1", "WH-1", 10)));
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.on_hand, 10);
    assert_int_equal(row.summary.available, 10);
    assert_false(row.summary.below_reorder_point);
    assert_int_equal(row.summary.updated_ms, NOW_MS + 10);

    assert_true(accepted(adjust(f, "SKU-1", "WH-1", false, 3)));  /* + */
    assert_true(accepted(adjust(f, "SKU-1", "WH-1", false, -2))); /* - */
    assert_true(accepted(adjust(f, "SKU-1", "WH-1", true, 7)));   /* counted: delta -4 */
    assert_true(accepted(adjust(f, "SKU-1", "WH-3", true, 0)));   /* a count of nothing adds the location */
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.on_hand, 7);
    assert_int_equal(row.location_count, 2);
    assert_string_equal(row.locations[1].location, "WH-3");
    assert_int_equal(row.locations[1].on_hand, 0);
    stock_check_against_fold(f, model);

    assert_true(accepted(reserve(f, "SKU-1", "R-1", "WH-1", 3, 0)));
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.locations[0].reserved, 3);
    assert_int_equal(row.locations[0].available, 4);
    assert_int_equal(row.summary.available, 4);
    assert_true(row.summary.below_reorder_point); /* 4 < 5 */

    assert_true(accepted(settle(f, COMMAND_RELEASE_RESERVATION, "SKU-1", "R-1")));
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.reserved, 0);
    assert_int_equal(row.summary.on_hand, 7);

    assert_true(accepted(reserve(f, "SKU-1", "R-2", "WH-1", 2, 0)));
    assert_true(accepted(settle(f, COMMAND_FULFIL_RESERVATION, "SKU-1", "R-2")));
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.on_hand, 5);
    assert_int_equal(row.summary.reserved, 0);

    assert_true(accepted(reserve(f, "SKU-1", "R-3", "WH-1", 1, 10)));
    f->now_ms += 10 * 1000;
    const char *due[] = {"R-3"};
    assert_true(accepted(expire(f, "SKU-1", due, 1)));
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.reserved, 0);
    assert_int_equal(row.summary.on_hand, 5);

    assert_true(accepted(transfer(f, "SKU-1", "WH-1", "WH-2", 2)));
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.location_count, 3);
    assert_string_equal(row.locations[0].location, "WH-1");
    assert_int_equal(row.locations[0].on_hand, 3);
    assert_string_equal(row.locations[1].location, "WH-2");
    assert_int_equal(row.locations[1].on_hand, 2);
    assert_int_equal(row.summary.on_hand, 5);
    uint64_t sequence = row.summary.sequence;
    int64_t updated_ms = row.summary.updated_ms;
    stock_check_against_fold(f, model);

    /* A rejection is an event of the SKU but changes no stock, nor the row's last change. */
    f->now_ms += 1000;
    assert_false(accepted(reserve(f, "SKU-1", "R-4", "WH-1", 1000, 0)));
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.sequence, sequence);
    assert_int_equal(row.summary.updated_ms, updated_ms);
    assert_int_equal(row.summary.on_hand, 5);
    assert_int_equal(model->state.sequence, sequence + 1);
    stock_check_against_fold(f, model);

    /* Rejections of a SKU never created leave no row. */
    assert_false(accepted(receive(f, "SKU-GHOST", "WH-1", 1)));
    sqlite3 *reader = reader_begin(f, VIEW_STOCK);
    assert_int_equal(view_stock_get(reader, "SKU-GHOST", &row, f->error, sizeof(f->error)), 0);
    reader_end(reader);
}

static void test_stock_get_refuses_malformed_sku(void **state)
{
    struct fixture *f = *state;
    static struct view_stock_sku row;
    char long_sku[STOCKD_SKU_BYTES_MAX + 2];
    memset(long_sku, 'A', sizeof(long_sku) - 1);
    long_sku[sizeof(long_sku) - 1] = '\0';
    sqlite3 *reader = reader_begin(f, VIEW_STOCK);
    assert_int_equal(view_stock_get(reader, "", &row, f->error, sizeof(f->error)), VIEW_QUERY_INVALID);
    assert_int_equal(view_stock_get(reader, "SKU 1", &row, f->error, sizeof(f->error)), VIEW_QUERY_INVALID);
    assert_int_equal(view_stock_get(reader, long_sku, &row, f->error, sizeof(f->error)), VIEW_QUERY_INVALID);
    assert_non_null(strstr(f->error, "sku"));
    assert_int_equal(view_stock_get(reader, NULL, &row, f->error, sizeof(f->error)), VIEW_QUERY_INVALID);
    assert_int_equal(view_stock_get(reader, "SKU-404", &row, f->error, sizeof(f->error)), 0);
    reader_end(reader);
}

/* Lists pages until the end, appending the SKUs to seen (in order); between pages, calls between(page). */
static size_t stock_list_all(struct fixture *f, bool below_only, uint32_t limit,
                             char seen[][STOCKD_SKU_BYTES_MAX + 1], size_t seen_max,
                             void (*between)(struct fixture *, int))
{
    static struct view_stock_page page;
    char cursor[VIEW_CURSOR_BYTES_MAX + 1] = "";
    size_t seen_count = 0;
    for (int page_number = 0;; page_number++) {
        sqlite3 *reader = reader_begin(f, VIEW_STOCK);
        int count = view_stock_list(reader, below_only, cursor, limit, &page, f->error, sizeof(f->error));
        reader_end(reader);
        if (count < 0) fail_msg("view_stock_list: %s", f->error);
        assert_true((uint32_t)count <= limit);
        for (int i = 0; i < count; i++) {
            assert_true(seen_count < seen_max);
            snprintf(seen[seen_count++], STOCKD_SKU_BYTES_MAX + 1, "%s", page.items[i].sku);
            if (below_only) assert_true(page.items[i].below_reorder_point);
        }
        if (page.next_cursor[0] == '\0') break;
        assert_int_equal(count, limit);
        for (const char *c = page.next_cursor; *c != '\0'; c++) /* URL-safe as it is */
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c));
        snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
        if (between != NULL) between(f, page_number);
    }
    return seen_count;
}

static bool seen_contains(char seen[][STOCKD_SKU_BYTES_MAX + 1], size_t count, const char *sku)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(seen[i], sku) == 0) return true;
    }
    return false;
}

/* 30 SKUs SKU-010 .. SKU-300 (step 10): the ones whose number ends in 20, 40, ... are below their reorder
 * point of 5 (no stock); the others hold 50. */
static void skus_seed(struct fixture *f)
{
    batch_begin(f);
    for (int i = 1; i <= 30; i++) {
        char sku[16];
        snprintf(sku, sizeof(sku), "SKU-%03d", i * 10);
        assert_true(accepted(create_sku(f, sku, "Thing", 5)));
        if (i % 2 == 1) assert_true(accepted(receive(f, sku, "WH-1", 50)));
    }
    batch_commit(f);
}

/* After the first page (SKU-010 .. SKU-070): one SKU before the cursor, one after it, one at the end. */
static void insert_around_cursor(struct fixture *f, int page_number)
{
    if (page_number != 0) return;
    assert_true(accepted(create_sku(f, "SKU-005", "Early", 0)));
    assert_true(accepted(create_sku(f, "SKU-075", "Middle", 0)));
    assert_true(accepted(create_sku(f, "SKU-305", "Late", 0)));
}

static void test_stock_list_pages_by_sku_without_skips_or_repeats(void **state)
{
    struct fixture *f = *state;
    skus_seed(f);
    char seen[64][STOCKD_SKU_BYTES_MAX + 1];
    size_t count = stock_list_all(f, false, 7, seen, 64, insert_around_cursor);
    for (size_t i = 1; i < count; i++)
        assert_true(strcmp(seen[i - 1], seen[i]) < 0); /* strictly increasing: no repeats */
    for (int i = 1; i <= 30; i++) {
        char sku[16];
        snprintf(sku, sizeof(sku), "SKU-%03d", i * 10);
        assert_true(seen_contains(seen, count, sku));
    }
    assert_false(seen_contains(seen, count, "SKU-005")); /* behind the cursor when it appeared */
    assert_true(seen_contains(seen, count, "SKU-075"));
    assert_true(seen_contains(seen, count, "SKU-305"));
    assert_int_equal(count, 32);

    /* 33 SKUs now, pages of 11: the third page is full and still the last one (no empty page after). */
    static struct view_stock_page page;
    char cursor[VIEW_CURSOR_BYTES_MAX + 1] = "";
    for (int i = 0; i < 3; i++) {
        sqlite3 *reader = reader_begin(f, VIEW_STOCK);
        assert_int_equal(view_stock_list(reader, false, cursor, 11, &page, f->error, sizeof(f->error)), 11);
        reader_end(reader);
        assert_true((page.next_cursor[0] == '\0') == (i == 2));
        snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
    }
}

static void test_stock_list_cursor_is_stable(void **state)
{
    struct fixture *f = *state;
    skus_seed(f);
    static struct view_stock_page first, again;
    sqlite3 *reader = reader_begin(f, VIEW_STOCK);
    assert_int_equal(view_stock_list(reader, false, NULL, 5, &first, f->error, sizeof(f->error)), 5);
    char cursor[VIEW_CURSOR_BYTES_MAX + 1];
    snprintf(cursor, sizeof(cursor), "%s", first.next_cursor);
    assert_int_equal(view_stock_list(reader, false, cursor, 5, &first, f->error, sizeof(f->error)), 5);
    assert_int_equal(view_stock_list(reader, false, cursor, 5, &again, f->error, sizeof(f->error)), 5);
    reader_end(reader);
    for (uint32_t i = 0; i < 5; i++)
        assert_string_equal(first.items[i].sku, again.items[i].sku);
    assert_string_equal(first.items[0].sku, "SKU-060");
    /* The same position gives the same cursor: it is a function of the last SKU only. */
    assert_string_equal(first.next_cursor, again.next_cursor);
}

/* Between pages of the below listing: SKU-100 (below, not yet listed) receives stock and leaves the
 * filter; SKU-110 (not below, not yet listed) is counted down to zero and enters it; SKU-020 (listed)
 * leaves it. */
static void change_below_between_pages(struct fixture *f, int page_number)
{
    if (page_number != 0) return;
    assert_true(accepted(receive(f, "SKU-100", "WH-1", 50)));
    assert_true(accepted(adjust(f, "SKU-110", "WH-1", true, 0)));
    assert_true(accepted(receive(f, "SKU-020", "WH-1", 50)));
}

static void test_stock_list_below_reorder_point_pages(void **state)
{
    struct fixture *f = *state;
    skus_seed(f);
    char seen[64][STOCKD_SKU_BYTES_MAX + 1];
    size_t count = stock_list_all(f, true, 4, seen, 64, NULL);
    assert_int_equal(count, 15);
    for (size_t i = 0; i < count; i++) {
        char sku[16];
        snprintf(sku, sizeof(sku), "SKU-%03d", (int)(i + 1) * 20);
        assert_string_equal(seen[i], sku);
    }

    count = stock_list_all(f, true, 4, seen, 64, change_below_between_pages);
    for (size_t i = 1; i < count; i++)
        assert_true(strcmp(seen[i - 1], seen[i]) < 0);
    assert_true(seen_contains(seen, count, "SKU-020")); /* listed before it left */
    assert_false(seen_contains(seen, count, "SKU-100"));
    assert_true(seen_contains(seen, count, "SKU-110"));
    for (int i = 1; i <= 15; i++) {
        char sku[16];
        snprintf(sku, sizeof(sku), "SKU-%03d", i * 20);
        if (i != 5) assert_true(seen_contains(seen, count, sku)); /* below all along */
    }
    assert_int_equal(count, 15); /* 15 - SKU-100 + SKU-110 */
}

static void test_stock_list_below_reorder_point_can_use_its_partial_index(void **state)
{
    struct fixture *f = *state;
    sqlite3_stmt *plan = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(f->views[VIEW_STOCK].reader,
                           "EXPLAIN QUERY PLAN SELECT sku FROM stock_skus"
                           " WHERE reorder_point > on_hand - reserved AND sku > ?1 ORDER BY sku LIMIT ?2",
                           -1, &plan, NULL),
        SQLITE_OK);
    bool uses_index = false;
    while (sqlite3_step(plan) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(plan, 3);
        if (detail != NULL && strstr(detail, "stock_skus_below_reorder_point") != NULL) uses_index = true;
    }
    sqlite3_finalize(plan);
    assert_true(uses_index);
}

static void test_stock_list_refuses_malformed_cursors(void **state)
{
    struct fixture *f = *state;
    skus_seed(f);
    static struct view_stock_page page;
    char too_long[VIEW_CURSOR_BYTES_MAX + 2];
    memset(too_long, 'A', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    char history_cursor[VIEW_CURSOR_BYTES_MAX + 1];
    view_cursor_encode('a', "12", history_cursor);
    char bad_sku[VIEW_CURSOR_BYTES_MAX + 1];
    view_cursor_encode('s', "bad sku!", bad_sku);
    const char *const hostile[] = {
        "!!!!",         /* outside the alphabet */
        "c1NLVS0x==",   /* padding */
        "c1NL+S0x",     /* the other base64 alphabet */
        "c",            /* a length no encoding has */
        "cx",           /* non-zero unused bits: not canonical */
        "cw",           /* kind only, empty SKU */
        "cwB4",         /* NUL inside */
        "ZFNLVQ",       /* another kind */
        history_cursor, /* a history cursor */
        bad_sku,        /* decodes, but not a SKU */
        too_long,       /* longer than any cursor */
        "c1NLVS0\xff",  /* a byte outside ASCII */
        "c1NL VS0",     /* a space */
    };
    sqlite3 *reader = reader_begin(f, VIEW_STOCK);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        f->error[0] = '\0';
        int count = view_stock_list(reader, false, hostile[i], 10, &page, f->error, sizeof(f->error));
        if (count != VIEW_QUERY_INVALID) fail_msg("cursor %zu (%s) gave %d", i, hostile[i], count);
        assert_non_null(strstr(f->error, "cursor"));
    }
    /* The well-formed cursor of "SKU-1" is accepted even if no page produced it. */
    assert_int_equal(view_stock_list(reader, false, "c1NLVS0x", 10, &page, f->error, sizeof(f->error)), 10);
    assert_string_equal(page.items[0].sku, "SKU-100"); /* bytewise: SKU-010 .. SKU-090 < SKU-1 < SKU-100 */
    reader_end(reader);
}

static void test_stock_list_refuses_limits_out_of_bounds(void **state)
{
    struct fixture *f = *state;
    skus_seed(f);
    static struct view_stock_page page;
    sqlite3 *reader = reader_begin(f, VIEW_STOCK);
    assert_int_equal(view_stock_list(reader, false, "", 0, &page, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_non_null(strstr(f->error, "limit"));
    assert_int_equal(view_stock_list(reader, false, "", VIEW_PAGE_MAX + 1, &page, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_stock_list(reader, false, "", UINT32_MAX, &page, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_stock_list(reader, false, "", VIEW_PAGE_MAX, &page, f->error, sizeof(f->error)),
                     30);
    assert_string_equal(page.next_cursor, "");
    assert_int_equal(view_stock_list(reader, false, "", 1, &page, f->error, sizeof(f->error)), 1);
    assert_string_not_equal(page.next_cursor, "");
    reader_end(reader);
}

static void test_stock_keeps_every_location_up_to_the_bound(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-WIDE", "Everywhere", 0)));
    for (int i = 0; i < STOCKD_LOCATIONS_PER_SKU_MAX; i++) {
        char location[16];
        snprintf(location, sizeof(location), "L-%02d", i);
        assert_true(accepted(receive(f, "SKU-WIDE", location, i + 1)));
    }
    assert_false(accepted(receive(f, "SKU-WIDE", "L-99", 1))); /* too_many_locations */
    static struct view_stock_sku row;
    stock_get(f, "SKU-WIDE", &row);
    assert_int_equal(row.location_count, STOCKD_LOCATIONS_PER_SKU_MAX);
    assert_false(row.locations_truncated);
    assert_int_equal(row.summary.on_hand,
                     STOCKD_LOCATIONS_PER_SKU_MAX * (STOCKD_LOCATIONS_PER_SKU_MAX + 1) / 2);
    stock_check_against_fold(f, model_sku_get(f, "SKU-WIDE"));
}

/* ---- every view ------------------------------------------------------------------------------------------
 */

static void test_views_accept_events_of_unknown_types(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 0)));
    struct event odd = f->decision.events[0];
    odd.sequence = 2;
    batch_begin(f);
    odd.type = EVENT_NONE;
    event_feed(f, &odd);
    odd.type = (enum event_type)(EVENT_TYPE_COUNT + 7);
    event_feed(f, &odd);
    batch_commit(f);
    static struct view_history_page page;
    sqlite3 *reader = reader_begin(f, VIEW_HISTORY);
    assert_int_equal(view_history_list(reader, "SKU-1", VIEW_ORDER_OLDEST_FIRST, NULL, 10, &page, f->error,
                                       sizeof(f->error)),
                     1);
    reader_end(reader);
    static struct view_stock_sku row;
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.sequence, 1);
}

static void test_view_open_on_unmigrated_database_fails_with_message(void **state)
{
    struct fixture *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/empty.db", f->dir);
    sqlite3 *db = sqlite_util_open(path, 1, f->error, sizeof(f->error));
    assert_non_null(db);
    for (int i = 0; i < VIEW_COUNT; i++) {
        f->error[0] = '\0';
        static struct stockd_config defaults;
        stockd_config_defaults(&defaults);
        assert_null(all_views[i]->open(db, &defaults, f->error, sizeof(f->error)));
        assert_non_null(strstr(f->error, all_views[i]->name));
        all_views[i]->close(NULL);
    }
    sqlite3_close(db);
}

static void test_rolled_back_batch_leaves_views_unchanged(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 0)));
    batch_begin(f);
    struct command command = command_make(COMMAND_RECEIVE_STOCK, "SKU-1");
    snprintf(command.location, sizeof(command.location), "WH-1");
    command.quantity = 5;
    struct decision decision;
    domain_decide(&model_sku_get(f, "SKU-1")->state, &(struct reservation_set){.count = 0}, &command,
                  f->now_ms, &decision);
    snprintf(decision.events[0].command_id, sizeof(decision.events[0].command_id), "c-rolled-back");
    event_feed(f, &decision.events[0]);
    for (int i = 0; i < VIEW_COUNT; i++)
        exec_ok(f->views[i].db, "ROLLBACK");
    f->in_batch = false;
    static struct view_stock_sku row;
    stock_get(f, "SKU-1", &row);
    assert_int_equal(row.summary.on_hand, 0);
    struct view_outcome outcome;
    sqlite3 *reader = reader_begin(f, VIEW_OUTCOMES);
    assert_int_equal(view_outcome_get(reader, "c-rolled-back", &outcome, f->error, sizeof(f->error)), 0);
    reader_end(reader);
}

/* ---- reservations ----------------------------------------------------------------------------------------
 */

static void reservation_get(struct fixture *f, const char *sku, const char *reservation_id,
                            struct view_reservation *out)
{
    sqlite3 *reader = reader_begin(f, VIEW_RESERVATIONS);
    int found = view_reservation_get(reader, sku, reservation_id, out, f->error, sizeof(f->error));
    reader_end(reader);
    if (found != 1) fail_msg("view_reservation_get(%s, %s) = %d: %s", sku, reservation_id, found, f->error);
}

static void test_reservations_follow_their_lifecycle(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 0)));
    assert_true(accepted(receive(f, "SKU-1", "WH-1", 100)));
    const struct decision *decision = reserve(f, "SKU-1", "R-1", "WH-1", 3, 0);
    assert_true(accepted(decision));
    char reserve_command[STOCKD_ID_BYTES_MAX + 1];
    snprintf(reserve_command, sizeof(reserve_command), "%s", decision->events[0].command_id);
    assert_true(accepted(reserve(f, "SKU-1", "R-2", "WH-1", 4, 0)));
    assert_true(accepted(reserve(f, "SKU-1", "R-3", "WH-1", 5, 60)));
    assert_true(accepted(reserve(f, "SKU-1", "R-4", "WH-1", 6, 3600)));

    struct view_reservation shown;
    reservation_get(f, "SKU-1", "R-1", &shown);
    assert_int_equal(shown.status, RESERVATION_ACTIVE);
    assert_string_equal(shown.sku, "SKU-1");
    assert_string_equal(shown.reservation_id, "R-1");
    assert_string_equal(shown.location, "WH-1");
    assert_int_equal(shown.quantity, 3);
    assert_int_equal(shown.expires_at_ms, 0);
    assert_int_equal(shown.created_ms, NOW_MS);
    assert_string_equal(shown.created_command_id, reserve_command);
    assert_string_equal(shown.updated_command_id, reserve_command);
    reservation_get(f, "SKU-1", "R-3", &shown);
    assert_int_equal(shown.expires_at_ms, NOW_MS + 60 * 1000);

    f->now_ms += 61 * 1000;
    decision = settle(f, COMMAND_RELEASE_RESERVATION, "SKU-1", "R-1");
    assert_true(accepted(decision));
    reservation_get(f, "SKU-1", "R-1", &shown);
    assert_int_equal(shown.status, RESERVATION_RELEASED);
    assert_int_equal(shown.created_ms, NOW_MS);
    assert_int_equal(shown.updated_ms, NOW_MS + 61 * 1000);
    assert_string_equal(shown.created_command_id, reserve_command);
    assert_string_equal(shown.updated_command_id, decision->events[0].command_id);

    assert_true(accepted(settle(f, COMMAND_FULFIL_RESERVATION, "SKU-1", "R-2")));
    const char *due[] = {"R-3", "R-4"}; /* R-4 is not due: only R-3 expires */
    decision = expire(f, "SKU-1", due, 2);
    assert_int_equal(decision->event_count, 1);
    char expire_command[STOCKD_ID_BYTES_MAX + 1];
    snprintf(expire_command, sizeof(expire_command), "%s", decision->events[0].command_id);
    /* Refused settlements change nothing. */
    assert_false(accepted(settle(f, COMMAND_RELEASE_RESERVATION, "SKU-1", "R-2")));
    assert_false(accepted(settle(f, COMMAND_FULFIL_RESERVATION, "SKU-1", "R-404")));

    reservation_get(f, "SKU-1", "R-2", &shown);
    assert_int_equal(shown.status, RESERVATION_FULFILLED);
    reservation_get(f, "SKU-1", "R-3", &shown);
    assert_int_equal(shown.status, RESERVATION_EXPIRED);
    assert_string_equal(shown.updated_command_id, expire_command);
    reservation_get(f, "SKU-1", "R-4", &shown);
    assert_int_equal(shown.status, RESERVATION_ACTIVE);
    reservations_check_against_fold(f, model_sku_get(f, "SKU-1"));

    sqlite3 *reader = reader_begin(f, VIEW_RESERVATIONS);
    assert_int_equal(view_reservation_get(reader, "SKU-1", "R-404", &shown, f->error, sizeof(f->error)), 0);
    assert_int_equal(view_reservation_get(reader, "SKU-2", "R-1", &shown, f->error, sizeof(f->error)), 0);
    assert_int_equal(view_reservation_get(reader, "SKU-1", "R 1", &shown, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    reader_end(reader);
}

static void test_reservation_find_by_id_reports_ambiguity(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 10; i++) {
        char sku[16];
        snprintf(sku, sizeof(sku), "SKU-%d", i);
        assert_true(accepted(create_sku(f, sku, "Thing", 0)));
        assert_true(accepted(receive(f, sku, "WH-1", 10)));
        if (i < 2) assert_true(accepted(reserve(f, sku, "R-TWICE", "WH-1", 1, 0)));
        assert_true(accepted(reserve(f, sku, "R-EVERYWHERE", "WH-1", 1, 0)));
    }
    assert_true(accepted(reserve(f, "SKU-7", "R-ONCE", "WH-1", 2, 0)));

    struct view_reservation shown;
    struct view_reservation_skus ambiguous;
    memset(&shown, 0, sizeof(shown));
    sqlite3 *reader = reader_begin(f, VIEW_RESERVATIONS);
    assert_int_equal(view_reservation_find(reader, "R-ONCE", &shown, &ambiguous, f->error, sizeof(f->error)),
                     1);
    assert_string_equal(shown.sku, "SKU-7");
    assert_int_equal(shown.quantity, 2);
    assert_int_equal(ambiguous.count, 0);

    memset(&shown, 0, sizeof(shown));
    assert_int_equal(view_reservation_find(reader, "R-TWICE", &shown, &ambiguous, f->error, sizeof(f->error)),
                     VIEW_QUERY_AMBIGUOUS);
    assert_int_equal(ambiguous.count, 2);
    assert_string_equal(ambiguous.skus[0], "SKU-0");
    assert_string_equal(ambiguous.skus[1], "SKU-1");
    assert_false(ambiguous.truncated);
    assert_string_equal(shown.sku, ""); /* untouched */
    assert_int_equal(view_reservation_get(reader, "SKU-1", "R-TWICE", &shown, f->error, sizeof(f->error)), 1);

    assert_int_equal(
        view_reservation_find(reader, "R-EVERYWHERE", &shown, &ambiguous, f->error, sizeof(f->error)),
        VIEW_QUERY_AMBIGUOUS);
    assert_int_equal(ambiguous.count, VIEW_AMBIGUOUS_SKUS_MAX);
    assert_true(ambiguous.truncated);

    assert_int_equal(view_reservation_find(reader, "R-404", &shown, &ambiguous, f->error, sizeof(f->error)),
                     0);
    assert_int_equal(view_reservation_find(reader, "", &shown, &ambiguous, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    reader_end(reader);
}

/* ---- history ---------------------------------------------------------------------------------------------
 */

/* 23 events on SKU-1: created, 20 receipts, one rejection, one reservation. */
static void history_seed(struct fixture *f)
{
    batch_begin(f);
    assert_true(accepted(create_sku(f, "SKU-1", "Blue \"quoted\" widget \\ ok", 3)));
    for (int i = 0; i < 20; i++) {
        f->now_ms += 1;
        assert_true(accepted(receive(f, "SKU-1", "WH-1", i + 1)));
    }
    assert_false(accepted(transfer(f, "SKU-1", "WH-1", "WH-1", 1)));
    assert_true(accepted(reserve(f, "SKU-1", "R-1", "WH-1", 5, 30)));
    assert_true(accepted(create_sku(f, "SKU-2", "Other", 0)));
    batch_commit(f);
}

/* Pages through SKU-1's history in one order, checking each event; returns how many there were. */
static uint64_t history_walk(struct fixture *f, enum view_order order, uint32_t limit)
{
    struct view_history_page *page = malloc(sizeof(*page));
    assert_non_null(page);
    char cursor[VIEW_CURSOR_BYTES_MAX + 1] = "";
    uint64_t seen = 0;
    uint64_t expected_sequence =
        order == VIEW_ORDER_OLDEST_FIRST ? 1 : model_sku_get(f, "SKU-1")->state.sequence;
    for (;;) {
        sqlite3 *reader = reader_begin(f, VIEW_HISTORY);
        int count =
            view_history_list(reader, "SKU-1", order, cursor, limit, page, f->error, sizeof(f->error));
        reader_end(reader);
        if (count < 0) fail_msg("view_history_list: %s", f->error);
        for (int i = 0; i < count; i++) {
            const struct view_history_event *event = &page->events[i];
            assert_int_equal(event->sequence, expected_sequence);
            expected_sequence =
                order == VIEW_ORDER_OLDEST_FIRST ? expected_sequence + 1 : expected_sequence - 1;
            struct event decoded;
            struct codec_error codec_error;
            if (codec_event_decode(event->data, strlen(event->data), &decoded, &codec_error) != 0)
                fail_msg("stored JSON does not decode: %s", codec_error.message);
            assert_int_equal(decoded.sequence, event->sequence);
            assert_int_equal(decoded.type, event->type);
            assert_string_equal(decoded.command_id, event->command_id);
            assert_int_equal(decoded.time_ms, event->time_ms);
            char *canonical = codec_event_encode(&decoded);
            assert_string_equal(canonical, event->data); /* stored in the codec's canonical form */
            free(canonical);
            assert_int_equal(event->position.partition, page->events[0].position.partition);
            seen++;
        }
        if (page->next_cursor[0] == '\0') break;
        assert_int_equal(count, limit);
        snprintf(cursor, sizeof(cursor), "%s", page->next_cursor);
    }
    free(page);
    return seen;
}

static void test_history_pages_both_ways(void **state)
{
    struct fixture *f = *state;
    history_seed(f);
    assert_int_equal(model_sku_get(f, "SKU-1")->state.sequence, 23);
    assert_int_equal(history_walk(f, VIEW_ORDER_OLDEST_FIRST, 10), 23);
    assert_int_equal(history_walk(f, VIEW_ORDER_NEWEST_FIRST, 10), 23);
    assert_int_equal(history_walk(f, VIEW_ORDER_OLDEST_FIRST, 1), 23);
    assert_int_equal(history_walk(f, VIEW_ORDER_NEWEST_FIRST, VIEW_PAGE_MAX), 23);
    assert_int_equal(history_walk(f, VIEW_ORDER_OLDEST_FIRST, 23), 23);

    struct view_history_page *page = malloc(sizeof(*page));
    assert_non_null(page);
    sqlite3 *reader = reader_begin(f, VIEW_HISTORY);
    assert_int_equal(
        view_history_list(reader, "SKU-1", VIEW_ORDER_NEWEST_FIRST, "", 2, page, f->error, sizeof(f->error)),
        2);
    assert_int_equal(page->events[0].sequence, 23);
    assert_int_equal(page->events[0].type, EVENT_STOCK_RESERVED);
    assert_int_equal(page->events[1].type, EVENT_COMMAND_REJECTED);
    assert_non_null(strstr(page->events[1].data, "\"reason\":\"same_location\""));
    /* Positions are where the events were: consecutive offsets of one partition here. */
    assert_int_equal(page->events[0].position.offset, page->events[1].position.offset + 1);
    char newest_cursor[VIEW_CURSOR_BYTES_MAX + 1];
    snprintf(newest_cursor, sizeof(newest_cursor), "%s", page->next_cursor);
    assert_int_equal(view_history_list(reader, "SKU-1", VIEW_ORDER_NEWEST_FIRST, newest_cursor, 3, page,
                                       f->error, sizeof(f->error)),
                     3);
    assert_int_equal(page->events[0].sequence, 21);

    /* A cursor continues its own order only. */
    assert_int_equal(view_history_list(reader, "SKU-1", VIEW_ORDER_OLDEST_FIRST, newest_cursor, 3, page,
                                       f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_non_null(strstr(f->error, "cursor"));
    const char *const hostile[] = {"YTAxMg" /* a012: leading zero */,
                                   "YQ" /* no digits */,
                                   "YTk5OTk5OTk5OTk5OTk5OTk5" /* 17 digits */,
                                   "YTkwMDcxOTkyNTQ3NDA5OTI" /* 2^53 */,
                                   "c1NLVS0x" /* a stock cursor */,
                                   "%%"};
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        assert_int_equal(view_history_list(reader, "SKU-1", VIEW_ORDER_OLDEST_FIRST, hostile[i], 3, page,
                                           f->error, sizeof(f->error)),
                         VIEW_QUERY_INVALID);
    }
    assert_int_equal(view_history_list(reader, "SKU-1", VIEW_ORDER_OLDEST_FIRST, "YTEy" /* a12 */, 3, page,
                                       f->error, sizeof(f->error)),
                     3);
    assert_int_equal(page->events[0].sequence, 13);
    assert_int_equal(
        view_history_list(reader, "SKU-1", VIEW_ORDER_OLDEST_FIRST, "", 0, page, f->error, sizeof(f->error)),
        VIEW_QUERY_INVALID);
    assert_int_equal(view_history_list(reader, "SKU-1", VIEW_ORDER_OLDEST_FIRST, "", VIEW_PAGE_MAX + 1, page,
                                       f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_history_list(reader, "SKU-404", VIEW_ORDER_OLDEST_FIRST, "", 5, page, f->error,
                                       sizeof(f->error)),
                     0);
    assert_string_equal(page->next_cursor, "");
    assert_int_equal(
        view_history_list(reader, "SKU-2", VIEW_ORDER_OLDEST_FIRST, "", 5, page, f->error, sizeof(f->error)),
        1);
    reader_end(reader);
    free(page);
}

/* The longest events the codec accepts: identifiers at their bounds, free text that all needs escaping. */
static void test_history_stores_the_longest_events(void **state)
{
    struct fixture *f = *state;
    static struct event events[3];
    memset(events, 0, sizeof(events));
    for (int i = 0; i < 3; i++) {
        memset(events[i].sku, 'S', STOCKD_SKU_BYTES_MAX);
        memset(events[i].command_id, 'C', STOCKD_ID_BYTES_MAX);
        events[i].sequence = (uint64_t)i + 1;
        events[i].time_ms = STOCKD_JSON_INTEGER_MAX;
    }
    events[0].type = EVENT_SKU_CREATED;
    memset(events[0].name, '"', STOCKD_NAME_BYTES_MAX);
    events[0].reorder_point = STOCKD_REORDER_POINT_MAX;
    events[1].type = EVENT_STOCK_ADJUSTED;
    memset(events[1].location, 'L', STOCKD_LOCATION_BYTES_MAX);
    memset(events[1].reason, '\\', STOCKD_REASON_BYTES_MAX);
    events[1].delta = -STOCKD_ON_HAND_MAX;
    events[1].counted_set = true;
    events[2].type = EVENT_COMMAND_REJECTED;
    events[2].rejected_type = COMMAND_RELEASE_RESERVATION;
    events[2].reject_reason = REJECT_RESERVATION_NOT_ACTIVE;
    memset(events[2].detail, '"', STOCKD_DETAIL_BYTES_MAX);
    batch_begin(f);
    for (int i = 0; i < 3; i++)
        event_feed(f, &events[i]);
    batch_commit(f);

    struct view_history_page *page = malloc(sizeof(*page));
    assert_non_null(page);
    sqlite3 *reader = reader_begin(f, VIEW_HISTORY);
    assert_int_equal(view_history_list(reader, events[0].sku, VIEW_ORDER_OLDEST_FIRST, NULL, 10, page,
                                       f->error, sizeof(f->error)),
                     3);
    reader_end(reader);
    for (int i = 0; i < 3; i++) {
        char *json = codec_event_encode(&events[i]);
        assert_non_null(json);
        assert_true(strlen(json) > 500);
        assert_string_equal(page->events[i].data, json);
        free(json);
    }
    free(page);
}

static void test_history_refuses_a_duplicate_sequence(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 0)));
    struct event again = f->decision.events[0];
    exec_ok(f->views[VIEW_HISTORY].db, "BEGIN");
    struct view_position position = {.partition = 0, .offset = 99};
    assert_int_equal(view_history_ops.apply(f->views[VIEW_HISTORY].state, &again, position,
                                            (struct view_json){NULL, 0}, f->error, sizeof(f->error)),
                     -1);
    assert_non_null(strstr(f->error, "history"));
    exec_ok(f->views[VIEW_HISTORY].db, "ROLLBACK");
}

/* ---- outcomes --------------------------------------------------------------------------------------------
 */

static void outcome_get(struct fixture *f, const char *command_id, struct view_outcome *out)
{
    sqlite3 *reader = reader_begin(f, VIEW_OUTCOMES);
    int found = view_outcome_get(reader, command_id, out, f->error, sizeof(f->error));
    reader_end(reader);
    if (found != 1) fail_msg("view_outcome_get(%s) = %d: %s", command_id, found, f->error);
}

static void test_outcomes_record_accepted_rejected_and_multi_event_commands(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 0)));
    f->now_ms += 5;
    const struct decision *decision = receive(f, "SKU-1", "WH-1", 10);
    assert_true(accepted(decision));
    struct view_position received_at = {.partition = 0, .offset = 0};
    struct view_outcome outcome;
    outcome_get(f, decision->events[0].command_id, &outcome);
    assert_true(outcome.accepted);
    assert_string_equal(outcome.sku, "SKU-1");
    assert_int_equal(outcome.command_type, COMMAND_RECEIVE_STOCK);
    assert_int_equal(outcome.reason, REJECT_NONE);
    assert_string_equal(outcome.detail, "");
    assert_int_equal(outcome.decided_ms, NOW_MS + 5);
    assert_int_equal(outcome.decision_count, 1);
    assert_int_equal(outcome.event_count, 1);
    assert_int_equal(outcome.events[0].sequence, 2);
    assert_int_equal(outcome.events[0].type, EVENT_STOCK_RECEIVED);
    received_at = outcome.events[0].position;

    decision = reserve(f, "SKU-1", "R-1", "WH-1", 11, 0);
    assert_false(accepted(decision));
    outcome_get(f, decision->events[0].command_id, &outcome);
    assert_false(outcome.accepted);
    assert_int_equal(outcome.command_type, COMMAND_RESERVE_STOCK);
    assert_int_equal(outcome.reason, REJECT_INSUFFICIENT_STOCK);
    assert_string_equal(outcome.detail, decision->events[0].detail);
    assert_int_equal(outcome.event_count, 1);
    assert_int_equal(outcome.events[0].type, EVENT_COMMAND_REJECTED);
    assert_int_equal(outcome.events[0].sequence, 3);
    assert_int_equal(outcome.events[0].position.partition, received_at.partition);
    assert_int_equal(outcome.events[0].position.offset, received_at.offset + 1);

    batch_begin(f);
    const char *ids[] = {"R-A", "R-B", "R-C", "R-D"};
    for (int i = 0; i < 4; i++)
        assert_true(accepted(reserve(f, "SKU-1", ids[i], "WH-1", 1, i == 3 ? 0 : 1)));
    batch_commit(f);
    f->now_ms += 2000;
    decision = expire(f, "SKU-1", ids, 4); /* R-D never expires */
    assert_int_equal(decision->event_count, 3);
    outcome_get(f, decision->events[0].command_id, &outcome);
    assert_true(outcome.accepted);
    assert_int_equal(outcome.command_type, COMMAND_EXPIRE_RESERVATIONS);
    assert_int_equal(outcome.event_count, 3);
    assert_false(outcome.events_truncated);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(outcome.events[i].sequence, decision->events[i].sequence);
        assert_int_equal(outcome.events[i].type, EVENT_RESERVATION_EXPIRED);
        assert_int_equal(outcome.events[i].position.offset, outcome.events[0].position.offset + i);
    }
    assert_int_equal(outcome.decision_count, 1);

    sqlite3 *reader = reader_begin(f, VIEW_OUTCOMES);
    assert_int_equal(view_outcome_get(reader, "c-404", &outcome, f->error, sizeof(f->error)), 0);
    assert_int_equal(view_outcome_get(reader, "c 404", &outcome, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    reader_end(reader);
}

static void test_outcomes_keep_the_latest_decision_of_a_reused_command_id(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 0)));
    assert_true(accepted(create_sku(f, "SKU-2", "Red widget", 0)));
    struct command command = command_make(COMMAND_RECEIVE_STOCK, "SKU-1");
    snprintf(command.command_id, sizeof(command.command_id), "c-reused");
    snprintf(command.location, sizeof(command.location), "WH-1");
    command.quantity = 5;
    assert_true(accepted(command_run(f, &command)));
    /* Sent again for another SKU (another partition, so no deduplication), and refused there. */
    f->now_ms += 1000;
    command = command_make(COMMAND_RESERVE_STOCK, "SKU-2");
    snprintf(command.command_id, sizeof(command.command_id), "c-reused");
    snprintf(command.reservation_id, sizeof(command.reservation_id), "R-1");
    snprintf(command.location, sizeof(command.location), "WH-1");
    command.quantity = 1;
    assert_false(accepted(command_run(f, &command)));
    struct view_outcome outcome;
    outcome_get(f, "c-reused", &outcome);
    assert_int_equal(outcome.decision_count, 2);
    assert_false(outcome.accepted);
    assert_string_equal(outcome.sku, "SKU-2");
    assert_int_equal(outcome.reason, REJECT_INSUFFICIENT_STOCK);
    assert_int_equal(outcome.event_count, 1);
    assert_int_equal(outcome.events[0].sequence, 2);
}

/* ---- the stock view equals the fold ------------------------------------------------------------------ */

#define RANDOM_SKU_COUNT      5 /* SKU-R4 is never created: its commands are all unknown_sku */
#define RANDOM_COMMANDS       12000
#define RANDOM_BATCH_COMMANDS 100 /* commands per view transaction, like a projector batch */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* xorshift64*, as in test_domain_random.c: the same sequence everywhere. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static int64_t rng_range(int64_t low, int64_t high)
{
    return low + (int64_t)(rng_next() % (uint64_t)(high - low + 1));
}

/* A random command for a SKU; SKU-R0 spreads over 40 locations so that it hits the location bound. */
static void random_command(struct fixture *f, int sku_index, struct command *command)
{
    char sku[16];
    snprintf(sku, sizeof(sku), "SKU-R%d", sku_index);
    struct model_sku *model = model_sku_get(f, sku);
    int64_t roll = !model->state.exists && sku_index != RANDOM_SKU_COUNT - 1 ? -1 : rng_range(0, 99);
    if (sku_index == RANDOM_SKU_COUNT - 1 && roll < 2) roll = 2; /* the ghost is never created */
    *command = command_make(COMMAND_NONE, sku);
    snprintf(command->location, sizeof(command->location), "L%d", (int)rng_range(0, sku_index == 0 ? 39 : 4));
    snprintf(command->to_location, sizeof(command->to_location), "L%d",
             (int)rng_range(0, sku_index == 0 ? 39 : 4));
    command->quantity = rng_range(1, 12);
    /* Settle mostly recent reservations (the older ones are settled already), now and then an unknown id;
     * new reservations take fresh ids ("R-<serial>"), a few reuse one (reservation_exists). */
    size_t reservations = model->reservation_count;
    if (reservations > 0 && rng_range(0, 9) > 0) {
        size_t pick =
            (size_t)rng_range(reservations > 20 ? (int64_t)reservations - 20 : 0, (int64_t)reservations - 1);
        snprintf(command->reservation_id, sizeof(command->reservation_id), "%s",
                 model->reservations[pick].reservation_id);
    } else {
        snprintf(command->reservation_id, sizeof(command->reservation_id), "R-unknown-%d",
                 (int)rng_range(0, 2));
    }
    if (roll < 2) {
        command->type = COMMAND_CREATE_SKU;
        snprintf(command->name, sizeof(command->name), "Widget %d", sku_index);
        command->reorder_point = rng_range(0, 200);
        command->reservation_id[0] = '\0';
    } else if (roll < 25) {
        command->type = COMMAND_RECEIVE_STOCK;
        command->quantity = rng_range(1, 60);
        command->reservation_id[0] = '\0';
    } else if (roll < 33) {
        command->type = COMMAND_ADJUST_STOCK;
        snprintf(command->reason, sizeof(command->reason), "cycle count");
        command->counted_set = rng_range(0, 2) == 0;
        command->counted = rng_range(0, 60);
        command->delta = rng_range(-20, 20);
        command->reservation_id[0] = '\0';
    } else if (roll < 60) {
        command->type = COMMAND_RESERVE_STOCK;
        if (rng_range(0, 19) > 0)
            snprintf(command->reservation_id, sizeof(command->reservation_id), "R-%ld",
                     f->command_serial + 1);
        command->ttl_s = rng_range(0, 2) == 0 ? 0 : rng_range(1, 20);
    } else if (roll < 73) {
        command->type = COMMAND_RELEASE_RESERVATION;
    } else if (roll < 86) {
        command->type = COMMAND_FULFIL_RESERVATION;
    } else if (roll < 94) {
        command->type = COMMAND_TRANSFER_STOCK;
        command->reservation_id[0] = '\0';
    } else if (roll < 95) {
        command->type = COMMAND_UPDATE_CATALOG;
        command->reservation_id[0] = '\0';
        snprintf(command->catalog.source, sizeof(command->catalog.source), "erp");
        snprintf(command->name, sizeof(command->name), "Widget %d", sku_index);
    } else {
        command->type = COMMAND_EXPIRE_RESERVATIONS; /* the due ones, as the punctuator picks them */
        for (size_t i = 0; i < model->reservation_count && command->expire_count < STOCKD_EXPIRE_BATCH_MAX;
             i++) {
            const struct reservation_state *reservation = &model->reservations[i];
            if (reservation->status == RESERVATION_ACTIVE && reservation->expires_at_ms != 0 &&
                reservation->expires_at_ms <= f->now_ms)
                snprintf(command->expire_ids[command->expire_count++], STOCKD_ID_BYTES_MAX + 1, "%s",
                         reservation->reservation_id);
        }
        if (command->expire_count == 0) { /* none due: a late punctuation, refused */
            snprintf(command->expire_ids[0], STOCKD_ID_BYTES_MAX + 1, "%s", command->reservation_id);
            command->expire_count = 1;
        }
        command->reservation_id[0] = '\0';
    }
}

static void random_check_all(struct fixture *f)
{
    for (size_t i = 0; i < f->sku_count; i++) {
        stock_check_against_fold(f, &f->skus[i]);
        reservations_check_against_fold(f, &f->skus[i]);
    }
}

/* ---- statements kept on the readers ----------------------------------------------------------------- */

static int statements_on(sqlite3 *db)
{
    int count = 0;
    for (sqlite3_stmt *statement = sqlite3_next_stmt(db, NULL); statement != NULL;
         statement = sqlite3_next_stmt(db, statement))
        count++;
    return count;
}

/* Every query of every view, each in its own read transaction, as the API runs them. */
static void queries_run_all(struct fixture *f)
{
    struct view_stock_sku sku;
    stock_get(f, "SKU-1", &sku);
    assert_int_equal(sku.summary.on_hand, 10);
    struct view_stock_page *stock_page = malloc(sizeof(*stock_page));
    struct view_history_page *history_page = malloc(sizeof(*history_page));
    assert_true(stock_page != NULL && history_page != NULL);
    for (int below = 0; below <= 1; below++) {
        sqlite3 *reader = reader_begin(f, VIEW_STOCK);
        assert_true(view_stock_list(reader, below, NULL, 10, stock_page, f->error, sizeof(f->error)) >= 0);
        reader_end(reader);
    }
    for (int newest = 0; newest <= 1; newest++) {
        sqlite3 *reader = reader_begin(f, VIEW_HISTORY);
        assert_int_equal(view_history_list(reader, "SKU-1",
                                           newest ? VIEW_ORDER_NEWEST_FIRST : VIEW_ORDER_OLDEST_FIRST, NULL,
                                           10, history_page, f->error, sizeof(f->error)),
                         3);
        assert_int_equal(history_page->count, 3);
        reader_end(reader);
    }
    struct view_reservation reservation;
    reservation_get(f, "SKU-1", "R-1", &reservation);
    struct view_reservation_skus ambiguous;
    sqlite3 *reader = reader_begin(f, VIEW_RESERVATIONS);
    assert_int_equal(
        view_reservation_find(reader, "R-1", &reservation, &ambiguous, f->error, sizeof(f->error)), 1);
    reader_end(reader);
    struct view_outcome outcome;
    outcome_get(f, "c-1", &outcome);
    free(stock_page);
    free(history_page);
}

static void test_queries_keep_one_statement_each_on_the_reader(void **state)
{
    struct fixture *f = *state;
    assert_true(accepted(create_sku(f, "SKU-1", "Blue widget", 20)));
    assert_true(accepted(receive(f, "SKU-1", "WH-1", 10)));
    assert_true(accepted(reserve(f, "SKU-1", "R-1", "WH-1", 2, 0)));
    queries_run_all(f);
    int kept[VIEW_COUNT];
    for (int i = 0; i < VIEW_COUNT; i++) {
        kept[i] = statements_on(f->views[i].reader);
        assert_true(kept[i] >= 1);                     /* each view was queried */
        assert_true(kept[i] < SQLITE_UTIL_CACHED_MAX); /* one per query, not per call */
    }
    for (int round = 0; round < 5; round++)
        queries_run_all(f);
    for (int i = 0; i < VIEW_COUNT; i++)
        assert_int_equal(statements_on(f->views[i].reader), kept[i]);

    /* A kept statement reads the snapshot of the transaction it runs in, not the one it last ran in. */
    assert_true(accepted(receive(f, "SKU-1", "WH-1", 5)));
    struct view_stock_sku sku;
    stock_get(f, "SKU-1", &sku);
    assert_int_equal(sku.summary.on_hand, 15);
}

static void test_cached_statement_in_use_is_not_handed_out_twice(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = f->views[VIEW_STOCK].reader;
    static const char sql[] = "SELECT 1 UNION ALL SELECT 2";
    sqlite3_stmt *first = sqlite_util_cached_take(db, sql, f->error, sizeof(f->error));
    assert_non_null(first);
    assert_int_equal(sqlite3_step(first), SQLITE_ROW); /* in use, halfway through its rows */
    sqlite3_stmt *second = sqlite_util_cached_take(db, sql, f->error, sizeof(f->error));
    assert_non_null(second);
    assert_ptr_not_equal(first, second);
    assert_int_equal(sqlite3_step(second), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(second, 0), 1); /* a fresh run, not the first one's second row */
    assert_int_equal(sqlite3_step(first), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(first, 0), 2);
    sqlite_util_cached_release(second);
    sqlite_util_cached_release(first);
    /* Given back, both are kept; the next take reuses one of them, reset to its first row. */
    int kept = statements_on(db);
    sqlite3_stmt *again = sqlite_util_cached_take(db, sql, f->error, sizeof(f->error));
    assert_true(again == first || again == second);
    assert_int_equal(sqlite3_step(again), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(again, 0), 1);
    sqlite_util_cached_release(again);
    assert_int_equal(statements_on(db), kept);
    /* A statement without rows: sqlite_util_cached_run, done and reusable. */
    assert_int_equal(sqlite_util_cached_run(db, "BEGIN"), SQLITE_DONE);
    assert_int_equal(sqlite_util_cached_run(db, "COMMIT"), SQLITE_DONE);
    assert_int_equal(sqlite_util_cached_run(db, "BEGIN"), SQLITE_DONE);
    assert_int_equal(sqlite_util_cached_run(db, "COMMIT"), SQLITE_DONE);
    assert_int_equal(statements_on(db), kept + 2);
    /* teardown closes the reader with sqlite_util_cached_close: LeakSanitizer checks nothing is left. */
}

static void test_random_walk_stock_view_equals_the_fold(void **state)
{
    struct fixture *f = *state;
    const char *seed_text = getenv("STOCKD_TEST_SEED");
    uint64_t seed = seed_text ? strtoull(seed_text, NULL, 10) : UINT64_C(20261126);
    rng_state = seed ? seed : 1;
    print_message("random walk: seed %llu (replay with STOCKD_TEST_SEED=%llu)\n", (unsigned long long)seed,
                  (unsigned long long)seed);
    long events_by_type[EVENT_TYPE_COUNT] = {0};
    long reasons[REJECT_REASON_COUNT] = {0};
    for (long step = 0; step < RANDOM_COMMANDS; step++) {
        if (step % RANDOM_BATCH_COMMANDS == 0) batch_begin(f);
        f->now_ms += rng_range(0, 400);
        struct command command;
        int sku_index =
            rng_range(0, 49) == 0 ? RANDOM_SKU_COUNT - 1 : (int)rng_range(0, RANDOM_SKU_COUNT - 2);
        random_command(f, sku_index, &command);
        const struct decision *decision = command_run(f, &command);
        for (uint32_t i = 0; i < decision->event_count; i++) {
            events_by_type[decision->events[i].type]++;
            if (decision->events[i].type == EVENT_COMMAND_REJECTED)
                reasons[decision->events[i].reject_reason]++;
        }
        if (step % RANDOM_BATCH_COMMANDS == RANDOM_BATCH_COMMANDS - 1) batch_commit(f);
        if (step % 3000 == 2999) random_check_all(f);
    }
    if (f->in_batch) batch_commit(f);
    random_check_all(f);

    /* The walk proves little unless it made every event and the rejections that matter here. */
    for (int type = EVENT_NONE + 1; type < EVENT_TYPE_COUNT; type++)
        CHECK(events_by_type[type] > 0, "no %s in the walk", domain_event_type_name((enum event_type)type));
    CHECK(reasons[REJECT_TOO_MANY_LOCATIONS] > 0 && reasons[REJECT_UNKNOWN_SKU] > 0 &&
              reasons[REJECT_INSUFFICIENT_STOCK] > 0 && reasons[REJECT_RESERVATION_NOT_ACTIVE] > 0,
          "the walk missed a rejection it needs");
    const struct model_sku *wide = model_sku_get(f, "SKU-R0");
    CHECK(wide->state.location_count == STOCKD_LOCATIONS_PER_SKU_MAX, "SKU-R0 has %u locations",
          wide->state.location_count);

    /* The other views agree too: the history has every event of every key, the last outcome is there. */
    struct view_history_page *page = malloc(sizeof(*page));
    assert_non_null(page);
    sqlite3 *reader = reader_begin(f, VIEW_HISTORY);
    for (size_t i = 0; i < f->sku_count; i++) {
        int count = view_history_list(reader, f->skus[i].state.sku, VIEW_ORDER_NEWEST_FIRST, NULL, 1, page,
                                      f->error, sizeof(f->error));
        CHECK(count == 1 && page->events[0].sequence == f->skus[i].state.sequence,
              "history of %s ends at %llu", f->skus[i].state.sku,
              count == 1 ? (unsigned long long)page->events[0].sequence : 0ULL);
    }
    reader_end(reader);
    free(page);
    struct view_outcome outcome;
    outcome_get(f, f->decision.events[0].command_id, &outcome);
    CHECK(outcome.event_count == f->decision.event_count &&
              outcome.events[outcome.event_count - 1].sequence ==
                  f->decision.events[f->decision.event_count - 1].sequence,
          "the last outcome differs");
    print_message("random walk: %d commands, %ld rejections\n", RANDOM_COMMANDS,
                  events_by_type[EVENT_COMMAND_REJECTED]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stock_folds_every_event_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stock_get_refuses_malformed_sku, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stock_list_pages_by_sku_without_skips_or_repeats, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stock_list_cursor_is_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stock_list_below_reorder_point_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stock_list_below_reorder_point_can_use_its_partial_index, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stock_list_refuses_malformed_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stock_list_refuses_limits_out_of_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stock_keeps_every_location_up_to_the_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views_accept_events_of_unknown_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_open_on_unmigrated_database_fails_with_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_batch_leaves_views_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reservations_follow_their_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reservation_find_by_id_reports_ambiguity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_pages_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_stores_the_longest_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_refuses_a_duplicate_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_record_accepted_rejected_and_multi_event_commands,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_keep_the_latest_decision_of_a_reused_command_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queries_keep_one_statement_each_on_the_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_statement_in_use_is_not_handed_out_twice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_walk_stock_view_equals_the_fold, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
