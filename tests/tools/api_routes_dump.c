/* api_routes_dump.c - prints the HTTP API's route table (src/api/routes.c) as JSON, for openapi_check.py.
 *
 * {"routes": [{"method", "path", "role", "summary", "statuses": [...]}], "unrouted_statuses": [...]} on
 * stdout. Paths and summaries are plain ASCII literals of the table; anything else is a table bug and
 * fails here (exit 1) rather than printing invalid JSON. A test tool: nothing in stockd runs it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/routes.h"

static const char *role_name(enum api_role role)
{
    switch (role) {
    case API_ROLE_PUBLIC:
        return "public";
    case API_ROLE_READ:
        return "read";
    case API_ROLE_WRITE:
        return "write";
    case API_ROLE_ADMIN:
        return "admin";
    }
    return NULL;
}

/* Prints text as a JSON string. Returns false when it holds a byte a table literal never should. */
static bool string_print(const char *text)
{
    putchar('"');
    for (const char *cursor = text; *cursor != '\0'; cursor++) {
        unsigned char byte = (unsigned char)*cursor;
        if (byte < 0x20 || byte >= 0x7f || byte == '"' || byte == '\\') return false;
        putchar(byte);
    }
    putchar('"');
    return true;
}

/* Prints a 0-terminated status list of at most count_max entries as a JSON array. */
static bool statuses_print(const int *statuses, size_t count_max)
{
    putchar('[');
    size_t count = 0;
    for (; count < count_max && statuses[count] != 0; count++) {
        if (statuses[count] < 100 || statuses[count] > 599) return false;
        printf("%s%d", count > 0 ? ", " : "", statuses[count]);
    }
    putchar(']');
    return count < count_max; /* the terminating 0 was within bounds */
}

int main(void)
{
    printf("{\"routes\": [\n");
    for (int i = 0; i < API_ROUTE_COUNT; i++) {
        const struct api_route *route = &api_routes[i];
        const char *role = role_name(route->role);
        if ((int)route->id != i || role == NULL || route->method == NULL || route->path == NULL ||
            route->summary == NULL) {
            fprintf(stderr, "api_routes_dump: api_routes[%d] is incomplete or out of order\n", i);
            return EXIT_FAILURE;
        }
        printf("  {\"method\": ");
        bool ok = string_print(route->method);
        printf(", \"path\": ");
        ok = ok && string_print(route->path);
        printf(", \"role\": \"%s\", \"summary\": ", role);
        ok = ok && string_print(route->summary);
        printf(", \"statuses\": ");
        ok = ok && statuses_print(route->statuses, API_ROUTE_STATUSES_MAX);
        printf("}%s\n", i + 1 < API_ROUTE_COUNT ? "," : "");
        if (!ok) {
            fprintf(stderr, "api_routes_dump: api_routes[%d] (%s) holds an unprintable field\n", i,
                    route->path);
            return EXIT_FAILURE;
        }
    }
    printf("], \"unrouted_statuses\": ");
    if (!statuses_print(api_unrouted_statuses, API_ROUTE_STATUSES_MAX)) {
        fprintf(stderr, "api_routes_dump: api_unrouted_statuses is not 0-terminated or holds a non-status\n");
        return EXIT_FAILURE;
    }
    printf("}\n");
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
