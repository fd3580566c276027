/* api_commands.c - stockctl's commands against a running stockd's HTTP API (docs/http-api.md).
 *
 * submit, get, history, views, lag, rebuild, health: parse and check the command line before anything is
 * sent, send one request per page (http.c), and print either the server's JSON as it came (--json) or
 * compact aligned text. Request bodies are written with json_writer (exact integers); answers are read with
 * cJSON. Exit codes (stockctl.h) follow the HTTP status, so scripts can rely on them. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <civetweb.h>

#include "config.h"
#include "domain/codec.h"
#include "domain/number.h"
#include "http.h"
#include "json_writer.h"
#include "limits.h"
#include "stockctl.h"
#include "table.h"

#define STOCKCTL_URL_DEFAULT        "http://127.0.0.1:8080"
#define STOCKCTL_TIMEOUT_MS_DEFAULT 30000
/* An hour: more than any wait stockd grants (http.wait_ms_max), less than "forever". */
#define STOCKCTL_TIMEOUT_MS_MAX (3600 * 1000)
/* Prefer: wait=N is cut by the server to http.wait_ms_max; an hour bounds what stockctl will ask for. */
#define STOCKCTL_WAIT_S_MAX 3600
/* With --wait N, the answer may take N seconds: the timeout is at least N s plus this margin. */
#define STOCKCTL_WAIT_MARGIN_MS 5000
/* An API key goes in one header line; stockd's headers are at most 16 KiB in all. */
#define STOCKCTL_KEY_BYTES_MAX 1024
/* A position list: up to STOCKD_PARTITIONS_MAX tokens would pass 16 KiB of request line; 8 KiB is ~400. */
#define STOCKCTL_POSITION_BYTES_MAX (8 * 1024)
/* Path and query of one request: identifiers (<= 128 bytes), a cursor, a position list. */
#define STOCKCTL_TARGET_BYTES_MAX (12 * 1024)
/* A cursor the server hands out, percent-encoded. */
#define STOCKCTL_CURSOR_BYTES_MAX 1024
/* Page size bounds of the list routes. */
#define STOCKCTL_PAGE_LIMIT_MAX 100

struct api_context {
    struct http_url url;
    const char *url_text;
    const char *api_key; /* NULL: none */
    bool json;           /* print the server's body as it came */
    int timeout_ms;
    const char *min_position; /* NULL: none */
    bool accepts_min_position;
    char label[48]; /* "line 3: " for submit --file, else "" */
};

/* Prints a 2xx answer for people (or any answer when the command handles every status itself). Returns the
 * exit code. */
typedef int (*api_print_fn)(const cJSON *body, const struct http_response *response, void *opaque);

/* ---- the command line --------------------------------------------------------------------------------- */

/* stockctl's options that take no value; every other --NAME without '=' takes the next argument. */
static bool option_is_flag(const char *argument)
{
    static const char *const flags[] = {"--help", "--json",          "--all", "--below-reorder-point",
                                        "--live", "--from-beginning"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (strcmp(argument, flags[i]) == 0) return true;
    }
    return false;
}

int stockctl_wants_help(int argc, char **argv)
{
    for (int index = 0; index < argc; index++) {
        const char *argument = argv[index];
        if (strcmp(argument, "--") == 0) return 0;
        if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) return 1;
        /* "--name -h": -h is the value of --name (a product called "-h"), not a request for help. stockd's
         * own flags (the Kafka commands take them) span what stockd's parser says: a bare one, none. */
        if (strncmp(argument, "--", 2) != 0 || strchr(argument, '=') != NULL || option_is_flag(argument))
            continue;
        int span = stockd_config_flag_span(argc, argv, index);
        index += span == 0 ? 1 : span - 1;
    }
    return 0;
}

static int usage_error(const char *command, const char *format, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *command, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "stockctl: %s: ", command);
    vfprintf(stderr, format, arguments);
    fprintf(stderr, " (see stockctl %s --help)\n", command);
    va_end(arguments);
    return EXIT_USAGE;
}

/* When argv[*index] is --name or --name=VALUE, sets *value (NULL when the two-word form has no next
 * argument), steps over the value and returns true. */
static bool option_take(int argc, char **argv, int *index, const char *name, const char **value)
{
    const char *argument = argv[*index];
    size_t name_length = strlen(name);
    if (strncmp(argument, name, name_length) != 0) return false;
    if (argument[name_length] == '=') {
        *value = argument + name_length + 1;
        return true;
    }
    if (argument[name_length] != '\0') return false;
    *value = *index + 1 < argc ? argv[++*index] : NULL;
    return true;
}

/* Parses an integer in [min, max] as stockd does (number.h: optional '-', digits, no leading zero). */
static bool int_in_range_parse(const char *text, int64_t min, int64_t max, int64_t *out)
{
    return text != NULL && number_integer_parse_string(text, min, max, out) == NUMBER_OK;
}

/* A position list: partition:offset[,partition:offset]... (digits only). */
static bool position_list_valid(const char *text)
{
    if (strlen(text) > STOCKCTL_POSITION_BYTES_MAX) return false;
    const char *cursor = text;
    for (;;) {
        size_t partition_digits = strspn(cursor, "0123456789");
        if (partition_digits == 0 || partition_digits > 10 || cursor[partition_digits] != ':') return false;
        cursor += partition_digits + 1;
        size_t offset_digits = strspn(cursor, "0123456789");
        if (offset_digits == 0 || offset_digits > 19) return false;
        cursor += offset_digits;
        if (*cursor == '\0') return true;
        if (*cursor++ != ',') return false;
    }
}

/* Takes the options every HTTP command shares. Returns 1 when argv[*index] was one, 0 when it was not, or
 * an exit code + 100 after printing why (a missing or malformed value). */
static int common_option_take(struct api_context *context, const char *command, int argc, char **argv,
                              int *index)
{
    const char *value = NULL;
    if (strcmp(argv[*index], "--json") == 0) {
        context->json = true;
        return 1;
    }
    if (option_take(argc, argv, index, "--url", &value)) {
        if (value == NULL) return 100 + usage_error(command, "--url needs a value");
        context->url_text = value;
        return 1;
    }
    if (option_take(argc, argv, index, "--key", &value)) {
        if (value == NULL) return 100 + usage_error(command, "--key needs a value");
        context->api_key = value;
        return 1;
    }
    if (option_take(argc, argv, index, "--timeout-ms", &value)) {
        int64_t timeout_ms = 0;
        if (!int_in_range_parse(value, 1, STOCKCTL_TIMEOUT_MS_MAX, &timeout_ms))
            return 100 + usage_error(command, "--timeout-ms must be an integer in [1, %d]",
                                     STOCKCTL_TIMEOUT_MS_MAX);
        context->timeout_ms = (int)timeout_ms;
        return 1;
    }
    if (context->accepts_min_position && option_take(argc, argv, index, "--min-position", &value)) {
        if (value == NULL || !position_list_valid(value))
            return 100 +
                   usage_error(command, "--min-position must be partition:offset[,partition:offset]...");
        context->min_position = value;
        return 1;
    }
    return 0;
}

static void context_init(struct api_context *context, bool accepts_min_position)
{
    memset(context, 0, sizeof(*context));
    context->timeout_ms = STOCKCTL_TIMEOUT_MS_DEFAULT;
    context->accepts_min_position = accepts_min_position;
}

/* Fills in what the command line left out from the environment, then checks the URL and the key. */
static int context_finish(struct api_context *context, const char *command)
{
    if (context->url_text == NULL) context->url_text = getenv("STOCKCTL_URL");
    if (context->url_text == NULL || context->url_text[0] == '\0') context->url_text = STOCKCTL_URL_DEFAULT;
    char error[256];
    if (http_url_parse(context->url_text, &context->url, error, sizeof(error)) != 0)
        return usage_error(command, "--url: %s", error);
    if (context->api_key == NULL) context->api_key = getenv("STOCKD_API_KEY");
    if (context->api_key != NULL && context->api_key[0] == '\0') context->api_key = NULL;
    if (context->api_key != NULL) {
        bool printable = strlen(context->api_key) <= STOCKCTL_KEY_BYTES_MAX;
        for (const char *cursor = context->api_key; printable && *cursor != '\0'; cursor++)
            printable = *cursor > ' ' && *cursor <= '~';
        /* The key itself is never printed, not even when it is refused. */
        if (!printable)
            return usage_error(command,
                               "the API key (--key or STOCKD_API_KEY) must be 1-%d printable ASCII "
                               "characters without spaces",
                               STOCKCTL_KEY_BYTES_MAX);
    }
    return EXIT_OK;
}

/* Checks an identifier that goes into a URL path or query (SKU: 64 bytes, ids and view names: 128). */
static int identifier_check(const char *command, const char *what, const char *text, size_t bytes_max)
{
    if (codec_identifier_valid(text, bytes_max)) return EXIT_OK;
    fprintf(stderr,
            "stockctl: %s: \"%s\" is not a valid %s (1-%zu of [A-Za-z0-9._:-], starting with a letter or "
            "digit)\n",
            command, text, what, bytes_max);
    return EXIT_INVALID;
}

/* Appends "?name=value" or "&name=value" (value percent-encoded) to a request target. */
static int target_append_query(char *target, size_t target_bytes, const char *name, const char *value)
{
    char encoded[STOCKCTL_POSITION_BYTES_MAX * 3 + 1];
    if (http_query_encode(value, encoded, sizeof(encoded)) != 0) return -1;
    size_t length = strlen(target);
    int written = snprintf(target + length, target_bytes - length, "%c%s=%s", strchr(target, '?') ? '&' : '?',
                           name, encoded);
    return written < 0 || (size_t)written >= target_bytes - length ? -1 : 0;
}

/* ---- answers ------------------------------------------------------------------------------------------ */

static int exit_for_status(int status)
{
    if (status >= 200 && status <= 299) return EXIT_OK;
    if (status == 401 || status == 403) return EXIT_AUTH;
    if (status == 404) return EXIT_NOT_FOUND;
    if (status >= 400 && status <= 499) return EXIT_INVALID;
    return EXIT_IO;
}

static const char *json_string(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Formats a member for people: strings as they are, integers exactly (|n| <= 2^53 - 1), true/false as
 * yes/no, null and absent as "-". */
static const char *json_text(const cJSON *item, char *buffer, size_t buffer_bytes)
{
    if (cJSON_IsString(item)) return item->valuestring;
    if (cJSON_IsBool(item)) return cJSON_IsTrue(item) ? "yes" : "no";
    if (cJSON_IsNumber(item)) {
        double value = item->valuedouble;
        if (value <= 9007199254740991.0 && value >= -9007199254740991.0 && value == (double)(int64_t)value)
            snprintf(buffer, buffer_bytes, "%" PRId64, (int64_t)value);
        else
            snprintf(buffer, buffer_bytes, "%.17g", value);
        return buffer;
    }
    return "-";
}

static const char *member_text(const cJSON *object, const char *name, char *buffer, size_t buffer_bytes)
{
    return json_text(cJSON_GetObjectItemCaseSensitive(object, name), buffer, buffer_bytes);
}

/* Writes "key=value key=value" of an object's scalar members (strings quoted when they hold a space). */
static void members_line(const cJSON *object, char *out, size_t out_bytes)
{
    size_t length = 0;
    out[0] = '\0';
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, object)
    {
        char number[40];
        const char *text = json_text(item, number, sizeof(number));
        bool quote = cJSON_IsString(item) && strchr(text, ' ') != NULL;
        int written = snprintf(out + length, out_bytes - length, quote ? "%s%s=\"%s\"" : "%s%s=%s",
                               length > 0 ? " " : "", item->string ? item->string : "?", text);
        if (written < 0 || (size_t)written >= out_bytes - length) return;
        length += (size_t)written;
    }
}

/* Prints a problem+json answer: a command rejection on standard output ("rejected: reason: detail"), any
 * other problem on standard error with its code, detail, field and request id. */
static int problem_print(const struct api_context *context, const struct http_response *response)
{
    int code = exit_for_status(response->status);
    cJSON *problem = http_content_type_is_json(response->content_type)
                         ? cJSON_ParseWithLength(response->body, response->body_bytes)
                         : NULL;
    const char *type = json_string(problem, "type");
    const char *name = type && strncmp(type, "urn:stockd:problem:", 19) == 0 ? type + 19 : type;
    const char *detail = json_string(problem, "detail");
    if (detail == NULL) detail = json_string(problem, "title");
    const char *reason = json_string(problem, "reason");
    if (reason != NULL && (response->status == 409 || response->status == 422)) {
        printf("%srejected: %s: %s\n", context->label, reason, detail ? detail : "");
        const char *command_id = json_string(problem, "command_id");
        const char *position = json_string(problem, "position");
        if (command_id != NULL || position != NULL)
            printf("%s  command %s  position %s\n", context->label, command_id ? command_id : "-",
                   position ? position : "-");
        cJSON_Delete(problem);
        return code;
    }
    fprintf(stderr, "stockctl: %s%d %s: %s", context->label, response->status,
            name ? name : response->status_text, detail ? detail : response->status_text);
    const char *field = json_string(problem, "field");
    if (field != NULL) fprintf(stderr, " (field %s)", field);
    const cJSON *skus = cJSON_GetObjectItemCaseSensitive(problem, "skus");
    if (cJSON_IsArray(skus)) {
        fprintf(stderr, " (SKUs:");
        const cJSON *sku = NULL;
        cJSON_ArrayForEach(sku, skus) fprintf(stderr, " %s", cJSON_IsString(sku) ? sku->valuestring : "?");
        fprintf(stderr, "; pass --sku)");
    }
    if (response->status == 401) fprintf(stderr, " (pass a key with --key or STOCKD_API_KEY)");
    if (response->status == 403) fprintf(stderr, " (this key's role may not do this)");
    if (response->request_id[0] != '\0') fprintf(stderr, " [request %s]", response->request_id);
    fputc('\n', stderr);
    cJSON_Delete(problem);
    return code;
}

/* Copies a page's next_cursor (NULL or absent: ""). Returns 0, or -1 when it is not a string or too long. */
static int next_cursor_copy(const cJSON *body, char *next_cursor)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, "next_cursor");
    next_cursor[0] = '\0';
    if (item == NULL || cJSON_IsNull(item)) return 0;
    if (!cJSON_IsString(item) || strlen(item->valuestring) >= STOCKCTL_CURSOR_BYTES_MAX) return -1;
    strcpy(next_cursor, item->valuestring);
    return 0;
}

/* Sends one request and prints its answer; returns the exit code. With --json the body is printed as it
 * came; else print sees 2xx answers (every answer when every_status), parsed, and other answers are
 * printed as problems. next_cursor (NULL: not a list) receives a 2xx page's next_cursor in both modes. */
static int api_call(const struct api_context *context, struct http_request *request, bool every_status,
                    api_print_fn print, void *opaque, char *next_cursor)
{
    request->api_key = context->api_key;
    if (request->timeout_ms == 0) request->timeout_ms = context->timeout_ms;
    struct http_response response;
    char error[512];
    if (http_exchange(&context->url, request, &response, error, sizeof(error)) != 0) {
        fprintf(stderr, "stockctl: %s%s http://%s%s: %s\n", context->label, request->method,
                context->url.host_header, request->target, error);
        http_response_free(&response);
        return EXIT_IO;
    }
    int code = exit_for_status(response.status);
    cJSON *body = NULL;
    if (code == EXIT_OK || every_status) {
        body = cJSON_ParseWithLength(response.body, response.body_bytes);
        if (body == NULL || !cJSON_IsObject(body) ||
            (code == EXIT_OK && next_cursor != NULL && next_cursor_copy(body, next_cursor) != 0)) {
            fprintf(stderr, "stockctl: %s%s %s: the answer (%d) is not the JSON object stockd sends\n",
                    context->label, request->method, request->target, response.status);
            code = EXIT_IO;
            goto out_free;
        }
    }
    if (context->json) {
        fwrite(response.body, 1, response.body_bytes, stdout);
        if (response.body_bytes == 0 || response.body[response.body_bytes - 1] != '\n') putchar('\n');
    } else if (body != NULL) {
        if (print != NULL) code = print(body, &response, opaque);
    } else {
        code = problem_print(context, &response);
    }
out_free:
    cJSON_Delete(body);
    http_response_free(&response);
    return code;
}

/* ---- submit ------------------------------------------------------------------------------------------- */

enum submit_field_kind { SUBMIT_STRING, SUBMIT_INTEGER };

struct submit_field {
    const char *option; /* without "--"; the body key is the same with '_' for '-' */
    enum submit_field_kind kind;
    bool required;
    bool in_path; /* goes into the URL path, not the body */
};

/* --as-of: a position token or an RFC 3339 time is far shorter; stockd refuses what it cannot read. */
#define STOCKCTL_AS_OF_BYTES_MAX 64

#define SUBMIT_FIELDS_MAX 5

struct submit_type {
    const char *name;         /* stockctl's name: "receive" */
    const char *command_type; /* stockd's: "ReceiveStock" */
    const char *path_prefix;  /* "/v1/skus/" */
    const char *path_suffix;  /* "/receipts"; the in_path field's value goes between */
    struct submit_field fields[SUBMIT_FIELDS_MAX];
};

/* The routes of docs/http-api.md, fields in the order of their bodies there. */
static const struct submit_type submit_types[] = {
    {"create-sku",
     "CreateSku",
     "/v1/skus",
     "",
     {{"sku", SUBMIT_STRING, true, false},
      {"name", SUBMIT_STRING, true, false},
      {"reorder-point", SUBMIT_INTEGER, false, false},
      {"lead-time-days", SUBMIT_INTEGER, false, false}}},
    {"receive",
     "ReceiveStock",
     "/v1/skus/",
     "/receipts",
     {{"sku", SUBMIT_STRING, true, true},
      {"location", SUBMIT_STRING, true, false},
      {"quantity", SUBMIT_INTEGER, true, false}}},
    {"adjust",
     "AdjustStock",
     "/v1/skus/",
     "/adjustments",
     {{"sku", SUBMIT_STRING, true, true},
      {"location", SUBMIT_STRING, true, false},
      {"reason", SUBMIT_STRING, true, false},
      {"delta", SUBMIT_INTEGER, false, false},
      {"counted", SUBMIT_INTEGER, false, false}}},
    {"transfer",
     "TransferStock",
     "/v1/skus/",
     "/transfers",
     {{"sku", SUBMIT_STRING, true, true},
      {"from-location", SUBMIT_STRING, true, false},
      {"to-location", SUBMIT_STRING, true, false},
      {"quantity", SUBMIT_INTEGER, true, false}}},
    {"reserve",
     "ReserveStock",
     "/v1/reservations",
     "",
     {{"sku", SUBMIT_STRING, true, false},
      {"reservation-id", SUBMIT_STRING, true, false},
      {"location", SUBMIT_STRING, true, false},
      {"quantity", SUBMIT_INTEGER, true, false},
      {"ttl-seconds", SUBMIT_INTEGER, false, false}}},
    {"release",
     "ReleaseReservation",
     "/v1/reservations/",
     "/release",
     {{"reservation-id", SUBMIT_STRING, true, true}, {"sku", SUBMIT_STRING, false, false}}},
    {"fulfil",
     "FulfilReservation",
     "/v1/reservations/",
     "/fulfil",
     {{"reservation-id", SUBMIT_STRING, true, true}, {"sku", SUBMIT_STRING, false, false}}},
};

#define SUBMIT_TYPE_COUNT (sizeof(submit_types) / sizeof(submit_types[0]))

static const char submit_help[] =
    "Usage: stockctl submit TYPE --FIELD=VALUE... [--id ID] [--wait N] [options]\n"
    "       stockctl submit --file FILE [--wait N] [options]\n"
    "\n"
    "Submits one command to stockd's HTTP API (fields as --FIELD=VALUE or --FIELD VALUE):\n"
    "  create-sku  --sku S --name TEXT [--reorder-point N] [--lead-time-days N]\n"
    "                                                                  POST /v1/skus\n"
    "  receive     --sku S --location L --quantity N                   POST /v1/skus/S/receipts\n"
    "  adjust      --sku S --location L --reason TEXT (--delta N | --counted N)\n"
    "                                                                  POST /v1/skus/S/adjustments\n"
    "  transfer    --sku S --from-location L --to-location L --quantity N\n"
    "                                                                  POST /v1/skus/S/transfers\n"
    "  reserve     --sku S --reservation-id R --location L --quantity N [--ttl-seconds N]\n"
    "                                                                  POST /v1/reservations\n"
    "  release     --reservation-id R [--sku S]                        POST /v1/reservations/R/release\n"
    "  fulfil      --reservation-id R [--sku S]                        POST /v1/reservations/R/fulfil\n"
    "With --file, each non-empty line of FILE (- for standard input) is a command envelope posted to\n"
    "POST /v1/commands; each answer is printed after \"line N:\".\n"
    "\n"
    "  --id ID       the command id, sent as Idempotency-Key: retrying with the same id is safe\n"
    "  --wait N      wait up to N seconds for the outcome (Prefer: wait=N); without it, or when the\n"
    "                outcome takes longer, the command is only accepted for processing (\"pending\")\n"
    "  --url URL     stockd's base URL, http://HOST[:PORT] (default $STOCKCTL_URL, else " STOCKCTL_URL_DEFAULT
    ")\n"
    "  --key KEY     API key, sent as Authorization: Bearer (default $STOCKD_API_KEY); never printed\n"
    "  --json        print stockd's JSON answer as it came (one line per answer)\n"
    "  --timeout-ms N  time for the answer (default 30000; at least N s + 5 s with --wait)\n"
    "\n"
    "Prints \"accepted: ...\" with the events, \"rejected: REASON: DETAIL\", or \"pending: ...\".\n"
    "Exit codes: 0 accepted or pending, 1 rejected or refused as invalid, 2 usage, 3 I/O, connection or\n"
    "server error, 4 not found (release/fulfil of an unknown reservation), 5 key missing or role too low.\n"
    "With --file: the exit code of the first line that failed, unless a later line gets 3 or 5: that stops\n"
    "the run at that line, with that code.\n";

static const struct submit_type *submit_type_find(const char *name)
{
    for (size_t index = 0; index < SUBMIT_TYPE_COUNT; index++)
        if (strcmp(submit_types[index].name, name) == 0) return &submit_types[index];
    return NULL;
}

/* The index of a field named like option (dashes or underscores), or -1. */
static int submit_field_find(const struct submit_type *type, const char *option, size_t option_length)
{
    for (int index = 0; index < SUBMIT_FIELDS_MAX && type->fields[index].option != NULL; index++) {
        const char *name = type->fields[index].option;
        if (strlen(name) != option_length) continue;
        bool same = true;
        for (size_t at = 0; same && at < option_length; at++)
            same = name[at] == option[at] || (name[at] == '-' && option[at] == '_');
        if (same) return index;
    }
    return -1;
}

static void submit_fields_list(const struct submit_type *type, char *out, size_t out_bytes)
{
    size_t length = 0;
    out[0] = '\0';
    for (int index = 0; index < SUBMIT_FIELDS_MAX && type->fields[index].option != NULL; index++) {
        int written = snprintf(out + length, out_bytes - length, "%s--%s", index ? ", " : "",
                               type->fields[index].option);
        if (written < 0 || (size_t)written >= out_bytes - length) return;
        length += (size_t)written;
    }
}

/* Prints a command's events, one a line: "  TYPE  seq N  at POSITION". */
static void outcome_events_print(const struct api_context *context, const cJSON *outcome)
{
    const cJSON *event = NULL;
    cJSON_ArrayForEach(event, cJSON_GetObjectItemCaseSensitive(outcome, "events"))
    {
        char number[40];
        const char *type = json_string(event, "type");
        const char *position = json_string(event, "position");
        printf("%s  %s  seq %s  at %s\n", context->label, type ? type : "?",
               member_text(event, "sequence", number, sizeof(number)), position ? position : "-");
    }
}

/* Prints a submission's 2xx answer: pending (202) or the outcome (200, 201). */
static int submit_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    const struct api_context *context = opaque;
    const char *status = json_string(body, "status");
    const char *command_id = json_string(body, "command_id");
    if (command_id == NULL) command_id = "?";
    if (response->status == 202 || (status != NULL && strcmp(status, "pending") == 0)) {
        printf("%spending: command %s accepted for processing (stockctl get command %s)\n", context->label,
               command_id, command_id);
        return EXIT_OK;
    }
    const char *type = json_string(body, "type");
    const char *sku = json_string(body, "sku");
    const char *position = json_string(body, "position");
    if (status != NULL && strcmp(status, "rejected") == 0) {
        const char *reason = json_string(body, "reason");
        const char *detail = json_string(body, "detail");
        printf("%srejected: %s: %s\n", context->label, reason ? reason : "?", detail ? detail : "");
        printf("%s  command %s  position %s\n", context->label, command_id, position ? position : "-");
        return EXIT_INVALID;
    }
    printf("%saccepted: %s %s on %s at %s\n", context->label, type ? type : "command", command_id,
           sku ? sku : "?", position ? position : "-");
    outcome_events_print(context, body);
    return EXIT_OK;
}

/* Checks the fields given to submit TYPE and writes the request's path and body. Returns 0 or an exit code
 * after printing why. */
static int submit_request_build(const struct submit_type *type, const char *const *values, char *target,
                                size_t target_bytes, char *body, size_t body_bytes)
{
    struct json_writer writer;
    json_writer_init(&writer, body, body_bytes);
    json_writer_object_begin(&writer, NULL);
    const char *path_value = "";
    for (int index = 0; index < SUBMIT_FIELDS_MAX && type->fields[index].option != NULL; index++) {
        const struct submit_field *field = &type->fields[index];
        if (values[index] == NULL) {
            if (field->required) return usage_error("submit", "%s needs --%s", type->name, field->option);
            continue;
        }
        if (field->in_path) {
            bool is_sku = strcmp(field->option, "sku") == 0;
            int status = identifier_check("submit", is_sku ? "SKU" : "reservation id", values[index],
                                          is_sku ? STOCKD_SKU_BYTES_MAX : STOCKD_ID_BYTES_MAX);
            if (status != EXIT_OK) return status;
            path_value = values[index];
            continue;
        }
        char key[32];
        snprintf(key, sizeof(key), "%s", field->option);
        for (char *cursor = key; *cursor != '\0'; cursor++)
            if (*cursor == '-') *cursor = '_';
        if (field->kind == SUBMIT_INTEGER) {
            int64_t number = 0;
            if (!int_in_range_parse(values[index], INT64_MIN, INT64_MAX, &number))
                return usage_error("submit", "--%s must be an integer, got \"%s\"", field->option,
                                   values[index]);
            json_writer_int64(&writer, key, number);
        } else {
            json_writer_string(&writer, key, values[index]);
        }
    }
    int delta = submit_field_find(type, "delta", 5), counted = submit_field_find(type, "counted", 7);
    if (delta >= 0 && counted >= 0 && (values[delta] == NULL) == (values[counted] == NULL))
        return usage_error("submit", "adjust needs exactly one of --delta and --counted");
    json_writer_object_end(&writer);
    if (json_writer_finish(&writer) != 0) {
        fprintf(stderr, "stockctl: submit: the command is larger than %zu bytes\n", body_bytes - 1);
        return EXIT_INVALID;
    }
    snprintf(target, target_bytes, "%s%s%s", type->path_prefix, path_value, type->path_suffix);
    return EXIT_OK;
}

/* Posts each non-empty line of a file to POST /v1/commands. */
static int submit_file(struct api_context *context, const char *file, int wait_s)
{
    FILE *stream = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (stream == NULL) {
        fprintf(stderr, "stockctl: submit: %s: %s\n", file, strerror(errno));
        return EXIT_IO;
    }
    static char line[STOCKD_MESSAGE_BYTES_MAX + 2];
    long line_number = 0;
    int result = EXIT_OK;
    size_t length = 0;
    enum stockctl_line read;
    while ((read = stockctl_line_next(stream, line, sizeof(line), &length)) != STOCKCTL_LINE_END) {
        line_number++;
        snprintf(context->label, sizeof(context->label), "line %ld: ", line_number);
        if (read == STOCKCTL_LINE_TOO_LONG) {
            fprintf(stderr, "stockctl: submit: line %ld: longer than %d bytes, skipped\n", line_number,
                    STOCKD_MESSAGE_BYTES_MAX);
            if (result == EXIT_OK) result = EXIT_INVALID;
            continue;
        }
        if (length == 0) continue;
        struct http_request request = {.method = "POST",
                                       .target = "/v1/commands",
                                       .body = line,
                                       .body_bytes = length,
                                       .prefer_wait_s = wait_s};
        if (wait_s > 0 && context->timeout_ms < wait_s * 1000 + STOCKCTL_WAIT_MARGIN_MS)
            request.timeout_ms = wait_s * 1000 + STOCKCTL_WAIT_MARGIN_MS;
        int code = api_call(context, &request, false, submit_print, context, NULL);
        if (result == EXIT_OK) result = code;
        if (code == EXIT_IO || code == EXIT_AUTH) {
            result = code;
            break;
        }
    }
    if (ferror(stream)) {
        fprintf(stderr, "stockctl: submit: cannot read %s\n", file);
        result = EXIT_IO;
    }
    if (stream != stdin) fclose(stream);
    return result;
}

int command_submit(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) {
        fputs(submit_help, stdout);
        return EXIT_OK;
    }
    struct api_context context;
    context_init(&context, false);
    const struct submit_type *type = NULL;
    const char *file = NULL, *id = NULL, *values[SUBMIT_FIELDS_MAX] = {NULL};
    int64_t wait_s = 0;
    int index = 0;
    if (argc > 0 && argv[0][0] != '-') {
        type = submit_type_find(argv[0]);
        if (type == NULL)
            return usage_error("submit",
                               "unknown command type \"%s\" (create-sku, receive, adjust, transfer, "
                               "reserve, release, fulfil)",
                               argv[0]);
        index = 1;
    }
    for (; index < argc; index++) {
        int taken = common_option_take(&context, "submit", argc, argv, &index);
        if (taken >= 100) return taken - 100;
        if (taken == 1) continue;
        const char *value = NULL;
        if (option_take(argc, argv, &index, "--id", &value)) {
            if (value == NULL) return usage_error("submit", "--id needs a value");
            id = value;
        } else if (option_take(argc, argv, &index, "--wait", &value)) {
            if (!int_in_range_parse(value, 1, STOCKCTL_WAIT_S_MAX, &wait_s))
                return usage_error("submit", "--wait must be a number of seconds in [1, %d]",
                                   STOCKCTL_WAIT_S_MAX);
        } else if (option_take(argc, argv, &index, "--file", &value)) {
            if (value == NULL) return usage_error("submit", "--file needs a value");
            file = value;
        } else if (type != NULL && strncmp(argv[index], "--", 2) == 0) {
            const char *name = argv[index] + 2;
            size_t name_length = strcspn(name, "=");
            int field = submit_field_find(type, name, name_length);
            if (field < 0) {
                char list[256];
                submit_fields_list(type, list, sizeof(list));
                return usage_error("submit", "%s has no field --%.*s (its fields: %s)", type->name,
                                   (int)name_length, name, list);
            }
            if (values[field] != NULL)
                return usage_error("submit", "--%s is given twice", type->fields[field].option);
            value = name[name_length] == '=' ? name + name_length + 1
                    : index + 1 < argc       ? argv[++index]
                                             : NULL;
            if (value == NULL) return usage_error("submit", "--%s needs a value", type->fields[field].option);
            values[field] = value;
        } else {
            return usage_error("submit", "unexpected argument \"%s\"", argv[index]);
        }
    }
    if (type == NULL && file == NULL)
        return usage_error("submit", "name a command type (create-sku, receive, adjust, transfer, reserve, "
                                     "release, fulfil) or --file FILE");
    if (type != NULL && file != NULL) return usage_error("submit", "--file takes no command type");
    if (file != NULL && id != NULL)
        return usage_error("submit", "--id does not go with --file: give each envelope its command_id");
    int status = context_finish(&context, "submit");
    if (status != EXIT_OK) return status;
    if (id != NULL && (status = identifier_check("submit", "command id", id, STOCKD_ID_BYTES_MAX)) != EXIT_OK)
        return status;
    mg_init_library(0);
    if (file != NULL) {
        status = submit_file(&context, file, (int)wait_s);
    } else {
        static char body[STOCKD_MESSAGE_BYTES_MAX + 1];
        char target[STOCKCTL_TARGET_BYTES_MAX];
        status = submit_request_build(type, values, target, sizeof(target), body, sizeof(body));
        if (status == EXIT_OK) {
            struct http_request request = {.method = "POST",
                                           .target = target,
                                           .body = body,
                                           .body_bytes = strlen(body),
                                           .idempotency_key = id,
                                           .prefer_wait_s = (int)wait_s};
            if (wait_s > 0 && context.timeout_ms < wait_s * 1000 + STOCKCTL_WAIT_MARGIN_MS)
                request.timeout_ms = (int)wait_s * 1000 + STOCKCTL_WAIT_MARGIN_MS;
            status = api_call(&context, &request, false, submit_print, &context, NULL);
        }
    }
    mg_exit_library();
    return status;
}

/* ---- get, history ------------------------------------------------------------------------------------- */

static const char read_options_help[] =
    "  --min-position P  wait (bounded by the server) until the view has passed these positions\n"
    "                    (partition:offset,...; from a command's answer or a previous answer)\n"
    "  --url URL     stockd's base URL, http://HOST[:PORT] (default $STOCKCTL_URL, else " STOCKCTL_URL_DEFAULT
    ")\n"
    "  --key KEY     API key, sent as Authorization: Bearer (default $STOCKD_API_KEY); never printed\n"
    "  --json        print stockd's JSON answer as it came (with --all: one line per page)\n"
    "  --timeout-ms N  time for each answer (default 30000)\n"
    "\n"
    "Exit codes: 0 found, 1 refused as invalid (e.g. an ambiguous reservation id), 2 usage, 3 I/O,\n"
    "connection or server error (503 also when --min-position was not reached in time), 4 not found,\n"
    "5 key missing or role too low.\n";

static const char get_help_head[] =
    "Usage: stockctl get sku SKU [--as-of POSITION|TIME] [options]\n"
    "       stockctl get skus [--below-reorder-point] [--limit N] [--cursor C] [--all] [options]\n"
    "       stockctl get reservation ID [--sku SKU] [options]\n"
    "       stockctl get command ID [options]\n"
    "\n"
    "Reads stockd's views: a SKU's stock (totals, then one line per location), the SKU list (in SKU order,\n"
    "a page of --limit 1-100, default 50; --all follows next_cursor to the end), a reservation (--sku when\n"
    "several SKUs use the id), a command's outcome (accepted or rejected, with its events).\n"
    "--as-of gives the SKU right after a point of its history: a position token partition:offset or an\n"
    "RFC 3339 time (2026-12-01T10:00:00Z), folded from the history view; it says which event it stopped at.\n"
    "\n";

static const char history_help_head[] =
    "Usage: stockctl history SKU [--order oldest|newest] [--limit N] [--cursor C] [--all] [options]\n"
    "\n"
    "Prints a SKU's events: sequence, time, type, command id, position and the event's fields. One page of\n"
    "--limit 1-100 events (default 50); --all follows next_cursor to the end, --cursor continues a page.\n"
    "\n";

/* Options of the list commands. */
struct page_options {
    const char *cursor;
    const char *order;
    int64_t limit;
    bool all;
    bool below_reorder_point;
};

static int page_option_take(struct page_options *page, const char *command, int argc, char **argv, int *index)
{
    const char *value = NULL;
    if (strcmp(argv[*index], "--all") == 0) {
        page->all = true;
        return 1;
    }
    if (option_take(argc, argv, index, "--limit", &value)) {
        if (!int_in_range_parse(value, 1, STOCKCTL_PAGE_LIMIT_MAX, &page->limit))
            return 100 +
                   usage_error(command, "--limit must be an integer in [1, %d]", STOCKCTL_PAGE_LIMIT_MAX);
        return 1;
    }
    if (option_take(argc, argv, index, "--cursor", &value)) {
        if (value == NULL || value[0] == '\0' || strlen(value) >= STOCKCTL_CURSOR_BYTES_MAX)
            return 100 + usage_error(command, "--cursor needs the next_cursor of a previous page");
        page->cursor = value;
        return 1;
    }
    return 0;
}

static void location_rows_print(const cJSON *locations)
{
    static const char *const headers[] = {"LOCATION", ">ON_HAND", ">RESERVED", ">AVAILABLE"};
    struct table *table = table_create(4, headers);
    if (table == NULL) return;
    const cJSON *location = NULL;
    cJSON_ArrayForEach(location, locations)
    {
        char on_hand[40], reserved[40], available[40];
        const char *cells[] = {json_string(location, "location"),
                               member_text(location, "on_hand", on_hand, sizeof(on_hand)),
                               member_text(location, "reserved", reserved, sizeof(reserved)),
                               member_text(location, "available", available, sizeof(available))};
        table_add(table, cells);
    }
    table_print(table, stdout, true);
    table_destroy(table);
}

static int sku_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)response;
    (void)opaque;
    char a[40], b[40], c[40], d[40], e[40];
    const char *name = json_string(body, "name");
    printf("%s  %s\n", json_string(body, "sku") ? json_string(body, "sku") : "?", name ? name : "");
    printf("on_hand %s  reserved %s  available %s  reorder_point %s  below_reorder_point %s\n",
           member_text(body, "on_hand", a, sizeof(a)), member_text(body, "reserved", b, sizeof(b)),
           member_text(body, "available", c, sizeof(c)), member_text(body, "reorder_point", d, sizeof(d)),
           member_text(body, "below_reorder_point", e, sizeof(e)));
    printf("sequence %s  updated_at %s", member_text(body, "sequence", a, sizeof(a)),
           member_text(body, "updated_at", b, sizeof(b)));
    if (cJSON_GetObjectItemCaseSensitive(body, "lead_time_days") != NULL)
        printf("  lead_time_days %s", member_text(body, "lead_time_days", a, sizeof(a)));
    putchar('\n');
    const cJSON *as_of = cJSON_GetObjectItemCaseSensitive(body, "as_of");
    if (cJSON_IsObject(as_of)) {
        const char *requested = json_string(as_of, "requested");
        const char *type = json_string(as_of, "type");
        printf("as of %s: right after event %s %s at %s, %s\n", requested ? requested : "?",
               member_text(as_of, "sequence", a, sizeof(a)), type ? type : "?",
               member_text(as_of, "position", b, sizeof(b)), member_text(as_of, "time", c, sizeof(c)));
    }
    const cJSON *locations = cJSON_GetObjectItemCaseSensitive(body, "locations");
    if (cJSON_GetArraySize(locations) > 0) {
        putchar('\n');
        location_rows_print(locations);
    }
    return EXIT_OK;
}

/* Prints "name  value" lines of an object's members, in the server's order (nested objects skipped). */
static void members_print(const cJSON *object, const char *const *names, size_t name_count)
{
    static const char *const headers[] = {"", ""};
    struct table *table = table_create(2, headers);
    if (table == NULL) return;
    for (size_t index = 0; index < name_count; index++) {
        char number[40];
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, names[index]);
        if (item == NULL) continue;
        const char *cells[] = {names[index], json_text(item, number, sizeof(number))};
        table_add(table, cells);
    }
    table_print(table, stdout, false);
    table_destroy(table);
}

static int reservation_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)response;
    (void)opaque;
    static const char *const names[] = {
        "reservation_id", "sku",        "status",     "location",           "quantity",
        "expires_at",     "created_at", "updated_at", "created_command_id", "updated_command_id"};
    members_print(body, names, sizeof(names) / sizeof(names[0]));
    return EXIT_OK;
}

static int outcome_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)response;
    static const char *const names[] = {"command_id", "type",           "sku",
                                        "status",     "reason",         "detail",
                                        "decided_at", "decision_count", "position"};
    members_print(body, names, sizeof(names) / sizeof(names[0]));
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "events")) > 0) {
        printf("events:\n");
        outcome_events_print(opaque, body);
    }
    return EXIT_OK;
}

/* One page of a list: its rows go into the caller's table. */
struct page_state {
    struct table *table;
    bool history; /* history items, else SKU summaries */
};

static int page_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)response;
    struct page_state *state = opaque;
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(body, "items"))
    {
        char a[40], b[40], c[40], d[40], fields[1024];
        if (state->history) {
            const cJSON *event = cJSON_GetObjectItemCaseSensitive(item, "event");
            members_line(cJSON_GetObjectItemCaseSensitive(event, "data"), fields, sizeof(fields));
            const char *cells[] = {member_text(item, "sequence", a, sizeof(a)),
                                   json_string(item, "time"),
                                   json_string(item, "type"),
                                   json_string(item, "command_id"),
                                   json_string(item, "position"),
                                   fields};
            table_add(state->table, cells);
        } else {
            const char *cells[] = {json_string(item, "sku"),
                                   member_text(item, "on_hand", a, sizeof(a)),
                                   member_text(item, "reserved", b, sizeof(b)),
                                   member_text(item, "available", c, sizeof(c)),
                                   member_text(item, "reorder_point", d, sizeof(d)),
                                   member_text(item, "below_reorder_point", fields, sizeof(fields)),
                                   json_string(item, "name")};
            table_add(state->table, cells);
        }
    }
    return EXIT_OK;
}

/* Fetches a list page by page (base: the target without cursor), printing as it goes. */
static int pages_run(const struct api_context *context, const char *command, const char *base,
                     const struct page_options *page, bool history)
{
    static const char *const history_headers[] = {">SEQ", "TIME", "TYPE", "COMMAND", "POSITION", "FIELDS"};
    static const char *const sku_headers[] = {"SKU",      ">ON_HAND", ">RESERVED", ">AVAILABLE",
                                              ">REORDER", "BELOW",    "NAME"};
    struct page_state state = {.history = history};
    state.table = history ? table_create(6, history_headers) : table_create(7, sku_headers);
    if (state.table == NULL) {
        fprintf(stderr, "stockctl: out of memory\n");
        return EXIT_IO;
    }
    char cursor[STOCKCTL_CURSOR_BYTES_MAX] = "", next_cursor[STOCKCTL_CURSOR_BYTES_MAX] = "";
    if (page->cursor != NULL) snprintf(cursor, sizeof(cursor), "%s", page->cursor);
    int status = EXIT_OK;
    for (long pages = 0;; pages++) {
        char target[STOCKCTL_TARGET_BYTES_MAX];
        snprintf(target, sizeof(target), "%s", base);
        if (cursor[0] != '\0' && target_append_query(target, sizeof(target), "cursor", cursor) != 0) {
            fprintf(stderr, "stockctl: %s: the request is too long\n", command);
            status = EXIT_IO;
            break;
        }
        struct http_request request = {.method = "GET", .target = target};
        status = api_call(context, &request, false, page_print, &state, next_cursor);
        if (status != EXIT_OK) break;
        if (!context->json) table_print(state.table, stdout, pages == 0);
        if (next_cursor[0] == '\0') break;
        if (!page->all) {
            fflush(stdout);
            if (!context->json) fprintf(stderr, "(more: --cursor %s, or --all)\n", next_cursor);
            break;
        }
        if (strcmp(next_cursor, cursor) == 0) {
            fprintf(stderr, "stockctl: %s: the server returned the same cursor twice; stopped\n", command);
            status = EXIT_IO;
            break;
        }
        memcpy(cursor, next_cursor, sizeof(cursor));
    }
    fflush(stdout);
    table_destroy(state.table);
    return status;
}

/* Appends the list options and --min-position to a list's base target. */
static int list_target_build(char *target, size_t target_bytes, const struct api_context *context,
                             const struct page_options *page)
{
    char number[24];
    snprintf(number, sizeof(number), "%" PRId64, page->limit);
    if (page->order != NULL && target_append_query(target, target_bytes, "order", page->order) != 0)
        return -1;
    if (page->below_reorder_point &&
        target_append_query(target, target_bytes, "below_reorder_point", "true") != 0)
        return -1;
    if (page->limit > 0 && target_append_query(target, target_bytes, "limit", number) != 0) return -1;
    if (context->min_position != NULL &&
        target_append_query(target, target_bytes, "min_position", context->min_position) != 0)
        return -1;
    return 0;
}

static int help_print(const char *head, const char *options)
{
    fputs(head, stdout);
    fputs("Options:\n", stdout);
    fputs(options, stdout);
    return EXIT_OK;
}

int command_get(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) return help_print(get_help_head, read_options_help);
    struct api_context context;
    context_init(&context, true);
    struct page_options page = {0};
    const char *positional[2] = {NULL, NULL}, *sku = NULL, *value = NULL, *as_of = NULL;
    int positional_count = 0;
    for (int index = 0; index < argc; index++) {
        int taken = common_option_take(&context, "get", argc, argv, &index);
        if (taken == 0) taken = page_option_take(&page, "get", argc, argv, &index);
        if (taken >= 100) return taken - 100;
        if (taken == 1) continue;
        if (option_take(argc, argv, &index, "--sku", &value)) {
            if (value == NULL) return usage_error("get", "--sku needs a value");
            sku = value;
        } else if (option_take(argc, argv, &index, "--as-of", &value)) {
            if (value == NULL || value[0] == '\0' || strlen(value) > STOCKCTL_AS_OF_BYTES_MAX)
                return usage_error("get", "--as-of needs a position token or an RFC 3339 time");
            as_of = value;
        } else if (strcmp(argv[index], "--below-reorder-point") == 0) {
            page.below_reorder_point = true;
        } else if (argv[index][0] != '-' && positional_count < 2) {
            positional[positional_count++] = argv[index];
        } else {
            return usage_error("get", "unexpected argument \"%s\"", argv[index]);
        }
    }
    const char *what = positional[0];
    bool is_list = what != NULL && strcmp(what, "skus") == 0;
    if (what == NULL || (!is_list && strcmp(what, "sku") != 0 && strcmp(what, "reservation") != 0 &&
                         strcmp(what, "command") != 0))
        return usage_error("get", "say what to get: sku SKU, skus, reservation ID or command ID");
    if (is_list && positional[1] != NULL) return usage_error("get", "skus takes no argument");
    if (!is_list && positional[1] == NULL) return usage_error("get", "get %s needs its id", what);
    if ((sku != NULL && strcmp(what, "reservation") != 0) || (as_of != NULL && strcmp(what, "sku") != 0) ||
        (!is_list && (page.all || page.limit || page.cursor || page.below_reorder_point)))
        return usage_error("get", "that option does not go with get %s", what);
    int status = context_finish(&context, "get");
    if (status != EXIT_OK) return status;
    bool is_sku = strcmp(what, "sku") == 0;
    if (!is_list &&
        (status = identifier_check("get", is_sku ? "SKU" : "id", positional[1],
                                   is_sku ? STOCKD_SKU_BYTES_MAX : STOCKD_ID_BYTES_MAX)) != EXIT_OK)
        return status;
    if (sku != NULL && (status = identifier_check("get", "SKU", sku, STOCKD_SKU_BYTES_MAX)) != EXIT_OK)
        return status;
    char target[STOCKCTL_TARGET_BYTES_MAX];
    api_print_fn print = outcome_print;
    if (is_list) {
        snprintf(target, sizeof(target), "/v1/skus");
    } else if (is_sku) {
        snprintf(target, sizeof(target), "/v1/skus/%s", positional[1]);
        print = sku_print;
    } else if (strcmp(what, "reservation") == 0) {
        snprintf(target, sizeof(target), "/v1/reservations/%s", positional[1]);
        print = reservation_print;
    } else {
        snprintf(target, sizeof(target), "/v1/commands/%s", positional[1]);
    }
    if ((sku != NULL && target_append_query(target, sizeof(target), "sku", sku) != 0) ||
        (as_of != NULL && target_append_query(target, sizeof(target), "as_of", as_of) != 0) ||
        list_target_build(target, sizeof(target), &context, &page) != 0) {
        fprintf(stderr, "stockctl: get: the request is too long\n");
        return EXIT_USAGE;
    }
    mg_init_library(0);
    if (is_list) {
        status = pages_run(&context, "get", target, &page, false);
    } else {
        struct http_request request = {.method = "GET", .target = target};
        status = api_call(&context, &request, false, print, &context, NULL);
    }
    mg_exit_library();
    return status;
}

int command_history(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) return help_print(history_help_head, read_options_help);
    struct api_context context;
    context_init(&context, true);
    struct page_options page = {0};
    const char *sku = NULL, *value = NULL;
    for (int index = 0; index < argc; index++) {
        int taken = common_option_take(&context, "history", argc, argv, &index);
        if (taken == 0) taken = page_option_take(&page, "history", argc, argv, &index);
        if (taken >= 100) return taken - 100;
        if (taken == 1) continue;
        if (option_take(argc, argv, &index, "--order", &value)) {
            if (value == NULL || (strcmp(value, "oldest") != 0 && strcmp(value, "newest") != 0))
                return usage_error("history", "--order must be oldest or newest");
            page.order = value;
        } else if (argv[index][0] != '-' && sku == NULL) {
            sku = argv[index];
        } else {
            return usage_error("history", "unexpected argument \"%s\"", argv[index]);
        }
    }
    if (sku == NULL) return usage_error("history", "name the SKU");
    int status = context_finish(&context, "history");
    if (status != EXIT_OK) return status;
    if ((status = identifier_check("history", "SKU", sku, STOCKD_SKU_BYTES_MAX)) != EXIT_OK) return status;
    char target[STOCKCTL_TARGET_BYTES_MAX];
    snprintf(target, sizeof(target), "/v1/skus/%s/history", sku);
    if (list_target_build(target, sizeof(target), &context, &page) != 0) {
        fprintf(stderr, "stockctl: history: the request is too long\n");
        return EXIT_USAGE;
    }
    mg_init_library(0);
    status = pages_run(&context, "history", target, &page, true);
    mg_exit_library();
    return status;
}

/* ---- views, lag, rebuild, health ---------------------------------------------------------------------- */

static const char admin_options_help[] =
    "  --url URL     stockd's base URL, http://HOST[:PORT] (default $STOCKCTL_URL, else " STOCKCTL_URL_DEFAULT
    ")\n"
    "  --key KEY     API key, sent as Authorization: Bearer (default $STOCKD_API_KEY); never printed\n"
    "  --json        print stockd's JSON answer as it came\n"
    "  --timeout-ms N  time for the answer (default 30000)\n"
    "\n"
    "Exit codes: 0 success, 1 refused (rebuild: one is already running), 2 usage, 3 I/O, connection or\n"
    "server error (health: not ready; rebuild: no projector role here), 4 not found (unknown view),\n"
    "5 key missing or role too low.\n";

static const char views_help_head[] =
    "Usage: stockctl views [options]\n"
    "\n"
    "Lists the read models of the instance (GET /v1/views): state (ready, catching_up, rebuilding),\n"
    "whether it is within the lag bound, its lag in events, events applied and a running rebuild.\n"
    "\n";

static const char lag_help_head[] =
    "Usage: stockctl lag [options]\n"
    "\n"
    "Prints each view's position, the end of the events partition and the lag, per partition\n"
    "(GET /v1/views).\n"
    "\n";

static const char rebuild_help_head[] =
    "Usage: stockctl rebuild VIEW [options]\n"
    "\n"
    "Asks the instance to rebuild VIEW (stock, reservations, history, outcomes, movements, catalog) from\n"
    "offset 0 beside the live one, which keeps answering until the new one has caught up and is swapped in\n"
    "(POST /v1/views/VIEW/rebuild, admin role). Follow it with stockctl views.\n"
    "\n";

static const char health_help_head[] =
    "Usage: stockctl health [--live] [options]\n"
    "\n"
    "Asks whether the instance is ready (GET /readyz: broker reachable, every command partition with\n"
    "min.insync.replicas in sync, handler shards restored, views within their lag bound) and prints each\n"
    "check, then stockd's reasons, one a line; --live only asks whether the process runs\n"
    "(GET /healthz). Needs no key. Exit 0 ready, 3 not ready or unreachable.\n"
    "\n";

/* Reads the options of a command that takes at most one positional argument. */
static int single_argument_parse(struct api_context *context, const char *command, int argc, char **argv,
                                 const char **positional, bool *live)
{
    for (int index = 0; index < argc; index++) {
        int taken = common_option_take(context, command, argc, argv, &index);
        if (taken >= 100) return taken - 100;
        if (taken == 1) continue;
        if (live != NULL && strcmp(argv[index], "--live") == 0)
            *live = true;
        else if (positional != NULL && *positional == NULL && argv[index][0] != '-')
            *positional = argv[index];
        else
            return usage_error(command, "unexpected argument \"%s\"", argv[index]);
    }
    return context_finish(context, command);
}

static int views_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)response;
    (void)opaque;
    static const char *const headers[] = {"VIEW", "STATE", "READY", ">LAG", ">APPLIED", "REBUILD"};
    struct table *table = table_create(6, headers);
    if (table == NULL) return EXIT_IO;
    const cJSON *view = NULL;
    cJSON_ArrayForEach(view, cJSON_GetObjectItemCaseSensitive(body, "views"))
    {
        char lag[40], applied[40], progress[40], rebuild[64] = "-";
        const cJSON *rebuild_state = cJSON_GetObjectItemCaseSensitive(view, "rebuild");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rebuild_state, "running")))
            snprintf(rebuild, sizeof(rebuild), "running (progress %s)",
                     member_text(rebuild_state, "progress", progress, sizeof(progress)));
        const char *cells[] = {json_string(view, "name"),
                               json_string(view, "state"),
                               member_text(view, "ready", progress, sizeof(progress)),
                               member_text(view, "lag", lag, sizeof(lag)),
                               member_text(view, "events_applied", applied, sizeof(applied)),
                               rebuild};
        table_add(table, cells);
    }
    table_print(table, stdout, true);
    table_destroy(table);
    return EXIT_OK;
}

static int lag_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)response;
    (void)opaque;
    static const char *const headers[] = {"VIEW", ">PARTITION", ">POSITION", ">END", ">LAG"};
    struct table *table = table_create(5, headers);
    if (table == NULL) return EXIT_IO;
    const cJSON *view = NULL;
    cJSON_ArrayForEach(view, cJSON_GetObjectItemCaseSensitive(body, "views"))
    {
        const cJSON *partition = NULL;
        cJSON_ArrayForEach(partition, cJSON_GetObjectItemCaseSensitive(view, "partitions"))
        {
            char number[40], position[40], end[40], lag[40];
            const char *cells[] = {json_string(view, "name"),
                                   member_text(partition, "partition", number, sizeof(number)),
                                   member_text(partition, "position", position, sizeof(position)),
                                   member_text(partition, "end", end, sizeof(end)),
                                   member_text(partition, "lag", lag, sizeof(lag))};
            table_add(table, cells);
        }
        char lag[40];
        const char *total[] = {json_string(view, "name"), "all", "", "",
                               member_text(view, "lag", lag, sizeof(lag))};
        table_add(table, total);
    }
    table_print(table, stdout, true);
    table_destroy(table);
    return EXIT_OK;
}

static int admin_get(int argc, char **argv, const char *command, const char *help_head, api_print_fn print)
{
    if (stockctl_wants_help(argc, argv)) return help_print(help_head, admin_options_help);
    struct api_context context;
    context_init(&context, false);
    int status = single_argument_parse(&context, command, argc, argv, NULL, NULL);
    if (status != EXIT_OK) return status;
    mg_init_library(0);
    struct http_request request = {.method = "GET", .target = "/v1/views"};
    status = api_call(&context, &request, false, print, &context, NULL);
    mg_exit_library();
    return status;
}

int command_views(int argc, char **argv)
{
    return admin_get(argc, argv, "views", views_help_head, views_print);
}

int command_lag(int argc, char **argv)
{
    return admin_get(argc, argv, "lag", lag_help_head, lag_print);
}

static int rebuild_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)response;
    (void)opaque;
    const char *view = json_string(body, "view");
    const char *status = json_string(body, "status");
    printf("rebuild of %s: %s (stockctl views shows its progress)\n", view ? view : "?",
           status ? status : "?");
    return EXIT_OK;
}

int command_rebuild(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) return help_print(rebuild_help_head, admin_options_help);
    struct api_context context;
    context_init(&context, false);
    const char *view = NULL;
    int status = single_argument_parse(&context, "rebuild", argc, argv, &view, NULL);
    if (status != EXIT_OK) return status;
    if (view == NULL)
        return usage_error("rebuild",
                           "name the view (stock, reservations, history, outcomes, movements, catalog)");
    if ((status = identifier_check("rebuild", "view name", view, STOCKD_ID_BYTES_MAX)) != EXIT_OK)
        return status;
    char target[STOCKCTL_TARGET_BYTES_MAX];
    snprintf(target, sizeof(target), "/v1/views/%s/rebuild", view);
    mg_init_library(0);
    struct http_request request = {.method = "POST", .target = target};
    status = api_call(&context, &request, false, rebuild_print, &context, NULL);
    mg_exit_library();
    return status;
}

/* Prints /readyz's checks (200 and 503 alike) or /healthz's status. */
static int health_print(const cJSON *body, const struct http_response *response, void *opaque)
{
    (void)opaque;
    const cJSON *ready = cJSON_GetObjectItemCaseSensitive(body, "ready");
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(body, "checks");
    if (ready == NULL) {
        const char *status = json_string(body, "status");
        printf("%s\n", status ? status : response->status == 200 ? "ok" : "not ok");
        return exit_for_status(response->status);
    }
    printf("%s", cJSON_IsTrue(ready) && response->status == 200 ? "ready" : "not ready");
    const char *separator = ": ";
    const cJSON *check = NULL;
    cJSON_ArrayForEach(check, checks)
    {
        printf("%s%s %s", separator, check->string ? check->string : "?",
               cJSON_IsTrue(check) ? "ok" : "FAILING");
        separator = ", ";
    }
    putchar('\n');
    const cJSON *reason = NULL; /* stockd's words for what is not ready, one line each */
    cJSON_ArrayForEach(reason, cJSON_GetObjectItemCaseSensitive(body, "reasons"))
    {
        if (cJSON_IsString(reason)) printf("  %s\n", reason->valuestring);
    }
    return exit_for_status(response->status);
}

int command_health(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) return help_print(health_help_head, admin_options_help);
    struct api_context context;
    context_init(&context, false);
    bool live = false;
    int status = single_argument_parse(&context, "health", argc, argv, NULL, &live);
    if (status != EXIT_OK) return status;
    mg_init_library(0);
    struct http_request request = {.method = "GET", .target = live ? "/healthz" : "/readyz"};
    status = api_call(&context, &request, true, health_print, &context, NULL);
    mg_exit_library();
    return status;
}
