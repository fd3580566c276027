/* domain.c - decide and evolve for stock per (SKU, location) and reservations.
 *
 * domain_decide() turns a command into events or one CommandRejected; domain_evolve() folds an event into
 * state. Both are pure and bounded: no I/O, no clock, no allocation. Every invariant decide guarantees,
 * evolve re-checks, because events arrive from Kafka and are not trusted. */
#include "domain/domain.h"

#include "domain/catalog.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const command_type_names[COMMAND_TYPE_COUNT] = {
    [COMMAND_CREATE_SKU] = "CreateSku",
    [COMMAND_RECEIVE_STOCK] = "ReceiveStock",
    [COMMAND_ADJUST_STOCK] = "AdjustStock",
    [COMMAND_RESERVE_STOCK] = "ReserveStock",
    [COMMAND_RELEASE_RESERVATION] = "ReleaseReservation",
    [COMMAND_FULFIL_RESERVATION] = "FulfilReservation",
    [COMMAND_TRANSFER_STOCK] = "TransferStock",
    [COMMAND_EXPIRE_RESERVATIONS] = "ExpireReservations",
    [COMMAND_UPDATE_CATALOG] = "UpdateCatalog",
};

static const char *const event_type_names[EVENT_TYPE_COUNT] = {
    [EVENT_SKU_CREATED] = "SkuCreated",
    [EVENT_STOCK_RECEIVED] = "StockReceived",
    [EVENT_STOCK_ADJUSTED] = "StockAdjusted",
    [EVENT_STOCK_RESERVED] = "StockReserved",
    [EVENT_RESERVATION_RELEASED] = "ReservationReleased",
    [EVENT_RESERVATION_FULFILLED] = "ReservationFulfilled",
    [EVENT_STOCK_TRANSFERRED] = "StockTransferred",
    [EVENT_RESERVATION_EXPIRED] = "ReservationExpired",
    [EVENT_COMMAND_REJECTED] = "CommandRejected",
    [EVENT_CATALOG_UPDATED] = "CatalogUpdated",
};

static const char *const reject_reason_codes[REJECT_REASON_COUNT] = {
    [REJECT_SKU_EXISTS] = "sku_exists",
    [REJECT_UNKNOWN_SKU] = "unknown_sku",
    [REJECT_INSUFFICIENT_STOCK] = "insufficient_stock",
    [REJECT_RESERVATION_EXISTS] = "reservation_exists",
    [REJECT_UNKNOWN_RESERVATION] = "unknown_reservation",
    [REJECT_RESERVATION_NOT_ACTIVE] = "reservation_not_active",
    [REJECT_INVALID_QUANTITY] = "invalid_quantity",
    [REJECT_TOO_MANY_LOCATIONS] = "too_many_locations",
    [REJECT_ON_HAND_LIMIT] = "on_hand_limit",
    [REJECT_BELOW_RESERVED] = "below_reserved",
    [REJECT_SAME_LOCATION] = "same_location",
    [REJECT_RESERVATION_NOT_EXPIRED] = "reservation_not_expired",
    [REJECT_INVALID_COMMAND] = "invalid_command",
};

enum command_type domain_event_command_type(const struct event *event)
{
    static const enum command_type command_of[EVENT_TYPE_COUNT] = {
        [EVENT_SKU_CREATED] = COMMAND_CREATE_SKU,
        [EVENT_STOCK_RECEIVED] = COMMAND_RECEIVE_STOCK,
        [EVENT_STOCK_ADJUSTED] = COMMAND_ADJUST_STOCK,
        [EVENT_STOCK_RESERVED] = COMMAND_RESERVE_STOCK,
        [EVENT_RESERVATION_RELEASED] = COMMAND_RELEASE_RESERVATION,
        [EVENT_RESERVATION_FULFILLED] = COMMAND_FULFIL_RESERVATION,
        [EVENT_STOCK_TRANSFERRED] = COMMAND_TRANSFER_STOCK,
        [EVENT_RESERVATION_EXPIRED] = COMMAND_EXPIRE_RESERVATIONS,
        [EVENT_CATALOG_UPDATED] = COMMAND_UPDATE_CATALOG,
    };
    if (event->type == EVENT_COMMAND_REJECTED) return event->rejected_type;
    if ((int)event->type < 0 || (int)event->type >= EVENT_TYPE_COUNT) return COMMAND_NONE;
    return command_of[event->type];
}

const char *domain_command_type_name(enum command_type type)
{
    if ((int)type <= COMMAND_NONE || type >= COMMAND_TYPE_COUNT) return NULL;
    return command_type_names[type];
}

const char *domain_event_type_name(enum event_type type)
{
    if ((int)type <= EVENT_NONE || type >= EVENT_TYPE_COUNT) return NULL;
    return event_type_names[type];
}

const char *domain_reject_reason_code(enum reject_reason reason)
{
    if ((int)reason <= REJECT_NONE || reason >= REJECT_REASON_COUNT) return NULL;
    return reject_reason_codes[reason];
}

const char *domain_reservation_status_name(enum reservation_status status)
{
    switch (status) {
    case RESERVATION_ACTIVE:
        return "active";
    case RESERVATION_RELEASED:
        return "released";
    case RESERVATION_FULFILLED:
        return "fulfilled";
    case RESERVATION_EXPIRED:
        return "expired";
    }
    return NULL;
}

/* Index of name in a table of count entries (entry 0 unused), or 0. */
static int name_index(const char *const *table, int count, const char *name)
{
    if (name == NULL) return 0;
    for (int i = 1; i < count; i++) {
        if (table[i] != NULL && strcmp(table[i], name) == 0) return i;
    }
    return 0;
}

enum command_type domain_command_type_parse(const char *name)
{
    return (enum command_type)name_index(command_type_names, COMMAND_TYPE_COUNT, name);
}

enum event_type domain_event_type_parse(const char *name)
{
    return (enum event_type)name_index(event_type_names, EVENT_TYPE_COUNT, name);
}

enum reject_reason domain_reject_reason_parse(const char *code)
{
    return (enum reject_reason)name_index(reject_reason_codes, REJECT_REASON_COUNT, code);
}

/* Copies a NUL-terminated string into a fixed buffer; the source always fits (asserted): every string
 * in the domain structs is bounded by the same limits. */
#define COPY_FIELD(dst, src)                                                                                 \
    do {                                                                                                     \
        size_t copy_length_ = strlen(src);                                                                   \
        assert(copy_length_ < sizeof(dst));                                                                  \
        memcpy((dst), (src), copy_length_ + 1);                                                              \
    } while (0)

void domain_sku_state_init(struct sku_state *sku, const char *sku_key)
{
    assert(sku != NULL);
    assert(sku_key != NULL && strlen(sku_key) <= STOCKD_SKU_BYTES_MAX);
    memset(sku, 0, sizeof(*sku));
    COPY_FIELD(sku->sku, sku_key);
}

const struct location_stock *domain_location_find(const struct sku_state *sku, const char *location)
{
    assert(sku != NULL && location != NULL);
    assert(sku->location_count <= STOCKD_LOCATIONS_PER_SKU_MAX);
    for (uint32_t i = 0; i < sku->location_count; i++) {
        if (strcmp(sku->locations[i].location, location) == 0) return &sku->locations[i];
    }
    return NULL;
}

struct reservation_state *domain_reservation_find(struct reservation_set *set, const char *reservation_id)
{
    assert(set != NULL && reservation_id != NULL);
    assert(set->count <= STOCKD_EXPIRE_BATCH_MAX);
    for (uint32_t i = 0; i < set->count; i++) {
        if (strcmp(set->items[i].reservation_id, reservation_id) == 0) return &set->items[i];
    }
    return NULL;
}

int domain_sku_state_check(const struct sku_state *sku)
{
    if (sku->location_count > STOCKD_LOCATIONS_PER_SKU_MAX) return -1;
    if (!sku->exists && sku->location_count != 0) return -1;
    if (sku->reorder_point < 0 || sku->reorder_point > STOCKD_REORDER_POINT_MAX) return -1;
    if (sku->lead_time_days < 0 || sku->lead_time_days > STOCKD_LEAD_TIME_DAYS_MAX) return -1;
    for (uint32_t i = 0; i < sku->location_count; i++) {
        const struct location_stock *stock = &sku->locations[i];
        if (stock->on_hand < 0 || stock->on_hand > STOCKD_ON_HAND_MAX) return -1;
        if (stock->reserved < 0 || stock->reserved > stock->on_hand) return -1;
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(sku->locations[j].location, stock->location) == 0) return -1;
        }
    }
    return 0;
}

/* ---- decide ---------------------------------------------------------------------------------------- */

/* Starts the next event of a decision, numbered after the state's sequence and the events before it. */
static struct event *decision_event_next(struct decision *out, const struct sku_state *sku,
                                         const struct command *command, int64_t now_ms, enum event_type type)
{
    assert(out->event_count < STOCKD_DECISION_EVENTS_MAX);
    struct event *event = &out->events[out->event_count];
    memset(event, 0, sizeof(*event));
    event->type = type;
    COPY_FIELD(event->sku, sku->sku);
    event->sequence = sku->sequence + out->event_count + 1;
    COPY_FIELD(event->command_id, command->command_id);
    event->time_ms = now_ms;
    out->event_count++;
    return event;
}

/* Replaces whatever the decision holds with one CommandRejected. */
static void decision_reject(struct decision *out, const struct sku_state *sku, const struct command *command,
                            int64_t now_ms, enum reject_reason reason, const char *detail)
{
    out->event_count = 0;
    struct event *event = decision_event_next(out, sku, command, now_ms, EVENT_COMMAND_REJECTED);
    event->rejected_type = command->type;
    event->reject_reason = reason;
    snprintf(event->detail, sizeof(event->detail), "%s", detail);
}

static bool quantity_valid(int64_t quantity)
{
    return quantity >= 1 && quantity <= STOCKD_QUANTITY_MAX;
}

static int64_t location_on_hand(const struct sku_state *sku, const char *location)
{
    const struct location_stock *stock = domain_location_find(sku, location);
    return stock == NULL ? 0 : stock->on_hand;
}

static int64_t location_available(const struct sku_state *sku, const char *location)
{
    const struct location_stock *stock = domain_location_find(sku, location);
    return stock == NULL ? 0 : stock->on_hand - stock->reserved;
}

/* True when adding stock at location needs a new slot and none is left. */
static bool location_slot_missing(const struct sku_state *sku, const char *location)
{
    return domain_location_find(sku, location) == NULL && sku->location_count >= STOCKD_LOCATIONS_PER_SKU_MAX;
}

/* Reason to refuse adding quantity at location, or REJECT_NONE. */
static enum reject_reason check_stock_increase(const struct sku_state *sku, const char *location,
                                               int64_t quantity, const char **detail)
{
    if (location_slot_missing(sku, location)) {
        *detail = "the SKU already holds stock in the maximum number of locations";
        return REJECT_TOO_MANY_LOCATIONS;
    }
    if (location_on_hand(sku, location) > STOCKD_ON_HAND_MAX - quantity) {
        *detail = "on-hand at the location would exceed the maximum";
        return REJECT_ON_HAND_LIMIT;
    }
    return REJECT_NONE;
}

static enum reject_reason decide_create(const struct sku_state *sku, const struct command *command,
                                        const char **detail)
{
    if (sku->exists) {
        *detail = "a SKU with this id exists";
        return REJECT_SKU_EXISTS;
    }
    if (command->name[0] == '\0') {
        *detail = "name is empty";
        return REJECT_INVALID_COMMAND;
    }
    if (command->reorder_point < 0 || command->reorder_point > STOCKD_REORDER_POINT_MAX) {
        *detail = "reorder_point is out of range";
        return REJECT_INVALID_QUANTITY;
    }
    if (command->lead_time_days < 0 || command->lead_time_days > STOCKD_LEAD_TIME_DAYS_MAX) {
        *detail = "lead_time_days is out of range";
        return REJECT_INVALID_COMMAND;
    }
    return REJECT_NONE;
}

static enum reject_reason decide_receive(const struct sku_state *sku, const struct command *command,
                                         const char **detail)
{
    if (!quantity_valid(command->quantity)) {
        *detail = "quantity must be in [1, 1000000000]";
        return REJECT_INVALID_QUANTITY;
    }
    return check_stock_increase(sku, command->location, command->quantity, detail);
}

/* The signed change an adjustment makes at its location. */
static int64_t adjust_delta(const struct sku_state *sku, const struct command *command)
{
    if (command->counted_set) return command->counted - location_on_hand(sku, command->location);
    return command->delta;
}

static enum reject_reason decide_adjust(const struct sku_state *sku, const struct command *command,
                                        const char **detail)
{
    if (command->counted_set ? command->counted < 0 || command->counted > STOCKD_ON_HAND_MAX
                             : command->delta == 0 || command->delta < -STOCKD_QUANTITY_MAX ||
                                   command->delta > STOCKD_QUANTITY_MAX) {
        *detail = "delta must be non-zero within +-1000000000, or counted within [0, 10^15]";
        return REJECT_INVALID_QUANTITY;
    }
    if (command->reason[0] == '\0') {
        *detail = "reason is empty";
        return REJECT_INVALID_COMMAND;
    }
    int64_t delta = adjust_delta(sku, command);
    if (delta >= 0) return check_stock_increase(sku, command->location, delta, detail);
    const struct location_stock *stock = domain_location_find(sku, command->location);
    int64_t on_hand = stock == NULL ? 0 : stock->on_hand;
    int64_t reserved = stock == NULL ? 0 : stock->reserved;
    if (on_hand + delta < 0) {
        *detail = "on-hand at the location is smaller than the decrease";
        return REJECT_INSUFFICIENT_STOCK;
    }
    if (on_hand + delta < reserved) {
        *detail = "on-hand would fall below the quantity reserved at the location";
        return REJECT_BELOW_RESERVED;
    }
    return REJECT_NONE;
}

static enum reject_reason decide_reserve(const struct sku_state *sku, struct reservation_set *reservations,
                                         const struct command *command, const char **detail)
{
    if (!quantity_valid(command->quantity)) {
        *detail = "quantity must be in [1, 1000000000]";
        return REJECT_INVALID_QUANTITY;
    }
    if (command->ttl_s < 0 || command->ttl_s > STOCKD_RESERVATION_TTL_S_MAX) {
        *detail = "ttl_seconds is out of range";
        return REJECT_INVALID_COMMAND;
    }
    if (domain_reservation_find(reservations, command->reservation_id) != NULL) {
        *detail = "a reservation with this id exists for the SKU";
        return REJECT_RESERVATION_EXISTS;
    }
    if (location_available(sku, command->location) < command->quantity) {
        *detail = "available stock at the location is smaller than the quantity";
        return REJECT_INSUFFICIENT_STOCK;
    }
    return REJECT_NONE;
}

/* Release and fulfil: the reservation must exist and be active. */
static enum reject_reason decide_settle(struct reservation_set *reservations, const struct command *command,
                                        const char **detail)
{
    const struct reservation_state *reservation =
        domain_reservation_find(reservations, command->reservation_id);
    if (reservation == NULL) {
        *detail = "no reservation with this id for the SKU";
        return REJECT_UNKNOWN_RESERVATION;
    }
    if (reservation->status != RESERVATION_ACTIVE) {
        *detail = "the reservation is no longer active";
        return REJECT_RESERVATION_NOT_ACTIVE;
    }
    return REJECT_NONE;
}

static enum reject_reason decide_transfer(const struct sku_state *sku, const struct command *command,
                                          const char **detail)
{
    if (!quantity_valid(command->quantity)) {
        *detail = "quantity must be in [1, 1000000000]";
        return REJECT_INVALID_QUANTITY;
    }
    if (strcmp(command->location, command->to_location) == 0) {
        *detail = "from_location and to_location are the same";
        return REJECT_SAME_LOCATION;
    }
    if (location_available(sku, command->location) < command->quantity) {
        *detail = "available stock at from_location is smaller than the quantity";
        return REJECT_INSUFFICIENT_STOCK;
    }
    return check_stock_increase(sku, command->to_location, command->quantity, detail);
}

/* Emits the one event of an accepted single-event command. */
static void emit_accepted(struct decision *out, const struct sku_state *sku,
                          struct reservation_set *reservations, const struct command *command, int64_t now_ms)
{
    static const enum event_type event_of[COMMAND_TYPE_COUNT] = {
        [COMMAND_CREATE_SKU] = EVENT_SKU_CREATED,
        [COMMAND_RECEIVE_STOCK] = EVENT_STOCK_RECEIVED,
        [COMMAND_ADJUST_STOCK] = EVENT_STOCK_ADJUSTED,
        [COMMAND_RESERVE_STOCK] = EVENT_STOCK_RESERVED,
        [COMMAND_RELEASE_RESERVATION] = EVENT_RESERVATION_RELEASED,
        [COMMAND_FULFIL_RESERVATION] = EVENT_RESERVATION_FULFILLED,
        [COMMAND_TRANSFER_STOCK] = EVENT_STOCK_TRANSFERRED,
        [COMMAND_UPDATE_CATALOG] = EVENT_CATALOG_UPDATED,
    };
    struct event *event = decision_event_next(out, sku, command, now_ms, event_of[command->type]);
    COPY_FIELD(event->name, command->name);
    if (command->type == COMMAND_UPDATE_CATALOG) { /* name and catalog data only: no stock moves */
        event->catalog = command->catalog;
        return;
    }
    event->reorder_point = command->reorder_point;
    event->lead_time_days = command->lead_time_days;
    COPY_FIELD(event->location, command->location);
    COPY_FIELD(event->to_location, command->to_location);
    event->quantity = command->quantity;
    COPY_FIELD(event->reason, command->reason);
    COPY_FIELD(event->reservation_id, command->reservation_id);
    if (command->type == COMMAND_ADJUST_STOCK) {
        event->quantity = 0;
        event->delta = adjust_delta(sku, command);
        event->counted_set = command->counted_set;
        event->counted = command->counted;
    }
    if (command->type == COMMAND_RESERVE_STOCK && command->ttl_s > 0) {
        event->expires_at_ms = now_ms + command->ttl_s * 1000;
    }
    if (command->type == COMMAND_RELEASE_RESERVATION || command->type == COMMAND_FULFIL_RESERVATION) {
        const struct reservation_state *reservation =
            domain_reservation_find(reservations, command->reservation_id);
        assert(reservation != NULL); /* decide_settle accepted it */
        COPY_FIELD(event->location, reservation->location);
        event->quantity = reservation->quantity;
    }
}

/* ExpireReservations: one ReservationExpired per named reservation that is active and due. */
static void decide_expire(const struct sku_state *sku, struct reservation_set *reservations,
                          const struct command *command, int64_t now_ms, struct decision *out)
{
    assert(command->expire_count <= STOCKD_EXPIRE_BATCH_MAX);
    for (uint32_t i = 0; i < command->expire_count; i++) {
        const struct reservation_state *reservation =
            domain_reservation_find(reservations, command->expire_ids[i]);
        if (reservation == NULL || reservation->status != RESERVATION_ACTIVE) continue;
        if (reservation->expires_at_ms == 0 || reservation->expires_at_ms > now_ms) continue;
        struct event *event = decision_event_next(out, sku, command, now_ms, EVENT_RESERVATION_EXPIRED);
        COPY_FIELD(event->reservation_id, reservation->reservation_id);
        COPY_FIELD(event->location, reservation->location);
        event->quantity = reservation->quantity;
    }
    if (out->event_count == 0) {
        decision_reject(out, sku, command, now_ms, REJECT_RESERVATION_NOT_EXPIRED,
                        "none of the reservations is active and past its expiry");
    }
}

/* UpdateCatalog: the SKU exists (checked by the caller); its data must be what the codec accepts, since a
 * command built in code never went through the codec. The refusal's detail goes into buffer. */
static enum reject_reason decide_catalog(const struct command *command, char *buffer, size_t buffer_bytes,
                                         const char **detail)
{
    const char *field = NULL;
    const char *problem = catalog_data_check(command->name, &command->catalog, &field);
    if (problem == NULL) return REJECT_NONE;
    snprintf(buffer, buffer_bytes, "%s: %s", field, problem);
    *detail = buffer;
    return REJECT_INVALID_COMMAND;
}

void domain_decide(const struct sku_state *sku, const struct reservation_set *reservations,
                   const struct command *command, int64_t now_ms, struct decision *out)
{
    assert(sku != NULL && reservations != NULL && command != NULL && out != NULL);
    assert(command->type > COMMAND_NONE && command->type < COMMAND_TYPE_COUNT);
    assert(strcmp(command->sku, sku->sku) == 0);
    assert(reservations->count <= STOCKD_EXPIRE_BATCH_MAX);
    /* The lookups below take a non-const set; decide never writes through it. */
    struct reservation_set *lookup = (struct reservation_set *)reservations;
    out->event_count = 0;

    const char *detail = "";
    char catalog_detail[STOCKD_DETAIL_BYTES_MAX + 1];
    enum reject_reason reason = REJECT_NONE;
    if (command->type != COMMAND_CREATE_SKU && !sku->exists) {
        reason = REJECT_UNKNOWN_SKU;
        detail = "no SKU with this id was created";
    } else {
        switch (command->type) {
        case COMMAND_CREATE_SKU:
            reason = decide_create(sku, command, &detail);
            break;
        case COMMAND_RECEIVE_STOCK:
            reason = decide_receive(sku, command, &detail);
            break;
        case COMMAND_ADJUST_STOCK:
            reason = decide_adjust(sku, command, &detail);
            break;
        case COMMAND_RESERVE_STOCK:
            reason = decide_reserve(sku, lookup, command, &detail);
            break;
        case COMMAND_RELEASE_RESERVATION:
        case COMMAND_FULFIL_RESERVATION:
            reason = decide_settle(lookup, command, &detail);
            break;
        case COMMAND_TRANSFER_STOCK:
            reason = decide_transfer(sku, command, &detail);
            break;
        case COMMAND_EXPIRE_RESERVATIONS:
            decide_expire(sku, lookup, command, now_ms, out);
            return;
        case COMMAND_UPDATE_CATALOG:
            reason = decide_catalog(command, catalog_detail, sizeof(catalog_detail), &detail);
            break;
        default:
            assert(!"unreachable: command type checked above");
        }
    }
    if (reason != REJECT_NONE) {
        decision_reject(out, sku, command, now_ms, reason, detail);
        return;
    }
    emit_accepted(out, sku, lookup, command, now_ms);
}

/* ---- evolve ---------------------------------------------------------------------------------------- */

/* The location's stock, created empty when absent and a slot is free; NULL when no slot is left. */
static struct location_stock *location_get_or_add(struct sku_state *sku, const char *location)
{
    struct location_stock *stock = (struct location_stock *)domain_location_find(sku, location);
    if (stock != NULL) return stock;
    if (sku->location_count >= STOCKD_LOCATIONS_PER_SKU_MAX) return NULL;
    stock = &sku->locations[sku->location_count++];
    memset(stock, 0, sizeof(*stock));
    COPY_FIELD(stock->location, location);
    return stock;
}

/* Changes on-hand and reserved at a location; -1 when that breaks an invariant. */
static int stock_move(struct sku_state *sku, const char *location, int64_t on_hand_delta,
                      int64_t reserved_delta)
{
    if (on_hand_delta < -STOCKD_ON_HAND_MAX || on_hand_delta > STOCKD_ON_HAND_MAX) return -1;
    if (reserved_delta < -STOCKD_ON_HAND_MAX || reserved_delta > STOCKD_ON_HAND_MAX) return -1;
    struct location_stock *stock = location_get_or_add(sku, location);
    if (stock == NULL) return -1;
    int64_t on_hand = stock->on_hand + on_hand_delta;
    int64_t reserved = stock->reserved + reserved_delta;
    if (on_hand < 0 || on_hand > STOCKD_ON_HAND_MAX || reserved < 0 || reserved > on_hand) return -1;
    stock->on_hand = on_hand;
    stock->reserved = reserved;
    return 0;
}

/* Ends a reservation: it must be in the set, active, and match the event's location and quantity. */
static int reservation_settle(struct reservation_set *reservations, const struct event *event,
                              enum reservation_status status)
{
    struct reservation_state *reservation = domain_reservation_find(reservations, event->reservation_id);
    if (reservation == NULL || reservation->status != RESERVATION_ACTIVE) return -1;
    if (strcmp(reservation->location, event->location) != 0) return -1;
    if (reservation->quantity != event->quantity) return -1;
    reservation->status = status;
    reservation->updated_ms = event->time_ms;
    return 0;
}

static int reservation_add(struct reservation_set *reservations, const struct event *event)
{
    if (domain_reservation_find(reservations, event->reservation_id) != NULL) return -1;
    if (reservations->count >= STOCKD_EXPIRE_BATCH_MAX) return -1;
    struct reservation_state *reservation = &reservations->items[reservations->count++];
    memset(reservation, 0, sizeof(*reservation));
    COPY_FIELD(reservation->reservation_id, event->reservation_id);
    COPY_FIELD(reservation->location, event->location);
    reservation->quantity = event->quantity;
    reservation->status = RESERVATION_ACTIVE;
    reservation->expires_at_ms = event->expires_at_ms;
    reservation->created_ms = event->time_ms;
    reservation->updated_ms = event->time_ms;
    return 0;
}

/* Applies an event's effect to a scratch copy; the caller keeps it only on success. */
static int evolve_apply(struct sku_state *sku, struct reservation_set *reservations,
                        const struct event *event)
{
    if (event->type != EVENT_SKU_CREATED && event->type != EVENT_COMMAND_REJECTED && !sku->exists) return -1;
    switch (event->type) {
    case EVENT_SKU_CREATED:
        if (sku->exists) return -1;
        if (event->lead_time_days < 0 || event->lead_time_days > STOCKD_LEAD_TIME_DAYS_MAX) return -1;
        sku->exists = true;
        COPY_FIELD(sku->name, event->name);
        sku->reorder_point = event->reorder_point;
        sku->lead_time_days = event->lead_time_days;
        return 0;
    case EVENT_STOCK_RECEIVED:
        return stock_move(sku, event->location, event->quantity, 0);
    case EVENT_STOCK_ADJUSTED:
        return stock_move(sku, event->location, event->delta, 0);
    case EVENT_STOCK_RESERVED:
        if (reservation_add(reservations, event) != 0) return -1;
        return stock_move(sku, event->location, 0, event->quantity);
    case EVENT_RESERVATION_RELEASED:
    case EVENT_RESERVATION_EXPIRED:
        if (reservation_settle(reservations, event,
                               event->type == EVENT_RESERVATION_RELEASED ? RESERVATION_RELEASED
                                                                         : RESERVATION_EXPIRED) != 0)
            return -1;
        return stock_move(sku, event->location, 0, -event->quantity);
    case EVENT_RESERVATION_FULFILLED:
        if (reservation_settle(reservations, event, RESERVATION_FULFILLED) != 0) return -1;
        return stock_move(sku, event->location, -event->quantity, -event->quantity);
    case EVENT_STOCK_TRANSFERRED:
        if (strcmp(event->location, event->to_location) == 0) return -1;
        if (stock_move(sku, event->location, -event->quantity, 0) != 0) return -1;
        return stock_move(sku, event->to_location, event->quantity, 0);
    case EVENT_COMMAND_REJECTED:
        return 0;
    case EVENT_CATALOG_UPDATED: /* descriptive only: the catalog view keeps it, the shard only counts it */
    {
        const char *field = NULL;
        return catalog_data_check(event->name, &event->catalog, &field) == NULL ? 0 : -1;
    }
    default:
        return -1;
    }
}

int domain_evolve(struct sku_state *sku, struct reservation_set *reservations, const struct event *event)
{
    assert(sku != NULL && reservations != NULL && event != NULL);
    if (strcmp(event->sku, sku->sku) != 0) return -1;
    if (event->sequence != sku->sequence + 1) return -1;
    if (event->quantity < 0 || event->quantity > STOCKD_ON_HAND_MAX) return -1;

    /* Work on copies so that a refused event leaves the caller's state exactly as it was. The copies are
     * a few KiB; evolve is not on a path where that matters against SQLite and Kafka I/O. */
    struct sku_state sku_next = *sku;
    struct reservation_set reservations_next = *reservations;
    if (evolve_apply(&sku_next, &reservations_next, event) != 0) return -1;
    sku_next.sequence = event->sequence;
    *sku = sku_next;
    *reservations = reservations_next;
    return 0;
}
