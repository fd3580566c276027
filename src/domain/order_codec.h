/* order_codec.h - JSON of the orders topic's records, of an order's state and of POST /v1/orders.
 *
 * Strict like codec.h (schema/order.schema.json): unknown, duplicate or case-variant keys, NUL, inexact
 * numbers and over-long or malformed ids are refused with a message naming the field. No I/O. */
#ifndef STOCKD_ORDER_CODEC_H
#define STOCKD_ORDER_CODEC_H

#include <stddef.h>

#include "domain/codec.h"
#include "domain/order.h"

/* A record of <prefix>.orders: an input for the saga, or one of the order's own events (which the stage
 * reads back and passes over; readers of the topic fold them). */
struct order_record {
    struct order_input input;    /* input.type NONE for an event */
    enum order_event_type event; /* NONE for an input */
    struct order_state order;    /* an event's order */
};

/* Decodes a record of the orders topic. Returns 0 with *out filled, or -1 with *error filled. A record may
 * carry a "version" (absent means 1, as for events: docs/events.md); one newer than this stockd reads is
 * refused with a message saying so. The encoders write version 1 records, without the key. */
int order_codec_record_decode(const char *json, size_t json_bytes, struct order_record *out,
                              struct codec_error *error);

/* Encodes an input (valid, asserted for its type) as compact JSON. Returns a malloc'd NUL-terminated string
 * the caller frees, or NULL when out of memory. */
char *order_codec_input_encode(const struct order_input *input);

/* Encodes an order event: {"type":"OrderConfirmed","order":{...state...}}. Same contract. */
char *order_codec_event_encode(enum order_event_type event, const struct order_state *state);

/* Encodes an order's state as the JSON object GET /v1/orders/{id} answers and the stage stores. Same
 * contract. */
char *order_codec_state_encode(const struct order_state *state);

/* Decodes what order_codec_state_encode wrote. Returns 0, or -1 with *error filled. */
int order_codec_state_decode(const char *json, size_t json_bytes, struct order_state *out,
                             struct codec_error *error);

/* Decodes the body of POST /v1/orders: {order_id, lines: [{sku, location, quantity}], ttl_seconds?} into a
 * PlaceOrder input (submitted_ms 0: the caller stamps it). 1..STOCKD_ORDER_LINES_MAX lines, one per SKU and
 * location. Returns 0, or -1 with *error filled. */
int order_codec_request_decode(const char *json, size_t json_bytes, struct order_input *out,
                               struct codec_error *error);

#endif
