/* metrics.c - process-wide counters, gauges and histograms, and their Prometheus text exposition.
 *
 * Everything lives in one static registry of fixed arrays of C11 atomics: recording is a few relaxed
 * atomic adds, never a lock, an allocation or a syscall. HTTP series are an insert-only lock-free hash
 * table of bounded size; what does not fit counts into an overflow series. Rendering allocates only the
 * output text. No I/O. */
#include "metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- exposition text ------------------------------------------------------------------------------ */

#define TEXT_CAPACITY_MIN 4096
/* Labels of one sample: a route template, a method, a status and le fit easily. */
#define LABELS_BYTES_MAX 512

_Static_assert(METRICS_TEXT_BYTES_MAX <= SIZE_MAX / 2, "capacity doubling cannot overflow");

void metrics_text_init(struct metrics_text *out)
{
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
}

void metrics_text_free(struct metrics_text *out)
{
    if (out == NULL) return;
    free(out->data);
    metrics_text_init(out);
}

/* Makes room for extra more bytes plus the NUL. Returns 0, or -1 and marks out failed. */
static int text_reserve(struct metrics_text *out, size_t extra)
{
    if (out->failed) return -1;
    if (extra >= METRICS_TEXT_BYTES_MAX - out->length) goto out_failed;
    size_t needed = out->length + extra + 1;
    if (needed <= out->capacity) return 0;
    size_t capacity = out->capacity < TEXT_CAPACITY_MIN ? TEXT_CAPACITY_MIN : out->capacity;
    while (capacity < needed)
        capacity *= 2;
    if (capacity > METRICS_TEXT_BYTES_MAX) capacity = METRICS_TEXT_BYTES_MAX;
    char *data = realloc(out->data, capacity);
    if (data == NULL) goto out_failed;
    out->data = data;
    out->capacity = capacity;
    return 0;
out_failed:
    out->failed = true;
    return -1;
}

static int text_append(struct metrics_text *out, const char *bytes, size_t count)
{
    if (text_reserve(out, count) != 0) return -1;
    memcpy(out->data + out->length, bytes, count);
    out->length += count;
    out->data[out->length] = '\0';
    return 0;
}

static int text_append_string(struct metrics_text *out, const char *string)
{
    return text_append(out, string, strlen(string));
}

/* HELP text escapes backslash and newline (not quotes: that is for label values). */
static int text_append_help(struct metrics_text *out, const char *help)
{
    for (const char *run = help; *run != '\0';) {
        size_t plain = strcspn(run, "\\\n");
        if (text_append(out, run, plain) != 0) return -1;
        run += plain;
        if (*run == '\0') break;
        if (text_append(out, *run == '\\' ? "\\\\" : "\\n", 2) != 0) return -1;
        run++;
    }
    return 0;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names allow no colon. */
static bool name_valid(const char *name, bool colon_allowed)
{
    if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9')) return false;
    for (const char *c = name; *c != '\0'; c++) {
        bool letter = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z');
        bool digit = *c >= '0' && *c <= '9';
        if (!letter && !digit && *c != '_' && !(colon_allowed && *c == ':')) return false;
    }
    return true;
}

int metrics_text_family(struct metrics_text *out, const char *name, const char *type, const char *help)
{
    assert(out != NULL && help != NULL);
    assert(name_valid(name, true) && strlen(name) < 100);
    assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 || strcmp(type, "histogram") == 0);
    if (out->failed) return -1;
    if (strcmp(out->family_last, name) == 0) return 0;
    char needle[128];
    snprintf(needle, sizeof(needle), "\n# TYPE %s ", name);
    /* Every TYPE line follows its HELP line, so it always starts after a newline. */
    if (out->data != NULL && strstr(out->data, needle) != NULL) return 0;
    if (text_append_string(out, "# HELP ") != 0 || text_append_string(out, name) != 0 ||
        text_append(out, " ", 1) != 0 || text_append_help(out, help) != 0 ||
        text_append_string(out, needle) != 0 || text_append_string(out, type) != 0 ||
        text_append(out, "\n", 1) != 0)
        return -1;
    snprintf(out->family_last, sizeof(out->family_last), "%s", name);
    return 0;
}

static int sample_write(struct metrics_text *out, const char *name, const char *labels, const char *value)
{
    assert(out != NULL && value != NULL);
    assert(name_valid(name, true));
    if (text_append_string(out, name) != 0) return -1;
    if (labels != NULL && labels[0] != '\0' &&
        (text_append(out, "{", 1) != 0 || text_append_string(out, labels) != 0 ||
         text_append(out, "}", 1) != 0))
        return -1;
    if (text_append(out, " ", 1) != 0 || text_append_string(out, value) != 0 ||
        text_append(out, "\n", 1) != 0)
        return -1;
    return 0;
}

int metrics_text_sample(struct metrics_text *out, const char *name, const char *labels, int64_t value)
{
    char text[32];
    snprintf(text, sizeof(text), "%" PRId64, value);
    return sample_write(out, name, labels, text);
}

/* The shortest of %.15g .. %.17g that reads back as the same double; NaN and infinities as the format
 * spells them. */
static void double_format(double value, char *out, size_t out_bytes)
{
    if (isnan(value)) {
        snprintf(out, out_bytes, "NaN");
        return;
    }
    if (isinf(value)) {
        snprintf(out, out_bytes, "%s", value > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(out, out_bytes, "%.*g", precision, value);
        if (strtod(out, NULL) == value) return;
    }
}

int metrics_text_sample_double(struct metrics_text *out, const char *name, const char *labels, double value)
{
    char text[40];
    double_format(value, text, sizeof(text));
    return sample_write(out, name, labels, text);
}

int metrics_labels_append(char *labels, size_t labels_bytes, const char *name, const char *value)
{
    assert(labels != NULL && labels_bytes > 0 && value != NULL);
    assert(name_valid(name, false));
    size_t used = strnlen(labels, labels_bytes);
    assert(used < labels_bytes); /* labels is a C string */
    size_t value_bytes = 0;
    for (const char *c = value; *c != '\0'; c++)
        value_bytes += (*c == '\\' || *c == '"' || *c == '\n') ? 2 : 1;
    size_t needed = (used > 0 ? 1 : 0) + strlen(name) + 2 + value_bytes + 1; /* ,name="value" */
    if (needed >= labels_bytes - used) return -1;
    char *write = labels + used;
    if (used > 0) *write++ = ',';
    write += sprintf(write, "%s=\"", name);
    for (const char *c = value; *c != '\0'; c++) {
        if (*c == '\\' || *c == '"') *write++ = '\\';
        if (*c == '\n') {
            *write++ = '\\';
            *write++ = 'n';
            continue;
        }
        *write++ = *c;
    }
    *write++ = '"';
    *write = '\0';
    return 0;
}

/* ---- histograms ------------------------------------------------------------------------------------ */

#define HISTOGRAM_BUCKETS_MAX METRICS_LATENCY_BUCKETS

/* Bucket bounds (inclusive upper bounds, in the unit observed) and their `le` texts. */
struct histogram_spec {
    const int64_t *bounds;
    const char *const *le;
    int bucket_count;
    bool microseconds; /* observed in us, exposed in seconds */
};

static const int64_t latency_bounds_us[METRICS_LATENCY_BUCKETS] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const latency_le[METRICS_LATENCY_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10",
};
static const struct histogram_spec latency_spec = {latency_bounds_us, latency_le, METRICS_LATENCY_BUCKETS,
                                                   true};

/* Batch sizes: one record (idle latency) up to well past handler.batch_max's default of 5000. */
#define BATCH_BUCKETS 13
static const int64_t batch_bounds[BATCH_BUCKETS] = {1,   2,   5,    10,   20,   50,   100,
                                                    200, 500, 1000, 2000, 5000, 10000};
static const char *const batch_le[BATCH_BUCKETS] = {"1",   "2",   "5",    "10",   "20",   "50",   "100",
                                                    "200", "500", "1000", "2000", "5000", "10000"};
static const struct histogram_spec batch_spec = {batch_bounds, batch_le, BATCH_BUCKETS, false};

_Static_assert(BATCH_BUCKETS <= HISTOGRAM_BUCKETS_MAX, "fits struct histogram");

/* Per-bucket counts (not cumulative: one add per observation); the count is their sum, so _count always
 * equals the +Inf bucket even while others record. */
struct histogram {
    _Atomic uint64_t bucket_counts[HISTOGRAM_BUCKETS_MAX + 1];
    _Atomic uint64_t sum;
};

static int bucket_index(const struct histogram_spec *spec, int64_t value)
{
    int index = 0;
    while (index < spec->bucket_count && value > spec->bounds[index])
        index++;
    return index; /* bucket_count: +Inf */
}

static void histogram_observe(struct histogram *histogram, const struct histogram_spec *spec, int64_t value)
{
    if (value < 0) value = 0;
    atomic_fetch_add_explicit(&histogram->bucket_counts[bucket_index(spec, value)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&histogram->sum, (uint64_t)value, memory_order_relaxed);
}

/* Writes the _bucket (cumulative, then +Inf), _sum and _count samples; labels may be "". */
static int histogram_write(struct metrics_text *out, const char *name, const char *labels,
                           const struct histogram *histogram, const struct histogram_spec *spec)
{
    char sample[128];
    char bucket_labels[LABELS_BYTES_MAX];
    uint64_t cumulative = 0;
    snprintf(sample, sizeof(sample), "%s_bucket", name);
    for (int i = 0; i <= spec->bucket_count; i++) {
        cumulative += atomic_load_explicit(&histogram->bucket_counts[i], memory_order_relaxed);
        snprintf(bucket_labels, sizeof(bucket_labels), "%s", labels);
        int appended = metrics_labels_append(bucket_labels, sizeof(bucket_labels), "le",
                                             i < spec->bucket_count ? spec->le[i] : "+Inf");
        assert(appended == 0); /* labels are ours and short */
        (void)appended;
        if (metrics_text_sample(out, sample, bucket_labels, (int64_t)cumulative) != 0) return -1;
    }
    uint64_t sum = atomic_load_explicit(&histogram->sum, memory_order_relaxed);
    char sum_text[48];
    if (spec->microseconds) /* exact decimal seconds */
        snprintf(sum_text, sizeof(sum_text), "%" PRIu64 ".%06" PRIu64, sum / 1000000, sum % 1000000);
    else
        snprintf(sum_text, sizeof(sum_text), "%" PRIu64, sum);
    snprintf(sample, sizeof(sample), "%s_sum", name);
    if (sample_write(out, sample, labels, sum_text) != 0) return -1;
    snprintf(sample, sizeof(sample), "%s_count", name);
    return metrics_text_sample(out, sample, labels, (int64_t)cumulative);
}

/* ---- the registry ----------------------------------------------------------------------------------- */

#define HTTP_METHODS      8 /* GET HEAD POST PUT DELETE PATCH OPTIONS other */
#define HTTP_STATUS_OTHER 0
static const char *const http_methods[HTTP_METHODS] = {"GET",    "HEAD",  "POST",    "PUT",
                                                       "DELETE", "PATCH", "OPTIONS", "other"};

/* A series key packs route (6 bits), method (3) and status (10) and adds 1, so that 0 means empty. */
_Static_assert(METRICS_HTTP_ROUTES_MAX <= 64 && HTTP_METHODS <= 8, "key fields fit");
_Static_assert(2 * METRICS_HTTP_ROUTE_BYTES_MAX + 64 < LABELS_BYTES_MAX, "route, method, status, le fit");
_Static_assert(2 * METRICS_VIEW_NAME_BYTES_MAX + 64 < LABELS_BYTES_MAX, "view, le fit");
_Static_assert((METRICS_HTTP_SERIES_MAX & (METRICS_HTTP_SERIES_MAX - 1)) == 0, "power of two");
_Static_assert((METRICS_HTTP_ROUTES_MAX & (METRICS_HTTP_ROUTES_MAX - 1)) == 0, "power of two");

/* Zero-initialised static storage is a valid state for atomics (C11 7.17.2.1). */
static struct {
    _Atomic uint64_t commands[COMMAND_TYPE_COUNT][METRICS_OUTCOME_COUNT];
    _Atomic uint64_t sync_answers[METRICS_SYNC_SOURCE_COUNT];
    _Atomic uint64_t router_routed;
    _Atomic uint64_t router_dead_lettered;
    _Atomic uint64_t transactions[METRICS_STAGE_COUNT][2]; /* [stage][committed] */
    struct histogram batch_sizes[METRICS_STAGE_COUNT];
    struct histogram latencies[METRICS_LATENCY_COUNT];
    _Atomic(const char *) views[METRICS_VIEWS_MAX];
    struct histogram view_commit_ages[METRICS_VIEWS_MAX + 1];                 /* the last: "other" */
    _Atomic int64_t lag_plus_one[METRICS_STAGE_COUNT][STOCKD_PARTITIONS_MAX]; /* 0: not owned */
    _Atomic(const char *) http_routes[METRICS_HTTP_ROUTES_MAX];
    struct histogram http_seconds[METRICS_HTTP_ROUTES_MAX + 1]; /* the last: overflow */
    _Atomic uint32_t http_series_keys[METRICS_HTTP_SERIES_MAX];
    _Atomic uint64_t http_series_counts[METRICS_HTTP_SERIES_MAX];
    _Atomic uint64_t http_overflow;
    _Atomic int64_t gate_open;
    _Atomic uint64_t gate_accepted;
    _Atomic uint64_t gate_refused[METRICS_GATE_REFUSAL_COUNT];
    _Atomic uint64_t gate_closed[METRICS_GATE_CLOSE_COUNT];
    _Atomic uint64_t gate_relayed[METRICS_GATE_REQUEST_COUNT]; /* [0]: whole, the rest: in doubt, why */
    struct histogram gate_read;
} registry;

static const char *const stage_names[METRICS_STAGE_COUNT] = {"none", "router", "handler"};

void metrics_reset(void)
{
    memset(&registry, 0, sizeof(registry));
}

/* ---- latency ------------------------------------------------------------------------------------------ */

void metrics_latency_local_add(struct metrics_latency_local *local, int64_t duration_us)
{
    assert(local != NULL);
    if (duration_us < 0) duration_us = 0;
    local->bucket_counts[bucket_index(&latency_spec, duration_us)]++;
    local->sum_us += (uint64_t)duration_us;
    local->count++;
}

/* Adds local's observations to a latency histogram and zeroes local. */
static void latency_local_merge(struct histogram *histogram, struct metrics_latency_local *local)
{
    if (local->count == 0) return;
    for (int i = 0; i <= METRICS_LATENCY_BUCKETS; i++) {
        if (local->bucket_counts[i] != 0)
            atomic_fetch_add_explicit(&histogram->bucket_counts[i], local->bucket_counts[i],
                                      memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&histogram->sum, local->sum_us, memory_order_relaxed);
    memset(local, 0, sizeof(*local));
}

void metrics_latency_merge(enum metrics_latency which, struct metrics_latency_local *local)
{
    assert(which >= 0 && which < METRICS_LATENCY_COUNT && local != NULL);
    latency_local_merge(&registry.latencies[which], local);
}

void metrics_latency_observe(enum metrics_latency which, int64_t duration_us)
{
    assert(which >= 0 && which < METRICS_LATENCY_COUNT);
    histogram_observe(&registry.latencies[which], &latency_spec, duration_us);
}

/* ---- views ------------------------------------------------------------------------------------------ */

/* The slot of a view name, claimed on first use; METRICS_VIEWS_MAX ("other") when all are taken. Slots are
 * never freed and every thread scans them in the same order, so a name gets exactly one slot. */
static int view_slot(const char *view_name)
{
    if (strnlen(view_name, METRICS_VIEW_NAME_BYTES_MAX + 1) > METRICS_VIEW_NAME_BYTES_MAX)
        return METRICS_VIEWS_MAX;
    for (int slot = 0; slot < METRICS_VIEWS_MAX; slot++) {
        const char *held = atomic_load(&registry.views[slot]);
        if (held == NULL) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&registry.views[slot], &expected, view_name)) return slot;
            held = expected; /* another thread took it meanwhile: maybe for this very name */
        }
        if (held == view_name || strcmp(held, view_name) == 0) return slot;
    }
    return METRICS_VIEWS_MAX;
}

void metrics_view_commit_age_merge(const char *view_name, struct metrics_latency_local *local)
{
    assert(view_name != NULL && local != NULL);
    if (local->count == 0) return;
    latency_local_merge(&registry.view_commit_ages[view_slot(view_name)], local);
}

/* ---- stages ----------------------------------------------------------------------------------------------
 */

void metrics_commands_local_add(struct metrics_commands_local *local, enum command_type type, int outcome)
{
    assert(local != NULL && outcome >= 0 && outcome < METRICS_OUTCOME_COUNT);
    if ((int)type <= COMMAND_NONE || type >= COMMAND_TYPE_COUNT) type = COMMAND_NONE;
    local->counts[type][outcome]++;
    local->total++;
}

int metrics_outcome_of(enum reject_reason reason)
{
    if (reason == REJECT_NONE) return METRICS_OUTCOME_ACCEPTED;
    assert(reason > REJECT_NONE && reason < REJECT_REASON_COUNT);
    return METRICS_OUTCOME_REJECTED_BASE + (int)reason;
}

void metrics_commands_merge(struct metrics_commands_local *local)
{
    assert(local != NULL);
    if (local->total == 0) return;
    for (int type = 0; type < COMMAND_TYPE_COUNT; type++) {
        for (int outcome = 0; outcome < METRICS_OUTCOME_COUNT; outcome++) {
            if (local->counts[type][outcome] != 0)
                atomic_fetch_add_explicit(&registry.commands[type][outcome], local->counts[type][outcome],
                                          memory_order_relaxed);
        }
    }
    metrics_commands_local_clear(local);
}

void metrics_commands_local_clear(struct metrics_commands_local *local)
{
    assert(local != NULL);
    if (local->total != 0) memset(local, 0, sizeof(*local));
}

void metrics_sync_answer_add(enum metrics_sync_source source)
{
    assert(source >= 0 && source < METRICS_SYNC_SOURCE_COUNT);
    atomic_fetch_add_explicit(&registry.sync_answers[source], 1, memory_order_relaxed);
}

void metrics_router_commands_add(uint64_t routed, uint64_t dead_lettered)
{
    atomic_fetch_add_explicit(&registry.router_routed, routed, memory_order_relaxed);
    atomic_fetch_add_explicit(&registry.router_dead_lettered, dead_lettered, memory_order_relaxed);
}

void metrics_transaction_observe(enum metrics_stage stage, bool committed, uint64_t batch_records)
{
    assert(stage >= 0 && stage < METRICS_STAGE_COUNT);
    if (stage == METRICS_STAGE_NONE) return;
    atomic_fetch_add_explicit(&registry.transactions[stage][committed ? 1 : 0], 1, memory_order_relaxed);
    if (committed && batch_records > 0)
        histogram_observe(&registry.batch_sizes[stage], &batch_spec,
                          batch_records > INT64_MAX ? INT64_MAX : (int64_t)batch_records);
}

void metrics_consumer_lag_set(enum metrics_stage stage, int32_t partition, int64_t lag)
{
    assert(stage >= 0 && stage < METRICS_STAGE_COUNT);
    if (stage == METRICS_STAGE_NONE || partition < 0 || partition >= STOCKD_PARTITIONS_MAX) return;
    if (lag < 0) lag = 0;
    if (lag == INT64_MAX) lag--;
    atomic_store_explicit(&registry.lag_plus_one[stage][partition], lag + 1, memory_order_relaxed);
}

void metrics_consumer_lag_clear(enum metrics_stage stage, int32_t partition)
{
    assert(stage >= 0 && stage < METRICS_STAGE_COUNT);
    if (partition < 0 || partition >= STOCKD_PARTITIONS_MAX) return;
    atomic_store_explicit(&registry.lag_plus_one[stage][partition], 0, memory_order_relaxed);
}

void metrics_consumer_lag_clear_all(enum metrics_stage stage)
{
    for (int32_t partition = 0; partition < STOCKD_PARTITIONS_MAX; partition++)
        metrics_consumer_lag_clear(stage, partition);
}

/* ---- HTTP ------------------------------------------------------------------------------------------- */

static uint32_t string_hash(const char *string)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)string; *c != '\0'; c++)
        hash = (hash ^ *c) * 16777619u;
    return hash;
}

/* The slot of a route template, claimed on first use; METRICS_HTTP_ROUTES_MAX when all are taken. Slots
 * are never freed, and every thread probes the same sequence, so a template gets exactly one slot. */
static int http_route_slot(const char *route_template)
{
    uint32_t start = string_hash(route_template);
    for (uint32_t probe = 0; probe < METRICS_HTTP_ROUTES_MAX; probe++) {
        uint32_t slot = (start + probe) & (METRICS_HTTP_ROUTES_MAX - 1);
        const char *held = atomic_load(&registry.http_routes[slot]);
        if (held == NULL) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&registry.http_routes[slot], &expected, route_template))
                return (int)slot;
            held = expected; /* another thread took it meanwhile: maybe for this very template */
        }
        if (held == route_template || strcmp(held, route_template) == 0) return (int)slot;
    }
    return METRICS_HTTP_ROUTES_MAX;
}

static int http_method_index(const char *method)
{
    for (int i = 0; i < HTTP_METHODS - 1; i++) {
        if (strcmp(method, http_methods[i]) == 0) return i;
    }
    return HTTP_METHODS - 1;
}

/* The slot of a series key, claimed on first use; -1 when the table is full. */
static int http_series_slot(uint32_t key)
{
    uint32_t start = (key * 2654435761u) >> 16;
    for (uint32_t probe = 0; probe < METRICS_HTTP_SERIES_MAX; probe++) {
        uint32_t slot = (start + probe) & (METRICS_HTTP_SERIES_MAX - 1);
        uint32_t held = atomic_load(&registry.http_series_keys[slot]);
        if (held == 0) {
            uint32_t expected = 0;
            if (atomic_compare_exchange_strong(&registry.http_series_keys[slot], &expected, key))
                return (int)slot;
            held = expected;
        }
        if (held == key) return (int)slot;
    }
    return -1;
}

void metrics_http_observe(const char *route_template, const char *method, int status, int64_t duration_us)
{
    assert(route_template != NULL && method != NULL);
    /* A template longer than any of the route table's is no template: count it, but add no series. */
    int route = strnlen(route_template, METRICS_HTTP_ROUTE_BYTES_MAX + 1) > METRICS_HTTP_ROUTE_BYTES_MAX
                    ? METRICS_HTTP_ROUTES_MAX
                    : http_route_slot(route_template);
    histogram_observe(&registry.http_seconds[route], &latency_spec, duration_us);
    int slot = -1;
    if (route < METRICS_HTTP_ROUTES_MAX) {
        uint32_t status_field = status >= 100 && status <= 599 ? (uint32_t)status : HTTP_STATUS_OTHER;
        uint32_t key =
            (((uint32_t)route << 13) | ((uint32_t)http_method_index(method) << 10) | status_field) + 1;
        slot = http_series_slot(key);
    }
    if (slot < 0)
        atomic_fetch_add_explicit(&registry.http_overflow, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&registry.http_series_counts[slot], 1, memory_order_relaxed);
}

/* ---- the HTTP gate ------------------------------------------------------------------------------------ */

static const char *const gate_refusal_names[METRICS_GATE_REFUSAL_COUNT] = {"connections_max",
                                                                           "out_of_memory"};
static const char *const gate_close_names[METRICS_GATE_CLOSE_COUNT] = {
    "after_answer",   "client_gone",  "request_timeout",      "idle_timeout",
    "answer_timeout", "buffered_max", "upstream_unavailable", "stopping",
};
static const char *const gate_request_names[METRICS_GATE_REQUEST_COUNT] = {
    "whole", "ambiguous_framing", "malformed_chunked", "head_too_large", "body_too_large", "truncated",
};

void metrics_gate_connection_accepted(void)
{
    atomic_fetch_add_explicit(&registry.gate_accepted, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&registry.gate_open, 1, memory_order_relaxed);
}

void metrics_gate_connection_refused(enum metrics_gate_refusal reason)
{
    assert(reason >= 0 && reason < METRICS_GATE_REFUSAL_COUNT);
    atomic_fetch_add_explicit(&registry.gate_refused[reason], 1, memory_order_relaxed);
}

void metrics_gate_connection_closed(enum metrics_gate_close reason)
{
    assert(reason >= 0 && reason < METRICS_GATE_CLOSE_COUNT);
    atomic_fetch_add_explicit(&registry.gate_closed[reason], 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&registry.gate_open, 1, memory_order_relaxed);
}

void metrics_gate_request_relayed(int64_t read_duration_us, enum metrics_gate_request request)
{
    assert(request >= 0 && request < METRICS_GATE_REQUEST_COUNT);
    atomic_fetch_add_explicit(&registry.gate_relayed[request], 1, memory_order_relaxed);
    histogram_observe(&registry.gate_read, &latency_spec, read_duration_us);
}

/* ---- rendering ---------------------------------------------------------------------------------------- */

/* labels from up to three name/value pairs (NULL names end the list). */
static void labels_make(char *labels, size_t labels_bytes, const char *name1, const char *value1,
                        const char *name2, const char *value2, const char *name3, const char *value3)
{
    labels[0] = '\0';
    const char *names[3] = {name1, name2, name3};
    const char *values[3] = {value1, value2, value3};
    for (int i = 0; i < 3 && names[i] != NULL; i++) {
        /* Our values are short and route templates at most METRICS_HTTP_ROUTE_BYTES_MAX: they fit. */
        int appended = metrics_labels_append(labels, labels_bytes, names[i], values[i]);
        assert(appended == 0);
        (void)appended;
    }
}

static int write_commands(struct metrics_text *out)
{
    static const char *const name = "stockd_commands_total";
    if (metrics_text_family(out, name, "counter",
                            "Commands decided by the handler (committed), by type and outcome: accepted, "
                            "duplicate, dead_lettered or the rejection reason code.") != 0)
        return -1;
    for (int type = 0; type < COMMAND_TYPE_COUNT; type++) {
        const char *type_name = type == COMMAND_NONE ? "unknown" : domain_command_type_name(type);
        if (type_name == NULL) continue;
        for (int outcome = 0; outcome < METRICS_OUTCOME_COUNT; outcome++) {
            uint64_t value = atomic_load_explicit(&registry.commands[type][outcome], memory_order_relaxed);
            /* Every known type shows accepted from the start (so rates see the first one); the rest once
             * they happen: most type/reason pairs never can. */
            bool always = type != COMMAND_NONE && outcome == METRICS_OUTCOME_ACCEPTED;
            if (value == 0 && !always) continue;
            const char *outcome_name =
                outcome == METRICS_OUTCOME_ACCEPTED    ? "accepted"
                : outcome == METRICS_OUTCOME_DUPLICATE ? "duplicate"
                : outcome == METRICS_OUTCOME_DEAD_LETTERED
                    ? "dead_lettered"
                    : domain_reject_reason_code(outcome - METRICS_OUTCOME_REJECTED_BASE);
            if (outcome_name == NULL) continue;
            char labels[LABELS_BYTES_MAX];
            labels_make(labels, sizeof(labels), "type", type_name, "outcome", outcome_name, NULL, NULL);
            if (metrics_text_sample(out, name, labels, (int64_t)value) != 0) return -1;
        }
    }
    return 0;
}

static int write_stages(struct metrics_text *out)
{
    static const char *const sync_sources[METRICS_SYNC_SOURCE_COUNT] = {"handler", "view", "none"};
    const char *name = "stockd_sync_answers_total";
    if (metrics_text_family(out, name, "counter",
                            "Synchronous submissions (Prefer: wait) by where the answer came from: this "
                            "instance's handler commit, the outcomes view, or none in time (202).") != 0)
        return -1;
    for (int source = 0; source < METRICS_SYNC_SOURCE_COUNT; source++) {
        char labels[LABELS_BYTES_MAX];
        labels_make(labels, sizeof(labels), "source", sync_sources[source], NULL, NULL, NULL, NULL);
        if (metrics_text_sample(out, name, labels, (int64_t)atomic_load(&registry.sync_answers[source])) != 0)
            return -1;
    }
    name = "stockd_router_commands_total";
    if (metrics_text_family(out, name, "counter",
                            "Records the router moved in committed transactions: routed to commands.by-sku, "
                            "or dead_lettered.") != 0 ||
        metrics_text_sample(out, name, "result=\"routed\"", (int64_t)atomic_load(&registry.router_routed)) !=
            0 ||
        metrics_text_sample(out, name, "result=\"dead_lettered\"",
                            (int64_t)atomic_load(&registry.router_dead_lettered)) != 0)
        return -1;
    name = "stockd_transactions_total";
    if (metrics_text_family(out, name, "counter",
                            "Kafka transactions of the router and the handler, by result.") != 0)
        return -1;
    for (int stage = METRICS_STAGE_NONE + 1; stage < METRICS_STAGE_COUNT; stage++) {
        for (int committed = 1; committed >= 0; committed--) {
            char labels[LABELS_BYTES_MAX];
            labels_make(labels, sizeof(labels), "stage", stage_names[stage], "result",
                        committed ? "committed" : "aborted", NULL, NULL);
            if (metrics_text_sample(out, name, labels,
                                    (int64_t)atomic_load(&registry.transactions[stage][committed])) != 0)
                return -1;
        }
    }
    name = "stockd_batch_size";
    if (metrics_text_family(out, name, "histogram",
                            "Input records per committed transaction (transactions with input only).") != 0)
        return -1;
    for (int stage = METRICS_STAGE_NONE + 1; stage < METRICS_STAGE_COUNT; stage++) {
        char labels[LABELS_BYTES_MAX];
        labels_make(labels, sizeof(labels), "stage", stage_names[stage], NULL, NULL, NULL, NULL);
        if (histogram_write(out, name, labels, &registry.batch_sizes[stage], &batch_spec) != 0) return -1;
    }
    return 0;
}

static int write_latencies(struct metrics_text *out)
{
    if (metrics_text_family(out, "stockd_decide_seconds", "histogram",
                            "Handler time per command: shard load, decide, evolve, shard write and queueing "
                            "its events to the producer.") != 0 ||
        histogram_write(out, "stockd_decide_seconds", "", &registry.latencies[METRICS_LATENCY_DECIDE],
                        &latency_spec) != 0)
        return -1;
    if (metrics_text_family(out, "stockd_command_end_to_end_seconds", "histogram",
                            "From a command's submission (CreateTime of its by-sku record: the API's, or "
                            "carried over by the router from <prefix>.commands) to the handler's Kafka "
                            "commit of its events.") != 0 ||
        histogram_write(out, "stockd_command_end_to_end_seconds", "",
                        &registry.latencies[METRICS_LATENCY_END_TO_END], &latency_spec) != 0)
        return -1;
    if (metrics_text_family(
            out, "stockd_as_of_fold_seconds", "histogram",
            "GET /v1/skus/{sku}?as_of=: reading and folding the SKU's history up to the point "
            "(answers that folded, including 404s and refusals past a bound).") != 0 ||
        histogram_write(out, "stockd_as_of_fold_seconds", "", &registry.latencies[METRICS_LATENCY_AS_OF],
                        &latency_spec) != 0)
        return -1;
    return 0;
}

static int write_view_commit_ages(struct metrics_text *out)
{
    static const char *const name = "stockd_view_commit_age_seconds";
    if (metrics_text_family(out, name, "histogram",
                            "From an event's record timestamp on <prefix>.events to the commit of the live "
                            "view batch that holds it.") != 0)
        return -1;
    for (int slot = 0; slot <= METRICS_VIEWS_MAX; slot++) {
        const char *view_name = slot < METRICS_VIEWS_MAX ? atomic_load(&registry.views[slot]) : "other";
        const struct histogram *histogram = &registry.view_commit_ages[slot];
        if (view_name == NULL) continue;
        if (slot == METRICS_VIEWS_MAX) {
            uint64_t count = 0;
            for (int i = 0; i <= METRICS_LATENCY_BUCKETS; i++)
                count += atomic_load(&histogram->bucket_counts[i]);
            if (count == 0) continue;
        }
        char labels[LABELS_BYTES_MAX];
        labels_make(labels, sizeof(labels), "view", view_name, NULL, NULL, NULL, NULL);
        if (histogram_write(out, name, labels, histogram, &latency_spec) != 0) return -1;
    }
    return 0;
}

static int write_lag(struct metrics_text *out)
{
    static const char *const name = "stockd_consumer_lag";
    if (metrics_text_family(out, name, "gauge",
                            "Records between the stage's consumer position and the end of each partition it "
                            "owns (sampled at most once a second).") != 0)
        return -1;
    for (int stage = METRICS_STAGE_NONE + 1; stage < METRICS_STAGE_COUNT; stage++) {
        for (int32_t partition = 0; partition < STOCKD_PARTITIONS_MAX; partition++) {
            int64_t lag_plus_one =
                atomic_load_explicit(&registry.lag_plus_one[stage][partition], memory_order_relaxed);
            if (lag_plus_one == 0) continue;
            char partition_text[16];
            char labels[LABELS_BYTES_MAX];
            snprintf(partition_text, sizeof(partition_text), "%d", (int)partition);
            labels_make(labels, sizeof(labels), "stage", stage_names[stage], "partition", partition_text,
                        NULL, NULL);
            if (metrics_text_sample(out, name, labels, lag_plus_one - 1) != 0) return -1;
        }
    }
    return 0;
}

static int write_http(struct metrics_text *out)
{
    const char *name = "stockd_http_requests_total";
    if (metrics_text_family(out, name, "counter",
                            "HTTP requests answered, by route template, method and status.") != 0)
        return -1;
    for (int slot = 0; slot < METRICS_HTTP_SERIES_MAX; slot++) {
        uint32_t key = atomic_load(&registry.http_series_keys[slot]);
        if (key == 0) continue;
        key -= 1;
        const char *route = atomic_load(&registry.http_routes[key >> 13]);
        assert(route != NULL); /* a series key names a claimed route */
        char status[16];
        if ((key & 1023) == HTTP_STATUS_OTHER)
            snprintf(status, sizeof(status), "other");
        else
            snprintf(status, sizeof(status), "%u", (unsigned)(key & 1023));
        char labels[LABELS_BYTES_MAX];
        labels_make(labels, sizeof(labels), "route", route, "method", http_methods[(key >> 10) & 7], "status",
                    status);
        if (metrics_text_sample(out, name, labels,
                                (int64_t)atomic_load(&registry.http_series_counts[slot])) != 0)
            return -1;
    }
    uint64_t overflow = atomic_load(&registry.http_overflow);
    if (overflow > 0 &&
        metrics_text_sample(out, name, "route=\"overflow\",method=\"overflow\",status=\"overflow\"",
                            (int64_t)overflow) != 0)
        return -1;
    name = "stockd_http_request_seconds";
    if (metrics_text_family(out, name, "histogram", "HTTP request durations by route template.") != 0)
        return -1;
    for (int route = 0; route <= METRICS_HTTP_ROUTES_MAX; route++) {
        const char *route_template =
            route < METRICS_HTTP_ROUTES_MAX ? atomic_load(&registry.http_routes[route]) : "overflow";
        const struct histogram *histogram = &registry.http_seconds[route];
        if (route < METRICS_HTTP_ROUTES_MAX && route_template == NULL) continue;
        if (route == METRICS_HTTP_ROUTES_MAX) {
            uint64_t count = 0;
            for (int i = 0; i <= METRICS_LATENCY_BUCKETS; i++)
                count += atomic_load(&histogram->bucket_counts[i]);
            if (count == 0) continue;
        }
        char labels[LABELS_BYTES_MAX];
        labels_make(labels, sizeof(labels), "route", route_template, NULL, NULL, NULL, NULL);
        if (histogram_write(out, name, labels, histogram, &latency_spec) != 0) return -1;
    }
    return 0;
}

/* A counter family with one label, one sample per value name. */
static int write_labelled_counter(struct metrics_text *out, const char *name, const char *help,
                                  const char *label, const char *const *value_names,
                                  const _Atomic uint64_t *values, int first, int count)
{
    if (metrics_text_family(out, name, "counter", help) != 0) return -1;
    for (int i = first; i < count; i++) {
        char labels[LABELS_BYTES_MAX];
        labels_make(labels, sizeof(labels), label, value_names[i], NULL, NULL, NULL, NULL);
        if (metrics_text_sample(out, name, labels, (int64_t)atomic_load(&values[i])) != 0) return -1;
    }
    return 0;
}

static int write_gate(struct metrics_text *out)
{
    const char *name = "stockd_http_gate_connections_open";
    int64_t open = atomic_load(&registry.gate_open);
    if (metrics_text_family(out, name, "gauge", "Client connections the HTTP gate holds now.") != 0 ||
        metrics_text_sample(out, name, NULL, open > 0 ? open : 0) != 0)
        return -1;
    name = "stockd_http_gate_connections_accepted_total";
    if (metrics_text_family(out, name, "counter", "Client connections the HTTP gate took in.") != 0 ||
        metrics_text_sample(out, name, NULL, (int64_t)atomic_load(&registry.gate_accepted)) != 0)
        return -1;
    if (write_labelled_counter(out, "stockd_http_gate_connections_refused_total",
                               "Client connections the HTTP gate answered 503 at once and closed, by reason: "
                               "the connection bound, or no memory.",
                               "reason", gate_refusal_names, registry.gate_refused, 0,
                               METRICS_GATE_REFUSAL_COUNT) != 0 ||
        write_labelled_counter(
            out, "stockd_http_gate_connections_closed_total",
            "Accepted client connections that ended, by reason: after_answer (asked to, or "
            "framing in doubt), client_gone, request_timeout (408), idle_timeout, "
            "answer_timeout, buffered_max (503), upstream_unavailable (503), stopping.",
            "reason", gate_close_names, registry.gate_closed, 0, METRICS_GATE_CLOSE_COUNT) != 0)
        return -1;
    name = "stockd_http_gate_requests_relayed_total";
    uint64_t relayed = 0;
    for (int i = 0; i < METRICS_GATE_REQUEST_COUNT; i++)
        relayed += atomic_load(&registry.gate_relayed[i]);
    if (metrics_text_family(out, name, "counter",
                            "Requests the HTTP gate handed to civetweb (whole, or as they came when their "
                            "framing is in doubt).") != 0 ||
        metrics_text_sample(out, name, NULL, (int64_t)relayed) != 0)
        return -1;
    if (write_labelled_counter(
            out, "stockd_http_gate_requests_refused_total",
            "Requests whose framing the HTTP gate found in doubt, relayed as they came for "
            "civetweb to refuse (400, 413, 431) and the connection ended, by reason.",
            "reason", gate_request_names, registry.gate_relayed, METRICS_GATE_REQUEST_WHOLE + 1,
            METRICS_GATE_REQUEST_COUNT) != 0)
        return -1;
    name = "stockd_http_gate_request_read_seconds";
    if (metrics_text_family(out, name, "histogram",
                            "From a request's first byte at the HTTP gate to the gate relaying it "
                            "(requests that timed out are not counted).") != 0 ||
        histogram_write(out, name, "", &registry.gate_read, &latency_spec) != 0)
        return -1;
    return 0;
}

int metrics_write_all(struct metrics_text *out)
{
    assert(out != NULL);
    if (write_commands(out) != 0 || write_stages(out) != 0 || write_latencies(out) != 0 ||
        write_view_commit_ages(out) != 0 || write_lag(out) != 0 || write_http(out) != 0 ||
        write_gate(out) != 0)
        return -1;
    return out->failed ? -1 : 0;
}
