/* routes.c - the HTTP API's route table, with each route's handler, and path matching.
 *
 * No I/O and no civetweb here: the table points to the handlers of commands.c, queries.c and admin.c, and
 * server.c calls the one a request matched. */
#include "api/routes.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Statuses shared by the command routes: 202 accepted into Kafka, 400 bad input, 401/403 auth, 409/422
 * rejections (with Prefer: wait), 413 body too large, 415 not JSON, 503 Kafka or waits unavailable. */
#define COMMAND_STATUSES(success)                                                                            \
    {                                                                                                        \
        success, 202, 400, 401, 403, 409, 413, 415, 422, 503, 0                                              \
    }
#define RESERVATION_STATUSES                                                                                 \
    {                                                                                                        \
        200, 202, 400, 401, 403, 404, 409, 413, 415, 422, 503, 0                                             \
    }

const struct api_route api_routes[API_ROUTE_COUNT] = {
    [API_ROUTE_SKU_CREATE] = {API_ROUTE_SKU_CREATE, "POST", "/v1/skus", API_ROLE_WRITE, "create a SKU",
                              COMMAND_STATUSES(201), api_command_route},
    [API_ROUTE_SKU_RECEIPTS] = {API_ROUTE_SKU_RECEIPTS, "POST", "/v1/skus/{sku}/receipts", API_ROLE_WRITE,
                                "receive stock", COMMAND_STATUSES(200), api_command_route},
    [API_ROUTE_SKU_ADJUSTMENTS] = {API_ROUTE_SKU_ADJUSTMENTS, "POST", "/v1/skus/{sku}/adjustments",
                                   API_ROLE_WRITE, "adjust stock", COMMAND_STATUSES(200), api_command_route},
    [API_ROUTE_SKU_TRANSFERS] = {API_ROUTE_SKU_TRANSFERS, "POST", "/v1/skus/{sku}/transfers", API_ROLE_WRITE,
                                 "transfer stock between locations", COMMAND_STATUSES(200),
                                 api_command_route},
    [API_ROUTE_RESERVATION_CREATE] = {API_ROUTE_RESERVATION_CREATE, "POST", "/v1/reservations",
                                      API_ROLE_WRITE, "reserve stock", COMMAND_STATUSES(201),
                                      api_command_route},
    [API_ROUTE_RESERVATION_RELEASE] = {API_ROUTE_RESERVATION_RELEASE, "POST", "/v1/reservations/{id}/release",
                                       API_ROLE_WRITE, "release a reservation", RESERVATION_STATUSES,
                                       api_command_route},
    [API_ROUTE_RESERVATION_FULFIL] = {API_ROUTE_RESERVATION_FULFIL, "POST", "/v1/reservations/{id}/fulfil",
                                      API_ROLE_WRITE, "fulfil a reservation", RESERVATION_STATUSES,
                                      api_command_route},
    [API_ROUTE_COMMAND_SUBMIT] = {API_ROUTE_COMMAND_SUBMIT,
                                  "POST",
                                  "/v1/commands",
                                  API_ROLE_WRITE,
                                  "submit a command envelope",
                                  {200, 201, 202, 400, 401, 403, 409, 413, 415, 422, 503, 0},
                                  api_command_route},
    [API_ROUTE_SKU_CATALOG_UPDATE] = {API_ROUTE_SKU_CATALOG_UPDATE, "POST", "/v1/skus/{sku}/catalog",
                                      API_ROLE_WRITE, "update what one source says about a SKU",
                                      COMMAND_STATUSES(200), api_command_route},
    [API_ROUTE_SKU_GET] = {API_ROUTE_SKU_GET,
                           "GET",
                           "/v1/skus/{sku}",
                           API_ROLE_READ,
                           "get a SKU's stock",
                           {200, 400, 401, 404, 422, 503, 0},
                           api_sku_get,
                           API_VIEW_STOCK},
    [API_ROUTE_SKU_LIST] = {API_ROUTE_SKU_LIST,
                            "GET",
                            "/v1/skus",
                            API_ROLE_READ,
                            "list SKUs, or search the catalog (q)",
                            {200, 400, 401, 503, 0},
                            api_sku_list,
                            API_VIEW_STOCK},
    [API_ROUTE_RESERVATION_GET] = {API_ROUTE_RESERVATION_GET,
                                   "GET",
                                   "/v1/reservations/{id}",
                                   API_ROLE_READ,
                                   "get a reservation",
                                   {200, 400, 401, 404, 409, 503, 0},
                                   api_reservation_get,
                                   API_VIEW_RESERVATIONS},
    [API_ROUTE_SKU_HISTORY] = {API_ROUTE_SKU_HISTORY,
                               "GET",
                               "/v1/skus/{sku}/history",
                               API_ROLE_READ,
                               "page through a SKU's events",
                               {200, 400, 401, 503, 0},
                               api_sku_history,
                               API_VIEW_HISTORY},
    [API_ROUTE_COMMAND_GET] = {API_ROUTE_COMMAND_GET,
                               "GET",
                               "/v1/commands/{id}",
                               API_ROLE_READ,
                               "get a command's outcome",
                               {200, 400, 401, 404, 503, 0},
                               api_command_get,
                               API_VIEW_OUTCOMES},
    [API_ROUTE_SKU_MOVEMENTS] = {API_ROUTE_SKU_MOVEMENTS,
                                 "GET",
                                 "/v1/skus/{sku}/movements",
                                 API_ROLE_READ,
                                 "a SKU's units moved per day",
                                 {200, 400, 401, 404, 503, 0},
                                 api_sku_movements,
                                 API_VIEW_MOVEMENTS},
    [API_ROUTE_REORDER] = {API_ROUTE_REORDER,
                           "GET",
                           "/v1/reorder",
                           API_ROLE_READ,
                           "list SKUs whose stock covers less than their lead time",
                           {200, 400, 401, 503, 0},
                           api_reorder_list,
                           API_VIEW_MOVEMENTS},
    [API_ROUTE_SKU_CATALOG_GET] = {API_ROUTE_SKU_CATALOG_GET,
                                   "GET",
                                   "/v1/skus/{sku}/catalog",
                                   API_ROLE_READ,
                                   "get a SKU's merged catalog entry and its sources",
                                   {200, 400, 401, 404, 503, 0},
                                   api_sku_catalog_get,
                                   API_VIEW_CATALOG},
    [API_ROUTE_CATALOG_DUPLICATES] = {API_ROUTE_CATALOG_DUPLICATES,
                                      "GET",
                                      "/v1/catalog/duplicates",
                                      API_ROLE_READ,
                                      "list GTINs claimed for more than one SKU",
                                      {200, 400, 401, 503, 0},
                                      api_catalog_duplicates,
                                      API_VIEW_CATALOG},
    [API_ROUTE_VIEWS_LIST] = {API_ROUTE_VIEWS_LIST,
                              "GET",
                              "/v1/views",
                              API_ROLE_READ,
                              "list the views with positions and lag",
                              {200, 400, 401, 0},
                              api_views_list},
    [API_ROUTE_VIEW_REBUILD] = {API_ROUTE_VIEW_REBUILD,
                                "POST",
                                "/v1/views/{name}/rebuild",
                                API_ROLE_ADMIN,
                                "rebuild a view by replay",
                                {202, 400, 401, 403, 404, 409, 413, 503, 0},
                                api_view_rebuild},
    [API_ROUTE_HEALTHZ] =
        {API_ROUTE_HEALTHZ, "GET", "/healthz", API_ROLE_PUBLIC, "liveness", {200, 0}, api_healthz},
    [API_ROUTE_READYZ] =
        {API_ROUTE_READYZ, "GET", "/readyz", API_ROLE_PUBLIC, "readiness", {200, 503, 0}, api_readyz},
    [API_ROUTE_METRICS] = {API_ROUTE_METRICS,
                           "GET",
                           "/metrics",
                           API_ROLE_READ,
                           "Prometheus metrics",
                           {200, 400, 401, 0},
                           api_metrics},
    [API_ROUTE_OPENAPI] = {API_ROUTE_OPENAPI,
                           "GET",
                           "/openapi.yaml",
                           API_ROLE_PUBLIC,
                           "this API's OpenAPI description",
                           {200, 0},
                           api_openapi},
    [API_ROUTE_ORDER_PLACE] = {API_ROUTE_ORDER_PLACE,
                               "POST",
                               "/v1/orders",
                               API_ROLE_WRITE,
                               "place an order, every line reserved or none",
                               {200, 201, 202, 400, 401, 403, 409, 413, 415, 503, 0},
                               api_order_place},
    [API_ROUTE_ORDER_GET] = {API_ROUTE_ORDER_GET,
                             "GET",
                             "/v1/orders/{id}",
                             API_ROLE_READ,
                             "get an order and its lines",
                             {200, 400, 401, 404, 503, 0},
                             api_order_get},
    [API_ROUTE_ORDER_RELEASE] = {API_ROUTE_ORDER_RELEASE,
                                 "POST",
                                 "/v1/orders/{id}/release",
                                 API_ROLE_WRITE,
                                 "release every line of a confirmed order",
                                 {200, 202, 400, 401, 403, 404, 409, 413, 503, 0},
                                 api_order_release},
    [API_ROUTE_ORDER_FULFIL] = {API_ROUTE_ORDER_FULFIL,
                                "POST",
                                "/v1/orders/{id}/fulfil",
                                API_ROLE_WRITE,
                                "fulfil every line of a confirmed order",
                                {200, 202, 400, 401, 403, 404, 409, 413, 503, 0},
                                api_order_fulfil},
};

const int api_unrouted_statuses[] = {400, 404, 405, 408, 411, 413, 431, 503, 505, 0};

/* Splits a template into segments in place of a copy. Returns the count, or -1 when it has too many. */
static int template_split(const char *path, char copy[], size_t copy_bytes, const char *segments[])
{
    assert(path[0] == '/');
    snprintf(copy, copy_bytes, "%s", path + 1);
    int count = 0;
    char *cursor = copy;
    while (*cursor != '\0') {
        if (count == API_ROUTE_SEGMENTS_MAX) return -1;
        segments[count++] = cursor;
        char *slash = strchr(cursor, '/');
        if (slash == NULL) break;
        *slash = '\0';
        cursor = slash + 1;
    }
    return count;
}

/* Whether a route's template matches the segments; fills params when it does. */
static bool route_path_matches(const struct api_route *route, const char *const *segments,
                               size_t segment_count, const char **params, size_t *param_count)
{
    char copy[128];
    const char *parts[API_ROUTE_SEGMENTS_MAX];
    int count = template_split(route->path, copy, sizeof(copy), parts);
    assert(count >= 0);
    if ((size_t)count != segment_count) return false;
    size_t found = 0;
    for (int i = 0; i < count; i++) {
        if (parts[i][0] == '{') {
            if (params != NULL) params[found] = segments[i];
            found++;
        } else if (strcmp(parts[i], segments[i]) != 0) {
            return false;
        }
    }
    if (param_count != NULL) *param_count = found;
    return true;
}

/* Contract in routes.h. */
const struct api_route *api_route_match(const char *method, const char *const *segments, size_t segment_count,
                                        const char **params, size_t *param_count, int *path_known)
{
    assert(method != NULL && path_known != NULL);
    *path_known = 0;
    for (int i = 0; i < API_ROUTE_COUNT; i++) {
        const struct api_route *route = &api_routes[i];
        size_t found = 0;
        const char *found_params[API_ROUTE_SEGMENTS_MAX];
        if (!route_path_matches(route, segments, segment_count, found_params, &found)) continue;
        *path_known = 1;
        if (strcmp(route->method, method) != 0) continue;
        for (size_t p = 0; p < found; p++)
            params[p] = found_params[p];
        *param_count = found;
        return route;
    }
    return NULL;
}

/* Contract in routes.h. */
void api_route_allow(const char *const *segments, size_t segment_count, char *out, size_t out_bytes)
{
    assert(out != NULL && out_bytes > 0);
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < API_ROUTE_COUNT; i++) {
        if (!route_path_matches(&api_routes[i], segments, segment_count, NULL, NULL)) continue;
        if (strstr(out, api_routes[i].method) != NULL) continue;
        int written =
            snprintf(out + used, out_bytes - used, "%s%s", used > 0 ? ", " : "", api_routes[i].method);
        if (written < 0 || (size_t)written >= out_bytes - used) return;
        used += (size_t)written;
    }
}
