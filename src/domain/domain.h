/* domain.h - the inventory model: commands, events, state, decide and evolve.
 *
 * Pure: no I/O, no clock, no allocation. The handler loads a SKU's state (and the reservations a command
 * names) from its shard, calls domain_decide(), then domain_evolve() for each event. Replaying events
 * through domain_evolve() from an empty state gives the same state again. */
#ifndef STOCKD_DOMAIN_H
#define STOCKD_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

enum command_type {
    COMMAND_NONE = 0,
    COMMAND_CREATE_SKU,
    COMMAND_RECEIVE_STOCK,
    COMMAND_ADJUST_STOCK,
    COMMAND_RESERVE_STOCK,
    COMMAND_RELEASE_RESERVATION,
    COMMAND_FULFIL_RESERVATION,
    COMMAND_TRANSFER_STOCK,
    COMMAND_EXPIRE_RESERVATIONS, /* internal: decided by the handler's punctuator, never accepted as input */
    COMMAND_UPDATE_CATALOG,      /* one source's descriptive data of a SKU (name, description, ...) */
    COMMAND_TYPE_COUNT
};

enum event_type {
    EVENT_NONE = 0,
    EVENT_SKU_CREATED,
    EVENT_STOCK_RECEIVED,
    EVENT_STOCK_ADJUSTED,
    EVENT_STOCK_RESERVED,
    EVENT_RESERVATION_RELEASED,
    EVENT_RESERVATION_FULFILLED,
    EVENT_STOCK_TRANSFERRED,
    EVENT_RESERVATION_EXPIRED,
    EVENT_COMMAND_REJECTED,
    EVENT_CATALOG_UPDATED,
    EVENT_TYPE_COUNT
};

/* Stable reason codes of CommandRejected: they are on the topic forever, so never renumber or rename. */
enum reject_reason {
    REJECT_NONE = 0,
    REJECT_SKU_EXISTS,              /* sku_exists: CreateSku for a SKU that exists */
    REJECT_UNKNOWN_SKU,             /* unknown_sku: any other command for a SKU never created */
    REJECT_INSUFFICIENT_STOCK,      /* insufficient_stock: available (or on-hand) too small */
    REJECT_RESERVATION_EXISTS,      /* reservation_exists: ReserveStock with an id already used */
    REJECT_UNKNOWN_RESERVATION,     /* unknown_reservation: release/fulfil of an id never reserved */
    REJECT_RESERVATION_NOT_ACTIVE,  /* reservation_not_active: already released, fulfilled or expired */
    REJECT_INVALID_QUANTITY,        /* invalid_quantity: zero, negative or above the maximum */
    REJECT_TOO_MANY_LOCATIONS,      /* too_many_locations: the SKU holds STOCKD_LOCATIONS_PER_SKU_MAX */
    REJECT_ON_HAND_LIMIT,           /* on_hand_limit: on-hand would pass STOCKD_ON_HAND_MAX */
    REJECT_BELOW_RESERVED,          /* below_reserved: adjustment would leave on-hand under reserved */
    REJECT_SAME_LOCATION,           /* same_location: transfer to the location it comes from */
    REJECT_RESERVATION_NOT_EXPIRED, /* reservation_not_expired: expiry decided before the deadline */
    REJECT_INVALID_COMMAND,         /* invalid_command: a field outside the domain (empty name, ...) */
    REJECT_REASON_COUNT
};

enum reservation_status {
    RESERVATION_ACTIVE = 1,
    RESERVATION_RELEASED,
    RESERVATION_FULFILLED,
    RESERVATION_EXPIRED,
};

/* One attribute of a SKU's catalog data: a lower-case key ([a-z0-9][a-z0-9_.-]*) and a normalised text. */
struct catalog_attribute {
    char key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1];
    char value[STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX + 1];
};

/* What one source says about a SKU (UpdateCatalog, CatalogUpdated); the name is the command's or event's
 * own name field. It replaces whatever that source said before: an empty field means the source has no
 * value for it. Attributes are in ascending key order, each key once (src/domain/catalog.h). */
struct catalog_data {
    char source[STOCKD_CATALOG_SOURCE_BYTES_MAX + 1];
    char description[STOCKD_CATALOG_DESCRIPTION_BYTES_MAX + 1];
    char brand[STOCKD_CATALOG_BRAND_BYTES_MAX + 1];
    uint32_t attribute_count;
    struct catalog_attribute attributes[STOCKD_CATALOG_ATTRIBUTES_MAX];
};

/* One command. Which fields matter depends on type; the rest are zero. */
struct command {
    enum command_type type;
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char name[STOCKD_NAME_BYTES_MAX + 1];            /* CreateSku; UpdateCatalog ("" = none) */
    int64_t reorder_point;                           /* CreateSku */
    int64_t lead_time_days;                          /* CreateSku: 0 = unknown */
    char location[STOCKD_LOCATION_BYTES_MAX + 1];    /* Receive, Adjust, Reserve; Transfer: from */
    char to_location[STOCKD_LOCATION_BYTES_MAX + 1]; /* Transfer */
    int64_t quantity;                                /* Receive, Reserve, Transfer */
    bool counted_set;                                /* Adjust: counted (true) or delta (false) */
    int64_t delta;                                   /* Adjust by delta */
    int64_t counted;                                 /* Adjust to a counted on-hand */
    char reason[STOCKD_REASON_BYTES_MAX + 1];        /* Adjust */
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];    /* Reserve, Release, Fulfil */
    int64_t ttl_s;                                   /* Reserve: 0 = never expires */
    uint32_t expire_count;                           /* ExpireReservations */
    char expire_ids[STOCKD_EXPIRE_BATCH_MAX][STOCKD_ID_BYTES_MAX + 1];
    struct catalog_data catalog; /* UpdateCatalog */
};

/* One event. sequence is per SKU key, 1, 2, 3, ... with no gaps; rejections take a number too. */
struct event {
    enum event_type type;
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    uint64_t sequence;
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    int64_t time_ms;                                 /* when it was decided, Unix epoch milliseconds */
    char name[STOCKD_NAME_BYTES_MAX + 1];            /* SkuCreated; CatalogUpdated ("" = none) */
    int64_t reorder_point;                           /* SkuCreated */
    int64_t lead_time_days;                          /* SkuCreated (version 2 on): 0 = unknown */
    char location[STOCKD_LOCATION_BYTES_MAX + 1];    /* all stock events; Transferred: from */
    char to_location[STOCKD_LOCATION_BYTES_MAX + 1]; /* Transferred */
    int64_t quantity;                                /* Received, Reserved, Released, Fulfilled, ... */
    int64_t delta;                                   /* Adjusted */
    bool counted_set;                                /* Adjusted: it came from a count */
    int64_t counted;                                 /* Adjusted: the count */
    char reason[STOCKD_REASON_BYTES_MAX + 1];        /* Adjusted */
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];    /* reservation events */
    int64_t expires_at_ms;                           /* Reserved: 0 = never */
    enum command_type rejected_type;                 /* CommandRejected */
    enum reject_reason reject_reason;                /* CommandRejected */
    char detail[STOCKD_DETAIL_BYTES_MAX + 1];        /* CommandRejected: for people, not parsed */
    struct catalog_data catalog;                     /* CatalogUpdated */
};

struct location_stock {
    char location[STOCKD_LOCATION_BYTES_MAX + 1];
    int64_t on_hand;
    int64_t reserved;
};

/* Everything a decision needs about one SKU key. sequence counts events of the key even when the SKU
 * does not exist (rejections of unknown_sku are numbered too). */
struct sku_state {
    bool exists;
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char name[STOCKD_NAME_BYTES_MAX + 1];
    int64_t reorder_point;
    int64_t lead_time_days; /* 0 = unknown */
    uint64_t sequence;
    uint32_t location_count;
    struct location_stock locations[STOCKD_LOCATIONS_PER_SKU_MAX];
};

struct reservation_state {
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];
    char location[STOCKD_LOCATION_BYTES_MAX + 1];
    int64_t quantity;
    enum reservation_status status;
    int64_t expires_at_ms; /* 0 = never */
    int64_t created_ms;
    int64_t updated_ms;
};

/* The reservations of one SKU that a command names and that exist (absent ones are simply not here). */
struct reservation_set {
    uint32_t count;
    struct reservation_state items[STOCKD_EXPIRE_BATCH_MAX];
};

struct decision {
    uint32_t event_count; /* >= 1: either domain events or exactly one CommandRejected */
    struct event events[STOCKD_DECISION_EVENTS_MAX];
};

/* Decides a command against the state of its SKU at time now_ms. Always succeeds: a refused command
 * yields one CommandRejected event with a stable reason. The events are numbered from
 * sku->sequence + 1. The command's sku must equal sku->sku (asserted). */
void domain_decide(const struct sku_state *sku, const struct reservation_set *reservations,
                   const struct command *command, int64_t now_ms, struct decision *out);

/* Applies one event to the state of its SKU and to the reservation set (reservations it creates are
 * added; ones it changes must be in the set). Returns 0, or -1 with the state unchanged when the event
 * does not follow from the state (wrong SKU, sequence gap, a move that would break an invariant): the
 * events come from Kafka, so that is an operating error, never an assertion. */
int domain_evolve(struct sku_state *sku, struct reservation_set *reservations, const struct event *event);

/* Initialises an empty state for a SKU key (no events yet). */
void domain_sku_state_init(struct sku_state *sku, const char *sku_key);

/* Checks the invariants of a state: on_hand >= 0, 0 <= reserved <= on_hand, bounds. Returns 0 or -1. */
int domain_sku_state_check(const struct sku_state *sku);

/* Finds a location's stock, or NULL. */
const struct location_stock *domain_location_find(const struct sku_state *sku, const char *location);

/* Finds a reservation in a set, or NULL. */
struct reservation_state *domain_reservation_find(struct reservation_set *set, const char *reservation_id);

/* The type of the command an event decides: a rejection's rejected_type, else the command that emits the
 * event's type (COMMAND_NONE for a type no command emits). */
enum command_type domain_event_command_type(const struct event *event);

/* Names: the wire names (CamelCase type names, snake_case reason codes). Unknown values give NULL;
 * lookups of unknown names give the NONE value. */
const char *domain_command_type_name(enum command_type type);
const char *domain_event_type_name(enum event_type type);
const char *domain_reject_reason_code(enum reject_reason reason);
const char *domain_reservation_status_name(enum reservation_status status);
enum command_type domain_command_type_parse(const char *name);
enum event_type domain_event_type_parse(const char *name);
enum reject_reason domain_reject_reason_parse(const char *code);

#endif
