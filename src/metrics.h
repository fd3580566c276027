/* metrics.h - process-wide counters, gauges and histograms, and their Prometheus text exposition (0.0.4).
 *
 * The stages record into fixed arrays of C11 atomics (no locks, no allocation, no syscalls when
 * recording); metrics_write_all renders them into a growable text buffer that the HTTP layer serves at
 * GET /metrics. Does no I/O. Sits beside src/kafka: knows the domain's enums, nothing above. */
#ifndef STOCKD_METRICS_H
#define STOCKD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/domain.h"
#include "limits.h"

/* ---- exposition text ------------------------------------------------------------------------------ */

/* A growable buffer of exposition text. A write that fails (out of memory, or the buffer would pass
 * METRICS_TEXT_BYTES_MAX) marks it failed: that write and every later one return -1 and add nothing, so
 * the caller checks once at the end (metrics_write_all's result, or `failed`). data is NUL-terminated
 * whenever it is not NULL. */
struct metrics_text {
    char *data;
    size_t length;   /* bytes written, without the NUL */
    size_t capacity; /* bytes allocated */
    bool failed;
    char family_last[128]; /* the family written last: repeating it costs no search */
};

/* Exposition bound: all metrics of an instance fit in ~200 KiB (lag gauges of 1024 partitions for two
 * stages are the largest part); 8 MiB stops a runaway caller long before memory does. */
#define METRICS_TEXT_BYTES_MAX (8u * 1024 * 1024)

void metrics_text_init(struct metrics_text *out);
/* Frees the buffer and makes it empty again. */
void metrics_text_free(struct metrics_text *out);

/* Writes the "# HELP" and "# TYPE" lines of a family: type is "counter", "gauge" or "histogram"; help is
 * escaped (backslash, newline). A family already written to out is not written again (returns 0), so a
 * caller may call this before each of its samples; but the samples of a family must follow its lines with
 * no other family in between (the format wants a family's lines together). name must be a valid metric
 * name shorter than 100 bytes (asserted). Returns 0 or -1 (see struct metrics_text). */
int metrics_text_family(struct metrics_text *out, const char *name, const char *type, const char *help);

/* Writes one sample line: `name{labels} value`, or `name value` when labels is NULL or "". labels is
 * already formatted (`a="x",b="y"`, see metrics_labels_append, which escapes). Returns 0 or -1. */
int metrics_text_sample(struct metrics_text *out, const char *name, const char *labels, int64_t value);
/* The same with a floating-point value (shortest text that reads back exactly; NaN, +Inf, -Inf). */
int metrics_text_sample_double(struct metrics_text *out, const char *name, const char *labels, double value);

/* Appends `name="value"` to the NUL-terminated labels (after a comma unless labels is empty), escaping
 * backslash, double quote and newline in value. name must be a valid label name (asserted). Returns 0, or
 * -1 with labels unchanged when it would not fit in labels_bytes. */
int metrics_labels_append(char *labels, size_t labels_bytes, const char *name, const char *value);

/* Writes every metric of the registry to out. Returns 0, or -1 when out failed (see above). */
int metrics_write_all(struct metrics_text *out);

/* ---- latency histograms ------------------------------------------------------------------------------
 * Fixed buckets in seconds, for latencies from 100 us to 10 s: 0.0001 0.00025 0.0005 0.001 0.0025 0.005
 * 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10, then +Inf. Observations are in microseconds (integers, so sums
 * are exact); negative durations (clock steps, skew between hosts) count as 0. */

#define METRICS_LATENCY_BUCKETS 16

enum metrics_latency {
    METRICS_LATENCY_DECIDE,     /* stockd_decide_seconds */
    METRICS_LATENCY_END_TO_END, /* stockd_command_end_to_end_seconds */
    METRICS_LATENCY_AS_OF,      /* stockd_as_of_fold_seconds */
    METRICS_LATENCY_COUNT
};

/* Observations gathered by one thread without atomics (a batch's worth), added to the registry at once by
 * metrics_latency_merge. Zero-initialise it. */
struct metrics_latency_local {
    uint64_t bucket_counts[METRICS_LATENCY_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    uint64_t sum_us;
    uint64_t count;
};

void metrics_latency_local_add(struct metrics_latency_local *local, int64_t duration_us);
/* Adds local's observations to the histogram and zeroes local. */
void metrics_latency_merge(enum metrics_latency which, struct metrics_latency_local *local);
/* One observation straight into the registry (three atomic adds). */
void metrics_latency_observe(enum metrics_latency which, int64_t duration_us);

/* ---- views: the age of an event when its view commits it ---------------------------------------------
 * stockd_view_commit_age_seconds{view}: from an event record's timestamp on <prefix>.events (CreateTime:
 * the handler's producer stamps it when it produces the event, before its transaction commits) to the SQLite
 * commit of the live fold's batch that holds it; latency buckets. Rebuilds are not counted. At most
 * METRICS_VIEWS_MAX view names get a series; further names, and longer ones, count into view="other". */

#define METRICS_VIEWS_MAX           8
#define METRICS_VIEW_NAME_BYTES_MAX 64 /* longer names count into "other" (projector.h allows 31) */

/* Adds local's observations (ages in microseconds) to the view's histogram and zeroes local. view_name must
 * live as long as the process (a view_ops name): it is kept by pointer, never copied. Lock-free. */
void metrics_view_commit_age_merge(const char *view_name, struct metrics_latency_local *local);

/* ---- stages: commands, transactions, batches, consumer lag -------------------------------------------- */

enum metrics_stage {
    METRICS_STAGE_NONE = 0, /* not measured (a stage created by a test under another name) */
    METRICS_STAGE_ROUTER,
    METRICS_STAGE_HANDLER,
    METRICS_STAGE_COUNT
};

/* Outcomes of stockd_commands_total: accepted, duplicate, dead_lettered, then one per reject reason. */
#define METRICS_OUTCOME_ACCEPTED      0
#define METRICS_OUTCOME_DUPLICATE     1
#define METRICS_OUTCOME_DEAD_LETTERED 2
#define METRICS_OUTCOME_REJECTED_BASE 3 /* + enum reject_reason (REJECT_NONE is never used) */
#define METRICS_OUTCOME_COUNT         (METRICS_OUTCOME_REJECTED_BASE + REJECT_REASON_COUNT)

/* Outcomes counted by one thread during a batch, added to the registry when the batch commits (so an
 * aborted and retried batch counts once). Type COMMAND_NONE stands for "unknown" (undecodable).
 * Zero-initialise it. */
struct metrics_commands_local {
    uint32_t counts[COMMAND_TYPE_COUNT][METRICS_OUTCOME_COUNT];
    uint32_t total; /* how many counts are set: a merge of an empty tally does nothing */
};

/* Counts one command. type outside the enum counts as unknown; outcome must be < METRICS_OUTCOME_COUNT. */
void metrics_commands_local_add(struct metrics_commands_local *local, enum command_type type, int outcome);
/* The outcome of a decision: accepted for REJECT_NONE, else the rejection's reason. */
int metrics_outcome_of(enum reject_reason reason);
/* Adds local's counts to stockd_commands_total and zeroes local. */
void metrics_commands_merge(struct metrics_commands_local *local);
/* Throws a batch's counts away (the batch was aborted). */
void metrics_commands_local_clear(struct metrics_commands_local *local);

/* Where a synchronous submission's (Prefer: wait) answer came from: this instance's handler commit (the
 * outcome board), the outcomes view, or nowhere in time (the 202). */
enum metrics_sync_source {
    METRICS_SYNC_HANDLER = 0,
    METRICS_SYNC_VIEW,
    METRICS_SYNC_NONE,
    METRICS_SYNC_SOURCE_COUNT
};

/* stockd_sync_answers_total{source}: one synchronous submission answered. */
void metrics_sync_answer_add(enum metrics_sync_source source);

/* stockd_router_commands_total{result}: records of a committed router transaction. */
void metrics_router_commands_add(uint64_t routed, uint64_t dead_lettered);

/* stockd_transactions_total{stage,result} and, for committed transactions that consumed input,
 * stockd_batch_size{stage} (input records per transaction). */
void metrics_transaction_observe(enum metrics_stage stage, bool committed, uint64_t batch_records);

/* stockd_consumer_lag{stage,partition}: records between the consumer's position and the partition's end
 * (negative lags count as 0). Partitions outside 0..STOCKD_PARTITIONS_MAX-1 are ignored. A cleared
 * partition is not exported until it is set again. */
void metrics_consumer_lag_set(enum metrics_stage stage, int32_t partition, int64_t lag);
void metrics_consumer_lag_clear(enum metrics_stage stage, int32_t partition);
void metrics_consumer_lag_clear_all(enum metrics_stage stage);

/* ---- HTTP ----------------------------------------------------------------------------------------------
 * stockd_http_requests_total{route,method,status} and stockd_http_request_seconds{route}. At most
 * METRICS_HTTP_ROUTES_MAX distinct route templates and METRICS_HTTP_SERIES_MAX (route, method, status)
 * series are kept; requests beyond either bound count into route="overflow" (method and status
 * "overflow" too), never into new series. Methods other than GET HEAD POST PUT DELETE PATCH OPTIONS count
 * as "other", statuses outside 100-599 as "other". */

#define METRICS_HTTP_ROUTES_MAX      64
#define METRICS_HTTP_SERIES_MAX      512
#define METRICS_HTTP_ROUTE_BYTES_MAX 128 /* longer templates count into the overflow series */

/* Counts one answered request. route_template must be a string that lives as long as the process (a
 * literal from the route table, or "unmatched"): it is kept by pointer, never copied, and must not contain
 * user input. Lock-free; safe from any thread. */
void metrics_http_observe(const char *route_template, const char *method, int status, int64_t duration_us);

/* ---- the HTTP gate (src/api/gate.c) -------------------------------------------------------------------
 * stockd_http_gate_connections_open (gauge), stockd_http_gate_connections_accepted_total,
 * stockd_http_gate_connections_refused_total{reason}, stockd_http_gate_connections_closed_total{reason},
 * stockd_http_gate_requests_relayed_total, stockd_http_gate_requests_refused_total{reason} and
 * stockd_http_gate_request_read_seconds (latency buckets). One relaxed atomic add or two per event: the gate
 * records once per connection or request, never per byte. */

/* Why a connection was not taken in: the connection bound (connections_max), or no memory for it. */
enum metrics_gate_refusal {
    METRICS_GATE_REFUSAL_CONNECTIONS_MAX = 0,
    METRICS_GATE_REFUSAL_OUT_OF_MEMORY,
    METRICS_GATE_REFUSAL_COUNT
};

/* Why an accepted connection ended. */
enum metrics_gate_close {
    METRICS_GATE_CLOSE_AFTER_ANSWER = 0,     /* asked to (Connection: close, HTTP/1.0) or framing in doubt */
    METRICS_GATE_CLOSE_CLIENT_GONE,          /* the client closed, reset or stopped reading and failed */
    METRICS_GATE_CLOSE_REQUEST_TIMEOUT,      /* 408: a request not whole within http.request_timeout_ms */
    METRICS_GATE_CLOSE_IDLE_TIMEOUT,         /* keep-alive with no request for API_GATE_IDLE_MS */
    METRICS_GATE_CLOSE_ANSWER_TIMEOUT,       /* an answer that did not move (nobody read it) */
    METRICS_GATE_CLOSE_BUFFERED_MAX,         /* 503: the bound on buffered request bytes, or out of memory */
    METRICS_GATE_CLOSE_UPSTREAM_UNAVAILABLE, /* 503: civetweb could not be reached or answered nothing */
    METRICS_GATE_CLOSE_STOPPING,             /* the gate stopped */
    METRICS_GATE_CLOSE_COUNT
};

/* How a request was relayed: whole, or as it came because its framing is in doubt (civetweb then refuses
 * it, and the connection ends with that answer). */
enum metrics_gate_request {
    METRICS_GATE_REQUEST_WHOLE = 0,
    METRICS_GATE_REQUEST_AMBIGUOUS_FRAMING, /* Content-Length twice or not digits, with chunked, ... (400) */
    METRICS_GATE_REQUEST_MALFORMED_CHUNKED, /* a chunked body that does not parse (400) */
    METRICS_GATE_REQUEST_HEAD_TOO_LARGE,    /* no end of head within API_HEADER_BYTES_MAX (431) */
    METRICS_GATE_REQUEST_BODY_TOO_LARGE,    /* past http.body_bytes_max (413) */
    METRICS_GATE_REQUEST_TRUNCATED,         /* the client ended its side in the middle (400) */
    METRICS_GATE_REQUEST_COUNT
};

/* A connection taken in: accepted and open each go up by one. */
void metrics_gate_connection_accepted(void);
/* A connection refused at accept (answered 503, closed). */
void metrics_gate_connection_refused(enum metrics_gate_refusal reason);
/* An accepted connection ended: open goes down by one. */
void metrics_gate_connection_closed(enum metrics_gate_close reason);
/* A request handed to civetweb, read_duration_us after its first byte reached the gate (negative counts as
 * 0); request says whether it went whole or in doubt. */
void metrics_gate_request_relayed(int64_t read_duration_us, enum metrics_gate_request request);

/* ---- tests ------------------------------------------------------------------------------------------- */

/* Zeroes every metric. Only for tests: not safe while another thread records. */
void metrics_reset(void);

#endif
