/* projector.h - runs one view: folds <prefix>.events (all partitions) into the view's SQLite database.
 *
 * One thread per view. Bounded batches, each in one SQLite transaction that also stores the per-partition
 * positions (the consumer's next offsets, so they pass events the view ignores and transaction markers):
 * exactly-once into the view across crashes. Readers use read-only connections and see whole batches only.
 * Rebuild replays from offset 0 into a new file beside the live one and swaps it in atomically. Never
 * produces to Kafka. */
#ifndef STOCKD_PROJECTOR_H
#define STOCKD_PROJECTOR_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "views/view.h"

/* Read-only connections per view: one per query running at once. Four views times 32 connections of two
 * file descriptors each stay far below the usual limit of 1024; an acquisition past the bound waits. */
#define PROJECTOR_READERS_MAX 32

/* Longest wait for a position: a query waits, bounded, for its read-your-writes token. Longer timeouts
 * are cut to this. */
#define PROJECTOR_WAIT_MS_MAX 60000

/* A view's name names its file and schema directory: short, [a-z_]. */
#define PROJECTOR_VIEW_NAME_BYTES_MAX 32

struct projector;

/* Creates the projector of a view: opens (creating, migrating) <data_dir>/views/<name>.db, deleting it
 * first when its schema version is older than the binary's (the view is then empty until it has folded
 * the events again, which the log says), and removes a leftover partial rebuild (<name>.db.rebuild and
 * its -wal, -shm). Loads the stored positions. No Kafka connection yet: readers and waiters work at once.
 * config must outlive the projector. Returns NULL with a message in error. */
struct projector *projector_create(const struct stockd_config *config, const struct view_ops *view,
                                   char *error, size_t error_bytes);

/* Runs the fold on the calling thread until *stop is true (checked at least every 100 ms). Runs a
 * requested rebuild on the same thread, between live batches. Returns 0 on a clean stop, -1 when it could
 * not go on (logged): repeated SQLite failures, events deleted below the view's position, a swap that
 * left no live file. May be called again after it returned. */
int projector_run(struct projector *projector, const atomic_bool *stop);

/* Destroys a projector that is not running and whose readers were all released. Accepts NULL. */
void projector_destroy(struct projector *projector);

/* ---- reading (any thread) ------------------------------------------------------------------------------ */

/* A read-only connection to the live file, from a bounded pool (PROJECTOR_READERS_MAX), opened on the
 * file that is live now. Waits up to 5 s for a free connection. Statements prepared on it must be
 * finalised (or at least reset) before it is released. Returns NULL with a message when none can be had.
 * Give it back with projector_reader_release. */
sqlite3 *projector_reader_acquire(struct projector *projector, char *error, size_t error_bytes);

/* Like projector_reader_acquire, waiting at most wait_ms (0: only a reader free now). */
sqlite3 *projector_reader_acquire_within(struct projector *projector, int wait_ms, char *error,
                                         size_t error_bytes);

/* Gives a reader back. A read transaction still open is rolled back. A connection to a file that a
 * rebuild has replaced meanwhile is closed instead of pooled. Accepts NULL. */
void projector_reader_release(struct projector *projector, sqlite3 *reader);

/* Begins a read transaction on a reader from projector_reader_acquire: its snapshot is what the queries
 * until projector_reader_commit see. Returns 0, or -1 (the file cannot be read now). */
int projector_reader_begin(sqlite3 *reader);

/* Ends the read transaction of projector_reader_begin. */
void projector_reader_commit(sqlite3 *reader);

/* projector_positions_read for a reader from projector_reader_acquire, whose statement stays on the reader
 * for the next call (parsing was a large part of a small query's cost). */
int projector_reader_positions_read(sqlite3 *reader, int64_t *next_offsets, int32_t partition_count,
                                    char *error, size_t error_bytes);

/* Reads the committed positions (next offset per partition, 0 for partitions not yet seen) with reader,
 * inside the reader's current transaction when one is open, so that a query and its positions agree.
 * partition_count is at most STOCKD_PARTITIONS_MAX; positions stored for partitions at or past it are
 * ignored. Returns 0 or -1 with a message. */
int projector_positions_read(sqlite3 *reader, int64_t *next_offsets, int32_t partition_count, char *error,
                             size_t error_bytes);

/* Shutdown: every wait (projector_wait_position, projector_wait_commit) in progress or to come returns at
 * once, without waiting for its deadline; requests waiting for this view get their fallback answers before
 * the HTTP server stops. projector_run calls it when it returns; the API calls it first. */
void projector_end_waits(struct projector *projector);

/* Blocks until the view has passed position (its committed next offset on that partition is > offset) or
 * timeout_ms elapses (cut to [0, PROJECTOR_WAIT_MS_MAX]) or the projector stops. Positions are the
 * consumer's, so a position whose event the view ignores, or which a transaction marker follows, is passed
 * too. Returns 1 passed, 0 timed out or waits ended (shutdown), -1 bad position (partition out of range,
 * negative offset).
 */
int projector_wait_position(struct projector *projector, struct view_position position, int timeout_ms);

/* How many times what readers see has changed: batches committed by the live fold plus files swapped in
 * (a rebuild, an emptied view), since create. Read it BEFORE querying, then pass it to
 * projector_wait_commit: a change after the query's snapshot then always wakes the waiter. */
uint64_t projector_commit_count(struct projector *projector);

/* Blocks until the count of projector_commit_count has passed seen_commits (the next committed batch or
 * swap after the caller read seen_commits) or timeout_ms elapses (cut to [0, PROJECTOR_WAIT_MS_MAX]).
 * Returns 1 when it has passed (at once when it had already), 0 timed out, -1 waits have ended
 * (projector_end_waits: shutdown, so a caller must not wait again). */
int projector_wait_commit(struct projector *projector, uint64_t seen_commits, int timeout_ms);

/* Parses a token "partition:offset" (decimal digits only, partition < STOCKD_PARTITIONS_MAX, offset
 * <= INT64_MAX). Returns 0, or -1 with *out unchanged. */
int projector_position_parse(const char *token, struct view_position *out);

#define PROJECTOR_STOPPED_REASON_BYTES 160

struct projector_status {
    const char *name;
    int32_t partition_count;
    int64_t positions[STOCKD_PARTITIONS_MAX]; /* committed next offsets */
    int64_t ends[STOCKD_PARTITIONS_MAX];      /* last known end offsets (last stable offsets), -1 unknown */
    int64_t lag_total;                        /* sum over partitions of max(0, end - position), -1 unknown */
    bool ready;                               /* lag_total known and <= views.lag_max */
    bool rebuilding;
    int64_t rebuild_positions_total; /* progress of a running rebuild: sum of its positions */
    uint64_t events_applied;         /* since create, by the live fold (a rebuild's are not counted) */
    uint64_t events_undecodable;     /* skipped: not a valid event (logged with partition and offset) */
    uint64_t batches_committed;      /* live transactions committed */
    uint64_t batches_failed;         /* live transactions rolled back and retried */
    uint64_t consumer_errors;        /* transient Kafka errors seen (librdkafka retries them) */
    uint64_t rebuild_events_applied; /* by rebuilds, since create */
    uint64_t rebuild_pauses;         /* partitions a rebuild paused: too far ahead of a lagging live fold */
    uint64_t rebuilds_completed;     /* swapped in */
    uint64_t rebuilds_failed;        /* abandoned (logged); the live view was kept */
    /* Why a partition of the view stopped (an event it refuses, see projector.c, partition_stop); "" when
     * none did. The view is not ready while it is set. */
    char stopped_reason[PROJECTOR_STOPPED_REASON_BYTES];
};

/* Copies the current status (any thread). */
void projector_status_get(struct projector *projector, struct projector_status *out);

/* Asks for a rebuild: a fresh database filled from offset 0 beside the live one while queries go on and
 * the live fold goes on, caught up exactly to the live positions, then swapped in atomically. It starts on
 * the projector's thread at its next turn (or when projector_run is called). Returns 0 when accepted, 1
 * when one is already asked for or running. */
int projector_rebuild_request(struct projector *projector);

#endif
