/* api.h - the HTTP API (role api): command submission, queries, operations, on civetweb.
 *
 * Commands are produced to their SKU's partition of <prefix>.commands.by-sku (no router hop); queries
 * read the views of this instance's projectors. Never decides a command and never writes a view.
 * docs/http-api.md is the guide, schema/openapi.yaml the contract. */
#ifndef STOCKD_API_H
#define STOCKD_API_H

#include <stddef.h>

#include "config.h"

struct projector;
struct handler;
struct router;
struct orders;

/* What the API reads from the other stages of this instance; NULL when the role is not run here. */
struct api_stages {
    struct projector *stock;
    struct projector *reservations;
    struct projector *history;
    struct projector *outcomes;
    struct projector *movements;
    struct projector *catalog;
    struct projector *const *projectors; /* every view, for /v1/views and /metrics */
    size_t projector_count;
    struct handler *handler;
    struct router *router;
    struct orders *orders; /* NULL when this instance does not run the orders role */
    /* This instance's handler posts committed outcomes here (outcome_board.h): Prefer: wait answers from it
     * for SKUs whose partition the handler holds. NULL without the handler role or the outcomes view. */
    struct outcome_board *outcome_board;
};

struct api;

/* Creates the API: its Kafka producer and its tables; does not listen yet. config and the stages must
 * outlive it. Returns NULL with a message in error. */
struct api *api_create(const struct stockd_config *config, const struct api_stages *stages, char *error,
                       size_t error_bytes);

/* Starts listening (http.listen; 127.0.0.1 only when no API keys are configured, which it logs) with
 * http.threads workers. Returns 0, or -1 with a message (address in use, ...). */
int api_start(struct api *api, char *error, size_t error_bytes);

/* Stops listening, waits for the requests in flight (their waits end within a second), flushes the
 * producer. Safe when not started. */
void api_stop(struct api *api);

/* Destroys a stopped API. Accepts NULL. */
void api_destroy(struct api *api);

/* The port the API listens on after api_start (useful with port 0). */
int api_port(const struct api *api);

#endif
