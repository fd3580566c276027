/* order.h - the order saga's decision core: an order across SKUs, all lines reserved or none held.
 *
 * Pure: no I/O, no clock, no allocation. The order stage (src/orders.c) loads an order's state, calls
 * order_apply() with one input read from <prefix>.orders, and sends what it returns: stock commands to
 * commands.by-sku and at most one order event to the orders topic. Applying the same inputs to an empty
 * state in the same order gives the same state and the same outputs again, which is how the stage restores
 * after a crash (docs/orders.md). */
#ifndef STOCKD_ORDER_H
#define STOCKD_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/domain.h"
#include "limits.h"

/* Command and reservation ids of an order's lines are derived from the order id and the line number, so a
 * replay produces byte-identical commands that the handler drops as duplicates:
 *   reservation  order:<order_id>:<line>
 *   command      order:<order_id>:<line>:<op>     op = reserve | release | fulfil
 * The prefix is reserved: the API refuses client ids that begin with it. */
#define ORDER_ID_PREFIX "order:"

enum order_status {
    ORDER_STATUS_NONE = 0,   /* never placed */
    ORDER_STATUS_PLACING,    /* ReserveStock sent for every line, outcomes arriving */
    ORDER_STATUS_CANCELLING, /* a line was refused or the deadline passed: releasing what was got */
    ORDER_STATUS_CONFIRMED,  /* every line reserved (final until released or fulfilled) */
    ORDER_STATUS_REJECTED,   /* final: no line holds stock */
    ORDER_STATUS_RELEASING,  /* ReleaseOrder: releasing every line */
    ORDER_STATUS_RELEASED,   /* final */
    ORDER_STATUS_FULFILLING, /* FulfilOrder: fulfilling every line */
    ORDER_STATUS_FULFILLED,  /* final */
    ORDER_STATUS_EXPIRING,   /* a confirmed order's line expired: releasing the lines still held */
    ORDER_STATUS_EXPIRED,    /* final: no line holds stock */
    ORDER_STATUS_COUNT
};

enum order_line_status {
    ORDER_LINE_PENDING = 0, /* ReserveStock sent, no outcome yet */
    ORDER_LINE_RESERVED,    /* holds its quantity */
    ORDER_LINE_REJECTED,    /* never held (reason says why) */
    ORDER_LINE_RELEASED,    /* held, then released (or expired) */
    ORDER_LINE_FULFILLED,   /* shipped */
    ORDER_LINE_FAILED,      /* fulfilment refused (the reservation had expired: reason says) */
    ORDER_LINE_EXPIRED,     /* held, then its reservation expired: the line that ended the order */
    ORDER_LINE_STATUS_COUNT
};

/* What a line command did; the last component of its command id. */
enum order_op {
    ORDER_OP_NONE = 0,
    ORDER_OP_RESERVE,
    ORDER_OP_RELEASE,
    ORDER_OP_FULFIL,
};

/* A line's or an order's reason: a CommandRejected reason code, "timeout", "line_rejected". */
#define ORDER_REASON_BYTES_MAX 32

struct order_line {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char location[STOCKD_LOCATION_BYTES_MAX + 1];
    int64_t quantity;
    enum order_line_status status;
    bool release_pending; /* ReleaseReservation sent, no outcome yet */
    bool fulfil_pending;  /* FulfilReservation sent, no outcome yet */
    char reason[ORDER_REASON_BYTES_MAX + 1];
    struct {
        int32_t partition; /* of the line's last event on <prefix>.events; -1 none yet */
        int64_t offset;
    } position;
};

struct order_state {
    char order_id[STOCKD_ORDER_ID_BYTES_MAX + 1];
    enum order_status status;
    char reason[ORDER_REASON_BYTES_MAX + 1]; /* why it ended: line_rejected, timeout, line_expired */
    int64_t ttl_s;                           /* of each line's reservation; 0 = never expires */
    int64_t submitted_ms;                    /* when the API accepted it (Unix epoch ms) */
    uint32_t line_count;
    struct order_line lines[STOCKD_ORDER_LINES_MAX];
};

/* What the stage reads on <prefix>.orders. */
enum order_input_type {
    ORDER_INPUT_NONE = 0,
    ORDER_INPUT_PLACE,        /* PlaceOrder: from the API */
    ORDER_INPUT_RELEASE,      /* ReleaseOrder: from the API */
    ORDER_INPUT_FULFIL,       /* FulfilOrder: from the API */
    ORDER_INPUT_LINE_OUTCOME, /* OrderLineOutcome: the stage forwarded a line command's event */
    ORDER_INPUT_DEADLINE,     /* OrderDeadline: the stage's punctuator saw the saga's deadline pass */
    ORDER_INPUT_LINE_EXPIRED, /* OrderLineExpired: the stage forwarded a line reservation's expiry */
    ORDER_INPUT_TYPE_COUNT
};

struct order_input {
    enum order_input_type type;
    char order_id[STOCKD_ORDER_ID_BYTES_MAX + 1];
    /* PlaceOrder */
    int64_t ttl_s;
    int64_t submitted_ms;
    uint32_t line_count;
    struct {
        char sku[STOCKD_SKU_BYTES_MAX + 1];
        char location[STOCKD_LOCATION_BYTES_MAX + 1];
        int64_t quantity;
    } lines[STOCKD_ORDER_LINES_MAX];
    /* OrderLineOutcome (line, op, accepted, reject_reason, position) and OrderLineExpired (line, position) */
    uint32_t line;
    enum order_op op;
    bool accepted;
    enum reject_reason reject_reason; /* when refused */
    int32_t position_partition;       /* the event's place on <prefix>.events */
    int64_t position_offset;
};

/* The order's own events, written to <prefix>.orders when the saga reaches a final status. */
enum order_event_type {
    ORDER_EVENT_NONE = 0,
    ORDER_EVENT_CONFIRMED,
    ORDER_EVENT_REJECTED,
    ORDER_EVENT_RELEASED,
    ORDER_EVENT_FULFILLED,
    ORDER_EVENT_EXPIRED,
    ORDER_EVENT_TYPE_COUNT
};

/* Why an input changed nothing (for logs and metrics; not an error: duplicates are normal after a
 * replay). */
enum order_ignored {
    ORDER_IGNORED_NONE = 0,
    ORDER_IGNORED_DUPLICATE,     /* PlaceOrder for an order that exists; an outcome already applied */
    ORDER_IGNORED_UNKNOWN_ORDER, /* anything but PlaceOrder for an order never placed */
    ORDER_IGNORED_NOT_CONFIRMED, /* ReleaseOrder or FulfilOrder of an order that is not confirmed */
    ORDER_IGNORED_UNKNOWN_LINE,  /* an outcome for a line the order does not have */
    ORDER_IGNORED_LATE,          /* a deadline after the saga moved on; an expiry of a line not held, or
                                  * while the order is neither placing nor confirmed (its release or
                                  * fulfilment reports the line's reason) */
};

/* A stock command to send for a line (order_command_build makes it). */
struct order_line_command {
    uint32_t line;
    enum order_op op;
};

struct order_effects {
    uint32_t command_count;
    struct order_line_command commands[STOCKD_ORDER_LINES_MAX]; /* to commands.by-sku, in line order */
    enum order_event_type event;                                /* NONE, or the final status just reached */
    enum order_ignored ignored;
};

/* Applies one input to an order's state (which starts zeroed: ORDER_STATUS_NONE) and says what to send.
 * The input must be valid (order_codec's decoder only returns valid ones; asserted where cheap) and name
 * state's order unless state is NONE. Never fails: an input that does not apply is ignored (out->ignored)
 * and leaves state unchanged. */
void order_apply(struct order_state *state, const struct order_input *input, struct order_effects *out);

/* The stock command of one line and op: ReserveStock (with the order's ttl), ReleaseReservation or
 * FulfilReservation, with the derived command and reservation ids. */
void order_command_build(const struct order_state *state, struct order_line_command line_command,
                         struct command *out);

/* True for the statuses a saga ends in (confirmed, rejected, released, fulfilled, expired). */
bool order_status_final(enum order_status status);

/* The derived ids (see ORDER_ID_PREFIX). out must hold STOCKD_ID_BYTES_MAX + 1 bytes. */
void order_reservation_id(const char *order_id, uint32_t line, char *out, size_t out_bytes);
void order_command_id(const char *order_id, uint32_t line, enum order_op op, char *out, size_t out_bytes);

/* Parses a reservation id made by order_reservation_id. Returns 0 with the parts, or -1 when the id is
 * not an order line's. order_id must hold STOCKD_ORDER_ID_BYTES_MAX + 1 bytes. */
int order_reservation_id_parse(const char *reservation_id, char *order_id, size_t order_id_bytes,
                               uint32_t *line);

/* Parses a command id made by order_command_id. Returns 0 with the parts, or -1 when the id is not a
 * line command's (any other command: the common case, so it is cheap). order_id must hold
 * STOCKD_ORDER_ID_BYTES_MAX + 1 bytes. */
int order_command_id_parse(const char *command_id, char *order_id, size_t order_id_bytes, uint32_t *line,
                           enum order_op *op);

/* Whether a stock command's ids may be an order line's. The prefix is the order stage's: a command whose
 * command id or reservation id begins with it must be exactly a line command order_command_build makes
 * (command id order:<order_id>:<line>:<op>, its type that op's, reservation id order:<order_id>:<line>).
 * Returns NULL when it is, or when neither id begins with the prefix; else the message ORDER_IDS_RESERVED
 * with *field set to the id at fault ("command_id" or "data.reservation_id"). The prefix alone cannot tell
 * who wrote a command: the API and the router refuse every client id that begins with it (docs/orders.md). */
#define ORDER_IDS_RESERVED                                                                                   \
    "ids beginning with \"" ORDER_ID_PREFIX "\" belong to the order stage's line commands "                  \
    "(order:<order_id>:<line>:<op> on reservation order:<order_id>:<line>)"
const char *order_command_ids_check(const struct command *command, const char **field);

/* The id of a client's command that begins with the order stage's prefix: "command_id" or
 * "data.reservation_id", or NULL when neither does. Clients (POST /v1/commands and the routes, commands
 * written to <prefix>.commands) never use the prefix, not even for a well-formed line command: the API and
 * the router refuse what this names, so what they take is what the topics' decoder takes. */
const char *order_client_id_field(const struct command *command);

/* Wire names: "placing", "confirmed", ...; "pending", "reserved", ...; "reserve", ...; "OrderConfirmed", ...
 * Unknown values give NULL; lookups of unknown names give the NONE (or zero) value, or -1 for lines. */
const char *order_status_name(enum order_status status);
enum order_status order_status_parse(const char *name);
const char *order_line_status_name(enum order_line_status status);
int order_line_status_parse(const char *name);
const char *order_op_name(enum order_op op);
enum order_op order_op_parse(const char *name);
const char *order_event_type_name(enum order_event_type type);
const char *order_input_type_name(enum order_input_type type);
enum order_input_type order_input_type_parse(const char *name);

#endif
