/* test_metrics.c - tests of metrics.c: exact exposition text, escaping, histograms, bounds, threads.
 *
 * No Prometheus parser is installed here, so the whole output of metrics_write_all is also checked by a
 * strict reader of the 0.0.4 text format written below (line grammar, one block per family, no duplicate
 * series, cumulative buckets ending in +Inf equal to _count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define THREADS            4
#define OBSERVATIONS       20000 /* per thread */
#define SERIES_CHECKED_MAX 20000

/* ---- helpers --------------------------------------------------------------------------------------- */

/* The registry's whole output (caller frees). */
static char *render(void)
{
    struct metrics_text text;
    metrics_text_init(&text);
    assert_int_equal(metrics_write_all(&text), 0);
    assert_non_null(text.data);
    char *copy = strdup(text.data);
    metrics_text_free(&text);
    return copy;
}

/* The value of the sample line that starts with `prefix ` (name and labels exactly), or -1 when absent. */
static double sample_value(const char *text, const char *prefix)
{
    size_t prefix_bytes = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, prefix, prefix_bytes) == 0 && line[prefix_bytes] == ' ')
            return strtod(line + prefix_bytes + 1, NULL);
        line = strchr(line, '\n');
        if (line != NULL) line++;
    }
    return -1;
}

static int lines_starting_with(const char *text, const char *prefix)
{
    int count = 0;
    size_t prefix_bytes = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, prefix, prefix_bytes) == 0) count++;
        line = strchr(line, '\n');
        if (line != NULL) line++;
    }
    return count;
}

static int setup(void **state)
{
    (void)state;
    metrics_reset();
    return 0;
}

/* ---- a strict reader of the text format ------------------------------------------------------------ */

struct reader {
    char family[128];
    char type[16];
    char families_seen[64][128];
    int family_count;
    char *series[SERIES_CHECKED_MAX];
    int series_count;
    /* the histogram group being read: labels without le, last cumulative count, +Inf seen */
    char group[512];
    double group_last;
    bool group_open;
    double group_inf;
};

static const char *name_read(const char *at, char *out, size_t out_bytes)
{
    size_t length = 0;
    while ((at[length] >= 'a' && at[length] <= 'z') || (at[length] >= 'A' && at[length] <= 'Z') ||
           at[length] == '_' || at[length] == ':' || (length > 0 && at[length] >= '0' && at[length] <= '9'))
        length++;
    assert_true(length > 0 && length < out_bytes);
    memcpy(out, at, length);
    out[length] = '\0';
    return at + length;
}

/* Reads `{a="x",le="y"}`: returns after the brace, with the labels other than le in rest and le's value
 * (unescaped) in le (empty when absent). Only the escapes \\ \" \n are allowed. */
static const char *labels_read(const char *at, char *rest, size_t rest_bytes, char *le, size_t le_bytes)
{
    rest[0] = '\0';
    le[0] = '\0';
    assert_int_equal(*at, '{');
    at++;
    while (*at != '}') {
        char name[128];
        const char *value_start;
        at = name_read(at, name, sizeof(name));
        assert_int_equal(*at, '=');
        assert_int_equal(at[1], '"');
        at += 2;
        value_start = at;
        char value[512];
        size_t value_bytes = 0;
        while (*at != '"') {
            assert_true(*at != '\0' && *at != '\n');
            if (*at == '\\') {
                at++;
                assert_true(*at == '\\' || *at == '"' || *at == 'n');
                value[value_bytes++] = *at == 'n' ? '\n' : *at;
            } else {
                value[value_bytes++] = *at;
            }
            at++;
            assert_true(value_bytes < sizeof(value));
        }
        value[value_bytes] = '\0';
        if (strcmp(name, "le") == 0) {
            assert_true(value_bytes < le_bytes);
            memcpy(le, value, value_bytes + 1);
        } else {
            size_t used = strlen(rest);
            snprintf(rest + used, rest_bytes - used, "%s%s=\"%.*s\"", used ? "," : "", name,
                     (int)(at - value_start), value_start);
        }
        at++;
        if (*at == ',') at++;
    }
    return at + 1;
}

static double value_read(const char *at, const char **end)
{
    if (strncmp(at, "+Inf", 4) == 0) {
        *end = at + 4;
        return 1e308 * 10;
    }
    if (strncmp(at, "NaN", 3) == 0) {
        *end = at + 3;
        return 0;
    }
    char *after = NULL;
    double value = strtod(at, &after);
    assert_true(after != at);
    *end = after;
    return value;
}

static void group_close(struct reader *reader)
{
    if (!reader->group_open) return;
    fail_msg("histogram group {%s} of %s has no _count after its buckets", reader->group, reader->family);
}

static void sample_check(struct reader *reader, const char *line)
{
    char name[128];
    char rest[512];
    char le[64];
    const char *at = name_read(line, name, sizeof(name));
    rest[0] = le[0] = '\0';
    if (*at == '{') at = labels_read(at, rest, sizeof(rest), le, sizeof(le));
    assert_int_equal(*at, ' ');
    const char *end = NULL;
    double value = value_read(at + 1, &end);
    assert_int_equal(*end, '\n');
    assert_true(reader->family[0] != '\0'); /* a sample before any TYPE */
    char series[1024];
    snprintf(series, sizeof(series), "%s{%s,le=%s}", name, rest, le);
    assert_true(reader->series_count < SERIES_CHECKED_MAX);
    reader->series[reader->series_count++] = strdup(series);
    if (strcmp(reader->type, "histogram") != 0) {
        if (strcmp(name, reader->family) != 0) fail_msg("sample %s inside family %s", name, reader->family);
        assert_true(le[0] == '\0');
        return;
    }
    size_t family_bytes = strlen(reader->family);
    if (strncmp(name, reader->family, family_bytes) != 0) fail_msg("%s inside %s", name, reader->family);
    const char *suffix = name + family_bytes;
    if (strcmp(suffix, "_bucket") == 0) {
        assert_true(le[0] != '\0');
        if (!reader->group_open || strcmp(reader->group, rest) != 0) {
            group_close(reader);
            snprintf(reader->group, sizeof(reader->group), "%s", rest);
            reader->group_open = true;
            reader->group_last = 0;
            reader->group_inf = -1;
        }
        assert_true(value >= reader->group_last); /* cumulative */
        reader->group_last = value;
        if (strcmp(le, "+Inf") == 0) reader->group_inf = value;
    } else if (strcmp(suffix, "_sum") == 0) {
        assert_true(reader->group_open && strcmp(reader->group, rest) == 0);
    } else if (strcmp(suffix, "_count") == 0) {
        assert_true(reader->group_open && strcmp(reader->group, rest) == 0);
        assert_true(reader->group_inf == value); /* the last bucket was +Inf and equals the count */
        reader->group_open = false;
    } else {
        fail_msg("%s is no histogram sample of %s", name, reader->family);
    }
}

static int string_compare(const void *left, const void *right)
{
    return strcmp(*(char *const *)left, *(char *const *)right);
}

/* Checks text against the 0.0.4 format; returns the number of samples. */
static int exposition_check(const char *text)
{
    static struct reader reader;
    memset(&reader, 0, sizeof(reader));
    assert_true(text[0] != '\0' && text[strlen(text) - 1] == '\n');
    for (const char *line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
        if (strncmp(line, "# HELP ", 7) == 0) {
            group_close(&reader);
            char name[128];
            const char *at = name_read(line + 7, name, sizeof(name));
            assert_int_equal(*at, ' ');
            for (int i = 0; i < reader.family_count; i++) {
                if (strcmp(reader.families_seen[i], name) == 0) fail_msg("family %s written twice", name);
            }
            snprintf(reader.families_seen[reader.family_count++], 128, "%s", name);
            /* the TYPE line follows at once */
            const char *type_line = strchr(line, '\n') + 1;
            char expected[160];
            snprintf(expected, sizeof(expected), "# TYPE %s ", name);
            assert_true(strncmp(type_line, expected, strlen(expected)) == 0);
            const char *type = type_line + strlen(expected);
            size_t type_bytes = strcspn(type, "\n");
            assert_true(type_bytes < sizeof(reader.type));
            memcpy(reader.type, type, type_bytes);
            reader.type[type_bytes] = '\0';
            assert_true(strcmp(reader.type, "counter") == 0 || strcmp(reader.type, "gauge") == 0 ||
                        strcmp(reader.type, "histogram") == 0);
            snprintf(reader.family, sizeof(reader.family), "%s", name);
            line = type_line;
            continue;
        }
        assert_true(line[0] != '#'); /* no other comments are written */
        sample_check(&reader, line);
    }
    group_close(&reader);
    qsort(reader.series, (size_t)reader.series_count, sizeof(reader.series[0]), string_compare);
    for (int i = 1; i < reader.series_count; i++) {
        if (strcmp(reader.series[i - 1], reader.series[i]) == 0)
            fail_msg("series %s twice", reader.series[i]);
    }
    for (int i = 0; i < reader.series_count; i++)
        free(reader.series[i]);
    return reader.series_count;
}

/* ---- text ------------------------------------------------------------------------------------------ */

static void test_text_family_writes_help_and_type_once(void **state)
{
    (void)state;
    struct metrics_text text;
    metrics_text_init(&text);
    assert_int_equal(metrics_text_family(&text, "a_total", "counter", "Things."), 0);
    assert_int_equal(metrics_text_sample(&text, "a_total", NULL, 3), 0);
    assert_int_equal(metrics_text_family(&text, "a_total", "counter", "Things."), 0);
    assert_int_equal(metrics_text_sample(&text, "a_total", "", -4), 0);
    assert_int_equal(metrics_text_family(&text, "b", "gauge", "B."), 0);
    assert_int_equal(metrics_text_family(&text, "a_total", "counter", "Things."), 0); /* not the last one */
    assert_string_equal(text.data, "# HELP a_total Things.\n"
                                   "# TYPE a_total counter\n"
                                   "a_total 3\n"
                                   "a_total -4\n"
                                   "# HELP b B.\n"
                                   "# TYPE b gauge\n");
    assert_int_equal(text.length, strlen(text.data));
    assert_false(text.failed);
    metrics_text_free(&text);
    assert_null(text.data);
    assert_int_equal(text.length, 0);
}

static void test_text_help_escapes_backslash_and_newline_not_quote(void **state)
{
    (void)state;
    struct metrics_text text;
    metrics_text_init(&text);
    assert_int_equal(metrics_text_family(&text, "x", "gauge", "a\\b\nc \"q\""), 0);
    assert_string_equal(text.data, "# HELP x a\\\\b\\nc \"q\"\n# TYPE x gauge\n");
    metrics_text_free(&text);
}

static void test_labels_append_escapes_backslash_quote_newline(void **state)
{
    (void)state;
    char labels[128] = "";
    assert_int_equal(metrics_labels_append(labels, sizeof(labels), "route", "/v1/skus/{sku}"), 0);
    assert_int_equal(metrics_labels_append(labels, sizeof(labels), "odd", "a\\b\"c\nd"), 0);
    assert_int_equal(metrics_labels_append(labels, sizeof(labels), "empty", ""), 0);
    assert_string_equal(labels, "route=\"/v1/skus/{sku}\",odd=\"a\\\\b\\\"c\\nd\",empty=\"\"");
    struct metrics_text text;
    metrics_text_init(&text);
    assert_int_equal(metrics_text_sample(&text, "m", labels, 1), 0);
    assert_string_equal(text.data, "m{route=\"/v1/skus/{sku}\",odd=\"a\\\\b\\\"c\\nd\",empty=\"\"} 1\n");
    metrics_text_free(&text);
}

static void test_labels_append_that_does_not_fit_leaves_labels_unchanged(void **state)
{
    (void)state;
    char labels[16] = "";
    assert_int_equal(metrics_labels_append(labels, sizeof(labels), "a", "12345678"), 0); /* a="12345678" */
    assert_int_equal(metrics_labels_append(labels, sizeof(labels), "b", "x"), -1);       /* 19 bytes */
    assert_string_equal(labels, "a=\"12345678\"");
    char exact[8] = "";
    assert_int_equal(metrics_labels_append(exact, sizeof(exact), "a", "\"\"\""), -1); /* a="\"\"\"" is 10 */
    assert_string_equal(exact, "");
    assert_int_equal(metrics_labels_append(exact, sizeof(exact), "a", "1234"), -1); /* 9 with the NUL */
    assert_int_equal(metrics_labels_append(exact, sizeof(exact), "a", "123"), 0);   /* 8 with the NUL */
    assert_string_equal(exact, "a=\"123\"");
}

static void test_text_sample_double_shortest_exact_and_special_values(void **state)
{
    (void)state;
    struct metrics_text text;
    metrics_text_init(&text);
    assert_int_equal(metrics_text_sample_double(&text, "d", NULL, 0.1), 0);
    assert_int_equal(metrics_text_sample_double(&text, "d", NULL, 2.5), 0);
    assert_int_equal(metrics_text_sample_double(&text, "d", NULL, 1.0 / 3.0), 0);
    assert_int_equal(metrics_text_sample_double(&text, "d", NULL, 1e300 * 1e300), 0);
    assert_int_equal(metrics_text_sample_double(&text, "d", NULL, -1e300 * 1e300), 0);
    assert_int_equal(metrics_text_sample_double(&text, "d", "k=\"v\"", 0.0 * (1e300 * 1e300)), 0);
    assert_string_equal(text.data, "d 0.1\nd 2.5\nd 0.3333333333333333\nd +Inf\nd -Inf\nd{k=\"v\"} NaN\n");
    metrics_text_free(&text);
}

static void test_text_past_its_bound_fails_and_stays_failed(void **state)
{
    (void)state;
    struct metrics_text text;
    metrics_text_init(&text);
    static char help[64 * 1024];
    memset(help, 'h', sizeof(help) - 1);
    int status = 0;
    for (int i = 0; status == 0 && i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "family_%d", i);
        status = metrics_text_family(&text, name, "gauge", help);
    }
    assert_int_equal(status, -1);
    assert_true(text.failed);
    assert_true(text.length < METRICS_TEXT_BYTES_MAX);
    assert_int_equal(text.length, strlen(text.data)); /* still a valid string */
    assert_int_equal(metrics_text_sample(&text, "x", NULL, 1), -1);
    assert_int_equal(metrics_text_family(&text, "y", "gauge", "small"), -1);
    metrics_text_free(&text);
    metrics_text_free(&text); /* twice is fine */
}

/* ---- histograms ------------------------------------------------------------------------------------ */

static void test_latency_histogram_buckets_cumulative_with_inf_sum_count(void **state)
{
    (void)state;
    metrics_latency_observe(METRICS_LATENCY_DECIDE, 50);       /* <= 0.0001 */
    metrics_latency_observe(METRICS_LATENCY_DECIDE, 100);      /* on the bound: <= 0.0001 */
    metrics_latency_observe(METRICS_LATENCY_DECIDE, 101);      /* <= 0.00025 */
    metrics_latency_observe(METRICS_LATENCY_DECIDE, 2000000);  /* <= 2.5 */
    metrics_latency_observe(METRICS_LATENCY_DECIDE, 20000000); /* +Inf only */
    metrics_latency_observe(METRICS_LATENCY_DECIDE, -5);       /* a clock step: 0 */
    char *text = render();
    const char *expected =
        "# HELP stockd_decide_seconds Handler time per command: shard load, decide, evolve, "
        "shard write and queueing its events to the producer.\n"
        "# TYPE stockd_decide_seconds histogram\n"
        "stockd_decide_seconds_bucket{le=\"0.0001\"} 3\n"
        "stockd_decide_seconds_bucket{le=\"0.00025\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.0005\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.001\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.0025\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.005\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.01\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.025\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.05\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.1\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.25\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"0.5\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"1\"} 4\n"
        "stockd_decide_seconds_bucket{le=\"2.5\"} 5\n"
        "stockd_decide_seconds_bucket{le=\"5\"} 5\n"
        "stockd_decide_seconds_bucket{le=\"10\"} 5\n"
        "stockd_decide_seconds_bucket{le=\"+Inf\"} 6\n"
        "stockd_decide_seconds_sum 22.000251\n"
        "stockd_decide_seconds_count 6\n";
    if (strstr(text, expected) == NULL) fail_msg("expected\n%s\nin\n%s", expected, text);
    exposition_check(text);
    free(text);
}

static void test_latency_local_merge_equals_direct_observation(void **state)
{
    (void)state;
    static const int64_t durations_us[] = {0, 99, 100, 250, 251, 7000, 10000000, 10000001, 123456789};
    struct metrics_latency_local local = {.count = 0};
    for (size_t i = 0; i < sizeof(durations_us) / sizeof(durations_us[0]); i++) {
        metrics_latency_local_add(&local, durations_us[i]);
        metrics_latency_observe(METRICS_LATENCY_DECIDE, durations_us[i]);
    }
    metrics_latency_merge(METRICS_LATENCY_END_TO_END, &local);
    assert_int_equal(local.count, 0);                          /* merged and zeroed */
    metrics_latency_merge(METRICS_LATENCY_END_TO_END, &local); /* an empty merge adds nothing */
    char *text = render();
    char decide[4096];
    char end_to_end[4096];
    const char *at = strstr(text, "stockd_decide_seconds_bucket");
    snprintf(decide, sizeof(decide), "%.*s", (int)(strstr(at, "# HELP") - at), at);
    at = strstr(text, "stockd_command_end_to_end_seconds_bucket");
    snprintf(end_to_end, sizeof(end_to_end), "%.*s", (int)(strstr(at, "# HELP") - at), at);
    /* the same lines but for the name */
    char *renamed = decide;
    for (char *found; (found = strstr(renamed, "stockd_decide_seconds")) != NULL; renamed = found + 1) {
        size_t tail = strlen(found + strlen("stockd_decide_seconds"));
        memmove(found + strlen("stockd_command_end_to_end_seconds"), found + strlen("stockd_decide_seconds"),
                tail + 1);
        memcpy(found, "stockd_command_end_to_end_seconds", strlen("stockd_command_end_to_end_seconds"));
    }
    assert_string_equal(decide, end_to_end);
    assert_true(strstr(end_to_end, "stockd_command_end_to_end_seconds_sum 143.464490\n") != NULL);
    free(text);
}

static void test_batch_size_counts_committed_transactions_with_input_only(void **state)
{
    (void)state;
    metrics_transaction_observe(METRICS_STAGE_HANDLER, true, 5000);
    metrics_transaction_observe(METRICS_STAGE_HANDLER, true, 1);
    metrics_transaction_observe(METRICS_STAGE_HANDLER, true, 0);  /* a punctuation-only turn */
    metrics_transaction_observe(METRICS_STAGE_HANDLER, false, 7); /* aborted: no batch size */
    metrics_transaction_observe(METRICS_STAGE_ROUTER, true, 3);
    metrics_transaction_observe(METRICS_STAGE_NONE, true, 3); /* not measured */
    char *text = render();
    assert_int_equal(sample_value(text, "stockd_transactions_total{stage=\"handler\",result=\"committed\"}"),
                     3);
    assert_int_equal(sample_value(text, "stockd_transactions_total{stage=\"handler\",result=\"aborted\"}"),
                     1);
    assert_int_equal(sample_value(text, "stockd_transactions_total{stage=\"router\",result=\"committed\"}"),
                     1);
    assert_int_equal(sample_value(text, "stockd_transactions_total{stage=\"router\",result=\"aborted\"}"), 0);
    assert_int_equal(lines_starting_with(text, "stockd_transactions_total{stage=\"none\""), 0);
    assert_int_equal(sample_value(text, "stockd_batch_size_bucket{stage=\"handler\",le=\"1\"}"), 1);
    assert_int_equal(sample_value(text, "stockd_batch_size_bucket{stage=\"handler\",le=\"2000\"}"), 1);
    assert_int_equal(sample_value(text, "stockd_batch_size_bucket{stage=\"handler\",le=\"5000\"}"), 2);
    assert_int_equal(sample_value(text, "stockd_batch_size_bucket{stage=\"handler\",le=\"+Inf\"}"), 2);
    assert_int_equal(sample_value(text, "stockd_batch_size_sum{stage=\"handler\"}"), 5001);
    assert_int_equal(sample_value(text, "stockd_batch_size_count{stage=\"handler\"}"), 2);
    assert_int_equal(sample_value(text, "stockd_batch_size_bucket{stage=\"router\",le=\"5\"}"), 1);
    assert_int_equal(sample_value(text, "stockd_batch_size_bucket{stage=\"router\",le=\"2\"}"), 0);
    exposition_check(text);
    free(text);
}

/* ---- commands, router, lag -------------------------------------------------------------------------- */

static void test_commands_count_at_merge_and_a_cleared_batch_not_at_all(void **state)
{
    (void)state;
    struct metrics_commands_local batch = {.total = 0};
    metrics_commands_local_add(&batch, COMMAND_RESERVE_STOCK, metrics_outcome_of(REJECT_NONE));
    metrics_commands_local_add(&batch, COMMAND_RESERVE_STOCK, metrics_outcome_of(REJECT_INSUFFICIENT_STOCK));
    metrics_commands_local_add(&batch, COMMAND_CREATE_SKU, METRICS_OUTCOME_DUPLICATE);
    metrics_commands_local_add(&batch, COMMAND_NONE, METRICS_OUTCOME_DEAD_LETTERED);
    metrics_commands_local_add(&batch, (enum command_type)999, METRICS_OUTCOME_DEAD_LETTERED); /* unknown */
    char *text = render();
    assert_int_equal(sample_value(text, "stockd_commands_total{type=\"ReserveStock\",outcome=\"accepted\"}"),
                     0);
    free(text);
    metrics_commands_merge(&batch);
    assert_int_equal(batch.total, 0);
    metrics_commands_local_add(&batch, COMMAND_RESERVE_STOCK, metrics_outcome_of(REJECT_NONE));
    metrics_commands_local_clear(&batch); /* the aborted batch: retried, counted then */
    metrics_commands_merge(&batch);
    text = render();
    assert_int_equal(sample_value(text, "stockd_commands_total{type=\"ReserveStock\",outcome=\"accepted\"}"),
                     1);
    assert_int_equal(
        sample_value(text, "stockd_commands_total{type=\"ReserveStock\",outcome=\"insufficient_stock\"}"), 1);
    assert_int_equal(sample_value(text, "stockd_commands_total{type=\"CreateSku\",outcome=\"duplicate\"}"),
                     1);
    assert_int_equal(sample_value(text, "stockd_commands_total{type=\"unknown\",outcome=\"dead_lettered\"}"),
                     2);
    /* accepted shows for every type from the start; other outcomes once they happen */
    assert_int_equal(sample_value(text, "stockd_commands_total{type=\"TransferStock\",outcome=\"accepted\"}"),
                     0);
    assert_int_equal(
        sample_value(text, "stockd_commands_total{type=\"ExpireReservations\",outcome=\"accepted\"}"), 0);
    assert_int_equal(lines_starting_with(text, "stockd_commands_total{type=\"TransferStock\",outcome=\"same"),
                     0);
    assert_int_equal(lines_starting_with(text, "stockd_commands_total{type=\"unknown\",outcome=\"accepted\""),
                     0);
    exposition_check(text);
    free(text);
}

static void test_router_commands_total_has_both_results(void **state)
{
    (void)state;
    metrics_router_commands_add(10, 2);
    metrics_router_commands_add(5, 0);
    char *text = render();
    assert_int_equal(sample_value(text, "stockd_router_commands_total{result=\"routed\"}"), 15);
    assert_int_equal(sample_value(text, "stockd_router_commands_total{result=\"dead_lettered\"}"), 2);
    free(text);
}

static void test_consumer_lag_only_for_owned_partitions(void **state)
{
    (void)state;
    metrics_consumer_lag_set(METRICS_STAGE_HANDLER, 0, 12);
    metrics_consumer_lag_set(METRICS_STAGE_HANDLER, 5, 0);
    metrics_consumer_lag_set(METRICS_STAGE_HANDLER, 7, -3); /* a stale end: 0 */
    metrics_consumer_lag_set(METRICS_STAGE_ROUTER, STOCKD_PARTITIONS_MAX - 1, 4);
    metrics_consumer_lag_set(METRICS_STAGE_ROUTER, STOCKD_PARTITIONS_MAX, 4); /* out of bounds: ignored */
    metrics_consumer_lag_set(METRICS_STAGE_ROUTER, -1, 4);
    metrics_consumer_lag_set(METRICS_STAGE_NONE, 1, 4);
    metrics_consumer_lag_clear(METRICS_STAGE_HANDLER, 5); /* revoked */
    char *text = render();
    assert_int_equal(sample_value(text, "stockd_consumer_lag{stage=\"handler\",partition=\"0\"}"), 12);
    assert_int_equal(sample_value(text, "stockd_consumer_lag{stage=\"handler\",partition=\"7\"}"), 0);
    assert_int_equal(sample_value(text, "stockd_consumer_lag{stage=\"router\",partition=\"1023\"}"), 4);
    assert_int_equal(lines_starting_with(text, "stockd_consumer_lag{"), 3);
    free(text);
    metrics_consumer_lag_clear_all(METRICS_STAGE_HANDLER);
    text = render();
    assert_int_equal(lines_starting_with(text, "stockd_consumer_lag{"), 1);
    assert_int_equal(lines_starting_with(text, "# TYPE stockd_consumer_lag gauge"), 1);
    free(text);
}

/* ---- HTTP ------------------------------------------------------------------------------------------- */

static void test_http_series_by_route_method_status(void **state)
{
    (void)state;
    metrics_http_observe("/v1/skus/{sku}", "GET", 200, 150);
    metrics_http_observe("/v1/skus/{sku}", "GET", 200, 90);
    metrics_http_observe("/v1/skus/{sku}", "GET", 404, 80);
    char route_copy[] = "/v1/skus/{sku}"; /* the same template at another address: the same series */
    metrics_http_observe(route_copy, "GET", 404, 80);
    metrics_http_observe("unmatched", "BREW", 404, 30);     /* unknown method */
    metrics_http_observe("/odd\"route\\", "POST", 999, 30); /* unknown status; escaped template */
    metrics_http_observe("/odd\"route\\", "POST", 42, 30);
    char *text = render();
    assert_int_equal(
        sample_value(text,
                     "stockd_http_requests_total{route=\"/v1/skus/{sku}\",method=\"GET\",status=\"200\"}"),
        2);
    assert_int_equal(
        sample_value(text,
                     "stockd_http_requests_total{route=\"/v1/skus/{sku}\",method=\"GET\",status=\"404\"}"),
        2);
    assert_int_equal(
        sample_value(text, "stockd_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"}"),
        1);
    assert_int_equal(
        sample_value(
            text, "stockd_http_requests_total{route=\"/odd\\\"route\\\\\",method=\"POST\",status=\"other\"}"),
        2);
    assert_int_equal(sample_value(text, "stockd_http_request_seconds_count{route=\"/v1/skus/{sku}\"}"), 4);
    assert_int_equal(
        sample_value(text, "stockd_http_request_seconds_bucket{route=\"/v1/skus/{sku}\",le=\"0.0001\"}"), 3);
    assert_true(strstr(text, "stockd_http_request_seconds_sum{route=\"/v1/skus/{sku}\"} 0.000400\n") != NULL);
    assert_int_equal(lines_starting_with(text, "stockd_http_requests_total{route=\"overflow\""), 0);
    exposition_check(text);
    free(text);
}

/* Route templates must live as long as the process: these do. */
static char many_routes[METRICS_HTTP_ROUTES_MAX + 10][32];

static void test_http_routes_past_the_bound_count_into_overflow(void **state)
{
    (void)state;
    for (int i = 0; i < METRICS_HTTP_ROUTES_MAX + 10; i++) {
        snprintf(many_routes[i], sizeof(many_routes[i]), "/r/%d", i);
        metrics_http_observe(many_routes[i], "GET", 200, 10);
    }
    static char long_route[METRICS_HTTP_ROUTE_BYTES_MAX + 2];
    memset(long_route, 'x', sizeof(long_route) - 1);
    metrics_http_observe(long_route, "GET", 200, 10);
    char *text = render();
    assert_int_equal(lines_starting_with(text, "stockd_http_requests_total{route=\"/r/"),
                     METRICS_HTTP_ROUTES_MAX);
    assert_int_equal(
        sample_value(
            text, "stockd_http_requests_total{route=\"overflow\",method=\"overflow\",status=\"overflow\"}"),
        11);
    assert_int_equal(sample_value(text, "stockd_http_request_seconds_count{route=\"overflow\"}"), 11);
    assert_int_equal(lines_starting_with(text, "stockd_http_request_seconds_count{"),
                     METRICS_HTTP_ROUTES_MAX + 1);
    exposition_check(text);
    free(text);
}

static void test_http_series_past_the_bound_count_into_overflow_never_grow(void **state)
{
    (void)state;
    static const char *const routes[] = {"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h"};
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    long observed = 0;
    for (int status = 100; status < 600; status += 7) {
        for (int route = 0; route < 8; route++) {
            for (int method = 0; method < 4; method++) {
                metrics_http_observe(routes[route], methods[method], status, 10);
                observed++;
            }
        }
    }
    assert_true(observed > METRICS_HTTP_SERIES_MAX);
    char *text = render();
    int series = lines_starting_with(text, "stockd_http_requests_total{");
    assert_int_equal(series, METRICS_HTTP_SERIES_MAX + 1); /* full, plus the overflow series */
    double overflow = sample_value(
        text, "stockd_http_requests_total{route=\"overflow\",method=\"overflow\",status=\"overflow\"}");
    assert_int_equal((long)overflow, observed - METRICS_HTTP_SERIES_MAX);
    exposition_check(text);
    free(text);
}

/* ---- views --------------------------------------------------------------------------------------------- */

/* View names must live as long as the process: these do. */
static char many_views[METRICS_VIEWS_MAX + 3][32];

static void test_view_commit_ages_by_view_and_past_the_bound_into_other(void **state)
{
    (void)state;
    struct metrics_latency_local local = {.count = 0};
    metrics_latency_local_add(&local, 3000); /* <= 0.005 */
    metrics_latency_local_add(&local, -7);   /* a clock step: 0 */
    metrics_view_commit_age_merge("stock", &local);
    assert_int_equal(local.count, 0); /* merged and zeroed */
    metrics_latency_local_add(&local, 600000);
    metrics_view_commit_age_merge("stock", &local);
    metrics_view_commit_age_merge("history", &local); /* empty: claims no series */
    for (int i = 0; i < METRICS_VIEWS_MAX + 3; i++) {
        snprintf(many_views[i], sizeof(many_views[i]), "view-%d", i);
        metrics_latency_local_add(&local, 10);
        metrics_view_commit_age_merge(many_views[i], &local);
    }
    static char long_name[METRICS_VIEW_NAME_BYTES_MAX + 2];
    memset(long_name, 'v', sizeof(long_name) - 1);
    metrics_latency_local_add(&local, 10);
    metrics_view_commit_age_merge(long_name, &local);
    char *text = render();
    assert_int_equal(sample_value(text, "stockd_view_commit_age_seconds_bucket{view=\"stock\",le=\"0.005\"}"),
                     2);
    assert_int_equal(sample_value(text, "stockd_view_commit_age_seconds_bucket{view=\"stock\",le=\"0.5\"}"),
                     2);
    assert_int_equal(sample_value(text, "stockd_view_commit_age_seconds_bucket{view=\"stock\",le=\"1\"}"), 3);
    assert_non_null(strstr(text, "stockd_view_commit_age_seconds_sum{view=\"stock\"} 0.603000\n"));
    assert_int_equal(sample_value(text, "stockd_view_commit_age_seconds_count{view=\"history\"}"), -1);
    /* "stock" took one slot: METRICS_VIEWS_MAX - 1 of the many, then 4 more and the long name into other */
    assert_int_equal(lines_starting_with(text, "stockd_view_commit_age_seconds_count{view=\"view-"),
                     METRICS_VIEWS_MAX - 1);
    assert_int_equal(sample_value(text, "stockd_view_commit_age_seconds_count{view=\"other\"}"), 5);
    exposition_check(text);
    free(text);
}

/* ---- threads ------------------------------------------------------------------------------------------- */

static void *observer_run(void *argument)
{
    long index = (long)(intptr_t)argument;
    static const char *const routes[] = {"/v1/skus", "/v1/skus/{sku}", "/v1/commands/{id}", "unmatched"};
    struct metrics_commands_local batch = {.total = 0};
    struct metrics_latency_local local = {.count = 0};
    for (int i = 0; i < OBSERVATIONS; i++) {
        metrics_http_observe(routes[(i + index) % 4], i % 8 < 4 ? "GET" : "POST", 200 + (i % 3), i % 500);
        metrics_latency_observe(METRICS_LATENCY_DECIDE, i % 1000);
        metrics_latency_local_add(&local, 1);
        metrics_commands_local_add(&batch, COMMAND_RECEIVE_STOCK, METRICS_OUTCOME_ACCEPTED);
        metrics_transaction_observe(METRICS_STAGE_HANDLER, true, 1);
        if (i % 100 == 99) {
            metrics_commands_merge(&batch);
            metrics_latency_merge(METRICS_LATENCY_END_TO_END, &local);
            metrics_router_commands_add(1, 0);
        }
        metrics_consumer_lag_set(METRICS_STAGE_ROUTER, (int32_t)index, i);
    }
    return NULL;
}

static void test_threads_observing_at_once_give_exact_totals(void **state)
{
    (void)state;
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, observer_run, (void *)(intptr_t)i), 0);
    /* render meanwhile: the text must stay well-formed while others record */
    for (int i = 0; i < 20; i++) {
        char *text = render();
        exposition_check(text);
        free(text);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    const long total = (long)THREADS * OBSERVATIONS;
    char *text = render();
    exposition_check(text);
    assert_int_equal(sample_value(text, "stockd_decide_seconds_count"), total);
    long decide_sum_us = (long)THREADS * (OBSERVATIONS / 1000) * (999 * 1000 / 2);
    char decide_sum[64];
    snprintf(decide_sum, sizeof(decide_sum), "stockd_decide_seconds_sum %ld.%06ld\n", decide_sum_us / 1000000,
             decide_sum_us % 1000000);
    assert_non_null(strstr(text, decide_sum));
    assert_int_equal(sample_value(text, "stockd_command_end_to_end_seconds_count"), total);
    assert_int_equal(sample_value(text, "stockd_commands_total{type=\"ReceiveStock\",outcome=\"accepted\"}"),
                     total);
    assert_int_equal(sample_value(text, "stockd_transactions_total{stage=\"handler\",result=\"committed\"}"),
                     total);
    assert_int_equal(sample_value(text, "stockd_batch_size_count{stage=\"handler\"}"), total);
    assert_int_equal(sample_value(text, "stockd_router_commands_total{result=\"routed\"}"), total / 100);
    long http_total = 0;
    for (const char *line = strstr(text, "stockd_http_requests_total{"); line != NULL;
         line = strstr(line + 1, "stockd_http_requests_total{"))
        http_total += strtol(strchr(line, ' ') + 1, NULL, 10);
    assert_int_equal(http_total, total);
    assert_int_equal(lines_starting_with(text, "stockd_http_requests_total{"), 4 * 2 * 3);
    assert_int_equal(lines_starting_with(text, "stockd_http_request_seconds_count{"), 4);
    for (int i = 0; i < THREADS; i++) {
        char lag[96];
        snprintf(lag, sizeof(lag), "stockd_consumer_lag{stage=\"router\",partition=\"%d\"}", i);
        assert_int_equal(sample_value(text, lag), OBSERVATIONS - 1);
    }
    free(text);
}

static void test_sync_answers_counted_by_source(void **state)
{
    (void)state;
    metrics_sync_answer_add(METRICS_SYNC_HANDLER);
    metrics_sync_answer_add(METRICS_SYNC_HANDLER);
    metrics_sync_answer_add(METRICS_SYNC_VIEW);
    char *text = render();
    assert_int_equal(sample_value(text, "stockd_sync_answers_total{source=\"handler\"}"), 2);
    assert_int_equal(sample_value(text, "stockd_sync_answers_total{source=\"view\"}"), 1);
    assert_int_equal(sample_value(text, "stockd_sync_answers_total{source=\"none\"}"), 0);
    free(text);
}

/* ---- the HTTP gate ------------------------------------------------------------------------------- */

static void test_gate_connections_open_is_accepted_minus_closed_by_reason(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        metrics_gate_connection_accepted();
    metrics_gate_connection_closed(METRICS_GATE_CLOSE_CLIENT_GONE);
    metrics_gate_connection_closed(METRICS_GATE_CLOSE_REQUEST_TIMEOUT);
    metrics_gate_connection_closed(METRICS_GATE_CLOSE_REQUEST_TIMEOUT);
    metrics_gate_connection_refused(METRICS_GATE_REFUSAL_CONNECTIONS_MAX);
    char *text = render();
    exposition_check(text);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_open"), 2);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_accepted_total"), 5);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_closed_total{reason=\"client_gone\"}"),
                     1);
    assert_int_equal(
        sample_value(text, "stockd_http_gate_connections_closed_total{reason=\"request_timeout\"}"), 2);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_closed_total{reason=\"stopping\"}"), 0);
    assert_int_equal(lines_starting_with(text, "stockd_http_gate_connections_closed_total{"),
                     METRICS_GATE_CLOSE_COUNT);
    /* A refused connection was never open: it moves neither accepted nor open. */
    assert_int_equal(
        sample_value(text, "stockd_http_gate_connections_refused_total{reason=\"connections_max\"}"), 1);
    assert_int_equal(
        sample_value(text, "stockd_http_gate_connections_refused_total{reason=\"out_of_memory\"}"), 0);
    free(text);
}

static void test_gate_requests_relayed_counts_all_refused_by_reason_and_read_times(void **state)
{
    (void)state;
    metrics_gate_request_relayed(80, METRICS_GATE_REQUEST_WHOLE);                /* <= 0.0001 */
    metrics_gate_request_relayed(-3, METRICS_GATE_REQUEST_WHOLE);                /* a clock step: 0 */
    metrics_gate_request_relayed(3000, METRICS_GATE_REQUEST_AMBIGUOUS_FRAMING);  /* <= 0.005 */
    metrics_gate_request_relayed(8000000, METRICS_GATE_REQUEST_TRUNCATED);       /* a slow client: <= 10 */
    metrics_gate_request_relayed(31000000, METRICS_GATE_REQUEST_HEAD_TOO_LARGE); /* +Inf only */
    char *text = render();
    exposition_check(text);
    assert_int_equal(sample_value(text, "stockd_http_gate_requests_relayed_total"), 5);
    assert_int_equal(
        sample_value(text, "stockd_http_gate_requests_refused_total{reason=\"ambiguous_framing\"}"), 1);
    assert_int_equal(sample_value(text, "stockd_http_gate_requests_refused_total{reason=\"truncated\"}"), 1);
    assert_int_equal(sample_value(text, "stockd_http_gate_requests_refused_total{reason=\"head_too_large\"}"),
                     1);
    assert_int_equal(
        sample_value(text, "stockd_http_gate_requests_refused_total{reason=\"malformed_chunked\"}"), 0);
    /* whole requests are relayed, not refused: no such series */
    assert_int_equal(sample_value(text, "stockd_http_gate_requests_refused_total{reason=\"whole\"}"), -1);
    assert_int_equal(lines_starting_with(text, "stockd_http_gate_requests_refused_total{"),
                     METRICS_GATE_REQUEST_COUNT - 1);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_bucket{le=\"0.0001\"}"), 2);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_bucket{le=\"0.005\"}"), 3);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_bucket{le=\"5\"}"), 3);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_bucket{le=\"10\"}"), 4);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_bucket{le=\"+Inf\"}"), 5);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_count"), 5);
    assert_non_null(strstr(text, "\nstockd_http_gate_request_read_seconds_sum 39.003080\n"));
    free(text);
}

static void *gate_recorder_run(void *argument)
{
    (void)argument;
    for (int i = 0; i < OBSERVATIONS; i++) {
        metrics_gate_connection_accepted();
        metrics_gate_request_relayed(i % 1000, METRICS_GATE_REQUEST_WHOLE);
        metrics_gate_connection_closed(i % 2 == 0 ? METRICS_GATE_CLOSE_CLIENT_GONE
                                                  : METRICS_GATE_CLOSE_AFTER_ANSWER);
    }
    return NULL;
}

static void test_gate_threads_opening_and_closing_leave_none_open(void **state)
{
    (void)state;
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, gate_recorder_run, NULL), 0);
    for (int i = 0; i < 20; i++) { /* the gauge read meanwhile is never negative */
        char *text = render();
        assert_true(sample_value(text, "stockd_http_gate_connections_open") >= 0);
        free(text);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    const long total = (long)THREADS * OBSERVATIONS;
    char *text = render();
    exposition_check(text);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_open"), 0);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_accepted_total"), total);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_closed_total{reason=\"client_gone\"}"),
                     total / 2);
    assert_int_equal(sample_value(text, "stockd_http_gate_requests_relayed_total"), total);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_count"), total);
    free(text);
}

static void test_write_all_of_an_empty_registry_is_valid(void **state)
{
    (void)state;
    char *text = render();
    int samples = exposition_check(text);
    assert_true(samples > 0);
    assert_int_equal(lines_starting_with(text, "# TYPE "), 19);
    assert_int_equal(sample_value(text, "stockd_http_gate_connections_open"), 0);
    assert_int_equal(sample_value(text, "stockd_http_gate_requests_relayed_total"), 0);
    assert_int_equal(sample_value(text, "stockd_http_gate_request_read_seconds_count"), 0);
    assert_int_equal(lines_starting_with(text, "# TYPE stockd_as_of_fold_seconds histogram"), 1);
    assert_int_equal(lines_starting_with(text, "stockd_sync_answers_total{"), 3);
    assert_int_equal(sample_value(text, "stockd_sync_answers_total{source=\"handler\"}"), 0);
    assert_int_equal(lines_starting_with(text, "stockd_view_commit_age_seconds"), 0);
    assert_int_equal(lines_starting_with(text, "stockd_http_requests_total{"), 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_text_family_writes_help_and_type_once, setup),
        cmocka_unit_test_setup(test_text_help_escapes_backslash_and_newline_not_quote, setup),
        cmocka_unit_test_setup(test_labels_append_escapes_backslash_quote_newline, setup),
        cmocka_unit_test_setup(test_labels_append_that_does_not_fit_leaves_labels_unchanged, setup),
        cmocka_unit_test_setup(test_text_sample_double_shortest_exact_and_special_values, setup),
        cmocka_unit_test_setup(test_text_past_its_bound_fails_and_stays_failed, setup),
        cmocka_unit_test_setup(test_latency_histogram_buckets_cumulative_with_inf_sum_count, setup),
        cmocka_unit_test_setup(test_latency_local_merge_equals_direct_observation, setup),
        cmocka_unit_test_setup(test_batch_size_counts_committed_transactions_with_input_only, setup),
        cmocka_unit_test_setup(test_commands_count_at_merge_and_a_cleared_batch_not_at_all, setup),
        cmocka_unit_test_setup(test_router_commands_total_has_both_results, setup),
        cmocka_unit_test_setup(test_consumer_lag_only_for_owned_partitions, setup),
        cmocka_unit_test_setup(test_http_series_by_route_method_status, setup),
        cmocka_unit_test_setup(test_http_routes_past_the_bound_count_into_overflow, setup),
        cmocka_unit_test_setup(test_http_series_past_the_bound_count_into_overflow_never_grow, setup),
        cmocka_unit_test_setup(test_view_commit_ages_by_view_and_past_the_bound_into_other, setup),
        cmocka_unit_test_setup(test_threads_observing_at_once_give_exact_totals, setup),
        cmocka_unit_test_setup(test_sync_answers_counted_by_source, setup),
        cmocka_unit_test_setup(test_gate_connections_open_is_accepted_minus_closed_by_reason, setup),
        cmocka_unit_test_setup(test_gate_requests_relayed_counts_all_refused_by_reason_and_read_times, setup),
        cmocka_unit_test_setup(test_gate_threads_opening_and_closing_leave_none_open, setup),
        cmocka_unit_test_setup(test_write_all_of_an_empty_registry_is_valid, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
