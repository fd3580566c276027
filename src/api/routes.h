/* routes.h - the HTTP API's route table: every method, path template, role, status and handler.
 *
 * One table, read by the server (to route, to authorise and to call the route's handler) and by the OpenAPI
 * check (tests/tools), which compares it with schema/openapi.yaml both ways: a route or status in one and not
 * the other fails. The handlers live in commands.c, queries.c and admin.c; the table only points to them. */
#ifndef STOCKD_API_ROUTES_H
#define STOCKD_API_ROUTES_H

#include <stddef.h>

/* Who may call a route. Each role includes the ones before it. */
enum api_role {
    API_ROLE_PUBLIC = 0, /* no key needed */
    API_ROLE_READ,
    API_ROLE_WRITE,
    API_ROLE_ADMIN,
};

/* Statuses per route: at most this many (the table's arrays are fixed). */
#define API_ROUTE_STATUSES_MAX 16

/* A path template has at most this many segments ("/v1/reservations/{id}/release" has 4). */
#define API_ROUTE_SEGMENTS_MAX 4

/* The view a query route reads, whose position its answers carry (X-Stockd-Position). */
enum api_view {
    API_VIEW_NONE = 0, /* not a query route */
    API_VIEW_STOCK,
    API_VIEW_RESERVATIONS,
    API_VIEW_HISTORY,
    API_VIEW_OUTCOMES,
    API_VIEW_MOVEMENTS,
    API_VIEW_CATALOG,
    API_VIEW_COUNT
};

struct api_request;

/* Answers one request of its route, exactly once. server.c has matched the path, checked the key and parsed
 * the query string before it runs. */
typedef void api_route_handler(struct api_request *request);

enum api_route_id {
    API_ROUTE_SKU_CREATE,
    API_ROUTE_SKU_RECEIPTS,
    API_ROUTE_SKU_ADJUSTMENTS,
    API_ROUTE_SKU_TRANSFERS,
    API_ROUTE_RESERVATION_CREATE,
    API_ROUTE_RESERVATION_RELEASE,
    API_ROUTE_RESERVATION_FULFIL,
    API_ROUTE_COMMAND_SUBMIT,
    API_ROUTE_SKU_CATALOG_UPDATE,
    API_ROUTE_SKU_GET,
    API_ROUTE_SKU_LIST,
    API_ROUTE_RESERVATION_GET,
    API_ROUTE_SKU_HISTORY,
    API_ROUTE_COMMAND_GET,
    API_ROUTE_SKU_MOVEMENTS,
    API_ROUTE_REORDER,
    API_ROUTE_SKU_CATALOG_GET,
    API_ROUTE_CATALOG_DUPLICATES,
    API_ROUTE_VIEWS_LIST,
    API_ROUTE_VIEW_REBUILD,
    API_ROUTE_HEALTHZ,
    API_ROUTE_READYZ,
    API_ROUTE_METRICS,
    API_ROUTE_OPENAPI,
    API_ROUTE_ORDER_PLACE,
    API_ROUTE_ORDER_GET,
    API_ROUTE_ORDER_RELEASE,
    API_ROUTE_ORDER_FULFIL,
    API_ROUTE_COUNT
};

struct api_route {
    enum api_route_id id;
    const char *method;                   /* "GET" or "POST" */
    const char *path;                     /* OpenAPI path template, e.g. "/v1/skus/{sku}" */
    enum api_role role;                   /* least role that may call it */
    const char *summary;                  /* one line, for logs and the OpenAPI check's messages */
    int statuses[API_ROUTE_STATUSES_MAX]; /* every status it can answer, ascending, 0-terminated */
    api_route_handler *handler;
    enum api_view view; /* API_VIEW_NONE but for the query routes */
};

/* The handlers. commands.c: every command route (the route's id names the command's shape). */
api_route_handler api_command_route;
/* queries.c */
api_route_handler api_sku_get, api_sku_list, api_reservation_get, api_sku_history, api_command_get;
api_route_handler api_sku_movements, api_reorder_list;
api_route_handler api_sku_catalog_get, api_catalog_duplicates;
/* admin.c */
api_route_handler api_views_list, api_view_rebuild, api_healthz, api_readyz, api_metrics, api_openapi;

/* orders.c */
api_route_handler api_order_place, api_order_get, api_order_release, api_order_fulfil;

/* The table, indexed by enum api_route_id. */
extern const struct api_route api_routes[API_ROUTE_COUNT];

/* Statuses any request can get before it is routed (unknown route, unknown method, header limits): not
 * per route. 0-terminated. */
extern const int api_unrouted_statuses[];

/* Matches a decoded path (segments already split, percent-decoded) to a route of the given method.
 * Returns the route, or NULL with *path_known set when the path matches a route of another method
 * (405) and cleared when no route has this path (404). Parameters ({sku}, {id}, {name}) are returned in
 * params[] in order. */
const struct api_route *api_route_match(const char *method, const char *const *segments, size_t segment_count,
                                        const char **params, size_t *param_count, int *path_known);

/* Writes the Allow header value for a path that matched another method ("GET, POST"). */
void api_route_allow(const char *const *segments, size_t segment_count, char *out, size_t out_bytes);

#endif
