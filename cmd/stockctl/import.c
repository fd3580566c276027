/* import.c - stockctl import: catalog data from other systems (CSV or JSON Lines) into UpdateCatalog.
 *
 * Reads a file row by row, cleans each row (src/domain/catalog.h: NFC, white space, keys), refuses the
 * ones it cannot clean with their line number, skips those that would change nothing (the catalog view
 * over HTTP says what the source said last), and posts the rest as UpdateCatalog envelopes to
 * /v1/commands. Command ids are derived from source, SKU and content: running an import twice sends
 * nothing new, and a row sent twice is decided once (the handler deduplicates by command id). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "domain/catalog.h"
#include "domain/codec.h"
#include "http.h"
#include "limits.h"
#include "stockctl.h"

#define IMPORT_URL_DEFAULT "http://127.0.0.1:8080"
#define IMPORT_TIMEOUT_MS  30000
/* A CSV record or a JSON line: a catalog row is a few KiB at most; twice the largest envelope is plenty. */
#define IMPORT_RECORD_BYTES_MAX (2 * STOCKD_MESSAGE_BYTES_MAX)
/* Columns of a CSV file: sku, name, description, brand and the attributes, with room for columns a file
 * carries that are empty. */
#define IMPORT_COLUMNS_MAX 64
/* Rows of one file: the SKUs seen are remembered (to report a SKU given twice), 16 bytes each. */
#define IMPORT_ROWS_MAX 10000000
/* Request target of GET /v1/skus/{sku}/catalog?source=...: both identifiers, with room. */
#define IMPORT_TARGET_BYTES_MAX 512

static const char import_help[] =
    "Usage: stockctl import FILE --source NAME [--format csv|jsonl] [--dry-run] [--url URL] [--key KEY]\n"
    "                      [--timeout-ms N]\n"
    "\n"
    "Imports catalog data (name, description, brand, attributes) that the system NAME holds about SKUs.\n"
    "FILE is CSV with a header row (RFC 4180: quoted fields may hold commas, quotes and line breaks) or\n"
    "JSON Lines (one object per line); --format defaults by the file name (.jsonl, .ndjson: JSON Lines).\n"
    "Columns (CSV) or members (JSON): sku (required), name, description, brand; every other column is an\n"
    "attribute (JSON: also the members of an \"attributes\" object); ean and upc are taken as gtin.\n"
    "\n"
    "Each row is cleaned: text composed to Unicode NFC (\"e\" + U+0301 becomes U+00E9), white space\n"
    "(Unicode's) trimmed and inner runs collapsed to one space, attribute keys lower-cased with spaces as\n"
    "'_', empty values dropped, spaces and '-' removed from a gtin; rows compare after cleaning, so a file\n"
    "in another Unicode composition changes nothing. A row is refused, with its line number and why, when\n"
    "it cannot be cleaned: no or a malformed SKU, invalid UTF-8 or control characters, a value too long\n"
    "(after NFC), more than 16 attributes, a key given twice, a gtin whose check digit is wrong, nothing\n"
    "but the SKU, or a SKU given by an earlier row with other data.\n"
    "A row that would change nothing is skipped: its command (same source, SKU and content) was decided\n"
    "already (a rejection, e.g. unknown_sku, is reported as a refused row), or the catalog view already\n"
    "holds what NAME says. The rest are posted to /v1/commands as UpdateCatalog, with a command id made\n"
    "of NAME, the SKU and a hash of the content: a second run of the same file sends nothing, and a row\n"
    "sent twice is decided once.\n"
    "UpdateCatalog for a SKU that was never created is rejected (unknown_sku) by stockd.\n"
    "\n"
    "  --source NAME      the system the data comes from (1-32 of [A-Za-z0-9._:-])\n"
    "  --format F         csv or jsonl\n"
    "  --dry-run          clean, compare and report, send nothing\n"
    "  --url URL          stockd's API (default STOCKCTL_URL, else http://127.0.0.1:8080)\n"
    "  --key KEY          API key (default STOCKD_API_KEY), role write\n"
    "  --timeout-ms N     per request (default 30000)\n"
    "\n"
    "Prints one line per refused row on stderr (FILE:LINE: reason) and a summary on stdout. Exit 0 when\n"
    "every row was sent or skipped, 1 when some were refused, 2 usage, 3 I/O or server error, 5 auth.\n";

enum import_format { IMPORT_CSV, IMPORT_JSONL };

struct import_seen {
    uint64_t sku_hash; /* 0: empty slot */
    uint64_t content_hash;
    long line;
};

struct importer {
    const char *file;
    const char *source;
    bool dry_run;
    struct http_url url;
    const char *api_key;
    int timeout_ms;
    struct import_seen *seen; /* open addressing, capacity a power of two */
    size_t seen_capacity;
    size_t seen_count;
    long rows, sent, unchanged, repeated, refused;
    int failure; /* EXIT_IO or EXIT_AUTH once a request failed: the import stops */
};

/* One row as read: column names and values (not NUL-terminated values may hold anything). */
struct import_field {
    const char *name;
    const char *value;
    size_t value_bytes;
};

/* ---- cleaning ------------------------------------------------------------------------------------------ */

static uint64_t fnv1a(uint64_t hash, const void *bytes, size_t count)
{
    const unsigned char *cursor = bytes;
    for (size_t index = 0; index < count; index++)
        hash = (hash ^ cursor[index]) * UINT64_C(1099511628211);
    return hash;
}

#define FNV_OFFSET UINT64_C(14695981039346656037)

/* Cleans a text value into out (out_bytes includes the NUL). Returns 0, or -1 with reason filled. */
static int text_clean(const char *what, const char *value, size_t value_bytes, char *out, size_t out_bytes,
                      char *reason, size_t reason_bytes)
{
    const char *problem = NULL;
    if (catalog_text_normalise(value, value_bytes, out, out_bytes, &problem) >= 0) return 0;
    if (strcmp(problem, "too long") == 0) {
        snprintf(reason, reason_bytes, "%s is longer than %zu bytes", what, out_bytes - 1);
    } else {
        snprintf(reason, reason_bytes, "%s %s", what, problem);
    }
    return -1;
}

/* Cleans a gtin: normal text without spaces and '-', then the check digit. */
static int gtin_clean(char *value, char *reason, size_t reason_bytes)
{
    size_t kept = 0;
    for (size_t index = 0; value[index] != '\0'; index++)
        if (value[index] != ' ' && value[index] != '-') value[kept++] = value[index];
    value[kept] = '\0';
    if (catalog_gtin_valid(value)) return 0;
    snprintf(reason, reason_bytes, "gtin \"%.20s\" is not a GTIN-8, -12, -13 or -14 with a valid check digit",
             value);
    return -1;
}

/* Adds one attribute column to the command. Empty values are dropped. Returns 0, or -1 with reason. */
static int attribute_clean(struct command *command, const char *name, const char *value, size_t value_bytes,
                           char *reason, size_t reason_bytes)
{
    char key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1];
    const char *problem = NULL;
    if (catalog_key_normalise(name, strlen(name), key, &problem) < 0) {
        snprintf(reason, reason_bytes, "column \"%.40s\": %s", name, problem);
        return -1;
    }
    if (strcmp(key, "ean") == 0 || strcmp(key, "upc") == 0) strcpy(key, CATALOG_GTIN_KEY);
    char clean[STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX + 1];
    if (text_clean(key, value, value_bytes, clean, sizeof(clean), reason, reason_bytes) != 0) return -1;
    if (clean[0] == '\0') return 0;
    if (strcmp(key, CATALOG_GTIN_KEY) == 0 && gtin_clean(clean, reason, reason_bytes) != 0) return -1;
    if (catalog_attribute_get(&command->catalog, key) != NULL) {
        snprintf(reason, reason_bytes, "attribute %s is given twice (keys compare lower-cased)", key);
        return -1;
    }
    if (catalog_attribute_put(&command->catalog, key, clean) != 0) {
        snprintf(reason, reason_bytes, "more than %d attributes", STOCKD_CATALOG_ATTRIBUTES_MAX);
        return -1;
    }
    return 0;
}

/* Builds the UpdateCatalog of a row. Returns 0, or -1 with reason filled. */
static int row_clean(const struct importer *importer, const struct import_field *fields, size_t count,
                     struct command *command, char *reason, size_t reason_bytes)
{
    memset(command, 0, sizeof(*command));
    command->type = COMMAND_UPDATE_CATALOG;
    snprintf(command->catalog.source, sizeof(command->catalog.source), "%s", importer->source);
    /* sku, name, description, brand: by their cleaned names ("Brand " is brand), each at most once. */
    static const char *const known[] = {"sku", "name", "description", "brand"};
    char *const targets[] = {command->sku, command->name, command->catalog.description,
                             command->catalog.brand};
    const size_t target_bytes[] = {sizeof(command->sku), sizeof(command->name),
                                   sizeof(command->catalog.description), sizeof(command->catalog.brand)};
    bool given[4] = {false, false, false, false};
    for (size_t index = 0; index < count; index++) {
        const struct import_field *field = &fields[index];
        char key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1];
        const char *problem = NULL;
        size_t which = 4;
        if (catalog_key_normalise(field->name, strlen(field->name), key, &problem) >= 0)
            for (which = 0; which < 4 && strcmp(key, known[which]) != 0; which++) {
            }
        int status = 0;
        if (which < 4 && given[which]) {
            snprintf(reason, reason_bytes, "%s is given twice", known[which]);
            status = -1;
        } else if (which < 4) {
            given[which] = true;
            status = text_clean(known[which], field->value, field->value_bytes, targets[which],
                                target_bytes[which], reason, reason_bytes);
        } else {
            status =
                attribute_clean(command, field->name, field->value, field->value_bytes, reason, reason_bytes);
        }
        if (status != 0) return -1;
    }
    bool sku_found = given[0];
    if (!sku_found || command->sku[0] == '\0') {
        snprintf(reason, reason_bytes, "no sku");
        return -1;
    }
    if (!codec_identifier_valid(command->sku, STOCKD_SKU_BYTES_MAX)) {
        snprintf(reason, reason_bytes,
                 "sku \"%.64s\" is not 1-64 of [A-Za-z0-9._:-] starting with a letter or digit",
                 command->sku);
        return -1;
    }
    if (command->name[0] == '\0' && command->catalog.description[0] == '\0' &&
        command->catalog.brand[0] == '\0' && command->catalog.attribute_count == 0) {
        snprintf(reason, reason_bytes, "nothing but the SKU (an import never withdraws a source)");
        return -1;
    }
    const char *field = NULL;
    const char *problem = catalog_data_check(command->name, &command->catalog, &field);
    if (problem != NULL) { /* cleaning makes data valid: this is a bug, said rather than sent */
        snprintf(reason, reason_bytes, "%s: %s", field, problem);
        return -1;
    }
    return 0;
}

/* The content hash of a cleaned command (its canonical envelope with the id left empty-ish) and the id it
 * gets: cat:<source>:<sku>:<16 hex digits>. */
static int command_identify(struct command *command, uint64_t *content_hash)
{
    snprintf(command->command_id, sizeof(command->command_id), "x");
    char *encoded = codec_command_encode(command);
    if (encoded == NULL) return -1;
    *content_hash = fnv1a(FNV_OFFSET, encoded, strlen(encoded));
    free(encoded);
    int written = snprintf(command->command_id, sizeof(command->command_id), "cat:%s:%s:%016" PRIx64,
                           command->catalog.source, command->sku, *content_hash);
    assert(written > 0 && (size_t)written < sizeof(command->command_id)); /* 4 + 32 + 64 + 18 < 128 */
    (void)written;
    return 0;
}

/* ---- rows seen ----------------------------------------------------------------------------------------- */

/* Finds the slot of a SKU hash (its own or the empty one where it goes). */
static struct import_seen *seen_slot(struct importer *importer, uint64_t sku_hash)
{
    size_t mask = importer->seen_capacity - 1;
    for (size_t index = (size_t)sku_hash & mask;; index = (index + 1) & mask) {
        struct import_seen *slot = &importer->seen[index];
        if (slot->sku_hash == 0 || slot->sku_hash == sku_hash) return slot;
    }
}

/* Remembers a SKU; returns the earlier row of it, or NULL (then it is remembered). -1 line: no memory. */
static const struct import_seen *seen_check(struct importer *importer, const char *sku, uint64_t content_hash,
                                            long line, bool *out_of_memory)
{
    uint64_t sku_hash = fnv1a(FNV_OFFSET, sku, strlen(sku)) | 1; /* never 0: that marks an empty slot */
    if (importer->seen_count * 2 >= importer->seen_capacity) {
        size_t capacity = importer->seen_capacity ? importer->seen_capacity * 2 : 1024;
        struct import_seen *grown = calloc(capacity, sizeof(*grown));
        if (grown == NULL) {
            *out_of_memory = true;
            return NULL;
        }
        struct import_seen *old = importer->seen;
        size_t old_capacity = importer->seen_capacity;
        importer->seen = grown;
        importer->seen_capacity = capacity;
        for (size_t index = 0; index < old_capacity; index++)
            if (old[index].sku_hash != 0) *seen_slot(importer, old[index].sku_hash) = old[index];
        free(old);
    }
    struct import_seen *slot = seen_slot(importer, sku_hash);
    if (slot->sku_hash != 0) return slot;
    *slot = (struct import_seen){.sku_hash = sku_hash, .content_hash = content_hash, .line = line};
    importer->seen_count++;
    return NULL;
}

/* ---- HTTP ---------------------------------------------------------------------------------------------- */

static int exit_for_status(int status)
{
    if (status >= 200 && status <= 299) return EXIT_OK;
    if (status == 401 || status == 403) return EXIT_AUTH;
    if (status == 404) return EXIT_NOT_FOUND;
    if (status >= 400 && status <= 499) return EXIT_INVALID;
    return EXIT_IO;
}

/* Whether a JSON member is the string text, or absent/null when text is "". */
static bool member_equals(const cJSON *object, const char *name, const char *text)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (item == NULL || cJSON_IsNull(item)) return text[0] == '\0';
    return cJSON_IsString(item) && strcmp(item->valuestring, text) == 0;
}

/* Whether what the view says the source said (one entry of "sources") is what the command says. */
static bool entry_equals(const cJSON *entry, const struct command *command)
{
    if (!member_equals(entry, "source", command->catalog.source) ||
        !member_equals(entry, "name", command->name) ||
        !member_equals(entry, "description", command->catalog.description) ||
        !member_equals(entry, "brand", command->catalog.brand))
        return false;
    const cJSON *attributes = cJSON_GetObjectItemCaseSensitive(entry, "attributes");
    if (!cJSON_IsObject(attributes) ||
        cJSON_GetArraySize(attributes) != (int)command->catalog.attribute_count)
        return false;
    for (uint32_t index = 0; index < command->catalog.attribute_count; index++) {
        if (!member_equals(attributes, command->catalog.attributes[index].key,
                           command->catalog.attributes[index].value))
            return false;
    }
    return true;
}

/* Asks the catalog view what the source said about the SKU. Returns 1 when it equals the command, 0 when
 * not (or nothing), or an exit code + 100 when the request failed. */
static int view_unchanged(struct importer *importer, const struct command *command)
{
    char target[IMPORT_TARGET_BYTES_MAX];
    snprintf(target, sizeof(target), "/v1/skus/%s/catalog?source=%s", command->sku, command->catalog.source);
    struct http_request request = {
        .method = "GET", .target = target, .api_key = importer->api_key, .timeout_ms = importer->timeout_ms};
    struct http_response response;
    char error[512];
    if (http_exchange(&importer->url, &request, &response, error, sizeof(error)) != 0) {
        fprintf(stderr, "stockctl: import: GET %s: %s\n", target, error);
        http_response_free(&response);
        return 100 + EXIT_IO;
    }
    int code = exit_for_status(response.status);
    int result = 0;
    if (code == EXIT_OK) {
        cJSON *body = cJSON_ParseWithLength(response.body, response.body_bytes);
        const cJSON *sources = cJSON_GetObjectItemCaseSensitive(body, "sources");
        const cJSON *entry = cJSON_IsArray(sources) ? cJSON_GetArrayItem(sources, 0) : NULL;
        result = entry != NULL && entry_equals(entry, command) ? 1 : 0;
        cJSON_Delete(body);
    } else if (code != EXIT_NOT_FOUND) {
        fprintf(stderr, "stockctl: import: GET %s: HTTP %d %.300s\n", target, response.status,
                response.body != NULL ? response.body : "");
        result = 100 + code;
    }
    http_response_free(&response);
    return result;
}

/* Asks the outcomes view whether the command (its id is its content) was decided already. Returns 0 when
 * not, 1 when accepted, 2 when rejected (reason filled), or an exit code + 100 when the request failed. */
static int outcome_known(struct importer *importer, const struct command *command, char *reason,
                         size_t reason_bytes)
{
    char target[IMPORT_TARGET_BYTES_MAX];
    snprintf(target, sizeof(target), "/v1/commands/%s", command->command_id);
    struct http_request request = {
        .method = "GET", .target = target, .api_key = importer->api_key, .timeout_ms = importer->timeout_ms};
    struct http_response response;
    char error[512];
    if (http_exchange(&importer->url, &request, &response, error, sizeof(error)) != 0) {
        fprintf(stderr, "stockctl: import: GET %s: %s\n", target, error);
        http_response_free(&response);
        return 100 + EXIT_IO;
    }
    int code = exit_for_status(response.status);
    int result = 0;
    if (code == EXIT_OK) {
        cJSON *body = cJSON_ParseWithLength(response.body, response.body_bytes);
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(body, "status");
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(body, "reason");
        bool rejected = cJSON_IsString(status) && strcmp(status->valuestring, "rejected") == 0;
        if (rejected)
            snprintf(reason, reason_bytes, "stockd rejected it earlier: %s",
                     cJSON_IsString(why) ? why->valuestring : "(no reason)");
        result = rejected ? 2 : 1;
        cJSON_Delete(body);
    } else if (code != EXIT_NOT_FOUND) {
        fprintf(stderr, "stockctl: import: GET %s: HTTP %d %.300s\n", target, response.status,
                response.body != NULL ? response.body : "");
        result = 100 + code;
    }
    http_response_free(&response);
    return result;
}

/* Posts the command's envelope to /v1/commands. Returns EXIT_OK or the exit code of the failure. */
static int command_post(struct importer *importer, const struct command *command)
{
    char *encoded = codec_command_encode(command);
    if (encoded == NULL) {
        fprintf(stderr, "stockctl: import: out of memory\n");
        return EXIT_IO;
    }
    struct http_request request = {.method = "POST",
                                   .target = "/v1/commands",
                                   .api_key = importer->api_key,
                                   .idempotency_key = command->command_id,
                                   .body = encoded,
                                   .body_bytes = strlen(encoded),
                                   .timeout_ms = importer->timeout_ms};
    struct http_response response;
    char error[512];
    int code = EXIT_IO;
    if (http_exchange(&importer->url, &request, &response, error, sizeof(error)) != 0) {
        fprintf(stderr, "stockctl: import: POST /v1/commands (%s): %s\n", command->sku, error);
    } else {
        code = exit_for_status(response.status);
        if (code != EXIT_OK)
            fprintf(stderr, "stockctl: import: POST /v1/commands (%s): HTTP %d %.300s\n", command->sku,
                    response.status, response.body != NULL ? response.body : "");
    }
    http_response_free(&response);
    free(encoded);
    return code;
}

/* ---- rows ---------------------------------------------------------------------------------------------- */

static void row_refuse(struct importer *importer, long line, const char *reason)
{
    fprintf(stderr, "stockctl: import: %s:%ld: %s\n", importer->file, line, reason);
    importer->refused++;
}

/* Cleans, compares and sends one row. */
static void row_process(struct importer *importer, long line, const struct import_field *fields, size_t count)
{
    static struct command command;
    char reason[256];
    uint64_t content_hash = 0;
    if (row_clean(importer, fields, count, &command, reason, sizeof(reason)) != 0) {
        row_refuse(importer, line, reason);
        return;
    }
    if (command_identify(&command, &content_hash) != 0) {
        row_refuse(importer, line, "out of memory");
        return;
    }
    bool out_of_memory = false;
    const struct import_seen *earlier = seen_check(importer, command.sku, content_hash, line, &out_of_memory);
    if (out_of_memory || importer->seen_count > IMPORT_ROWS_MAX) {
        row_refuse(importer, line, "too many rows in one file");
        return;
    }
    if (earlier != NULL && earlier->content_hash == content_hash) {
        importer->repeated++; /* the same row again: nothing new */
        return;
    }
    if (earlier != NULL) {
        snprintf(reason, sizeof(reason), "SKU %s is given by line %ld already, with other data", command.sku,
                 earlier->line);
        row_refuse(importer, line, reason);
        return;
    }
    int known = outcome_known(importer, &command, reason, sizeof(reason));
    if (known >= 100) {
        importer->failure = known - 100;
        return;
    }
    if (known == 2) {
        row_refuse(importer, line, reason);
        return;
    }
    if (known == 1) { /* this very content from this source was decided: sent by an earlier run */
        importer->unchanged++;
        return;
    }
    int unchanged = view_unchanged(importer, &command);
    if (unchanged >= 100) {
        importer->failure = unchanged - 100;
        return;
    }
    if (unchanged == 1) {
        importer->unchanged++;
        return;
    }
    if (importer->dry_run) {
        importer->sent++;
        return;
    }
    int code = command_post(importer, &command);
    if (code == EXIT_OK) {
        importer->sent++;
    } else if (code == EXIT_INVALID) {
        row_refuse(importer, line, "stockd refused the command (see above)");
    } else {
        importer->failure = code;
    }
}

/* ---- CSV ----------------------------------------------------------------------------------------------- */

/* Reads one RFC 4180 record: fields into buffer (each NUL-terminated), their starts into starts[]. Returns
 * the field count, 0 at the end of the file, or -1 with reason (a record too long or with too many
 * fields, a quote in an unquoted field, a quoted field never closed). *lines counts the line breaks read. */
static int csv_record(FILE *stream, char *buffer, size_t buffer_bytes, size_t *starts, size_t *lengths,
                      long *lines, const char **reason)
{
    size_t used = 0;
    int count = 0;
    int c = fgetc(stream);
    if (c == EOF) return 0;
    for (;;) { /* one field per turn */
        if (count == IMPORT_COLUMNS_MAX) {
            *reason = "more than 64 fields";
            return -1;
        }
        starts[count] = used;
        bool quoted = c == '"';
        if (quoted) c = fgetc(stream);
        for (;; c = fgetc(stream)) {
            if (c == EOF && quoted) {
                *reason = "a quoted field is never closed";
                return -1;
            }
            if (quoted && c == '"') {
                c = fgetc(stream);
                if (c != '"') {
                    quoted = false;
                    if (c != ',' && c != '\n' && c != '\r' && c != EOF) {
                        *reason = "text after a closing quote";
                        return -1;
                    }
                    break;
                }
            } else if (!quoted && (c == ',' || c == '\n' || c == '\r' || c == EOF)) {
                break;
            } else if (!quoted && c == '"') {
                *reason = "a quote inside an unquoted field";
                return -1;
            }
            if (c == '\n') ++*lines;
            if (used + 2 >= buffer_bytes) {
                *reason = "a record longer than 128 KiB";
                return -1;
            }
            buffer[used++] = (char)c;
        }
        lengths[count] = used - starts[count];
        buffer[used++] = '\0';
        count++;
        if (c == ',') {
            c = fgetc(stream);
            continue;
        }
        if (c == '\r') {
            c = fgetc(stream);
            if (c != '\n' && c != EOF) ungetc(c, stream);
        }
        if (c == '\n') ++*lines;
        return count;
    }
}

/* Skips the rest of a broken record: to the end of its line. */
static void csv_skip_line(FILE *stream, long *lines)
{
    int c;
    while ((c = fgetc(stream)) != EOF && c != '\n') {
    }
    if (c == '\n') ++*lines;
}

static void csv_import(struct importer *importer, FILE *stream)
{
    static char header_buffer[IMPORT_RECORD_BYTES_MAX];
    static char buffer[IMPORT_RECORD_BYTES_MAX];
    size_t header_starts[IMPORT_COLUMNS_MAX], header_lengths[IMPORT_COLUMNS_MAX];
    size_t starts[IMPORT_COLUMNS_MAX], lengths[IMPORT_COLUMNS_MAX];
    long lines = 0;
    const char *reason = NULL;
    int c = fgetc(stream); /* a UTF-8 byte order mark before the header is skipped */
    if (c == 0xEF) {
        if (fgetc(stream) != 0xBB || fgetc(stream) != 0xBF) {
            row_refuse(importer, 1, "the header starts with a broken byte order mark");
            return;
        }
    } else if (c != EOF) {
        ungetc(c, stream);
    }
    int columns = csv_record(stream, header_buffer, sizeof(header_buffer), header_starts, header_lengths,
                             &lines, &reason);
    if (columns <= 0) {
        row_refuse(importer, 1, columns == 0 ? "no header row" : reason);
        return;
    }
    struct import_field fields[IMPORT_COLUMNS_MAX];
    for (int column = 0; column < columns; column++) {
        fields[column].name = header_buffer + header_starts[column];
        /* Header names are cleaned as keys; sku, name, description, brand match after that. */
        char key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1];
        const char *problem = NULL;
        if (catalog_key_normalise(fields[column].name, header_lengths[column], key, &problem) >= 0 &&
            (strcmp(key, "sku") == 0 || strcmp(key, "name") == 0 || strcmp(key, "description") == 0 ||
             strcmp(key, "brand") == 0))
            strcpy(header_buffer + header_starts[column], key); /* as long or shorter: fits in place */
    }
    while (importer->failure == EXIT_OK) {
        long line = lines + 1;
        int count = csv_record(stream, buffer, sizeof(buffer), starts, lengths, &lines, &reason);
        if (count == 0) break;
        if (count == 1 && lengths[0] == 0) continue; /* an empty line */
        importer->rows++;
        if (count < 0) {
            csv_skip_line(stream, &lines);
            row_refuse(importer, line, reason);
            continue;
        }
        if (count != columns) {
            char message[96];
            snprintf(message, sizeof(message), "%d fields, the header has %d", count, columns);
            row_refuse(importer, line, message);
            continue;
        }
        for (int column = 0; column < count; column++) {
            fields[column].value = buffer + starts[column];
            fields[column].value_bytes = lengths[column];
        }
        row_process(importer, line, fields, (size_t)count);
    }
}

/* ---- JSON Lines ---------------------------------------------------------------------------------------- */

/* Collects a JSON object's string members (and those of its "attributes" object) as fields. Returns the
 * count, or -1 with reason. */
static int jsonl_fields(const cJSON *object, struct import_field *fields, char *reason, size_t reason_bytes)
{
    int count = 0;
    for (const cJSON *member = object->child; member != NULL; member = member->next) {
        bool nested = strcmp(member->string, "attributes") == 0 && cJSON_IsObject(member);
        const cJSON *first = nested ? member->child : member;
        for (const cJSON *item = first; item != NULL; item = nested ? item->next : NULL) {
            if (cJSON_IsNull(item)) continue;
            if (!cJSON_IsString(item)) {
                snprintf(reason, reason_bytes, "%.40s must be a string", item->string);
                return -1;
            }
            for (int index = 0; index < count; index++) {
                if (strcmp(fields[index].name, item->string) == 0) {
                    snprintf(reason, reason_bytes, "%.40s is given twice", item->string);
                    return -1;
                }
            }
            if (count == IMPORT_COLUMNS_MAX) {
                snprintf(reason, reason_bytes, "more than %d members", IMPORT_COLUMNS_MAX);
                return -1;
            }
            fields[count++] =
                (struct import_field){item->string, item->valuestring, strlen(item->valuestring)};
            if (!nested) break;
        }
    }
    return count;
}

static void jsonl_import(struct importer *importer, FILE *stream)
{
    static char line[IMPORT_RECORD_BYTES_MAX];
    struct import_field fields[IMPORT_COLUMNS_MAX];
    long line_number = 0;
    size_t length = 0;
    enum stockctl_line read;
    char reason[256];
    while (importer->failure == EXIT_OK &&
           (read = stockctl_line_next(stream, line, sizeof(line), &length)) != STOCKCTL_LINE_END) {
        line_number++;
        if (read == STOCKCTL_LINE_TOO_LONG) {
            row_refuse(importer, line_number, "a line longer than 128 KiB");
            continue;
        }
        if (strspn(line, " \t") == length) continue;
        importer->rows++;
        if (memchr(line, '\0', length) != NULL || strlen(line) != length) {
            row_refuse(importer, line_number, "a NUL byte in the line");
            continue;
        }
        cJSON *object = cJSON_ParseWithLength(line, length);
        int count = -1;
        if (!cJSON_IsObject(object)) {
            snprintf(reason, sizeof(reason), "not a JSON object");
        } else {
            count = jsonl_fields(object, fields, reason, sizeof(reason));
        }
        if (count < 0) {
            row_refuse(importer, line_number, reason);
        } else {
            row_process(importer, line_number, fields, (size_t)count);
        }
        cJSON_Delete(object);
    }
}

/* ---- the command --------------------------------------------------------------------------------------- */

static int usage(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "stockctl: import: ");
    vfprintf(stderr, format, arguments);
    fprintf(stderr, " (see stockctl import --help)\n");
    va_end(arguments);
    return EXIT_USAGE;
}

/* The value of --name VALUE or --name=VALUE at argv[*index], or NULL when argv[*index] is not --name. */
static const char *option_value(int argc, char **argv, int *index, const char *name, bool *missing)
{
    size_t name_length = strlen(name);
    if (strncmp(argv[*index], name, name_length) != 0) return NULL;
    if (argv[*index][name_length] == '=') return argv[*index] + name_length + 1;
    if (argv[*index][name_length] != '\0') return NULL;
    if (*index + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*index];
}

int command_import(int argc, char **argv)
{
    if (stockctl_wants_help(argc, argv)) {
        fputs(import_help, stdout);
        return EXIT_OK;
    }
    struct importer importer = {.timeout_ms = IMPORT_TIMEOUT_MS};
    const char *format = NULL, *url_text = NULL, *timeout_text = NULL;
    for (int index = 0; index < argc; index++) {
        bool missing = false;
        const char *value;
        if (strcmp(argv[index], "--dry-run") == 0) {
            importer.dry_run = true;
        } else if ((value = option_value(argc, argv, &index, "--source", &missing)) != NULL) {
            importer.source = value;
        } else if ((value = option_value(argc, argv, &index, "--format", &missing)) != NULL) {
            format = value;
        } else if ((value = option_value(argc, argv, &index, "--url", &missing)) != NULL) {
            url_text = value;
        } else if ((value = option_value(argc, argv, &index, "--key", &missing)) != NULL) {
            importer.api_key = value;
        } else if ((value = option_value(argc, argv, &index, "--timeout-ms", &missing)) != NULL) {
            timeout_text = value;
        } else if (missing) {
            return usage("%s needs a value", argv[index]);
        } else if (argv[index][0] == '-' && argv[index][1] != '\0') {
            return usage("unknown option %s", argv[index]);
        } else if (importer.file == NULL) {
            importer.file = argv[index];
        } else {
            return usage("one FILE only, got also %s", argv[index]);
        }
    }
    if (importer.file == NULL) return usage("%s", "needs a FILE");
    if (importer.source == NULL) return usage("%s", "needs --source NAME");
    if (!codec_identifier_valid(importer.source, STOCKD_CATALOG_SOURCE_BYTES_MAX))
        return usage("--source %s is not 1-32 of [A-Za-z0-9._:-] starting with a letter or digit",
                     importer.source);
    enum import_format chosen = IMPORT_CSV;
    size_t file_length = strlen(importer.file);
    if (format == NULL) {
        bool jsonl = (file_length > 6 && strcmp(importer.file + file_length - 6, ".jsonl") == 0) ||
                     (file_length > 7 && strcmp(importer.file + file_length - 7, ".ndjson") == 0);
        chosen = jsonl ? IMPORT_JSONL : IMPORT_CSV;
    } else if (strcmp(format, "jsonl") == 0) {
        chosen = IMPORT_JSONL;
    } else if (strcmp(format, "csv") != 0) {
        return usage("--format must be csv or jsonl, got %s", format);
    }
    if (timeout_text != NULL) {
        char *end = NULL;
        long timeout_ms = strtol(timeout_text, &end, 10);
        if (end == timeout_text || *end != '\0' || timeout_ms < 1 || timeout_ms > 3600 * 1000)
            return usage("--timeout-ms must be an integer in [1, 3600000], got %s", timeout_text);
        importer.timeout_ms = (int)timeout_ms;
    }
    if (url_text == NULL) url_text = getenv("STOCKCTL_URL");
    if (url_text == NULL || url_text[0] == '\0') url_text = IMPORT_URL_DEFAULT;
    char error[256];
    if (http_url_parse(url_text, &importer.url, error, sizeof(error)) != 0) return usage("--url: %s", error);
    if (importer.api_key == NULL) importer.api_key = getenv("STOCKD_API_KEY");
    if (importer.api_key != NULL && importer.api_key[0] == '\0') importer.api_key = NULL;

    FILE *stream = strcmp(importer.file, "-") == 0 ? stdin : fopen(importer.file, "rb");
    if (stream == NULL) {
        fprintf(stderr, "stockctl: import: %s: %s\n", importer.file, strerror(errno));
        return EXIT_IO;
    }
    if (chosen == IMPORT_CSV) {
        csv_import(&importer, stream);
    } else {
        jsonl_import(&importer, stream);
    }
    bool read_failed = ferror(stream) != 0;
    if (stream != stdin) fclose(stream);
    free(importer.seen);
    printf("import %s (source %s): %ld rows, %ld %s, %ld unchanged, %ld repeated, %ld refused\n",
           importer.file, importer.source, importer.rows, importer.sent,
           importer.dry_run ? "to send (dry run)" : "sent", importer.unchanged, importer.repeated,
           importer.refused);
    if (read_failed) {
        fprintf(stderr, "stockctl: import: cannot read %s\n", importer.file);
        return EXIT_IO;
    }
    if (importer.failure != EXIT_OK) return importer.failure;
    return importer.refused > 0 ? EXIT_INVALID : EXIT_OK;
}
