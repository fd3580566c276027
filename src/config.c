/* config.c - builds struct stockd_config from defaults, a JSON file, the environment and flags.
 *
 * One table lists every key with its type, field, bounds, default and help; loading, validation, the
 * JSON dump and the help text all walk it. Reads only the file and environment it is given; never logs,
 * never exits: errors go back as one message naming the key, the reason and where the value came from. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "domain/catalog.h"
#include "domain/json_scan.h"
#include "domain/number.h"

extern char **environ; /* POSIX; not declared by <unistd.h> without _GNU_SOURCE */

enum config_type {
    CONFIG_STRING,     /* char array, NUL-terminated, never truncated */
    CONFIG_INT,        /* int32_t or int64_t (by size), bounded by [min, max] */
    CONFIG_BOOL,       /* bool */
    CONFIG_ROLES,      /* unsigned bit set of enum stockd_role, "api,router" in text */
    CONFIG_PROPERTIES, /* kafka.properties: name -> value, merged across sources */
};

/* Checks the format of a non-empty string value. Returns 0, or -1 with a reason written to reason. */
typedef int (*config_check_fn)(const char *value, char *reason, size_t reason_bytes);

struct config_key {
    const char *name;          /* dotted, as in the file's nesting: "kafka.bootstrap" */
    enum config_type type;     /* how text and JSON values are parsed */
    size_t offset;             /* offsetof(struct stockd_config, field) */
    size_t size;               /* sizeof the field: string capacity with NUL, or integer width */
    int64_t min;               /* integers: smallest accepted value */
    int64_t max;               /* integers: largest accepted value */
    const char *default_text;  /* parsed like a flag value; NULL: none, or computed (instance.id) */
    const char *default_shown; /* for --help when default_text is NULL */
    config_check_fn check;     /* strings: format rule beyond "non-empty and fits", NULL for none */
    bool empty_ok;             /* strings: "" is a valid value (meaning none) */
    bool secret;               /* strings: masked in --check-config output */
    const char *help;          /* one line for --help */
};

static int config_check_identifier(const char *value, char *reason, size_t reason_bytes);
static int config_check_topic_prefix(const char *value, char *reason, size_t reason_bytes);
static int config_check_log_level(const char *value, char *reason, size_t reason_bytes);
static int config_check_listen(const char *value, char *reason, size_t reason_bytes);
static int config_check_api_keys(const char *value, char *reason, size_t reason_bytes);
static int config_check_source_precedence(const char *value, char *reason, size_t reason_bytes);

#define CONFIG_FIELD(member)                                                                                 \
    .offset = offsetof(struct stockd_config, member), .size = sizeof(((struct stockd_config *)0)->member)

static const struct config_key config_keys[] = {
    {.name = "instance.id",
     .type = CONFIG_STRING,
     CONFIG_FIELD(instance_id),
     .default_shown = "stockd-<hostname>",
     .check = config_check_identifier,
     .help = "Stable name of this instance, unique among live ones; the handler's transactional.id "
             "derives from it. Characters [A-Za-z0-9._:-]."},
    {.name = "roles",
     .type = CONFIG_ROLES,
     CONFIG_FIELD(roles),
     .default_text = "api,router,handler,projector,orders",
     .help = "Comma-separated stages this instance runs: api, router, handler, projector, orders."},
    {.name = "data_dir",
     .type = CONFIG_STRING,
     CONFIG_FIELD(data_dir),
     .default_text = "./var/data",
     .help = "Directory of the handler's state shards and the projections' view databases."},
    {.name = "log.level",
     .type = CONFIG_STRING,
     CONFIG_FIELD(log_level),
     .default_text = "info",
     .check = config_check_log_level,
     .help = "One of error, warn, info, debug."},
    {.name = "kafka.bootstrap",
     .type = CONFIG_STRING,
     CONFIG_FIELD(kafka_bootstrap),
     .default_text = "127.0.0.1:19092",
     .help = "Kafka bootstrap servers, host:port[,host:port...]."},
    {.name = "kafka.topic_prefix",
     .type = CONFIG_STRING,
     CONFIG_FIELD(topic_prefix),
     .default_text = "stockd",
     .check = config_check_topic_prefix,
     .help = "Prefix of stockd's topics (<prefix>.commands, .commands.by-sku, .events, .dlq) and "
             "consumer groups. Kafka topic characters [A-Za-z0-9._-]."},
    {.name = "kafka.partitions",
     .type = CONFIG_INT,
     CONFIG_FIELD(partitions),
     .min = 1,
     .max = STOCKD_PARTITIONS_MAX,
     .default_text = "6",
     .help = "Partitions P of commands.by-sku and events (co-partitioned; one state shard each)."},
    {.name = "kafka.replication_factor",
     .type = CONFIG_INT,
     CONFIG_FIELD(replication_factor),
     .min = 0,
     .max = STOCKD_REPLICATION_FACTOR_MAX,
     .default_text = "0",
     .help = "Replication factor of the topics stockd creates; 0: the broker's default.replication.factor "
             "(1 on one broker, 3 on a production cluster)."},
    {.name = "kafka.min_insync_replicas",
     .type = CONFIG_INT,
     CONFIG_FIELD(min_insync_replicas),
     .min = 0,
     .max = STOCKD_REPLICATION_FACTOR_MAX,
     .default_text = "0",
     .help = "min.insync.replicas of the topics stockd creates (copies that must have a write before it is "
             "acknowledged); 0: the broker's default. At most kafka.replication_factor."},
    {.name = "kafka.embedded",
     .type = CONFIG_BOOL,
     CONFIG_FIELD(embedded_kafka),
     .default_text = "false",
     .help = "Run against librdkafka's in-process mock cluster (tests and demos; no exactly-once)."},
    {.name = "kafka.properties",
     .type = CONFIG_PROPERTIES,
     CONFIG_FIELD(kafka_properties),
     .default_shown = "none",
     .help = "librdkafka properties passed through (security.protocol, sasl.*, ssl.*); secrets are "
             "masked in --check-config output."},
    {.name = "handler.batch_max",
     .type = CONFIG_INT,
     CONFIG_FIELD(handler_batch_max),
     .min = 1,
     .max = 100000,
     .default_text = "5000",
     .help = "Commands decided in one Kafka transaction at most."},
    {.name = "handler.poll_timeout_ms",
     .type = CONFIG_INT,
     CONFIG_FIELD(handler_poll_timeout_ms),
     .min = 0,
     .max = 10000,
     .default_text = "0",
     .help = "Wait for more commands before a batch commits (0: take what has arrived, commit)."},
    {.name = "orders.saga_timeout_ms",
     .type = CONFIG_INT,
     CONFIG_FIELD(orders_saga_timeout_ms),
     .min = 100,
     .max = 3600000,
     .default_text = "30000",
     .help = "How long an order waits for its lines' outcomes before the order stage releases what it got "
             "and rejects it (reason timeout)."},
    {.name = "handler.dedup_retention_s",
     .type = CONFIG_INT,
     CONFIG_FIELD(handler_dedup_retention_s),
     .min = 60,
     .max = 31536000,
     .default_text = "604800",
     .help = "How long command ids are remembered for deduplication (default 7 days)."},
    {.name = "handler.threads",
     .type = CONFIG_INT,
     CONFIG_FIELD(handler_threads),
     .min = 1,
     .max = STOCKD_STAGE_THREADS_MAX,
     .default_shown = "number of cores",
     .help = "Handler threads: each a consumer in the handler group with its own transactional producer, "
             "deciding its partitions in parallel with the others (more than kafka.partitions idle)."},
    {.name = "router.threads",
     .type = CONFIG_INT,
     CONFIG_FIELD(router_threads),
     .min = 1,
     .max = STOCKD_STAGE_THREADS_MAX,
     .default_shown = "number of cores",
     .help = "Router threads: each a consumer in the router group with its own transactional producer "
             "(more than the partitions of <prefix>.commands idle)."},
    {.name = "handler.punctuate_interval_ms",
     .type = CONFIG_INT,
     CONFIG_FIELD(handler_punctuate_interval_ms),
     .min = 10,
     .max = 3600000,
     .default_text = "1000",
     .help = "How often the handler looks for reservations to expire."},
    {.name = "http.listen",
     .type = CONFIG_STRING,
     CONFIG_FIELD(http_listen),
     .default_text = "127.0.0.1:8080",
     .check = config_check_listen,
     .help = "HTTP API address, host:port ([::1]:port for IPv6)."},
    {.name = "http.threads",
     .type = CONFIG_INT,
     CONFIG_FIELD(http_threads),
     .min = 1,
     .max = 256,
     .default_text = "64",
     .help =
         "HTTP worker threads: the requests decided and answered at once. Connections, slow or idle, hold "
         "none (the gate reads each request whole first)."},
    {.name = "http.body_bytes_max",
     .type = CONFIG_INT,
     CONFIG_FIELD(http_body_bytes_max),
     .min = 1024,
     .max = STOCKD_MESSAGE_BYTES_MAX,
     .default_text = "65536",
     .help = "Largest request body accepted; larger ones get 413."},
    {.name = "http.api_keys",
     .type = CONFIG_STRING,
     CONFIG_FIELD(http_api_keys),
     .default_text = "",
     .default_shown = "none",
     .check = config_check_api_keys,
     .empty_ok = true,
     .secret = true,
     .help = "API keys, comma-separated role:key[:not_after_unix_s] (roles read, write, admin; keys 16-128 "
             "of [A-Za-z0-9._~+/=-]). None: every request is allowed and the API binds to 127.0.0.1 only."},
    {.name = "http.request_timeout_ms",
     .type = CONFIG_INT,
     CONFIG_FIELD(http_request_timeout_ms),
     .min = 1000,
     .max = 600000,
     .default_text = "30000",
     .help = "A request (headers and body) must arrive within this time; slower clients are cut off."},
    {.name = "http.wait_ms_max",
     .type = CONFIG_INT,
     CONFIG_FIELD(http_wait_ms_max),
     .min = 0,
     .max = 60000,
     .default_text = "30000",
     .help = "Longest wait of a request for an outcome (Prefer: wait) or a position (min_position)."},
    {.name = "http.waits_max",
     .type = CONFIG_INT,
     CONFIG_FIELD(http_waits_max),
     .min = 1,
     .max = 4096,
     .default_text = "64",
     .help = "Requests waiting (Prefer: wait, min_position) at once; more get 503."},
    {.name = "http.idempotency_keys_max",
     .type = CONFIG_INT,
     CONFIG_FIELD(http_idempotency_keys_max),
     .min = 0,
     .max = 10000000,
     .default_text = "100000",
     .help =
         "Recent idempotency keys (clients' keys, not generated ids) remembered per instance to refuse a key "
         "reused for another command."},
    {.name = "views.lag_max",
     .type = CONFIG_INT,
     CONFIG_FIELD(views_lag_max),
     .min = 0,
     .max = 1000000000,
     .default_text = "1000",
     .help = "Events a view may be behind before it reports not ready."},
    {.name = "catalog.source_precedence",
     .type = CONFIG_STRING,
     CONFIG_FIELD(catalog_source_precedence),
     .default_text = "",
     .default_shown = "none",
     .check = config_check_source_precedence,
     .empty_ok = true,
     .help =
         "Catalog sources by precedence, highest first (\"erp,pim,web\"): a SKU's merged catalog entry "
         "takes each field and attribute from the highest-ranked source that has it; unnamed sources rank "
         "below named ones, ties go to the most recent. None: the most recent source wins. Give every "
         "projector instance and stockctl verify the same list; after a change, rebuild the catalog view "
         "(docs/catalog.md)."},
};

#define CONFIG_KEY_COUNT             (sizeof config_keys / sizeof config_keys[0])
#define CONFIG_PROPERTIES_PREFIX     "kafka.properties."
#define CONFIG_ENV_PREFIX            "STOCKD_"
#define CONFIG_ENV_PROPERTIES_PREFIX "STOCKD_KAFKA_PROPERTIES_"

/* Room for "STOCKD_" plus the longest key name, upper-cased. */
#define CONFIG_ENV_NAME_BYTES_MAX 64

/* Quoted values in messages are cut to this many bytes: enough to recognise, short enough to fit. */
#define CONFIG_QUOTE_BYTES_MAX 64

_Static_assert(STOCKD_MESSAGE_BYTES_MAX >= 1024, "http.body_bytes_max range is not empty");
_Static_assert(STOCKD_PARTITIONS_MAX <= INT32_MAX, "kafka.partitions fits its int32_t field");

static const struct {
    const char *name;
    enum stockd_role role;
} config_role_names[] = {
    {"api", STOCKD_ROLE_API},         {"router", STOCKD_ROLE_ROUTER},
    {"handler", STOCKD_ROLE_HANDLER}, {"projector", STOCKD_ROLE_PROJECTOR},
    {"orders", STOCKD_ROLE_ORDERS},
};

#define CONFIG_ROLE_COUNT (sizeof config_role_names / sizeof config_role_names[0])

/* Properties stockd sets itself for exactly-once and topology; a passthrough value would silently break
 * those guarantees, so it is refused with the reason. */
static const struct {
    const char *name;
    const char *reason;
} config_reserved_properties[] = {
    {"bootstrap.servers", "use kafka.bootstrap"},
    {"transactional.id", "stockd derives it from instance.id"},
    {"group.id", "stockd names its consumer groups from kafka.topic_prefix"},
    {"enable.idempotence", "stockd sets it for exactly-once"},
    {"isolation.level", "stockd reads read_committed for exactly-once"},
    {"enable.auto.commit", "stockd commits offsets in its transactions"},
    {"partitioner", "stockd uses murmur2_random to match Java clients"},
};

/* Substrings (any case) of property names whose values are secrets. */
static const char *const config_secret_words[] = {"password", "secret", "sasl.oauthbearer.config", "key"};

/* ---- messages ---------------------------------------------------------------------------------------- */

static void config_error_set(struct stockd_config_error *error, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats error->message. A message that does not fit is cut and ends in "..." (it is for people). */
static void config_error_set(struct stockd_config_error *error, const char *format, ...)
{
    assert(error != NULL);
    assert(format != NULL);
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(error->message, sizeof error->message, format, arguments);
    va_end(arguments);
    if (written < 0) {
        snprintf(error->message, sizeof error->message, "(error message could not be formatted)");
    } else if ((size_t)written >= sizeof error->message) {
        memcpy(error->message + sizeof error->message - 4, "...", 4);
    }
}

static int config_fail(struct stockd_config_error *error, const char *key, const char *source,
                       const char *format, ...) __attribute__((format(printf, 4, 5)));

/* Sets `<key>: <reason>[ (from <source>)]` and returns -1, so callers can `return config_fail(...)`. */
static int config_fail(struct stockd_config_error *error, const char *key, const char *source,
                       const char *format, ...)
{
    assert(key != NULL);
    char reason[sizeof error->message];
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(reason, sizeof reason, format, arguments);
    va_end(arguments);
    if (written < 0) snprintf(reason, sizeof reason, "invalid");
    /* A cut reason is marked by config_error_set, which cuts the whole message. */
    config_error_set(error, "%s: %s%s%s%s", key, reason, source != NULL ? " (from " : "",
                     source != NULL ? source : "", source != NULL ? ")" : "");
    return -1;
}

/* Writes value[0..length) into buffer as a double-quoted string for a message: bytes outside printable
 * ASCII become '?', and more than CONFIG_QUOTE_BYTES_MAX bytes are cut with "...". Returns buffer. */
static const char *config_quote(const char *value, size_t length, char *buffer, size_t buffer_bytes)
{
    assert(buffer_bytes >= CONFIG_QUOTE_BYTES_MAX + 6);
    size_t shown = length < CONFIG_QUOTE_BYTES_MAX ? length : CONFIG_QUOTE_BYTES_MAX;
    size_t at = 0;
    buffer[at++] = '"';
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)value[i];
        buffer[at++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (shown < length) {
        memcpy(buffer + at, "...", 3);
        at += 3;
    }
    buffer[at++] = '"';
    buffer[at] = '\0';
    return buffer;
}

#define CONFIG_QUOTE_BUFFER_BYTES (CONFIG_QUOTE_BYTES_MAX + 8)

/* ---- string formats ---------------------------------------------------------------------------------- */

static bool config_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Returns the index of the first byte of value not in [A-Za-z0-9] or extra, or -1 when all are. */
static long config_charset_violation(const char *value, const char *extra)
{
    for (size_t i = 0; value[i] != '\0'; i++) {
        if (!config_is_alnum(value[i]) && strchr(extra, value[i]) == NULL) return (long)i;
    }
    return -1;
}

/* Checks the identifier charset [A-Za-z0-9._:-] (Kafka keys, transactional ids, URL segments). */
static int config_check_identifier(const char *value, char *reason, size_t reason_bytes)
{
    long at = config_charset_violation(value, "._:-");
    if (at < 0) return 0;
    snprintf(reason, reason_bytes, "byte %ld is not in [A-Za-z0-9._:-]", at + 1);
    return -1;
}

/* Checks Kafka's topic-name charset [A-Za-z0-9._-]: the prefix becomes part of every topic name. */
static int config_check_topic_prefix(const char *value, char *reason, size_t reason_bytes)
{
    long at = config_charset_violation(value, "._-");
    if (at < 0) return 0;
    snprintf(reason, reason_bytes, "byte %ld is not in [A-Za-z0-9._-] (Kafka topic characters)", at + 1);
    return -1;
}

/* Checks catalog.source_precedence: the list the catalog view and stockctl verify parse the same way. */
static int config_check_source_precedence(const char *value, char *reason, size_t reason_bytes)
{
    struct catalog_precedence precedence;
    return catalog_precedence_parse(value, &precedence, reason, reason_bytes);
}

static int config_check_log_level(const char *value, char *reason, size_t reason_bytes)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcmp(value, levels[i]) == 0) return 0;
    }
    char quoted[CONFIG_QUOTE_BUFFER_BYTES];
    snprintf(reason, reason_bytes, "must be one of error, warn, info, debug, got %s",
             config_quote(value, strlen(value), quoted, sizeof quoted));
    return -1;
}

/* Checks host:port with a port in 1..65535; IPv6 hosts in brackets. Commas and spaces are refused: the
 * HTTP server reads them as list separators. */
static int config_check_listen(const char *value, char *reason, size_t reason_bytes)
{
    char quoted[CONFIG_QUOTE_BUFFER_BYTES];
    config_quote(value, strlen(value), quoted, sizeof quoted);
    const char *colon = strrchr(value, ':');
    size_t host_length = colon != NULL ? (size_t)(colon - value) : 0;
    const char *port = colon != NULL ? colon + 1 : "";
    size_t port_length = strlen(port);
    int64_t port_number = 0;
    if (colon == NULL || host_length == 0 ||
        number_integer_parse(port, port_length, 1, 65535, &port_number) != NUMBER_OK) {
        snprintf(reason, reason_bytes, "must be host:port with a port in [1, 65535], got %s", quoted);
        return -1;
    }
    if (strcspn(value, ", \t\r\n") != strlen(value)) {
        snprintf(reason, reason_bytes, "must be one host:port without commas or spaces, got %s", quoted);
        return -1;
    }
    bool bracketed = value[0] == '[' && value[host_length - 1] == ']';
    if (memchr(value, ':', host_length) != NULL && !bracketed) {
        snprintf(reason, reason_bytes, "an IPv6 host needs brackets, like [::1]:8080, got %s", quoted);
        return -1;
    }
    return 0;
}

static int config_check_api_keys(const char *value, char *reason, size_t reason_bytes)
{
    struct stockd_api_key keys[STOCKD_API_KEYS_MAX];
    return stockd_config_api_keys_parse(value, keys, reason, reason_bytes) < 0 ? -1 : 0;
}

/* The role names of http.api_keys, indexed by their level. */
static const char *const config_api_role_names[] = {NULL, "read", "write", "admin"};

/* Parses one role:key[:not_after] entry of length bytes. Returns 0 or -1 with a reason (never the key). */
static int config_api_key_parse(const char *entry, size_t length, size_t index, struct stockd_api_key *out,
                                char *reason, size_t reason_bytes)
{
    const char *colon = memchr(entry, ':', length);
    size_t role_length = colon != NULL ? (size_t)(colon - entry) : length;
    memset(out, 0, sizeof(*out));
    for (unsigned level = 1; level < sizeof config_api_role_names / sizeof config_api_role_names[0];
         level++) {
        const char *name = config_api_role_names[level];
        if (strlen(name) == role_length && memcmp(name, entry, role_length) == 0) out->role = level;
    }
    if (colon == NULL || out->role == 0) {
        snprintf(reason, reason_bytes,
                 "entry %zu: must be role:key[:not_after_unix_s] with role read, write "
                 "or admin",
                 index + 1);
        return -1;
    }
    const char *key = colon + 1;
    const char *end = entry + length;
    const char *second = memchr(key, ':', (size_t)(end - key));
    size_t key_length = (size_t)((second != NULL ? second : end) - key);
    static const char key_charset[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~+/=-";
    size_t valid = 0;
    while (valid < key_length && key[valid] != '\0' && strchr(key_charset, key[valid]) != NULL)
        valid++;
    if (key_length < STOCKD_API_KEY_BYTES_MIN || key_length > STOCKD_API_KEY_BYTES_MAX ||
        valid != key_length) {
        snprintf(reason, reason_bytes, "entry %zu: the key must be %d to %d characters of [A-Za-z0-9._~+/=-]",
                 index + 1, STOCKD_API_KEY_BYTES_MIN, STOCKD_API_KEY_BYTES_MAX);
        return -1;
    }
    memcpy(out->key, key, key_length);
    out->key[key_length] = '\0';
    if (second == NULL) return 0;
    const char *digits = second + 1;
    int64_t not_after = 0;
    if (number_integer_parse(digits, (size_t)(end - digits), 1, INT64_C(999999999999), &not_after) !=
        NUMBER_OK) {
        snprintf(reason, reason_bytes, "entry %zu: not_after must be Unix seconds (1 to 12 digits)",
                 index + 1);
        return -1;
    }
    out->not_after_s = not_after;
    return 0;
}

int stockd_config_api_keys_parse(const char *text, struct stockd_api_key out[STOCKD_API_KEYS_MAX],
                                 char *reason, size_t reason_bytes)
{
    assert(text != NULL && out != NULL);
    if (text[0] == '\0') return 0;
    int count = 0;
    const char *entry = text;
    for (;;) {
        const char *comma = strchr(entry, ',');
        size_t length = comma != NULL ? (size_t)(comma - entry) : strlen(entry);
        if (count == STOCKD_API_KEYS_MAX) {
            snprintf(reason, reason_bytes, "more than %d keys", STOCKD_API_KEYS_MAX);
            return -1;
        }
        if (config_api_key_parse(entry, length, (size_t)count, &out[count], reason, reason_bytes) != 0)
            return -1;
        for (int i = 0; i < count; i++) {
            if (strcmp(out[i].key, out[count].key) == 0) {
                snprintf(reason, reason_bytes, "entry %d: the same key as entry %d", count + 1, i + 1);
                return -1;
            }
        }
        count++;
        if (comma == NULL) break;
        entry = comma + 1;
    }
    return count;
}

/* ---- table lookups ----------------------------------------------------------------------------------- */

/* Returns the key named name exactly (case-sensitive), or NULL. */
static const struct config_key *config_key_find(const char *name)
{
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (strcmp(config_keys[i].name, name) == 0) return &config_keys[i];
    }
    return NULL;
}

/* True when path names a section of the file, an object holding keys: "kafka" for "kafka.bootstrap". */
static bool config_is_section(const char *path)
{
    size_t length = strlen(path);
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const char *name = config_keys[i].name;
        if (strncmp(name, path, length) == 0 && name[length] == '.') return true;
    }
    return false;
}

/* Writes STOCKD_<NAME> for a key: upper case, dots as underscores. */
static void config_env_name(const char *key_name, char *buffer, size_t buffer_bytes)
{
    int written = snprintf(buffer, buffer_bytes, CONFIG_ENV_PREFIX "%s", key_name);
    assert(written > 0 && (size_t)written < buffer_bytes); /* key names are ours and short */
    for (char *c = buffer; *c != '\0'; c++) {
        if (*c == '.') *c = '_';
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
    }
}

static void *config_field(struct stockd_config *config, const struct config_key *key)
{
    return (char *)config + key->offset;
}

static const void *config_field_const(const struct stockd_config *config, const struct config_key *key)
{
    return (const char *)config + key->offset;
}

static int64_t config_int_load(const struct stockd_config *config, const struct config_key *key)
{
    assert(key->type == CONFIG_INT);
    if (key->size == sizeof(int32_t)) {
        int32_t value;
        memcpy(&value, config_field_const(config, key), sizeof value);
        return value;
    }
    assert(key->size == sizeof(int64_t));
    int64_t value;
    memcpy(&value, config_field_const(config, key), sizeof value);
    return value;
}

/* Stores value, already checked against [key->min, key->max], into the key's int32_t or int64_t. */
static void config_int_store(struct stockd_config *config, const struct config_key *key, int64_t value)
{
    assert(key->type == CONFIG_INT);
    assert(value >= key->min && value <= key->max);
    if (key->size == sizeof(int32_t)) {
        assert(key->max <= INT32_MAX && key->min >= INT32_MIN);
        int32_t narrow = (int32_t)value;
        memcpy(config_field(config, key), &narrow, sizeof narrow);
        return;
    }
    assert(key->size == sizeof(int64_t));
    memcpy(config_field(config, key), &value, sizeof value);
}

/* ---- typed setters (every source ends here) ---------------------------------------------------------- */

/* Checks value for a string key: non-empty, fits the field (never truncated), passes the key's format. */
static int config_string_check(const struct config_key *key, const char *value, const char *source,
                               struct stockd_config_error *error)
{
    assert(key->type == CONFIG_STRING);
    size_t length = strlen(value);
    if (length == 0 && key->empty_ok) return 0;
    if (length == 0) return config_fail(error, key->name, source, "empty");
    if (length >= key->size) {
        return config_fail(error, key->name, source, "longer than %zu bytes (got %zu)", key->size - 1,
                           length);
    }
    char reason[256];
    if (key->check != NULL && key->check(value, reason, sizeof reason) != 0) {
        return config_fail(error, key->name, source, "%s", reason);
    }
    return 0;
}

static int config_string_set(struct stockd_config *config, const struct config_key *key, const char *value,
                             const char *source, struct stockd_config_error *error)
{
    if (config_string_check(key, value, source, error) != 0) return -1;
    memcpy(config_field(config, key), value, strlen(value) + 1);
    return 0;
}

/* Parses a comma-separated role list ("api, router"); spaces around names are ignored. Empty lists,
 * empty names, unknown names and repeats are refused. */
static int config_roles_parse(const char *text, const char *source, unsigned *roles_out,
                              struct stockd_config_error *error)
{
    char quoted[CONFIG_QUOTE_BUFFER_BYTES];
    if (text[strspn(text, " ")] == '\0') return config_fail(error, "roles", source, "empty");
    unsigned roles = 0;
    for (const char *segment = text;; segment++) {
        size_t length = strcspn(segment, ",");
        const char *end = segment + length;
        const char *name = segment + strspn(segment, " ");
        size_t name_length = name < end ? (size_t)(end - name) : 0;
        while (name_length > 0 && name[name_length - 1] == ' ')
            name_length--;
        if (name_length == 0) {
            return config_fail(error, "roles", source, "empty role name in %s",
                               config_quote(text, strlen(text), quoted, sizeof quoted));
        }
        size_t found = 0;
        while (found < CONFIG_ROLE_COUNT &&
               !(strlen(config_role_names[found].name) == name_length &&
                 memcmp(config_role_names[found].name, name, name_length) == 0)) {
            found++;
        }
        config_quote(name, name_length, quoted, sizeof quoted);
        if (found == CONFIG_ROLE_COUNT) {
            return config_fail(error, "roles", source,
                               "unknown role %s (expected api, router, handler, projector or orders)",
                               quoted);
        }
        if ((roles & config_role_names[found].role) != 0) {
            return config_fail(error, "roles", source, "role %s listed twice", quoted);
        }
        roles |= config_role_names[found].role;
        if (*end == '\0') break;
        segment = end;
    }
    *roles_out = roles;
    return 0;
}

/* Checks a kafka.properties name: non-empty, fits, librdkafka's charset, not one stockd sets itself. */
static int config_property_name_check(const char *name, const char *source, struct stockd_config_error *error)
{
    char quoted[CONFIG_QUOTE_BUFFER_BYTES];
    size_t length = strlen(name);
    if (length == 0) return config_fail(error, "kafka.properties", source, "empty property name");
    if (length >= STOCKD_CONFIG_STRING_BYTES_MAX || config_charset_violation(name, "._-") >= 0) {
        return config_fail(
            error, "kafka.properties", source, "property name %s is not [A-Za-z0-9._-] of at most %d bytes",
            config_quote(name, length, quoted, sizeof quoted), STOCKD_CONFIG_STRING_BYTES_MAX - 1);
    }
    for (size_t i = 0; i < sizeof config_reserved_properties / sizeof config_reserved_properties[0]; i++) {
        if (strcmp(name, config_reserved_properties[i].name) == 0) {
            return config_fail(error, "kafka.properties", source, "%s is set by stockd: %s", name,
                               config_reserved_properties[i].reason);
        }
    }
    return 0;
}

/* Sets one kafka property: a name already present gets the new value (later sources win); a new name
 * is appended, at most STOCKD_CONFIG_PROPERTIES_MAX of them. */
static int config_property_set(struct stockd_config *config, const char *name, const char *value,
                               const char *source, struct stockd_config_error *error)
{
    assert(config->kafka_property_count <= STOCKD_CONFIG_PROPERTIES_MAX);
    if (config_property_name_check(name, source, error) != 0) return -1;
    size_t value_length = strlen(value);
    if (value_length >= STOCKD_CONFIG_STRING_BYTES_MAX) {
        return config_fail(error, "kafka.properties", source, "value of %s longer than %d bytes (got %zu)",
                           name, STOCKD_CONFIG_STRING_BYTES_MAX - 1, value_length);
    }
    size_t index = 0;
    while (index < config->kafka_property_count && strcmp(config->kafka_properties[index].name, name) != 0) {
        index++;
    }
    if (index == STOCKD_CONFIG_PROPERTIES_MAX) {
        return config_fail(error, "kafka.properties", source, "more than %d properties (adding %s)",
                           STOCKD_CONFIG_PROPERTIES_MAX, name);
    }
    struct stockd_kafka_property *property = &config->kafka_properties[index];
    memcpy(property->name, name, strlen(name) + 1);
    memcpy(property->value, value, value_length + 1);
    if (index == config->kafka_property_count) config->kafka_property_count++;
    return 0;
}

/* ---- JSON values (the file, and kafka.properties given as a JSON object in text) --------------------- */

static const char *config_json_type_name(const cJSON *item)
{
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNull(item)) return "null";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "an invalid value";
}

/* Returns the first sibling before item with the same name (exact bytes), or NULL. cJSON keeps duplicate
 * keys as siblings; lookups would silently take the first. */
static const cJSON *config_json_earlier_twin(const cJSON *object, const cJSON *item)
{
    for (const cJSON *sibling = object->child; sibling != item; sibling = sibling->next) {
        if (strcmp(sibling->string, item->string) == 0) return sibling;
    }
    return NULL;
}

/* Applies a JSON object of property name -> string value. Duplicate names and non-string values are
 * refused. The walk stops at the first error, so the duplicate scan is bounded by the property limit. */
static int config_properties_apply_json(struct stockd_config *config, const cJSON *object, const char *source,
                                        struct stockd_config_error *error)
{
    if (!cJSON_IsObject(object)) {
        return config_fail(error, "kafka.properties", source, "must be an object of name: string, got %s",
                           config_json_type_name(object));
    }
    for (const cJSON *item = object->child; item != NULL; item = item->next) {
        char quoted[CONFIG_QUOTE_BUFFER_BYTES];
        config_quote(item->string, strlen(item->string), quoted, sizeof quoted);
        if (config_json_earlier_twin(object, item) != NULL) {
            return config_fail(error, "kafka.properties", source, "duplicate property %s", quoted);
        }
        if (!cJSON_IsString(item)) {
            return config_fail(error, "kafka.properties", source, "value of %s must be a string, got %s",
                               quoted, config_json_type_name(item));
        }
        if (config_property_set(config, item->string, item->valuestring, source, error) != 0) return -1;
    }
    return 0;
}

/* Converts a JSON number to an integer key's value: finite, integral and in range (valueint saturates
 * and is never read). */
static int config_int_apply_json(struct stockd_config *config, const struct config_key *key,
                                 const cJSON *item, const char *source, struct stockd_config_error *error)
{
    if (!cJSON_IsNumber(item)) {
        return config_fail(error, key->name, source, "must be an integer in [%lld, %lld], got %s",
                           (long long)key->min, (long long)key->max, config_json_type_name(item));
    }
    double value = item->valuedouble;
    if (!isfinite(value) || floor(value) != value || value < (double)key->min || value > (double)key->max) {
        return config_fail(error, key->name, source, "must be an integer in [%lld, %lld], got %.15g",
                           (long long)key->min, (long long)key->max, value);
    }
    config_int_store(config, key, (int64_t)value);
    return 0;
}

/* Applies one JSON value of the file to key. Returns 0, or -1 with *error naming key and source. */
static int config_apply_json(struct stockd_config *config, const struct config_key *key, const cJSON *item,
                             const char *source, struct stockd_config_error *error)
{
    switch (key->type) {
    case CONFIG_INT:
        return config_int_apply_json(config, key, item, source, error);
    case CONFIG_BOOL:
        if (!cJSON_IsBool(item)) {
            return config_fail(error, key->name, source, "must be true or false, got %s",
                               config_json_type_name(item));
        }
        *(bool *)config_field(config, key) = cJSON_IsTrue(item);
        return 0;
    case CONFIG_PROPERTIES:
        return config_properties_apply_json(config, item, source, error);
    case CONFIG_STRING:
    case CONFIG_ROLES:
        if (!cJSON_IsString(item)) {
            return config_fail(error, key->name, source, "must be a string, got %s",
                               config_json_type_name(item));
        }
        if (key->type == CONFIG_STRING)
            return config_string_set(config, key, item->valuestring, source, error);
        return config_roles_parse(item->valuestring, source, config_field(config, key), error);
    }
    assert(!"unreachable: unknown config type");
    return -1;
}

/* ---- JSON text (file contents, or kafka.properties as text) ------------------------------------------ */

/* Returns the offset of the first "\u0000" escape inside a JSON string of text, or -1. cJSON decodes it
 * into a NUL that would silently cut the C string. */
static long config_json_nul_escape(const char *text, size_t length)
{
    bool in_string = false;
    for (size_t i = 0; i < length; i++) {
        if (!in_string) {
            in_string = text[i] == '"';
        } else if (text[i] == '"') {
            in_string = false;
        } else if (text[i] == '\\' && i + 1 < length) {
            if (text[i + 1] == 'u' && i + 6 <= length && memcmp(text + i + 2, "0000", 4) == 0) return (long)i;
            i++; /* skip the escaped character, so \\ and \" do not confuse the scan */
        }
    }
    return -1;
}

/* Writes "line L, column C (byte offset O)" for offset into text. */
static void config_text_position(const char *text, size_t offset, char *buffer, size_t buffer_bytes)
{
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    snprintf(buffer, buffer_bytes, "line %zu, column %zu (byte offset %zu)", line, offset - line_start + 1,
             offset);
}

/* Parses text[0..length) (NUL at text[length]) as one JSON value: no NUL bytes, no \u0000, no trailing
 * garbage. Returns the tree (caller deletes), or NULL with the reason and position written to reason. */
static cJSON *config_json_parse(const char *text, size_t length, char *reason, size_t reason_bytes)
{
    assert(text[length] == '\0');
    char position[96];
    const char *nul = memchr(text, '\0', length);
    long escape = config_json_nul_escape(text, length);
    if (nul != NULL || escape >= 0) {
        size_t offset = nul != NULL ? (size_t)(nul - text) : (size_t)escape;
        config_text_position(text, offset, position, sizeof position);
        snprintf(reason, reason_bytes, "NUL character (%s) at %s", nul != NULL ? "byte 0" : "\\u0000",
                 position);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, length + 1, &end, true);
    if (root == NULL) {
        size_t offset = end != NULL && end >= text && end <= text + length ? (size_t)(end - text) : 0;
        config_text_position(text, offset, position, sizeof position);
        snprintf(reason, reason_bytes, "malformed JSON at %s", position);
    }
    return root;
}

/* ---- the file ---------------------------------------------------------------------------------------- */

/* Reads the regular file at path whole into a malloc'd buffer with a NUL after its length bytes.
 * Returns 0, or -1 with *error set (unreadable, not a regular file, larger than the limit). */
static int config_file_read(const char *path, char **text_out, size_t *length_out,
                            struct stockd_config_error *error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* O_NONBLOCK: a FIFO must not hang us */
    if (fd < 0) {
        config_error_set(error, "config file %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat status;
    char *text = NULL;
    size_t length = 0;
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        config_error_set(error, "config file %s: not a regular file", path);
        goto out_close;
    }
    text = malloc(STOCKD_CONFIG_FILE_BYTES_MAX + 2);
    if (text == NULL) {
        config_error_set(error, "config file %s: out of memory", path);
        goto out_close;
    }
    while (length <= STOCKD_CONFIG_FILE_BYTES_MAX) { /* reads one byte past the limit to see it */
        ssize_t got = read(fd, text + length, STOCKD_CONFIG_FILE_BYTES_MAX + 1 - length);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            config_error_set(error, "config file %s: cannot read: %s", path, strerror(errno));
            goto out_free;
        }
        if (got == 0) break;
        length += (size_t)got;
    }
    if (length > STOCKD_CONFIG_FILE_BYTES_MAX) {
        config_error_set(error, "config file %s: larger than %d bytes", path, STOCKD_CONFIG_FILE_BYTES_MAX);
        goto out_free;
    }
    text[length] = '\0';
    close(fd);
    *text_out = text;
    *length_out = length;
    return 0;
out_free:
    free(text);
out_close:
    close(fd);
    return -1;
}

/* Applies the members of one object of the file; prefix is its dotted path ("" at the top). Sections
 * nest ({"kafka": {"bootstrap": ...}}); unknown, duplicate and dotted names are refused. */
static int config_file_walk(struct stockd_config *config, const cJSON *object, const char *prefix,
                            const char *path, const char *source, struct stockd_config_error *error)
{
    for (const cJSON *item = object->child; item != NULL; item = item->next) {
        char dotted[128], quoted[CONFIG_QUOTE_BUFFER_BYTES];
        int written =
            snprintf(dotted, sizeof dotted, "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", item->string);
        bool fits = written > 0 && (size_t)written < sizeof dotted; /* a longer name is no key */
        config_quote(dotted, strlen(dotted), quoted, sizeof quoted);
        if (config_json_earlier_twin(object, item) != NULL) {
            config_error_set(error, "config file %s: duplicate key %s", path, quoted);
            return -1;
        }
        const struct config_key *key =
            fits && strchr(item->string, '.') == NULL ? config_key_find(dotted) : NULL;
        if (key != NULL) {
            if (config_apply_json(config, key, item, source, error) != 0) return -1;
        } else if (fits && strchr(item->string, '.') == NULL && config_is_section(dotted)) {
            if (!cJSON_IsObject(item)) {
                config_error_set(error, "config file %s: %s must be an object, got %s", path, quoted,
                                 config_json_type_name(item));
                return -1;
            }
            if (config_file_walk(config, item, dotted, path, source, error) != 0) return -1;
        } else {
            config_error_set(error, "config file %s: unknown key %s%s", path, quoted,
                             strchr(item->string, '.') != NULL
                                 ? " (nest sections: {\"kafka\": {\"bootstrap\": ...}})"
                                 : "");
            return -1;
        }
    }
    return 0;
}

/* Refuses a number with a fraction (1.5, 1e-400) anywhere in the file, while its text is still seen: cJSON
 * reads 1e-400 as 0 and 1.0000000000000001 as 1, and every number of the file is an integer key's. Returns
 * 0, or -1 with *error naming the key (with its range) or the position. */
static int config_file_fraction_refuse(const char *text, size_t length, const char *path,
                                       struct stockd_config_error *error)
{
    struct json_scan_result scan;
    if (json_scan(text, length, STOCKD_JSON_DEPTH_MAX, &scan) == 0 || scan.problem != JSON_SCAN_NOT_INTEGER)
        return 0; /* other problems are cJSON's to report */
    size_t token_length = strspn(text + scan.offset, "0123456789+-.eE");
    int shown = token_length > 32 ? 32 : (int)token_length;
    const struct config_key *key = config_key_find(scan.path);
    if (key != NULL && key->type == CONFIG_INT) {
        config_error_set(error, "%s: must be an integer in [%lld, %lld], got %.*s (from config file %s)",
                         key->name, (long long)key->min, (long long)key->max, shown, text + scan.offset,
                         path);
    } else {
        config_error_set(error, "config file %s: %s: must be an integer, got %.*s", path, scan.path, shown,
                         text + scan.offset);
    }
    return -1;
}

/* Reads, parses and applies the JSON file at path over *config. Returns 0 or -1 with *error set. */
static int config_file_apply(struct stockd_config *config, const char *path,
                             struct stockd_config_error *error)
{
    char *text = NULL;
    size_t length = 0;
    if (config_file_read(path, &text, &length, error) != 0) return -1;
    if (config_file_fraction_refuse(text, length, path, error) != 0) {
        free(text);
        return -1;
    }
    char reason[160];
    cJSON *root = config_json_parse(text, length, reason, sizeof reason);
    free(text);
    if (root == NULL) {
        config_error_set(error, "config file %s: %s", path, reason);
        return -1;
    }
    char source[sizeof error->message];
    snprintf(source, sizeof source, "config file %s", path); /* cut only in a message, marked there */
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        config_error_set(error, "%s: top level must be a JSON object, got %s", source,
                         config_json_type_name(root));
        rc = -1;
    } else {
        rc = config_file_walk(config, root, "", path, source, error);
    }
    cJSON_Delete(root);
    return rc;
}

/* ---- text values (environment, flags, stockd_config_set) --------------------------------------------- */

/* Parses a whole decimal integer ("-12"; no spaces, '+', leading zeros, fractions or exponents): number.h. */
static bool config_int_parse(const char *text, int64_t *value_out)
{
    return number_integer_parse_string(text, INT64_MIN, INT64_MAX, value_out) == NUMBER_OK;
}

/* Applies kafka.properties given as text: a JSON object {"name": "value"} merged into the current set. */
static int config_properties_apply_text(struct stockd_config *config, const char *text, const char *source,
                                        struct stockd_config_error *error)
{
    char reason[160];
    cJSON *root = config_json_parse(text, strlen(text), reason, sizeof reason);
    if (root == NULL) return config_fail(error, "kafka.properties", source, "%s", reason);
    int rc = config_properties_apply_json(config, root, source, error);
    cJSON_Delete(root);
    return rc;
}

/* Applies one textual value to key; source says where it came from (NULL: nowhere to name). *config is
 * unchanged on error, except that kafka.properties keeps the properties applied before the bad one. */
static int config_apply_text(struct stockd_config *config, const struct config_key *key, const char *value,
                             const char *source, struct stockd_config_error *error)
{
    char quoted[CONFIG_QUOTE_BUFFER_BYTES];
    config_quote(value, strlen(value), quoted, sizeof quoted);
    int64_t number = 0;
    switch (key->type) {
    case CONFIG_STRING:
        return config_string_set(config, key, value, source, error);
    case CONFIG_INT:
        if (!config_int_parse(value, &number) || number < key->min || number > key->max) {
            return config_fail(error, key->name, source, "must be an integer in [%lld, %lld], got %s",
                               (long long)key->min, (long long)key->max, quoted);
        }
        config_int_store(config, key, number);
        return 0;
    case CONFIG_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            return config_fail(error, key->name, source, "must be true or false, got %s", quoted);
        }
        *(bool *)config_field(config, key) = strcmp(value, "true") == 0;
        return 0;
    case CONFIG_ROLES:
        return config_roles_parse(value, source, config_field(config, key), error);
    case CONFIG_PROPERTIES:
        return config_properties_apply_text(config, value, source, error);
    }
    assert(!"unreachable: unknown config type");
    return -1;
}

/* Applies key=value where key is a table key or kafka.properties.<name>. Unknown keys are refused. */
static int config_set_from(struct stockd_config *config, const char *key_name, const char *value,
                           const char *source, struct stockd_config_error *error)
{
    if (strncmp(key_name, CONFIG_PROPERTIES_PREFIX, strlen(CONFIG_PROPERTIES_PREFIX)) == 0) {
        return config_property_set(config, key_name + strlen(CONFIG_PROPERTIES_PREFIX), value, source, error);
    }
    const struct config_key *key = config_key_find(key_name);
    if (key == NULL) {
        char quoted[CONFIG_QUOTE_BUFFER_BYTES];
        config_error_set(error, "unknown key %s",
                         config_quote(key_name, strlen(key_name), quoted, sizeof quoted));
        return -1;
    }
    return config_apply_text(config, key, value, source, error);
}

int stockd_config_set(struct stockd_config *config, const char *key, const char *value,
                      struct stockd_config_error *error)
{
    assert(config != NULL && error != NULL);
    assert(key != NULL && value != NULL);
    return config_set_from(config, key, value, NULL, error);
}

/* ---- the environment --------------------------------------------------------------------------------- */

/* Returns the value of the first name=value in envp, or NULL. */
static const char *config_env_get(char **envp, const char *name)
{
    size_t length = strlen(name);
    for (char **entry = envp; *entry != NULL; entry++) {
        if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return *entry + length + 1;
    }
    return NULL;
}

/* Applies STOCKD_<KEY> for every key. Per-name property variables are refused: their dots cannot be
 * told from underscores, so properties come as STOCKD_KAFKA_PROPERTIES='{"name": "value"}'. Other
 * STOCKD_* variables are not ours to judge and are ignored. */
static int config_env_apply(struct stockd_config *config, char **envp, struct stockd_config_error *error)
{
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        char name[CONFIG_ENV_NAME_BYTES_MAX];
        config_env_name(config_keys[i].name, name, sizeof name);
        const char *value = config_env_get(envp, name);
        if (value != NULL && config_apply_text(config, &config_keys[i], value, name, error) != 0) return -1;
    }
    for (char **entry = envp; *entry != NULL; entry++) {
        if (strncmp(*entry, CONFIG_ENV_PROPERTIES_PREFIX, strlen(CONFIG_ENV_PROPERTIES_PREFIX)) == 0) {
            size_t name_length = strcspn(*entry, "=");
            config_error_set(
                error,
                "%.*s: kafka properties cannot be set one by one from the environment (dots "
                "and underscores look alike); use STOCKD_KAFKA_PROPERTIES='{\"name\": \"value\"}', "
                "the config file or --kafka.properties.<name>=VALUE",
                (int)(name_length < 128 ? name_length : 128), *entry);
            return -1;
        }
    }
    return 0;
}

/* ---- flags ------------------------------------------------------------------------------------------- */

enum config_flag_kind {
    CONFIG_FLAG_MAIN,   /* --help, --version, --check-config: main's business, skipped */
    CONFIG_FLAG_CONFIG, /* --config FILE */
    CONFIG_FLAG_KEY,    /* --<key>=VALUE, --<key> VALUE, --<bool key>, --embedded-kafka */
};

struct config_flag {
    enum config_flag_kind kind;
    char name[STOCKD_CONFIG_STRING_BYTES_MAX + 32]; /* key name, without "--" and "=VALUE" */
    const char *value;                              /* into argv, or "true"; NULL for main's flags */
};

/* True when name takes no separate argument: main's flags, and bool keys (`--kafka.embedded` alone). */
static bool config_flag_is_bare(const char *name, enum config_flag_kind *kind_out)
{
    static const char *const main_flags[] = {"help", "version", "check-config", "embedded-kafka"};
    for (size_t i = 0; i < sizeof main_flags / sizeof main_flags[0]; i++) {
        if (strcmp(name, main_flags[i]) == 0) {
            *kind_out = i < 3 ? CONFIG_FLAG_MAIN : CONFIG_FLAG_KEY;
            return true;
        }
    }
    const struct config_key *key = config_key_find(name);
    *kind_out = CONFIG_FLAG_KEY;
    return key != NULL && key->type == CONFIG_BOOL;
}

/* Reads the flag at argv[*index] (and its value, if separate), advancing *index past both. Returns 0,
 * or -1 with *error set for positional arguments, unknown flags and missing values. */
static int config_flag_next(int argc, char **argv, int *index, struct config_flag *flag,
                            struct stockd_config_error *error)
{
    char quoted[CONFIG_QUOTE_BUFFER_BYTES];
    const char *argument = argv[*index];
    *index += 1;
    if (strncmp(argument, "--", 2) != 0 || argument[2] == '\0') {
        config_error_set(error, "unexpected argument %s (flags are --key=value; see --help)",
                         config_quote(argument, strlen(argument), quoted, sizeof quoted));
        return -1;
    }
    const char *equals = strchr(argument + 2, '=');
    size_t name_length = equals != NULL ? (size_t)(equals - argument - 2) : strlen(argument + 2);
    config_quote(argument, name_length + 2, quoted, sizeof quoted); /* the flag, never its value */
    bool properties =
        strncmp(argument + 2, CONFIG_PROPERTIES_PREFIX, strlen(CONFIG_PROPERTIES_PREFIX)) == 0 &&
        name_length > strlen(CONFIG_PROPERTIES_PREFIX);
    if (name_length >= sizeof flag->name) goto unknown;
    memcpy(flag->name, argument + 2, name_length);
    flag->name[name_length] = '\0';
    bool bare = config_flag_is_bare(flag->name, &flag->kind);
    if (strcmp(flag->name, "config") == 0) flag->kind = CONFIG_FLAG_CONFIG;
    if (!bare && !properties && flag->kind == CONFIG_FLAG_KEY && config_key_find(flag->name) == NULL)
        goto unknown;
    if (flag->kind == CONFIG_FLAG_MAIN || strcmp(flag->name, "embedded-kafka") == 0) {
        if (equals != NULL) {
            config_error_set(error, "flag %s takes no value", quoted);
            return -1;
        }
        if (flag->kind == CONFIG_FLAG_KEY) snprintf(flag->name, sizeof flag->name, "kafka.embedded");
        flag->value = flag->kind == CONFIG_FLAG_KEY ? "true" : NULL;
        return 0;
    }
    if (equals != NULL) {
        flag->value = equals + 1;
    } else if (bare && flag->kind == CONFIG_FLAG_KEY) {
        flag->value = "true";
    } else if (*index < argc) {
        flag->value = argv[*index];
        *index += 1;
    } else {
        config_error_set(error, "flag %s: missing value", quoted);
        return -1;
    }
    return 0;
unknown:
    config_error_set(error, "unknown flag %s (see --help)", quoted);
    return -1;
}

int stockd_config_flag_span(int argc, char **argv, int index)
{
    assert(argv != NULL && index >= 0 && index < argc);
    struct config_flag flag;
    struct stockd_config_error error;
    int next = index;
    if (config_flag_next(argc, argv, &next, &flag, &error) != 0) return 0;
    return next - index;
}

/* Finds the config file named by the last --config in argv (NULL when none). Returns 0 or -1 with
 * *error set: argv is read in full here, so flag errors surface before the file is read. */
static int config_flags_file(int argc, char **argv, const char **path_out, struct stockd_config_error *error)
{
    *path_out = NULL;
    for (int index = 1; index < argc;) {
        struct config_flag flag;
        if (config_flag_next(argc, argv, &index, &flag, error) != 0) return -1;
        if (flag.kind != CONFIG_FLAG_CONFIG) continue;
        if (flag.value[0] == '\0') {
            config_error_set(error, "config file: empty path (from --config)");
            return -1;
        }
        *path_out = flag.value;
    }
    return 0;
}

/* Applies every key flag in argv order (a repeated flag: the last wins). Returns 0 or -1. */
static int config_flags_apply(struct stockd_config *config, int argc, char **argv,
                              struct stockd_config_error *error)
{
    for (int index = 1; index < argc;) {
        struct config_flag flag;
        if (config_flag_next(argc, argv, &index, &flag, error) != 0) return -1;
        if (flag.kind != CONFIG_FLAG_KEY) continue;
        char source[sizeof flag.name + 2];
        int written = snprintf(source, sizeof source, "--%s", flag.name);
        assert(written > 0 && (size_t)written < sizeof source);
        if (config_set_from(config, flag.name, flag.value, source, error) != 0) return -1;
    }
    return 0;
}

/* ---- public: defaults, load, validate ---------------------------------------------------------------- */

/* Writes "stockd-<hostname>" cut to the field, bytes outside the identifier charset replaced by '-';
 * plain "stockd" when the host has no name. */
static void config_default_instance_id(char *buffer, size_t buffer_bytes)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (host[0] == '\0') {
        snprintf(buffer, buffer_bytes, "stockd");
        return;
    }
    static const char prefix[] = "stockd-";
    assert(buffer_bytes > sizeof prefix);
    size_t host_length = strnlen(host, buffer_bytes - sizeof prefix); /* a long hostname is cut */
    memcpy(buffer, prefix, sizeof prefix - 1);
    memcpy(buffer + sizeof prefix - 1, host, host_length);
    buffer[sizeof prefix - 1 + host_length] = '\0';
    for (char *c = buffer; *c != '\0'; c++) {
        if (!config_is_alnum(*c) && strchr("._:-", *c) == NULL) *c = '-';
    }
}

/* The number of cores online, within handler.threads' bounds. */
static int32_t config_default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) return 1;
    return cores > STOCKD_STAGE_THREADS_MAX ? STOCKD_STAGE_THREADS_MAX : (int32_t)cores;
}

void stockd_config_defaults(struct stockd_config *config)
{
    assert(config != NULL);
    memset(config, 0, sizeof *config);
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (config_keys[i].default_text == NULL) continue;
        struct stockd_config_error error;
        int rc = config_apply_text(config, &config_keys[i], config_keys[i].default_text, NULL, &error);
        assert(rc == 0 && "every default in config_keys is valid");
        (void)rc;
    }
    config_default_instance_id(config->instance_id, sizeof config->instance_id);
    config->handler_threads = config_default_threads();
    config->router_threads = config_default_threads();
}

int stockd_config_load(struct stockd_config *config, int argc, char **argv, char **envp,
                       struct stockd_config_error *error)
{
    assert(config != NULL && error != NULL);
    assert(argc >= 0 && (argc == 0 || argv != NULL));
    if (envp == NULL) envp = environ;
    stockd_config_defaults(config);
    const char *path = NULL;
    if (config_flags_file(argc, argv, &path, error) != 0) return -1;
    if (path == NULL) {
        path = config_env_get(envp, "STOCKD_CONFIG");
        if (path != NULL && path[0] == '\0') {
            config_error_set(error, "config file: empty path (from STOCKD_CONFIG)");
            return -1;
        }
    }
    if (path != NULL && config_file_apply(config, path, error) != 0) return -1;
    if (config_env_apply(config, envp, error) != 0) return -1;
    if (config_flags_apply(config, argc, argv, error) != 0) return -1;
    return stockd_config_validate(config, error);
}

/* Checks the current value of one key, as stored (a caller may have filled the struct by hand). */
static int config_key_validate(const struct stockd_config *config, const struct config_key *key,
                               struct stockd_config_error *error)
{
    const void *field = config_field_const(config, key);
    int64_t number = 0;
    unsigned roles = 0;
    switch (key->type) {
    case CONFIG_STRING:
        assert(memchr(field, '\0', key->size) != NULL && "string fields are NUL-terminated");
        return config_string_check(key, field, NULL, error);
    case CONFIG_INT:
        number = config_int_load(config, key);
        if (number < key->min || number > key->max) {
            return config_fail(error, key->name, NULL, "must be an integer in [%lld, %lld], got %lld",
                               (long long)key->min, (long long)key->max, (long long)number);
        }
        return 0;
    case CONFIG_BOOL:
        return 0;
    case CONFIG_ROLES:
        memcpy(&roles, field, sizeof roles);
        if (roles == 0) return config_fail(error, key->name, NULL, "empty");
        if ((roles & ~(unsigned)STOCKD_ROLE_ALL) != 0) {
            return config_fail(error, key->name, NULL, "unknown role bits 0x%x",
                               roles & ~(unsigned)STOCKD_ROLE_ALL);
        }
        return 0;
    case CONFIG_PROPERTIES:
        assert(config->kafka_property_count <= STOCKD_CONFIG_PROPERTIES_MAX);
        for (size_t i = 0; i < config->kafka_property_count; i++) {
            const struct stockd_kafka_property *property = &config->kafka_properties[i];
            assert(memchr(property->name, '\0', sizeof property->name) != NULL);
            assert(memchr(property->value, '\0', sizeof property->value) != NULL);
            if (config_property_name_check(property->name, NULL, error) != 0) return -1;
        }
        return 0;
    }
    assert(!"unreachable: unknown config type");
    return -1;
}

int stockd_config_validate(const struct stockd_config *config, struct stockd_config_error *error)
{
    assert(config != NULL && error != NULL);
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (config_key_validate(config, &config_keys[i], error) != 0) return -1;
    }
    /* The one rule that spans keys: a topic cannot demand more in-sync copies than it has. */
    if (config->replication_factor > 0 && config->min_insync_replicas > config->replication_factor) {
        config_error_set(error, "kafka.min_insync_replicas: %d is more than kafka.replication_factor %d",
                         (int)config->min_insync_replicas, (int)config->replication_factor);
        return -1;
    }
    return 0;
}

int stockd_config_roles_format(unsigned roles, char *buffer, size_t buffer_bytes)
{
    assert(buffer != NULL && buffer_bytes > 0);
    size_t at = 0;
    buffer[0] = '\0';
    for (size_t i = 0; i < CONFIG_ROLE_COUNT; i++) {
        if ((roles & config_role_names[i].role) == 0) continue;
        int written =
            snprintf(buffer + at, buffer_bytes - at, "%s%s", at > 0 ? "," : "", config_role_names[i].name);
        if (written < 0 || (size_t)written >= buffer_bytes - at) return -1;
        at += (size_t)written;
    }
    return 0;
}

/* ---- public: JSON dump ------------------------------------------------------------------------------- */

/* True when a property's value is a secret: its name contains one of config_secret_words, any case. */
static bool config_property_is_secret(const char *name)
{
    size_t name_length = strlen(name);
    for (size_t w = 0; w < sizeof config_secret_words / sizeof config_secret_words[0]; w++) {
        const char *word = config_secret_words[w];
        size_t word_length = strlen(word);
        for (size_t at = 0; at + word_length <= name_length; at++) {
            size_t i = 0; /* words are lower case; names are [A-Za-z0-9._-], so | 0x20 folds only letters */
            while (i < word_length && (name[at + i] | 0x20) == word[i])
                i++;
            if (i == word_length) return true;
        }
    }
    return false;
}

/* Returns the object of root that holds key's value ("kafka" for kafka.bootstrap), creating sections as
 * needed, and points *leaf at the last name segment. NULL when out of memory. */
static cJSON *config_json_section(cJSON *root, const char *name, const char **leaf)
{
    cJSON *object = root;
    const char *dot;
    while ((dot = strchr(name, '.')) != NULL) {
        char segment[64];
        size_t length = (size_t)(dot - name);
        assert(length < sizeof segment);
        memcpy(segment, name, length);
        segment[length] = '\0';
        cJSON *child = cJSON_GetObjectItemCaseSensitive(object, segment);
        if (child == NULL) child = cJSON_AddObjectToObject(object, segment);
        if (child == NULL) return NULL;
        object = child;
        name = dot + 1;
    }
    *leaf = name;
    return object;
}

/* Adds key's value to object under leaf. Returns false when out of memory. */
static bool config_json_add(cJSON *object, const char *leaf, const struct stockd_config *config,
                            const struct config_key *key)
{
    const void *field = config_field_const(config, key);
    char roles[64];
    cJSON *properties = NULL;
    switch (key->type) {
    case CONFIG_STRING:
        if (key->secret && *(const char *)field != '\0')
            return cJSON_AddStringToObject(object, leaf, "***") != NULL;
        return cJSON_AddStringToObject(object, leaf, field) != NULL;
    case CONFIG_INT:
        return cJSON_AddNumberToObject(object, leaf, (double)config_int_load(config, key)) != NULL;
    case CONFIG_BOOL:
        return cJSON_AddBoolToObject(object, leaf, *(const bool *)field) != NULL;
    case CONFIG_ROLES:
        if (stockd_config_roles_format(config->roles, roles, sizeof roles) != 0) return false;
        return cJSON_AddStringToObject(object, leaf, roles) != NULL;
    case CONFIG_PROPERTIES:
        properties = cJSON_AddObjectToObject(object, leaf);
        for (size_t i = 0; properties != NULL && i < config->kafka_property_count; i++) {
            const struct stockd_kafka_property *property = &config->kafka_properties[i];
            const char *value = config_property_is_secret(property->name) ? "***" : property->value;
            if (cJSON_AddStringToObject(properties, property->name, value) == NULL) return false;
        }
        return properties != NULL;
    }
    assert(!"unreachable: unknown config type");
    return false;
}

char *stockd_config_to_json(const struct stockd_config *config)
{
    assert(config != NULL);
    cJSON *root = cJSON_CreateObject();
    bool complete = root != NULL;
    for (size_t i = 0; complete && i < CONFIG_KEY_COUNT; i++) {
        const char *leaf = NULL;
        cJSON *object = config_json_section(root, config_keys[i].name, &leaf);
        complete = object != NULL && config_json_add(object, leaf, config, &config_keys[i]);
    }
    char *text = complete ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* ---- public: help ------------------------------------------------------------------------------------ */

struct config_text {
    char *data;      /* malloc'd, NUL-terminated */
    size_t length;   /* bytes before the NUL */
    size_t capacity; /* bytes allocated */
    bool failed;     /* out of memory: data is released by the caller, not returned */
};

static void config_text_append(struct config_text *text, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends formatted text, growing the buffer; on failure sets text->failed and appends nothing more. */
static void config_text_append(struct config_text *text, const char *format, ...)
{
    if (text->failed) return;
    va_list arguments;
    va_start(arguments, format);
    va_list again;
    va_copy(again, arguments);
    int needed = vsnprintf(NULL, 0, format, arguments);
    va_end(arguments);
    if (needed >= 0 && text->length + (size_t)needed + 1 > text->capacity) {
        size_t capacity = (text->capacity + (size_t)needed + 1) * 2;
        char *grown = realloc(text->data, capacity);
        if (grown == NULL) {
            needed = -1;
        } else {
            text->data = grown;
            text->capacity = capacity;
        }
    }
    if (needed < 0) {
        text->failed = true;
    } else {
        vsnprintf(text->data + text->length, text->capacity - text->length, format, again);
        text->length += (size_t)needed;
    }
    va_end(again);
}

/* Appends words wrapped before column width, each line indented by indent spaces; a word longer than a
 * line gets a line of its own. */
static void config_text_wrap(struct config_text *text, const char *words, size_t indent, size_t width)
{
    assert(indent < width);
    const char *line = words + strspn(words, " ");
    while (*line != '\0') {
        size_t cut = strlen(line);
        if (cut > width - indent) {
            cut = width - indent;
            while (cut > 0 && line[cut] != ' ')
                cut--;
            if (cut == 0) cut = strcspn(line, " ");
        }
        config_text_append(text, "%*s%.*s\n", (int)indent, "", (int)cut, line);
        line += cut;
        line += strspn(line, " ");
    }
}

/* Appends the help entry of one key: flag and placeholder, environment variable, default, then the
 * meaning and bounds wrapped to 100 columns. */
static void config_help_key(struct config_text *text, const struct config_key *key)
{
    static const char *const placeholders[] = {[CONFIG_STRING] = "TEXT",
                                               [CONFIG_INT] = "N",
                                               [CONFIG_BOOL] = "true|false",
                                               [CONFIG_ROLES] = "ROLE,...",
                                               [CONFIG_PROPERTIES] = "VALUE"};
    char env[CONFIG_ENV_NAME_BYTES_MAX];
    config_env_name(key->name, env, sizeof env);
    /* An empty default (http.api_keys, catalog.source_precedence) is shown as its default_shown word. */
    bool text_shown =
        key->default_text != NULL && (key->default_text[0] != '\0' || key->default_shown == NULL);
    const char *shown = text_shown ? key->default_text : key->default_shown;
    if (key->type == CONFIG_PROPERTIES) {
        config_text_append(text, "  --%s.<name>=VALUE  (env %s='{\"<name>\": \"VALUE\"}', default %s)\n",
                           key->name, env, shown);
    } else {
        config_text_append(text, "  --%s=%s  (env %s, default %s)\n", key->name, placeholders[key->type], env,
                           shown);
    }
    char description[512];
    int written = 0;
    if (key->type == CONFIG_INT) {
        written = snprintf(description, sizeof description, "%s Range [%lld, %lld].", key->help,
                           (long long)key->min, (long long)key->max);
    } else if (key->type == CONFIG_STRING) {
        written =
            snprintf(description, sizeof description, "%s At most %zu bytes.", key->help, key->size - 1);
    } else if (key->type == CONFIG_PROPERTIES) {
        written = snprintf(description, sizeof description, "%s At most %d.", key->help,
                           STOCKD_CONFIG_PROPERTIES_MAX);
    } else {
        written = snprintf(description, sizeof description, "%s", key->help);
    }
    assert(written > 0 && (size_t)written < sizeof description); /* the table's help lines are short */
    config_text_wrap(text, description, 6, 100);
}

char *stockd_config_help(void)
{
    struct config_text text = {0};
    config_text_append(&text,
                       "Configuration keys. Later sources win: defaults < JSON file (--config FILE or\n"
                       "STOCKD_CONFIG) < environment (STOCKD_<KEY>) < flags (--<key>=VALUE).\n");
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
        config_help_key(&text, &config_keys[i]);
    if (text.failed) {
        free(text.data);
        return NULL;
    }
    return text.data;
}
