/* order.c - the order saga's decision core (see order.h): state + input -> state, stock commands, event.
 *
 * Placing sends ReserveStock for every line. The first refusal (or the deadline) turns the order to
 * cancelling: every line that holds or may yet hold stock gets a ReleaseReservation, and the order is
 * rejected once every line's outcome is known. A line reservation that expires while the order is placing
 * cancels it the same way; once it is confirmed, the first expiry turns it to expiring: every line still held
 * is released, and the order is expired once they all are. A release always follows its reserve on the SKU's
 * partition of commands.by-sku (the reserve was committed in an earlier transaction), so releasing a line
 * whose reserve is still in flight is safe: the handler decides the reserve first. */
#include "domain/order.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static void reason_set(char *out, const char *reason)
{
    snprintf(out, ORDER_REASON_BYTES_MAX + 1, "%s", reason);
}

static void effects_command(struct order_effects *out, uint32_t line, enum order_op op)
{
    assert(out->command_count < STOCKD_ORDER_LINES_MAX);
    out->commands[out->command_count++] = (struct order_line_command){line, op};
}

/* A line that still waits for the outcome of a command it was sent. */
static bool line_waiting(const struct order_line *line)
{
    return line->status == ORDER_LINE_PENDING || line->release_pending || line->fulfil_pending;
}

static bool order_waiting(const struct order_state *state)
{
    for (uint32_t i = 0; i < state->line_count; i++) {
        if (line_waiting(&state->lines[i])) return true;
    }
    return false;
}

/* Turns a placing order to cancelling: releases every line that holds or may yet hold stock, giving the
 * lines still pending reason pending_reason. Rejects it at once when nothing is to be waited for. */
static void order_cancel(struct order_state *state, const char *reason, const char *pending_reason,
                         struct order_effects *out)
{
    assert(state->status == ORDER_STATUS_PLACING);
    state->status = ORDER_STATUS_CANCELLING;
    reason_set(state->reason, reason);
    for (uint32_t i = 0; i < state->line_count; i++) {
        struct order_line *line = &state->lines[i];
        if (line->status != ORDER_LINE_PENDING && line->status != ORDER_LINE_RESERVED) continue;
        if (line->status == ORDER_LINE_PENDING) reason_set(line->reason, pending_reason);
        line->release_pending = true;
        effects_command(out, i, ORDER_OP_RELEASE);
    }
}

/* Moves an order whose lines all have their outcomes to its next status, with its event. */
static void order_settle(struct order_state *state, struct order_effects *out)
{
    if (order_waiting(state)) return;
    switch (state->status) {
    case ORDER_STATUS_PLACING:
        state->status = ORDER_STATUS_CONFIRMED;
        out->event = ORDER_EVENT_CONFIRMED;
        break;
    case ORDER_STATUS_CANCELLING:
        state->status = ORDER_STATUS_REJECTED;
        out->event = ORDER_EVENT_REJECTED;
        break;
    case ORDER_STATUS_RELEASING:
        state->status = ORDER_STATUS_RELEASED;
        out->event = ORDER_EVENT_RELEASED;
        break;
    case ORDER_STATUS_FULFILLING:
        state->status = ORDER_STATUS_FULFILLED;
        out->event = ORDER_EVENT_FULFILLED;
        break;
    case ORDER_STATUS_EXPIRING:
        state->status = ORDER_STATUS_EXPIRED;
        out->event = ORDER_EVENT_EXPIRED;
        break;
    default:
        break; /* final already */
    }
}

static void apply_place(struct order_state *state, const struct order_input *input, struct order_effects *out)
{
    if (state->status != ORDER_STATUS_NONE) {
        out->ignored = ORDER_IGNORED_DUPLICATE;
        return;
    }
    assert(input->line_count >= 1 && input->line_count <= STOCKD_ORDER_LINES_MAX);
    memset(state, 0, sizeof(*state));
    snprintf(state->order_id, sizeof(state->order_id), "%s", input->order_id);
    state->status = ORDER_STATUS_PLACING;
    state->ttl_s = input->ttl_s;
    state->submitted_ms = input->submitted_ms;
    state->line_count = input->line_count;
    for (uint32_t i = 0; i < input->line_count; i++) {
        struct order_line *line = &state->lines[i];
        snprintf(line->sku, sizeof(line->sku), "%s", input->lines[i].sku);
        snprintf(line->location, sizeof(line->location), "%s", input->lines[i].location);
        line->quantity = input->lines[i].quantity;
        line->status = ORDER_LINE_PENDING;
        line->position.partition = -1;
        effects_command(out, i, ORDER_OP_RESERVE);
    }
}

static void apply_release_or_fulfil(struct order_state *state, const struct order_input *input,
                                    struct order_effects *out)
{
    if (state->status != ORDER_STATUS_CONFIRMED) {
        /* A second ReleaseOrder while releasing is a duplicate too; either way nothing changes. */
        out->ignored = ORDER_IGNORED_NOT_CONFIRMED;
        return;
    }
    bool release = input->type == ORDER_INPUT_RELEASE;
    state->status = release ? ORDER_STATUS_RELEASING : ORDER_STATUS_FULFILLING;
    for (uint32_t i = 0; i < state->line_count; i++) {
        struct order_line *line = &state->lines[i];
        assert(line->status == ORDER_LINE_RESERVED);
        if (release)
            line->release_pending = true;
        else
            line->fulfil_pending = true;
        effects_command(out, i, release ? ORDER_OP_RELEASE : ORDER_OP_FULFIL);
    }
}

static void outcome_reserve(struct order_state *state, struct order_line *line,
                            const struct order_input *input, struct order_effects *out)
{
    if (line->status != ORDER_LINE_PENDING) {
        out->ignored = ORDER_IGNORED_DUPLICATE;
        return;
    }
    if (input->accepted) {
        line->status = ORDER_LINE_RESERVED;
    } else {
        line->status = ORDER_LINE_REJECTED;
        /* A timeout's reason stays: the order gave up on this line before its refusal came. */
        if (line->reason[0] == '\0')
            reason_set(line->reason, domain_reject_reason_code(input->reject_reason));
    }
    if (state->status == ORDER_STATUS_PLACING && !input->accepted)
        order_cancel(state, "line_rejected", "order_rejected", out);
}

static void outcome_release(struct order_line *line, const struct order_input *input,
                            struct order_effects *out)
{
    if (!line->release_pending) {
        out->ignored = ORDER_IGNORED_DUPLICATE;
        return;
    }
    line->release_pending = false;
    if (line->status == ORDER_LINE_RESERVED) {
        /* Refused only when the reservation was no longer active (it expired): it holds nothing either way.
         */
        line->status = ORDER_LINE_RELEASED;
        if (!input->accepted) reason_set(line->reason, domain_reject_reason_code(input->reject_reason));
    } else if (line->status == ORDER_LINE_PENDING) {
        /* Cannot happen while the handler decides a partition's commands in order; if it did, the release
         * was decided after the reserve all the same, so the line holds nothing. */
        line->status = input->accepted ? ORDER_LINE_RELEASED : ORDER_LINE_REJECTED;
    }
}

static void outcome_fulfil(struct order_line *line, const struct order_input *input,
                           struct order_effects *out)
{
    if (!line->fulfil_pending) {
        out->ignored = ORDER_IGNORED_DUPLICATE;
        return;
    }
    line->fulfil_pending = false;
    if (input->accepted) {
        line->status = ORDER_LINE_FULFILLED;
    } else {
        line->status = ORDER_LINE_FAILED;
        reason_set(line->reason, domain_reject_reason_code(input->reject_reason));
    }
}

/* Turns a confirmed order whose line just expired to expiring: releases every line still held. */
static void order_expire(struct order_state *state, struct order_effects *out)
{
    assert(state->status == ORDER_STATUS_CONFIRMED);
    state->status = ORDER_STATUS_EXPIRING;
    reason_set(state->reason, "line_expired");
    for (uint32_t i = 0; i < state->line_count; i++) {
        struct order_line *line = &state->lines[i];
        if (line->status != ORDER_LINE_RESERVED) continue;
        reason_set(line->reason, "order_expired");
        line->release_pending = true;
        effects_command(out, i, ORDER_OP_RELEASE);
    }
}

/* A line's reservation expired (the handler decided it; it holds nothing now). Only a placing or confirmed
 * order follows it, all or nothing: the others are releasing every line already, and a release of an
 * expired reservation is refused (reservation_not_active) and reported on the line. */
static void apply_expired(struct order_state *state, const struct order_input *input,
                          struct order_effects *out)
{
    if (input->line >= state->line_count) {
        out->ignored = ORDER_IGNORED_UNKNOWN_LINE;
        return;
    }
    struct order_line *line = &state->lines[input->line];
    bool followed = state->status == ORDER_STATUS_PLACING || state->status == ORDER_STATUS_CONFIRMED;
    if (!followed || line->status != ORDER_LINE_RESERVED) {
        out->ignored = ORDER_IGNORED_LATE;
        return;
    }
    assert(!line->release_pending && !line->fulfil_pending);
    line->status = ORDER_LINE_EXPIRED;
    line->position.partition = input->position_partition;
    line->position.offset = input->position_offset;
    if (state->status == ORDER_STATUS_PLACING)
        order_cancel(state, "line_expired", "order_rejected", out);
    else
        order_expire(state, out);
    order_settle(state, out);
}

static void apply_outcome(struct order_state *state, const struct order_input *input,
                          struct order_effects *out)
{
    if (input->line >= state->line_count) {
        out->ignored = ORDER_IGNORED_UNKNOWN_LINE;
        return;
    }
    struct order_line *line = &state->lines[input->line];
    switch (input->op) {
    case ORDER_OP_RESERVE:
        outcome_reserve(state, line, input, out);
        break;
    case ORDER_OP_RELEASE:
        outcome_release(line, input, out);
        break;
    case ORDER_OP_FULFIL:
        outcome_fulfil(line, input, out);
        break;
    default:
        assert(!"an outcome names its op");
    }
    if (out->ignored != ORDER_IGNORED_NONE) return;
    line->position.partition = input->position_partition;
    line->position.offset = input->position_offset;
    order_settle(state, out);
}

void order_apply(struct order_state *state, const struct order_input *input, struct order_effects *out)
{
    assert(state != NULL && input != NULL && out != NULL);
    assert(input->type > ORDER_INPUT_NONE && input->type < ORDER_INPUT_TYPE_COUNT);
    memset(out, 0, sizeof(*out));
    if (input->type == ORDER_INPUT_PLACE) {
        apply_place(state, input, out);
        return;
    }
    if (state->status == ORDER_STATUS_NONE) {
        out->ignored = ORDER_IGNORED_UNKNOWN_ORDER;
        return;
    }
    assert(strcmp(state->order_id, input->order_id) == 0);
    switch (input->type) {
    case ORDER_INPUT_RELEASE:
    case ORDER_INPUT_FULFIL:
        apply_release_or_fulfil(state, input, out);
        break;
    case ORDER_INPUT_LINE_OUTCOME:
        apply_outcome(state, input, out);
        break;
    case ORDER_INPUT_LINE_EXPIRED:
        apply_expired(state, input, out);
        break;
    case ORDER_INPUT_DEADLINE:
        if (state->status != ORDER_STATUS_PLACING) {
            out->ignored = ORDER_IGNORED_LATE;
            return;
        }
        order_cancel(state, "timeout", "timeout", out);
        order_settle(state, out);
        break;
    default:
        assert(!"input types are handled above");
    }
}

void order_command_build(const struct order_state *state, struct order_line_command line_command,
                         struct command *out)
{
    assert(state != NULL && out != NULL);
    assert(line_command.line < state->line_count);
    const struct order_line *line = &state->lines[line_command.line];
    memset(out, 0, sizeof(*out));
    order_command_id(state->order_id, line_command.line, line_command.op, out->command_id,
                     sizeof(out->command_id));
    order_reservation_id(state->order_id, line_command.line, out->reservation_id,
                         sizeof(out->reservation_id));
    snprintf(out->sku, sizeof(out->sku), "%s", line->sku);
    switch (line_command.op) {
    case ORDER_OP_RESERVE:
        out->type = COMMAND_RESERVE_STOCK;
        snprintf(out->location, sizeof(out->location), "%s", line->location);
        out->quantity = line->quantity;
        out->ttl_s = state->ttl_s;
        break;
    case ORDER_OP_RELEASE:
        out->type = COMMAND_RELEASE_RESERVATION;
        break;
    case ORDER_OP_FULFIL:
        out->type = COMMAND_FULFIL_RESERVATION;
        break;
    default:
        assert(!"a line command names its op");
    }
}

bool order_status_final(enum order_status status)
{
    return status == ORDER_STATUS_CONFIRMED || status == ORDER_STATUS_REJECTED ||
           status == ORDER_STATUS_RELEASED || status == ORDER_STATUS_FULFILLED ||
           status == ORDER_STATUS_EXPIRED;
}

/* ---- ids ------------------------------------------------------------------------------------------- */

void order_reservation_id(const char *order_id, uint32_t line, char *out, size_t out_bytes)
{
    assert(order_id != NULL && strlen(order_id) <= STOCKD_ORDER_ID_BYTES_MAX);
    assert(line < STOCKD_ORDER_LINES_MAX && out_bytes > STOCKD_ID_BYTES_MAX);
    snprintf(out, out_bytes, ORDER_ID_PREFIX "%s:%u", order_id, (unsigned)line);
}

void order_command_id(const char *order_id, uint32_t line, enum order_op op, char *out, size_t out_bytes)
{
    assert(order_op_name(op) != NULL);
    order_reservation_id(order_id, line, out, out_bytes);
    size_t used = strlen(out);
    snprintf(out + used, out_bytes - used, ":%s", order_op_name(op));
}

/* Parses order:<order_id>:<line> from id up to end (exclusive). Returns 0 with the parts, or -1. */
static int line_id_parse(const char *id, const char *end, char *order_id, size_t order_id_bytes,
                         uint32_t *line)
{
    size_t prefix_bytes = sizeof(ORDER_ID_PREFIX) - 1;
    if (strncmp(id, ORDER_ID_PREFIX, prefix_bytes) != 0 || end < id + prefix_bytes) return -1;
    /* The line number: one or two digits after the last colon, no leading zero but for 0 itself. */
    const char *line_colon = end - 1;
    while (line_colon > id + prefix_bytes && *line_colon >= '0' && *line_colon <= '9')
        line_colon--;
    size_t digits = (size_t)(end - line_colon - 1);
    if (*line_colon != ':' || digits < 1 || digits > 2 || (digits == 2 && line_colon[1] == '0')) return -1;
    uint32_t parsed_line = (uint32_t)(line_colon[1] - '0');
    if (digits == 2) parsed_line = parsed_line * 10 + (uint32_t)(line_colon[2] - '0');
    size_t id_bytes = (size_t)(line_colon - (id + prefix_bytes));
    if (parsed_line >= STOCKD_ORDER_LINES_MAX || id_bytes < 1 || id_bytes > STOCKD_ORDER_ID_BYTES_MAX ||
        id_bytes >= order_id_bytes)
        return -1;
    memcpy(order_id, id + prefix_bytes, id_bytes);
    order_id[id_bytes] = '\0';
    *line = parsed_line;
    return 0;
}

int order_reservation_id_parse(const char *reservation_id, char *order_id, size_t order_id_bytes,
                               uint32_t *line)
{
    assert(reservation_id != NULL && order_id != NULL && line != NULL);
    return line_id_parse(reservation_id, reservation_id + strlen(reservation_id), order_id, order_id_bytes,
                         line);
}

int order_command_id_parse(const char *command_id, char *order_id, size_t order_id_bytes, uint32_t *line,
                           enum order_op *op)
{
    assert(command_id != NULL && order_id != NULL && line != NULL && op != NULL);
    const char *op_colon = strrchr(command_id, ':');
    if (op_colon == NULL) return -1;
    enum order_op parsed_op = order_op_parse(op_colon + 1);
    if (parsed_op == ORDER_OP_NONE) return -1;
    if (line_id_parse(command_id, op_colon, order_id, order_id_bytes, line) != 0) return -1;
    *op = parsed_op;
    return 0;
}

static bool id_reserved(const char *id)
{
    return strncmp(id, ORDER_ID_PREFIX, sizeof(ORDER_ID_PREFIX) - 1) == 0;
}

const char *order_command_ids_check(const struct command *command, const char **field)
{
    assert(command != NULL && field != NULL);
    bool command_reserved = id_reserved(command->command_id);
    if (!command_reserved && !id_reserved(command->reservation_id)) return NULL;
    *field = "command_id";
    if (!command_reserved) {
        *field = "data.reservation_id"; /* a client's command on an order line's reservation */
        return ORDER_IDS_RESERVED;
    }
    char order_id[STOCKD_ORDER_ID_BYTES_MAX + 1];
    uint32_t line = 0;
    enum order_op op = ORDER_OP_NONE;
    if (order_command_id_parse(command->command_id, order_id, sizeof(order_id), &line, &op) != 0)
        return ORDER_IDS_RESERVED;
    static const enum command_type op_types[] = {
        [ORDER_OP_RESERVE] = COMMAND_RESERVE_STOCK,
        [ORDER_OP_RELEASE] = COMMAND_RELEASE_RESERVATION,
        [ORDER_OP_FULFIL] = COMMAND_FULFIL_RESERVATION,
    };
    if (command->type != op_types[op]) return ORDER_IDS_RESERVED;
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];
    order_reservation_id(order_id, line, reservation_id, sizeof(reservation_id));
    if (strcmp(command->reservation_id, reservation_id) != 0) {
        *field = "data.reservation_id";
        return ORDER_IDS_RESERVED;
    }
    return NULL;
}

const char *order_client_id_field(const struct command *command)
{
    assert(command != NULL);
    if (id_reserved(command->command_id)) return "command_id";
    if (id_reserved(command->reservation_id)) return "data.reservation_id";
    return NULL;
}

/* ---- names ----------------------------------------------------------------------------------------- */

static const char *const order_status_names[ORDER_STATUS_COUNT] = {
    [ORDER_STATUS_PLACING] = "placing",       [ORDER_STATUS_CANCELLING] = "cancelling",
    [ORDER_STATUS_CONFIRMED] = "confirmed",   [ORDER_STATUS_REJECTED] = "rejected",
    [ORDER_STATUS_RELEASING] = "releasing",   [ORDER_STATUS_RELEASED] = "released",
    [ORDER_STATUS_FULFILLING] = "fulfilling", [ORDER_STATUS_FULFILLED] = "fulfilled",
    [ORDER_STATUS_EXPIRING] = "expiring",     [ORDER_STATUS_EXPIRED] = "expired",
};

static const char *const order_line_status_names[ORDER_LINE_STATUS_COUNT] = {
    [ORDER_LINE_PENDING] = "pending",     [ORDER_LINE_RESERVED] = "reserved",
    [ORDER_LINE_REJECTED] = "rejected",   [ORDER_LINE_RELEASED] = "released",
    [ORDER_LINE_FULFILLED] = "fulfilled", [ORDER_LINE_FAILED] = "failed",
    [ORDER_LINE_EXPIRED] = "expired",
};

static const char *const order_op_names[] = {
    [ORDER_OP_RESERVE] = "reserve",
    [ORDER_OP_RELEASE] = "release",
    [ORDER_OP_FULFIL] = "fulfil",
};

static const char *const order_event_names[ORDER_EVENT_TYPE_COUNT] = {
    [ORDER_EVENT_CONFIRMED] = "OrderConfirmed", [ORDER_EVENT_REJECTED] = "OrderRejected",
    [ORDER_EVENT_RELEASED] = "OrderReleased",   [ORDER_EVENT_FULFILLED] = "OrderFulfilled",
    [ORDER_EVENT_EXPIRED] = "OrderExpired",
};

static const char *const order_input_names[ORDER_INPUT_TYPE_COUNT] = {
    [ORDER_INPUT_PLACE] = "PlaceOrder",       [ORDER_INPUT_RELEASE] = "ReleaseOrder",
    [ORDER_INPUT_FULFIL] = "FulfilOrder",     [ORDER_INPUT_LINE_OUTCOME] = "OrderLineOutcome",
    [ORDER_INPUT_DEADLINE] = "OrderDeadline", [ORDER_INPUT_LINE_EXPIRED] = "OrderLineExpired",
};

static int name_index(const char *const *names, int count, const char *name)
{
    for (int i = 1; name != NULL && i < count; i++) {
        if (names[i] != NULL && strcmp(names[i], name) == 0) return i;
    }
    return 0;
}

const char *order_status_name(enum order_status status)
{
    return status > 0 && status < ORDER_STATUS_COUNT ? order_status_names[status] : NULL;
}

enum order_status order_status_parse(const char *name)
{
    return (enum order_status)name_index(order_status_names, ORDER_STATUS_COUNT, name);
}

const char *order_line_status_name(enum order_line_status status)
{
    return (int)status >= 0 && status < ORDER_LINE_STATUS_COUNT ? order_line_status_names[status] : NULL;
}

int order_line_status_parse(const char *name)
{
    for (int i = 0; name != NULL && i < ORDER_LINE_STATUS_COUNT; i++) {
        if (strcmp(order_line_status_names[i], name) == 0) return i;
    }
    return -1;
}

const char *order_op_name(enum order_op op)
{
    return op > ORDER_OP_NONE && op <= ORDER_OP_FULFIL ? order_op_names[op] : NULL;
}

enum order_op order_op_parse(const char *name)
{
    return (enum order_op)name_index(order_op_names, ORDER_OP_FULFIL + 1, name);
}

const char *order_event_type_name(enum order_event_type type)
{
    return type > 0 && type < ORDER_EVENT_TYPE_COUNT ? order_event_names[type] : NULL;
}

const char *order_input_type_name(enum order_input_type type)
{
    return type > 0 && type < ORDER_INPUT_TYPE_COUNT ? order_input_names[type] : NULL;
}

enum order_input_type order_input_type_parse(const char *name)
{
    return (enum order_input_type)name_index(order_input_names, ORDER_INPUT_TYPE_COUNT, name);
}
