/* projector.c - folds <prefix>.events into one view's SQLite database, and serves its readers.
 *
 * One thread per view: a consumer assigned to every partition (read_committed, never joining its group)
 * feeds bounded batches, each one SQLite transaction with the consumer's positions. A rebuild folds from
 * offset 0 into <name>.db.rebuild on the same thread, never past the live positions, and is renamed over
 * the live file once equal. Each fold decodes on a helper thread of its own, a chunk ahead of the SQLite
 * writes. Knows views only through view_ops; never produces to Kafka. */
#include "projector.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "domain/codec.h"
#include "domain/number.h"
#include "kafka/client.h"
#include "log.h"
#include "metrics.h"
#include "stage_threads.h"
#include "store/schema_files.h"
#include "store/sqlite_util.h"

#define COMPONENT "projector"

/* Events a rebuild step polls before the live fold has its turn again. */
#define PROJECTOR_BATCH_EVENTS_MAX 5000
/* A live batch (one SQLite transaction) ends when the poll runs dry, or at this many events, or once it
 * has lasted this long: a fold that is caught up commits every few events, one that is catching up about
 * ten times a second, so that waiters, a rebuild and a stop wait at most a tenth of a second for it. In
 * batches of 5,000 events the commits took a third to a half of a live fold's wall time (bench_replay,
 * instrumented: stock 1.3 s of 4.9 s, history 3.3 s of 6.6 s, 200 commits each); in batches of up to 100 ms
 * (~30 commits) stock went from 196,000-212,000 to 275,000-280,000 events/s, history 164,000-170,000 to
 * 183,000-185,000, outcomes 200,000-211,000 to 290,000-313,000. */
#define PROJECTOR_LIVE_BATCH_EVENTS_MAX 50000
#define PROJECTOR_LIVE_BATCH_MS         100
/* How long an idle fold waits for the first event of a batch: bounds how late it sees a stop. */
#define PROJECTOR_POLL_TIMEOUT_MS 100
/* While a rebuild runs, the rebuild consumer waits this long when the live one had nothing. */
#define PROJECTOR_REBUILD_POLL_MS 20
/* Prefetched events librdkafka holds: the bounds are checked per partition, but against the length of
 * the one queue every partition feeds (rd_kafka_q_len follows the forwarding), so they bound the whole
 * prefetch: 40,000 events, 8 MiB of payloads. Fetches of at most 256 KiB per partition keep a reply from
 * overshooting the bound by much (1 MiB, the default, held about 190,000 events after one reply; peak RSS
 * follows). While the prefetch is full librdkafka postpones the next fetch by fetch.queue.backoff.ms
 * (KAFKA_FETCH_QUEUE_BACKOFF_MS, kafka/client.h). */
#define PROJECTOR_PREFETCH_EVENTS       40000
#define PROJECTOR_PREFETCH_MESSAGES     "40000" /* PROJECTOR_PREFETCH_EVENTS */
#define PROJECTOR_PREFETCH_KBYTES       "8192"
#define PROJECTOR_PARTITION_FETCH_BYTES "262144"
/* A failed fetch is retried after this (500 ms by default): at most 20 times a second. */
#define PROJECTOR_FETCH_BACKOFF_MS "50"
/* A fetch that finds nothing waits this long at the broker: a broker that answers only then (the
 * embedded mock does) delays read-your-writes by at most this much; 10 idle fetches a second are cheap. */
#define PROJECTOR_FETCH_WAIT_MS "100"
/* End offsets are asked for at most this often (one ListOffsets round trip) ... */
#define PROJECTOR_ENDS_REFRESH_MS 1000
/* ... and may block the fold at most this long. */
#define PROJECTOR_ENDS_TIMEOUT_MS 2000
/* Consecutive live batches rolled back (SQLite errors) before the fold gives up, backing off between
 * (while no rebuild runs). */
#define PROJECTOR_FAILURES_MAX       5
#define PROJECTOR_FAILURE_BACKOFF_MS 500
/* A batch that failed on a condition that clears by itself (a full disk, an I/O error, a lock: see
 * sqlite_error_transient) is not counted towards PROJECTOR_FAILURES_MAX: the fold pauses, retrying every
 * PROJECTOR_FAILURE_BACKOFF_MS, the view reports not ready, and one line says so at most this often. A full
 * disk used to stop the whole process after five batches (tests/chaos/disk_full). */
#define PROJECTOR_PAUSED_LOG_MS 5000
/* How long an acquisition waits for a free reader, and a reader for a lock (WAL readers rarely wait). */
#define PROJECTOR_READER_WAIT_MS         5000
#define PROJECTOR_READER_BUSY_TIMEOUT_MS 5000
/* Events a rebuild reads past the live positions and keeps until the live fold passes them: two batches,
 * about 4 MB. Past it, a partition pauses and fetches those events again later. (tests/test_projector.c
 * compiles this file with a smaller bound, to make pauses happen.) */
#ifndef PROJECTOR_HELD_MAX
#define PROJECTOR_HELD_MAX 10000
#endif
/* A rebuild is seen by nobody until it is swapped in, and a crash mid-rebuild discards its file: it folds
 * with no journal, no sync and a large page cache, and commits (its rows with its positions, as always)
 * at most this often, so that the pages its batches touch are written once a second, not once a batch.
 * Before the swap it goes back to WAL and the file is synced. Figures: docs/read-side.md. */
#define PROJECTOR_REBUILD_COMMIT_MS 1000
#define PROJECTOR_REBUILD_PRAGMAS   "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;"
#define PROJECTOR_SWAP_PRAGMAS      "PRAGMA synchronous=NORMAL; PRAGMA journal_mode=WAL;"
/* Every fold's connection (a rebuild's then takes the above): a 16 MiB page cache, and no checkpoint of its
 * own: a live fold's WAL is checkpointed by a thread of its own (struct checkpointer). */
#define PROJECTOR_FOLD_PRAGMAS "PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=0;"
/* The checkpointer copies the WAL into the file once it holds this many pages (80 MB) after a commit: a
 * batch of the history view adds ~1,000 pages, so SQLite's default (1,000) checkpointed after nearly every
 * batch (history 148,000 -> 190,000 events/s when it went to 20,000, inline). Inline, each of those
 * checkpoints stopped the fold for its fsync: ~0.35 s every 20 batches, commits 1.6 s of the 3.4 s a
 * live fold of 1M events took (bench_replay, reservations, instrumented). (tests/test_projector.c makes it
 * small.) */
#ifndef PROJECTOR_CHECKPOINT_PAGES
#define PROJECTOR_CHECKPOINT_PAGES 20000
#endif
/* While the fold commits, a checkpoint running beside it rarely catches up with the last frame, and SQLite
 * only starts the WAL over once one has: past this many pages, the fold checkpoints inline at its commit
 * (whatever the checkpointer has not copied yet), so the WAL stays within about 320 MB. */
#ifndef PROJECTOR_WAL_PAGES_MAX
#define PROJECTOR_WAL_PAGES_MAX (4 * PROJECTOR_CHECKPOINT_PAGES)
#endif
/* Events decoded per hand-over to a fold's decoder thread: decoding (about 2 us an event) runs on the
 * second core while the fold thread applies the chunk before. Large enough that the hand-over (a lock and a
 * wake-up) costs nothing per event, small enough that the first and last chunk of a batch, which do not
 * overlap, stay short. Two chunks of 256 events of ~1.3 KB each per fold. */
#define PROJECTOR_CHUNK_EVENTS 256
/* Bytes of canonical JSON a chunk keeps for its events (the records' own, when compact: the history view
 * stores them instead of encoding each event again): 512 an event, where the bench's events take 150-230.
 * An event past the room goes without, and is encoded by a view that needs it. */
#define PROJECTOR_CHUNK_JSON_BYTES (PROJECTOR_CHUNK_EVENTS * 512)
/* <data_dir>/views/<name>.db.rebuild-journal fits. */
#define PROJECTOR_PATH_BYTES_MAX (STOCKD_CONFIG_STRING_BYTES_MAX + PROJECTOR_VIEW_NAME_BYTES_MAX + 64)
/* The positions table, compiled in from schema/ (not a numbered migration: run on every open). */
#define PROJECTOR_POSITIONS_SCHEMA "views/positions.sql"
/* Messages: paths in them are cut to 600 bytes, nested messages to 900, so that they fit. */
#define PROJECTOR_ERROR_BYTES 1024

_Static_assert(PROJECTOR_BATCH_EVENTS_MAX > 0 && PROJECTOR_LIVE_BATCH_EVENTS_MAX > 0 &&
                   PROJECTOR_READERS_MAX > 0,
               "bounds are positive");

/* What a step of the fold came to, besides a number of events consumed (>= 0). */
enum step_status {
    STEP_FAILED = -1,       /* rolled back and rewound: retried after a pause */
    STEP_FATAL = -2,        /* the fold cannot go on */
    STEP_OUT_OF_RANGE = -3, /* a live position is outside its partition: handled by live_out_of_range */
};

/* Messages of a fold on their way to the view, in the order polled. The decoder thread fills events[] and
 * decodable[], and destroys the messages it decoded (their partition and offset are kept). */
struct chunk {
    size_t count;
    rd_kafka_message_t *messages[PROJECTOR_CHUNK_EVENTS]; /* NULL once decoded and destroyed */
    int32_t partitions[PROJECTOR_CHUNK_EVENTS];
    int64_t offsets[PROJECTOR_CHUNK_EVENTS];
    bool decodable[PROJECTOR_CHUNK_EVENTS];
    struct event events[PROJECTOR_CHUNK_EVENTS];
    struct view_json json[PROJECTOR_CHUNK_EVENTS]; /* into json_text, or NULL */
    size_t json_used;
    char json_text[PROJECTOR_CHUNK_JSON_BYTES];
};

/* A fold's decoder thread and its two chunks: the fold thread fills one while the decoder decodes the
 * other. Lives as long as the fold's consumer (whose messages it holds). */
struct decoder {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t submitted; /* job set, or stopping */
    pthread_cond_t decoded;   /* job done */
    struct chunk *job;        /* handed to the decoder thread, not yet decoded; under mutex */
    bool stopping;            /* under mutex */
    const char *view_name;    /* names the thread */
    struct chunk *filling;    /* the fold thread's: messages not yet handed over */
    struct chunk *in_flight;  /* handed over (decoded or not), not yet applied; NULL: none */
    struct chunk chunks[2];
};

/* A live fold's WAL checkpoints, on a thread and a connection of their own, so that the fold never waits
 * for their fsync. Woken by the fold connection's WAL hook; lives as long as that connection. */
struct checkpointer {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    bool due;      /* the WAL has grown past PROJECTOR_CHECKPOINT_PAGES; under mutex */
    bool stopping; /* under mutex */
    sqlite3 *db;   /* its own read-write connection to the fold's file */
    const char *view_name;
};

/* One database folded by one consumer: the live view, or a rebuild. Used by the projector thread only. */
struct fold {
    const char *role; /* "live" or "rebuild", in messages and the consumer's client id */
    char path[PROJECTOR_PATH_BYTES_MAX];
    sqlite3 *db;
    void *view_state;
    sqlite3_stmt *position_store;
    bool in_transaction;
    rd_kafka_t *consumer;
    rd_kafka_topic_partition_list_t *cursor; /* every partition: where rd_kafka_position writes */
    int64_t next[STOCKD_PARTITIONS_MAX];     /* committed positions: next offset per partition */
    uint64_t batch_applied;                  /* events applied in the open transaction */
    uint64_t batch_undecodable;              /* events skipped in the open transaction */
    int32_t out_of_range;                    /* partition of the last STEP_OUT_OF_RANGE */
    int32_t refused_partition;               /* the event the view last refused (-1: none) ... */
    int64_t refused_offset;                  /* ... and its offset */
    struct decoder *decoder;                 /* while the consumer runs */
    rd_kafka_queue_t *queue;                 /* the consumer's, for its length */
    struct checkpointer *checkpointer;       /* live fold: while db is open */
};

struct reader_slot {
    sqlite3 *db;         /* NULL until opened */
    uint64_t generation; /* of the live file it was opened on */
    bool in_use;
};

struct projector {
    const struct stockd_config *config;
    const struct view_ops *view;
    char kind[PROJECTOR_VIEW_NAME_BYTES_MAX + 8]; /* "views/<name>": its migrations */
    char directory[PROJECTOR_PATH_BYTES_MAX];
    struct kafka_topics topics;
    int32_t partition_count;

    /* The projector thread's own. */
    struct fold live;
    struct fold rebuild;
    bool rebuild_active;
    /* Rebuild: events read at or past the live positions, kept until the live fold passes them, in the
     * order read (so in offset order per partition). */
    rd_kafka_message_t *held[PROJECTOR_HELD_MAX];
    size_t held_count;
    int64_t pending_from[STOCKD_PARTITIONS_MAX]; /* first offset held or to fetch again; INT64_MAX: none */
    int64_t paused_at[STOCKD_PARTITIONS_MAX];    /* paused and sought back to it; -1: fetching */
    int64_t reached[STOCKD_PARTITIONS_MAX];      /* every event below it is folded into the rebuild */
    int64_t scratch[STOCKD_PARTITIONS_MAX];
    int64_t rebuild_started_ms;
    int64_t rebuild_committed_ms; /* when the rebuild last committed */
    int64_t ends_due_ms;
    int failures;
    bool failure_transient; /* the last failed live batch failed on a transient SQLite condition */
    /* Live partitions stopped on an event the view refuses (a constraint: a sequence repeated, which only
     * a command decided twice writes): never assigned again, so no position moves past the event. */
    bool partition_stopped[STOCKD_PARTITIONS_MAX];
    int64_t paused_logged_ms; /* when the pause was last logged */
    /* Record timestamps (Unix ms) of the events in the open live batch: their ages are observed when it
     * commits (stockd_view_commit_age_seconds). */
    int64_t batch_timestamps_ms[PROJECTOR_LIVE_BATCH_EVENTS_MAX];
    int batch_timestamp_count;

    /* Shared with readers, waiters and status, under state_mutex; state_changed is signalled on commit. */
    pthread_mutex_t state_mutex;
    pthread_cond_t state_changed;
    bool stopped; /* shutting down (projector_end_waits, or projector_run returned): waits end at once */
    int64_t positions[STOCKD_PARTITIONS_MAX];
    int64_t ends[STOCKD_PARTITIONS_MAX];
    bool ready_logged;
    bool paused; /* the live fold's last batch failed on a transient SQLite condition: not ready */
    char stopped_reason[PROJECTOR_STOPPED_REASON_BYTES]; /* the first partition stopped, "" when none */
    bool rebuild_wanted;
    bool rebuilding;
    int64_t rebuild_positions_total;
    uint64_t events_applied, events_undecodable, batches_committed, batches_failed, consumer_errors;
    uint64_t rebuild_events_applied, rebuild_pauses, rebuilds_completed, rebuilds_failed;
    uint64_t commits; /* changes readers can see: committed live batches and replaced files */

    /* The reader pool, under pool_mutex; the generation counts live files (a swap makes a new one). */
    pthread_mutex_t pool_mutex;
    pthread_cond_t pool_released;
    uint64_t generation;
    struct reader_slot readers[PROJECTOR_READERS_MAX];
};

/* ---- small helpers ------------------------------------------------------------------------------------ */

static void sleep_ms(int milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static bool file_exists(const char *path)
{
    struct stat status;
    return stat(path, &status) == 0;
}

/* Removes a database file with its WAL, shared-memory and journal files. Returns how many existed, or -1
 * with a message. */
static int database_files_remove(const char *path, char *error, size_t error_bytes)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    int removed = 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char file[PROJECTOR_PATH_BYTES_MAX + 16];
        snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
        if (unlink(file) == 0) {
            removed++;
        } else if (errno != ENOENT) {
            snprintf(error, error_bytes, "cannot remove %s: %s", file, strerror(errno));
            return -1;
        }
    }
    return removed;
}

static int directory_make(const char *path, char *error, size_t error_bytes)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    snprintf(error, error_bytes, "cannot create %s: %s", path, strerror(errno));
    return -1;
}

/* Flushes a file to disk. Returns 0, or -1 with errno set. */
static int file_sync(const char *path)
{
    int descriptor = open(path, O_RDONLY);
    if (descriptor < 0) return -1;
    int status = fsync(descriptor);
    int saved = errno;
    close(descriptor);
    errno = saved;
    return status;
}

/* Makes a rename in directory durable. Failure is logged only: the rename itself is done. */
static void directory_sync(const char *path)
{
    int descriptor = open(path, O_RDONLY | O_DIRECTORY);
    if (descriptor < 0 || fsync(descriptor) != 0) log_warn(COMPONENT, "fsync %s: %s", path, strerror(errno));
    if (descriptor >= 0) close(descriptor);
}

static const char *positions_schema(void)
{
    for (const struct schema_file *file = schema_files; file->path != NULL; file++) {
        if (strcmp(file->path, PROJECTOR_POSITIONS_SCHEMA) == 0) return file->sql;
    }
    return NULL;
}

/* ---- shared state ------------------------------------------------------------------------------------- */

/* Sum over partitions of how far the positions are behind the ends, or -1 while an end is unknown. */
static int64_t lag_total_locked(const struct projector *projector)
{
    int64_t lag_total = 0;
    for (int32_t partition = 0; partition < projector->partition_count; partition++) {
        if (projector->ends[partition] < 0) return -1;
        int64_t lag = projector->ends[partition] - projector->positions[partition];
        lag_total += lag > 0 ? lag : 0;
    }
    return lag_total;
}

/* Logs when the view becomes ready or stops being ready (state_mutex held). */
static void ready_log_locked(struct projector *projector)
{
    int64_t lag_total = lag_total_locked(projector);
    bool ready = lag_total >= 0 && lag_total <= projector->config->views_lag_max;
    if (ready == projector->ready_logged) return;
    projector->ready_logged = ready;
    if (ready)
        log_info(COMPONENT, "view %s: ready, %lld events behind", projector->view->name,
                 (long long)lag_total);
    else
        log_warn(COMPONENT, "view %s: not ready, %lld events behind (views.lag_max %lld)",
                 projector->view->name, (long long)lag_total, (long long)projector->config->views_lag_max);
}

/* Publishes the live fold's committed positions and counters, and wakes the waiters. */
static void live_publish(struct projector *projector, uint64_t applied, uint64_t undecodable, bool committed)
{
    pthread_mutex_lock(&projector->state_mutex);
    memcpy(projector->positions, projector->live.next, sizeof(int64_t) * (size_t)projector->partition_count);
    projector->events_applied += applied;
    projector->events_undecodable += undecodable;
    projector->batches_committed += committed ? 1 : 0;
    projector->commits++; /* a commit, or a file replaced (or opened): readers may see something new */
    ready_log_locked(projector);
    pthread_cond_broadcast(&projector->state_changed);
    pthread_mutex_unlock(&projector->state_mutex);
}

static void counter_add(struct projector *projector, uint64_t *counter, uint64_t amount)
{
    pthread_mutex_lock(&projector->state_mutex);
    *counter += amount;
    pthread_mutex_unlock(&projector->state_mutex);
}

/* ---- checkpoints beside the live fold ---------------------------------------------------------------- */

static void *checkpointer_main(void *argument)
{
    struct checkpointer *checkpointer = argument;
    thread_name_set("ckpt-", checkpointer->view_name);
    pthread_mutex_lock(&checkpointer->mutex);
    for (;;) {
        while (!checkpointer->due && !checkpointer->stopping)
            pthread_cond_wait(&checkpointer->wake, &checkpointer->mutex);
        if (checkpointer->stopping) break;
        checkpointer->due = false;
        pthread_mutex_unlock(&checkpointer->mutex);
        /* PASSIVE: never waits for the writer nor the readers, copies what it can. */
        int status = sqlite3_wal_checkpoint_v2(checkpointer->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (status != SQLITE_OK && status != SQLITE_BUSY)
            log_warn(COMPONENT, "view %s: checkpoint: %s", checkpointer->view_name,
                     sqlite3_errmsg(checkpointer->db));
        pthread_mutex_lock(&checkpointer->mutex);
    }
    pthread_mutex_unlock(&checkpointer->mutex);
    return NULL;
}

/* The fold connection's WAL hook, after each commit: wakes the checkpointer past
 * PROJECTOR_CHECKPOINT_PAGES, and checkpoints inline past PROJECTOR_WAL_PAGES_MAX (see there). */
static int checkpointer_wal_hook(void *argument, sqlite3 *db, const char *schema, int pages)
{
    struct checkpointer *checkpointer = argument;
    if (pages >= PROJECTOR_WAL_PAGES_MAX) {
        (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL); /* BUSY: later */
    } else if (pages >= PROJECTOR_CHECKPOINT_PAGES) {
        pthread_mutex_lock(&checkpointer->mutex);
        checkpointer->due = true;
        pthread_cond_signal(&checkpointer->wake);
        pthread_mutex_unlock(&checkpointer->mutex);
    }
    return SQLITE_OK;
}

/* Opens a connection to path (in WAL mode already) and starts the thread. Returns it, or NULL with a
 * message. */
static struct checkpointer *checkpointer_create(const char *path, const char *view_name, char *error,
                                                size_t error_bytes)
{
    struct checkpointer *checkpointer = calloc(1, sizeof(*checkpointer));
    if (checkpointer == NULL) {
        snprintf(error, error_bytes, "out of memory for a checkpointer");
        return NULL;
    }
    checkpointer->view_name = view_name;
    /* Its close never checkpoints nor deletes the WAL: the fold connection's close does, once. It reads
     * once: a connection that has read nothing does not know the file is in WAL mode, and its checkpoints
     * do nothing (they return SQLITE_OK all the same). */
    if (sqlite3_open_v2(path, &checkpointer->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_db_config(checkpointer->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) != SQLITE_OK ||
        sqlite3_exec(checkpointer->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(error, error_bytes, "%.600s: checkpointer: %s", path,
                 checkpointer->db != NULL ? sqlite3_errmsg(checkpointer->db) : "out of memory");
        sqlite3_close(checkpointer->db);
        free(checkpointer);
        return NULL;
    }
    int status = pthread_mutex_init(&checkpointer->mutex, NULL);
    status |= pthread_cond_init(&checkpointer->wake, NULL);
    assert(status == 0); /* these only fail on invalid attributes or exhausted kernel objects */
    if ((status = pthread_create(&checkpointer->thread, NULL, checkpointer_main, checkpointer)) == 0)
        return checkpointer;
    snprintf(error, error_bytes, "cannot start a checkpointer thread: %s", strerror(status));
    pthread_cond_destroy(&checkpointer->wake);
    pthread_mutex_destroy(&checkpointer->mutex);
    sqlite3_close(checkpointer->db);
    free(checkpointer);
    return NULL;
}

/* Stops the thread (after the checkpoint it is in, if any) and closes its connection. Accepts NULL. */
static void checkpointer_destroy(struct checkpointer *checkpointer)
{
    if (checkpointer == NULL) return;
    pthread_mutex_lock(&checkpointer->mutex);
    checkpointer->stopping = true;
    pthread_cond_signal(&checkpointer->wake);
    pthread_mutex_unlock(&checkpointer->mutex);
    pthread_join(checkpointer->thread, NULL);
    int status = sqlite3_close(checkpointer->db);
    assert(status == SQLITE_OK); /* it never prepares a statement */
    (void)status;
    pthread_cond_destroy(&checkpointer->wake);
    pthread_mutex_destroy(&checkpointer->mutex);
    free(checkpointer);
}

/* ---- a fold's database -------------------------------------------------------------------------------- */

static int fold_positions_load(struct projector *projector, struct fold *fold, char *error,
                               size_t error_bytes)
{
    memset(fold->next, 0, sizeof(fold->next));
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2(fold->db, "SELECT partition_id, next_offset FROM view_positions", -1, &statement,
                           NULL) != SQLITE_OK)
        goto out_error;
    int status;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        int64_t partition = sqlite3_column_int64(statement, 0);
        if (partition < 0 || partition >= projector->partition_count) {
            log_warn(COMPONENT, "view %s: %s has a position for partition %lld, past kafka.partitions %d",
                     projector->view->name, fold->path, (long long)partition,
                     (int)projector->partition_count);
            continue;
        }
        fold->next[partition] = sqlite3_column_int64(statement, 1);
    }
    if (status != SQLITE_DONE) goto out_error;
    sqlite3_finalize(statement);
    return 0;
out_error:
    snprintf(error, error_bytes, "%s: reading the positions: %s", fold->path, sqlite3_errmsg(fold->db));
    sqlite3_finalize(statement);
    return -1;
}

static void decoder_discard(struct decoder *decoder);

/* Rolls the open transaction back and drops the events queued for it. */
static void fold_rollback(struct fold *fold)
{
    if (fold->decoder != NULL) decoder_discard(fold->decoder);
    if (fold->db != NULL && !sqlite3_get_autocommit(fold->db)) {
        char ignored[256];
        sqlite_util_exec(fold->db, "ROLLBACK", ignored, sizeof(ignored));
    }
    fold->in_transaction = false;
    fold->batch_applied = 0;
    fold->batch_undecodable = 0;
}

/* Closes the database, finalising whatever statements the view left behind: a connection left open on a
 * renamed file would later checkpoint into, or delete, the WAL of whatever file has its name then. */
static void fold_db_close(struct projector *projector, struct fold *fold)
{
    if (fold->db == NULL) return;
    fold_rollback(fold);
    /* Before the fold connection, whose close checkpoints what is left and deletes the WAL. */
    sqlite3_wal_hook(fold->db, NULL, NULL);
    checkpointer_destroy(fold->checkpointer);
    fold->checkpointer = NULL;
    if (fold->view_state != NULL) projector->view->close(fold->view_state);
    fold->view_state = NULL;
    sqlite3_finalize(fold->position_store);
    fold->position_store = NULL;
    /* Close first: it disconnects virtual tables (FTS5), which finalise the statements they prepared on
     * the connection; finalising those here would free them twice. What is left after is a leak of ours. */
    int status = sqlite3_close(fold->db);
    sqlite3_stmt *leftover;
    while (status == SQLITE_BUSY && (leftover = sqlite3_next_stmt(fold->db, NULL)) != NULL) {
        log_error(COMPONENT, "view %s: close left a statement unfinalised: %s", projector->view->name,
                  sqlite3_sql(leftover));
        sqlite3_finalize(leftover);
        status = sqlite3_close(fold->db);
    }
    assert(status == SQLITE_OK); /* every statement was finalised above */
    (void)status;
    fold->db = NULL;
}

/* Opens (creating and migrating) the fold's database, the view's statements and its positions. */
static int fold_db_open(struct projector *projector, struct fold *fold, char *error, size_t error_bytes)
{
    assert(fold->db == NULL);
    fold->db = sqlite_util_open(fold->path, 1, error, error_bytes);
    if (fold->db == NULL) return -1;
    if (sqlite_util_migrate(fold->db, projector->kind, error, error_bytes) < 0 ||
        sqlite_util_exec(fold->db, positions_schema(), error, error_bytes) != 0)
        goto out_close;
    fold->position_store = sqlite_util_prepare(fold->db,
                                               "INSERT INTO view_positions (partition_id, next_offset) "
                                               "VALUES (?1, ?2) ON CONFLICT (partition_id) "
                                               "DO UPDATE SET next_offset = excluded.next_offset",
                                               error, error_bytes);
    if (fold->position_store == NULL || fold_positions_load(projector, fold, error, error_bytes) != 0)
        goto out_close;
    if (sqlite_util_exec(fold->db, PROJECTOR_FOLD_PRAGMAS, error, error_bytes) != 0) goto out_close;
    if (fold == &projector->live) { /* a rebuild folds without a journal until its swap */
        fold->checkpointer = checkpointer_create(fold->path, projector->view->name, error, error_bytes);
        if (fold->checkpointer == NULL) goto out_close;
        sqlite3_wal_hook(fold->db, checkpointer_wal_hook, fold->checkpointer);
    }
    char detail[512];
    fold->view_state = projector->view->open(fold->db, projector->config, detail, sizeof(detail));
    if (fold->view_state == NULL) {
        snprintf(error, error_bytes, "view %s: %s", projector->view->name, detail);
        goto out_close;
    }
    return 0;
out_close:
    fold_db_close(projector, fold);
    return -1;
}

static int fold_begin(struct fold *fold, char *error, size_t error_bytes)
{
    if (fold->in_transaction) return 0;
    if (sqlite_util_exec(fold->db, "BEGIN IMMEDIATE", error, error_bytes) != 0) return -1;
    fold->in_transaction = true;
    return 0;
}

/* Stores the positions that moved forward (next_new[p] > next[p]; -1 means none) and commits the open
 * transaction, opening one when only positions moved. Returns 1 committed, 0 nothing to commit, or -1
 * with a message (rolled back). */
static int fold_commit(struct fold *fold, const int64_t *next_new, int32_t partition_count, char *error,
                       size_t error_bytes)
{
    for (int32_t partition = 0; partition < partition_count; partition++) {
        if (next_new[partition] <= fold->next[partition]) continue;
        if (fold_begin(fold, error, error_bytes) != 0) goto out_rollback;
        sqlite3_bind_int(fold->position_store, 1, partition);
        sqlite3_bind_int64(fold->position_store, 2, next_new[partition]);
        int status = sqlite3_step(fold->position_store);
        sqlite3_reset(fold->position_store);
        if (status != SQLITE_DONE) {
            snprintf(error, error_bytes, "%.600s: storing a position: %s", fold->path,
                     sqlite3_errmsg(fold->db));
            goto out_rollback;
        }
    }
    if (!fold->in_transaction) return 0;
    if (sqlite_util_exec(fold->db, "COMMIT", error, error_bytes) != 0) goto out_rollback;
    fold->in_transaction = false;
    for (int32_t partition = 0; partition < partition_count; partition++) {
        if (next_new[partition] > fold->next[partition]) fold->next[partition] = next_new[partition];
    }
    return 1;
out_rollback:
    fold_rollback(fold);
    return -1;
}

/* ---- decoding beside the fold ------------------------------------------------------------------------ */

/* Keeps a copy of a record that is its event's canonical JSON, while the chunk has room. */
static void chunk_json_keep(struct chunk *chunk, size_t i, const rd_kafka_message_t *message)
{
    chunk->json[i] = (struct view_json){NULL, 0};
    if (message->len > sizeof(chunk->json_text) - chunk->json_used) return;
    char *text = chunk->json_text + chunk->json_used;
    memcpy(text, message->payload, message->len);
    chunk->json[i] = (struct view_json){text, message->len};
    chunk->json_used += message->len;
}

/* Decodes a chunk's messages into its events, destroying each message it decoded; a record in the compact
 * form (the encoder's) is kept as the event's canonical JSON. An undecodable one is kept for the fold
 * thread, which decodes it again to log why. */
static void chunk_decode(struct chunk *chunk)
{
    chunk->json_used = 0;
    for (size_t i = 0; i < chunk->count; i++) {
        rd_kafka_message_t *message = chunk->messages[i];
        struct codec_error ignored;
        chunk->json[i] = (struct view_json){NULL, 0};
        if (message->payload != NULL &&
            codec_event_decode_compact(message->payload, message->len, &chunk->events[i]) == 0) {
            chunk->decodable[i] = true;
            chunk_json_keep(chunk, i, message);
        } else {
            chunk->decodable[i] =
                message->payload != NULL &&
                codec_event_decode(message->payload, message->len, &chunk->events[i], &ignored) == 0;
        }
        if (!chunk->decodable[i]) continue;
        rd_kafka_message_destroy(message);
        chunk->messages[i] = NULL;
    }
}

static void *decoder_main(void *argument)
{
    struct decoder *decoder = argument;
    thread_name_set("decode-", decoder->view_name);
    pthread_mutex_lock(&decoder->mutex);
    for (;;) {
        while (decoder->job == NULL && !decoder->stopping)
            pthread_cond_wait(&decoder->submitted, &decoder->mutex);
        if (decoder->job == NULL) break; /* stopping, and nothing left to decode */
        struct chunk *job = decoder->job;
        pthread_mutex_unlock(&decoder->mutex);
        chunk_decode(job);
        pthread_mutex_lock(&decoder->mutex);
        decoder->job = NULL;
        pthread_cond_signal(&decoder->decoded);
    }
    pthread_mutex_unlock(&decoder->mutex);
    return NULL;
}

/* Starts a decoder thread. Returns it, or NULL with a message. */
static struct decoder *decoder_create(const char *view_name, char *error, size_t error_bytes)
{
    struct decoder *decoder = calloc(1, sizeof(*decoder));
    if (decoder == NULL) {
        snprintf(error, error_bytes, "out of memory for a decoder");
        return NULL;
    }
    int status = pthread_mutex_init(&decoder->mutex, NULL);
    status |= pthread_cond_init(&decoder->submitted, NULL);
    status |= pthread_cond_init(&decoder->decoded, NULL);
    assert(status == 0); /* these only fail on invalid attributes or exhausted kernel objects */
    decoder->filling = &decoder->chunks[0];
    decoder->view_name = view_name;
    if ((status = pthread_create(&decoder->thread, NULL, decoder_main, decoder)) == 0) return decoder;
    snprintf(error, error_bytes, "cannot start a decoder thread: %s", strerror(status));
    pthread_cond_destroy(&decoder->decoded);
    pthread_cond_destroy(&decoder->submitted);
    pthread_mutex_destroy(&decoder->mutex);
    free(decoder);
    return NULL;
}

/* Waits until the decoder thread has finished the chunk in flight. */
static void decoder_wait(struct decoder *decoder)
{
    pthread_mutex_lock(&decoder->mutex);
    while (decoder->job != NULL)
        pthread_cond_wait(&decoder->decoded, &decoder->mutex);
    pthread_mutex_unlock(&decoder->mutex);
}

/* Destroys a chunk's messages and empties it. */
static void chunk_clear(struct chunk *chunk)
{
    for (size_t i = 0; i < chunk->count; i++) {
        if (chunk->messages[i] != NULL) rd_kafka_message_destroy(chunk->messages[i]);
        chunk->messages[i] = NULL;
    }
    chunk->count = 0;
}

/* Drops every message handed to the decoder and not yet applied (after a failure, or at the end). */
static void decoder_discard(struct decoder *decoder)
{
    decoder_wait(decoder);
    if (decoder->in_flight != NULL) chunk_clear(decoder->in_flight);
    decoder->in_flight = NULL;
    chunk_clear(decoder->filling);
}

/* Stops the thread, drops what it held. Accepts NULL. */
static void decoder_destroy(struct decoder *decoder)
{
    if (decoder == NULL) return;
    decoder_discard(decoder);
    pthread_mutex_lock(&decoder->mutex);
    decoder->stopping = true;
    pthread_cond_signal(&decoder->submitted);
    pthread_mutex_unlock(&decoder->mutex);
    pthread_join(decoder->thread, NULL);
    pthread_cond_destroy(&decoder->decoded);
    pthread_cond_destroy(&decoder->submitted);
    pthread_mutex_destroy(&decoder->mutex);
    free(decoder);
}

/* Applies a decoded chunk to the open transaction (opening it). An event that does not decode is logged
 * with its partition and offset and skipped: the position moves past it, the view never wedges on it.
 * Empties the chunk. Returns 0, or -1 with a message (SQLite error in the view). */
static int chunk_apply(struct projector *projector, struct fold *fold, struct chunk *chunk, char *error,
                       size_t error_bytes)
{
    int status = fold_begin(fold, error, error_bytes);
    for (size_t i = 0; status == 0 && i < chunk->count; i++) {
        struct view_position position = {.partition = chunk->partitions[i], .offset = chunk->offsets[i]};
        if (!chunk->decodable[i]) {
            const rd_kafka_message_t *message = chunk->messages[i];
            struct codec_error codec_error;
            snprintf(codec_error.message, sizeof(codec_error.message), "empty record");
            if (message->payload != NULL)
                codec_event_decode(message->payload, message->len, &chunk->events[i], &codec_error);
            log_error(COMPONENT, "view %s (%s): %s [%d] offset %lld is not a valid event, SKIPPED: %s",
                      projector->view->name, fold->role, projector->topics.events, (int)position.partition,
                      (long long)position.offset, codec_error.message);
            fold->batch_undecodable++;
            continue;
        }
        char detail[512];
        if (projector->view->apply(fold->view_state, &chunk->events[i], position, chunk->json[i], detail,
                                   sizeof(detail)) != 0) {
            fold->refused_partition = position.partition;
            fold->refused_offset = position.offset;
            snprintf(error, error_bytes, "view %s (%s): applying %s [%d] offset %lld: %s",
                     projector->view->name, fold->role, projector->topics.events, (int)position.partition,
                     (long long)position.offset, detail);
            status = -1;
            break;
        }
        fold->batch_applied++;
    }
    chunk_clear(chunk);
    return status;
}

/* Applies the chunk in flight once decoded. Returns 0, or -1 with a message. */
static int fold_apply_in_flight(struct projector *projector, struct fold *fold, char *error,
                                size_t error_bytes)
{
    struct decoder *decoder = fold->decoder;
    if (decoder->in_flight == NULL) return 0;
    decoder_wait(decoder);
    struct chunk *chunk = decoder->in_flight;
    decoder->in_flight = NULL;
    return chunk_apply(projector, fold, chunk, error, error_bytes);
}

/* Folds one event into the open transaction, in order, eventually: queues the message (taking ownership)
 * and, when a chunk is full, hands it to the decoder thread and applies the chunk before it. Returns 0, or
 * -1 with a message (SQLite error in the view): the caller rolls back, and fold_discard drops the rest. */
static int fold_event(struct projector *projector, struct fold *fold, rd_kafka_message_t *message,
                      char *error, size_t error_bytes)
{
    struct decoder *decoder = fold->decoder;
    struct chunk *chunk = decoder->filling;
    assert(chunk->count < PROJECTOR_CHUNK_EVENTS);
    chunk->messages[chunk->count] = message;
    chunk->partitions[chunk->count] = message->partition;
    chunk->offsets[chunk->count] = message->offset;
    chunk->count++;
    if (chunk->count < PROJECTOR_CHUNK_EVENTS) return 0;
    /* The decoder takes this chunk first, then the one before is applied meanwhile, and is filled next. */
    struct chunk *decoded = decoder->in_flight;
    if (decoded != NULL) decoder_wait(decoder);
    decoder->in_flight = chunk;
    pthread_mutex_lock(&decoder->mutex);
    decoder->job = chunk;
    pthread_cond_signal(&decoder->submitted);
    pthread_mutex_unlock(&decoder->mutex);
    decoder->filling = chunk == &decoder->chunks[0] ? &decoder->chunks[1] : &decoder->chunks[0];
    assert(decoded == NULL || decoded == decoder->filling);
    return decoded == NULL ? 0 : chunk_apply(projector, fold, decoded, error, error_bytes);
}

/* Applies every queued event: the chunk in flight, then the one filling (decoded here: nothing overlaps
 * it anyway). Returns 0, or -1 with a message. */
static int fold_flush(struct projector *projector, struct fold *fold, char *error, size_t error_bytes)
{
    if (fold_apply_in_flight(projector, fold, error, error_bytes) != 0) return -1;
    struct chunk *chunk = fold->decoder->filling;
    if (chunk->count == 0) return 0;
    chunk_decode(chunk);
    return chunk_apply(projector, fold, chunk, error, error_bytes);
}

/* ---- a fold's consumer -------------------------------------------------------------------------------- */

static rd_kafka_t *consumer_create(struct projector *projector, const char *role, char *error,
                                   size_t error_bytes)
{
    const struct stockd_config *config = projector->config;
    char client_role[PROJECTOR_VIEW_NAME_BYTES_MAX + 32];
    snprintf(client_role, sizeof(client_role), "view-%s-%s", projector->view->name, role);
    rd_kafka_conf_t *conf = kafka_conf_new(config, client_role, error, error_bytes);
    if (conf == NULL) return NULL;
    /* assign() only: the group is never joined nor committed to, but consumer_poll needs a group id. */
    char group_id[STOCKD_SKU_BYTES_MAX + PROJECTOR_VIEW_NAME_BYTES_MAX + STOCKD_ID_BYTES_MAX + 32];
    snprintf(group_id, sizeof(group_id), "%s-view-%s-%s-%s", config->topic_prefix, projector->view->name,
             role, config->instance_id);
    /* auto.offset.reset=error: a position outside the partition is reported, never silently moved. */
    if (kafka_conf_set(conf, "group.id", group_id, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "isolation.level", "read_committed", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "auto.offset.reset", "error", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "false", error, error_bytes) != 0 ||
        kafka_conf_set(conf, "queued.min.messages", PROJECTOR_PREFETCH_MESSAGES, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "queued.max.messages.kbytes", PROJECTOR_PREFETCH_KBYTES, error, error_bytes) !=
            0 ||
        kafka_conf_set(conf, "fetch.wait.max.ms", PROJECTOR_FETCH_WAIT_MS, error, error_bytes) != 0 ||
        kafka_conf_set(conf, "fetch.queue.backoff.ms", KAFKA_FETCH_QUEUE_BACKOFF_MS, error, error_bytes) !=
            0 ||
        kafka_conf_set(conf, "max.partition.fetch.bytes", PROJECTOR_PARTITION_FETCH_BYTES, error,
                       error_bytes) != 0 ||
        kafka_conf_set(conf, "fetch.error.backoff.ms", PROJECTOR_FETCH_BACKOFF_MS, error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return kafka_client_new(RD_KAFKA_CONSUMER, conf, error, error_bytes);
}

/* (Re)assigns every partition at the fold's committed positions: prefetched events are dropped. */
static int fold_assign(struct projector *projector, struct fold *fold, char *error, size_t error_bytes)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(projector->partition_count);
    for (int32_t partition = 0; partition < projector->partition_count; partition++) {
        if (fold == &projector->live && projector->partition_stopped[partition]) continue;
        rd_kafka_topic_partition_list_add(list, projector->topics.events, partition)->offset =
            fold->next[partition];
    }
    rd_kafka_resp_err_t status = rd_kafka_assign(fold->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    snprintf(error, error_bytes, "view %s (%s): assign: %s", projector->view->name, fold->role,
             rd_kafka_err2str(status));
    return -1;
}

static void fold_consumer_stop(struct fold *fold)
{
    if (fold->consumer == NULL) return;
    decoder_destroy(fold->decoder); /* before the consumer its messages belong to */
    fold->decoder = NULL;
    rd_kafka_queue_destroy(fold->queue);
    fold->queue = NULL;
    rd_kafka_consumer_close(fold->consumer);
    rd_kafka_destroy(fold->consumer);
    fold->consumer = NULL;
    rd_kafka_topic_partition_list_destroy(fold->cursor);
    fold->cursor = NULL;
}

static int fold_consumer_start(struct projector *projector, struct fold *fold, char *error,
                               size_t error_bytes)
{
    assert(fold->consumer == NULL && fold->decoder == NULL);
    fold->consumer = consumer_create(projector, fold->role, error, error_bytes);
    if (fold->consumer == NULL) return -1;
    fold->queue = rd_kafka_queue_get_consumer(fold->consumer);
    fold->decoder = decoder_create(projector->view->name, error, error_bytes);
    if (fold->decoder == NULL) {
        rd_kafka_queue_destroy(fold->queue);
        fold->queue = NULL;
        rd_kafka_destroy(fold->consumer);
        fold->consumer = NULL;
        return -1;
    }
    fold->cursor = rd_kafka_topic_partition_list_new(projector->partition_count);
    for (int32_t partition = 0; partition < projector->partition_count; partition++)
        rd_kafka_topic_partition_list_add(fold->cursor, projector->topics.events, partition);
    if (fold_assign(projector, fold, error, error_bytes) == 0) return 0;
    fold_consumer_stop(fold);
    return -1;
}

/* The consumer's position of every partition: the next offset it will deliver, past transaction markers
 * and aborted records; -1 where it has consumed nothing since the last assign or seek. */
static void fold_consumer_positions(const struct projector *projector, struct fold *fold, int64_t *out)
{
    for (int32_t partition = 0; partition < projector->partition_count; partition++)
        out[partition] = -1;
    rd_kafka_position(fold->consumer, fold->cursor);
    for (int i = 0; i < fold->cursor->cnt; i++) {
        const rd_kafka_topic_partition_t *element = &fold->cursor->elems[i];
        if (element->err == RD_KAFKA_RESP_ERR_NO_ERROR && element->offset >= 0)
            out[element->partition] = element->offset;
    }
}

/* A consumer error. Out of range (auto.offset.reset=error) ends the step; the rest are transient
 * (librdkafka retries them): logged and counted. Returns 0 or STEP_OUT_OF_RANGE with a message. */
static int fold_consumer_error(struct projector *projector, struct fold *fold,
                               const rd_kafka_message_t *message, char *error, size_t error_bytes)
{
    if (message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        fold->out_of_range = message->partition;
        snprintf(error, error_bytes, "view %s (%s): %s [%d]: position out of range: %s",
                 projector->view->name, fold->role, projector->topics.events, (int)message->partition,
                 rd_kafka_message_errstr(message));
        return STEP_OUT_OF_RANGE;
    }
    log_warn(COMPONENT, "view %s (%s): %s", projector->view->name, fold->role,
             rd_kafka_message_errstr(message));
    counter_add(projector, &projector->consumer_errors, 1);
    return 0;
}

/* ---- readers ------------------------------------------------------------------------------------------ */

/* Opens a read-only connection and reads once, so that it has attached the -wal and -shm of the file live
 * now: they go by name, and a connection opened on one file must never attach those of the next. */
static sqlite3 *reader_open(const char *path, char *error, size_t error_bytes)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        goto out_error;
    sqlite3_busy_timeout(db, PROJECTOR_READER_BUSY_TIMEOUT_MS);
    /* A reader never checkpoints nor deletes the WAL when it closes: after a swap that name is another
     * file's. */
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK)
        goto out_error;
    return db;
out_error:
    snprintf(error, error_bytes, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close_v2(db);
    return NULL;
}

/* A free slot, preferably one open on the live file; -1 when every slot is in use (pool_mutex held). */
static int reader_slot_find(const struct projector *projector)
{
    int free_slot = -1;
    for (int i = 0; i < PROJECTOR_READERS_MAX; i++) {
        const struct reader_slot *slot = &projector->readers[i];
        if (slot->in_use) continue;
        if (slot->db != NULL && slot->generation == projector->generation) return i;
        if (free_slot < 0) free_slot = i;
    }
    return free_slot;
}

/* Closes the pooled connections nobody holds (pool_mutex held). */
static void readers_close_idle(struct projector *projector)
{
    for (int i = 0; i < PROJECTOR_READERS_MAX; i++) {
        struct reader_slot *slot = &projector->readers[i];
        if (slot->in_use || slot->db == NULL) continue;
        sqlite_util_cached_close(slot->db);
        slot->db = NULL;
    }
}

sqlite3 *projector_reader_acquire(struct projector *projector, char *error, size_t error_bytes)
{
    return projector_reader_acquire_within(projector, PROJECTOR_READER_WAIT_MS, error, error_bytes);
}

sqlite3 *projector_reader_acquire_within(struct projector *projector, int wait_ms, char *error,
                                         size_t error_bytes)
{
    assert(projector != NULL && wait_ms >= 0);
    struct timespec deadline = clock_deadline_after(CLOCK_MONOTONIC, wait_ms);
    pthread_mutex_lock(&projector->pool_mutex);
    int index;
    while ((index = reader_slot_find(projector)) < 0) {
        if (pthread_cond_timedwait(&projector->pool_released, &projector->pool_mutex, &deadline) ==
            ETIMEDOUT) {
            pthread_mutex_unlock(&projector->pool_mutex);
            snprintf(error, error_bytes, "view %s: all %d readers busy for %d ms", projector->view->name,
                     PROJECTOR_READERS_MAX, wait_ms);
            return NULL;
        }
    }
    struct reader_slot *slot = &projector->readers[index];
    if (slot->db != NULL && slot->generation != projector->generation) {
        sqlite_util_cached_close(slot->db);
        slot->db = NULL;
    }
    if (slot->db == NULL) {
        /* Opened under the lock: a swap, which holds it, never runs between the open and the first read. */
        slot->db = reader_open(projector->live.path, error, error_bytes);
        slot->generation = projector->generation;
    }
    sqlite3 *reader = slot->db;
    slot->in_use = reader != NULL;
    pthread_mutex_unlock(&projector->pool_mutex);
    return reader;
}

void projector_reader_release(struct projector *projector, sqlite3 *reader)
{
    assert(projector != NULL);
    if (reader == NULL) return;
    /* A read transaction left open would pin its snapshot and keep the WAL from being checkpointed. */
    if (!sqlite3_get_autocommit(reader)) (void)sqlite_util_cached_run(reader, "ROLLBACK");
    pthread_mutex_lock(&projector->pool_mutex);
    struct reader_slot *slot = NULL;
    for (int i = 0; i < PROJECTOR_READERS_MAX && slot == NULL; i++) {
        if (projector->readers[i].db == reader && projector->readers[i].in_use) slot = &projector->readers[i];
    }
    assert(slot != NULL); /* only a connection from projector_reader_acquire, released once */
    if (slot->generation != projector->generation) {
        sqlite_util_cached_close(reader); /* its file was replaced: it served its last transaction */
        slot->db = NULL;
    }
    slot->in_use = false;
    pthread_cond_signal(&projector->pool_released);
    pthread_mutex_unlock(&projector->pool_mutex);
}

/* The positions read of projector_positions_read, with a statement kept on the connection when cached. */
static int positions_read(sqlite3 *db, bool cached, int64_t *next_offsets, int32_t partition_count,
                          char *error, size_t error_bytes)
{
    assert(db != NULL && next_offsets != NULL);
    assert(partition_count >= 0 && partition_count <= STOCKD_PARTITIONS_MAX);
    static const char sql[] = "SELECT partition_id, next_offset FROM view_positions";
    for (int32_t partition = 0; partition < partition_count; partition++)
        next_offsets[partition] = 0;
    char reason[256];
    sqlite3_stmt *statement = cached ? sqlite_util_cached_take(db, sql, reason, sizeof(reason))
                                     : sqlite_util_prepare(db, sql, reason, sizeof(reason));
    if (statement == NULL) {
        snprintf(error, error_bytes, "reading the view's positions: %s", reason);
        return -1;
    }
    int status;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        int64_t partition = sqlite3_column_int64(statement, 0);
        if (partition >= 0 && partition < partition_count)
            next_offsets[partition] = sqlite3_column_int64(statement, 1);
    }
    if (status != SQLITE_DONE)
        snprintf(error, error_bytes, "reading the view's positions: %s", sqlite3_errmsg(db));
    if (cached)
        sqlite_util_cached_release(statement);
    else
        sqlite3_finalize(statement);
    return status == SQLITE_DONE ? 0 : -1;
}

int projector_positions_read(sqlite3 *reader, int64_t *next_offsets, int32_t partition_count, char *error,
                             size_t error_bytes)
{
    return positions_read(reader, false, next_offsets, partition_count, error, error_bytes);
}

int projector_reader_positions_read(sqlite3 *reader, int64_t *next_offsets, int32_t partition_count,
                                    char *error, size_t error_bytes)
{
    return positions_read(reader, true, next_offsets, partition_count, error, error_bytes);
}

int projector_reader_begin(sqlite3 *reader)
{
    assert(reader != NULL);
    return sqlite_util_cached_run(reader, "BEGIN") == SQLITE_DONE ? 0 : -1;
}

void projector_reader_commit(sqlite3 *reader)
{
    assert(reader != NULL);
    (void)sqlite_util_cached_run(reader, "COMMIT"); /* a read transaction has nothing to lose */
}

/* ---- replacing the live file -------------------------------------------------------------------------- */

/* Unlinks the live file's -wal and -shm, then renames source over it (or unlinks it when source is NULL).
 * Returns 0, or -1 with errno set. */
static int live_files_replace(const char *path, const char *source)
{
    char wal[PROJECTOR_PATH_BYTES_MAX + 8];
    char shm[PROJECTOR_PATH_BYTES_MAX + 8];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    if ((unlink(wal) != 0 && errno != ENOENT) || (unlink(shm) != 0 && errno != ENOENT)) return -1;
    if (source != NULL) return rename(source, path);
    return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* Replaces the live database by source (renamed over it), or by an empty one when source is NULL, while
 * queries go on: a reader inside a transaction on the old file finishes it there (its connection is
 * closed when released); new acquisitions open the new file. The old -wal and -shm are unlinked first:
 * they go by name, and a connection to the new file must never take them for its own (readers still on
 * the old file keep them open). Reopens the live fold and rewinds its consumer when the positions changed.
 * Returns 0 replaced, 1 not replaced (the old file was reopened; error says why), -1 when no live
 * database could be opened (fatal). */
static int live_replace(struct projector *projector, const char *source, char *error, size_t error_bytes)
{
    struct fold *live = &projector->live;
    size_t positions_bytes = sizeof(int64_t) * (size_t)projector->partition_count;
    memcpy(projector->scratch, live->next, positions_bytes);
    pthread_mutex_lock(&projector->pool_mutex);
    readers_close_idle(projector);
    fold_db_close(projector, live);
    int replaced = 0;
    if (live_files_replace(live->path, source) != 0) {
        snprintf(error, error_bytes, "view %s: replacing %.600s: %s", projector->view->name, live->path,
                 strerror(errno));
        replaced = 1;
    }
    directory_sync(projector->directory);
    projector->generation++;
    char detail[PROJECTOR_ERROR_BYTES];
    int opened = fold_db_open(projector, live, detail, sizeof(detail));
    pthread_mutex_unlock(&projector->pool_mutex);
    if (opened != 0) {
        snprintf(error, error_bytes, "view %s: no live database after replacing it: %.900s",
                 projector->view->name, detail);
        return -1;
    }
    live_publish(projector, 0, 0, false);
    if (memcmp(projector->scratch, live->next, positions_bytes) != 0 &&
        fold_assign(projector, live, error, error_bytes) != 0)
        return -1;
    return replaced;
}

/* ---- the live fold ------------------------------------------------------------------------------------ */

/* The live batch committed: each of its events is now as old as its record timestamp says. */
static void live_commit_ages_observe(struct projector *projector)
{
    int64_t now_us = clock_wall_ms() * 1000;
    struct metrics_latency_local ages = {.count = 0};
    for (int i = 0; i < projector->batch_timestamp_count; i++)
        metrics_latency_local_add(&ages, now_us - projector->batch_timestamps_ms[i] * 1000);
    metrics_view_commit_age_merge(projector->view->name, &ages);
}

/* SQLite result codes of conditions that may clear without anyone touching the view: the disk filled up,
 * an I/O error, another connection's lock, memory. A constraint or a corrupt file does not clear. */
static bool sqlite_error_transient(int code)
{
    switch (code & 0xff) { /* the primary code of an extended one */
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
        return true;
    default:
        return false;
    }
}

/* Stops folding a partition of the live view at an event the view refuses on a constraint (the event that
 * repeats a SKU's sequence, after a command was decided twice: docs/chaos.md). The event is never applied
 * and no position moves past it, so the view's checks stand; the other partitions go on, and the view
 * reports not ready with the reason until the view is fixed and the instance restarted. */
static void partition_stop(struct projector *projector, int32_t partition, int64_t offset, const char *error)
{
    assert(partition >= 0 && partition < projector->partition_count);
    projector->partition_stopped[partition] = true;
    log_error(COMPONENT,
              "view %s: partition %d stopped before offset %lld, not ready: %s (the other "
              "partitions go on)",
              projector->view->name, (int)partition, (long long)offset, error);
    pthread_mutex_lock(&projector->state_mutex);
    if (projector->stopped_reason[0] == '\0')
        snprintf(projector->stopped_reason, sizeof(projector->stopped_reason),
                 "partition %d stopped before offset %lld: the view refuses the event there", (int)partition,
                 (long long)offset);
    pthread_mutex_unlock(&projector->state_mutex);
}

/* Folds one batch of the live consumer: polls until the batch is full, old (PROJECTOR_LIVE_BATCH_MS after
 * its first event) or the poll runs dry (only the first poll waits, up to timeout_ms), then commits the
 * events with the consumer's positions; commits too when only the positions moved (past a transaction
 * marker). Returns the events consumed (>= 0), or with a message STEP_FAILED (rolled back, consumer
 * rewound), STEP_FATAL or STEP_OUT_OF_RANGE. */
static int live_batch(struct projector *projector, int timeout_ms, char *error, size_t error_bytes)
{
    struct fold *live = &projector->live;
    int consumed = 0;
    int status = 0;
    int64_t ends_ms = INT64_MAX; /* set by the first event */
    projector->batch_timestamp_count = 0;
    projector->failure_transient = false;
    live->refused_partition = -1;
    for (int polls = 0; status == 0 && consumed < PROJECTOR_LIVE_BATCH_EVENTS_MAX; polls++) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(live->consumer, polls == 0 ? timeout_ms : 0);
        if (message == NULL) break;
        if (polls == 0) ends_ms = clock_monotonic_ms() + PROJECTOR_LIVE_BATCH_MS;
        if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            status = fold_consumer_error(projector, live, message, error, error_bytes);
            rd_kafka_message_destroy(message);
            continue;
        }
        assert(message->partition >= 0 && message->partition < projector->partition_count); /* assigned */
        rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        int64_t timestamp_ms = rd_kafka_message_timestamp(message, &timestamp_type); /* before fold_event */
        assert(projector->batch_timestamp_count <= consumed); /* so below PROJECTOR_LIVE_BATCH_EVENTS_MAX */
        if (timestamp_type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && timestamp_ms > 0)
            projector->batch_timestamps_ms[projector->batch_timestamp_count++] = timestamp_ms;
        if ((status = fold_event(projector, live, message, error, error_bytes)) == 0) consumed++;
        if (consumed % PROJECTOR_CHUNK_EVENTS != 0) continue;
        if (clock_monotonic_ms() >= ends_ms) break;
    }
    if (status == 0) status = fold_flush(projector, live, error, error_bytes);
    if (status == 0) {
        uint64_t applied = live->batch_applied;
        uint64_t undecodable = live->batch_undecodable;
        fold_consumer_positions(projector, live, projector->scratch);
        int committed = fold_commit(live, projector->scratch, projector->partition_count, error, error_bytes);
        if (committed >= 0) {
            live->batch_applied = 0;
            live->batch_undecodable = 0;
            if (committed > 0) live_publish(projector, applied, undecodable, true);
            live_commit_ages_observe(projector);
            return consumed;
        }
        status = STEP_FAILED;
    }
    projector->failure_transient = status == STEP_FAILED && live->db != NULL &&
                                   sqlite_error_transient(sqlite3_extended_errcode(live->db));
    bool refused = status == STEP_FAILED && live->db != NULL && live->refused_partition >= 0 &&
                   (sqlite3_extended_errcode(live->db) & 0xff) == SQLITE_CONSTRAINT;
    fold_rollback(live);
    if (status != STEP_FAILED) return status;
    counter_add(projector, &projector->batches_failed, 1);
    if (refused) partition_stop(projector, live->refused_partition, live->refused_offset, error);
    char detail[PROJECTOR_ERROR_BYTES];
    if (fold_assign(projector, live, detail, sizeof(detail)) == 0)
        return refused ? 0 : STEP_FAILED; /* rewound (without the stopped partition) */
    log_error(COMPONENT, "%s", error);
    snprintf(error, error_bytes, "%s", detail);
    return STEP_FATAL;
}

/* ---- rebuild ------------------------------------------------------------------------------------------ */

/* Stops fetching a partition and moves its fetch position back to offset, where it resumes. Pause first:
 * pausing sets the fetch position to the last consumed offset + 1, the seek then wins. */
static int partition_pause_at(struct projector *projector, struct fold *fold, int32_t partition,
                              int64_t offset, char *error, size_t error_bytes)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, projector->topics.events, partition)->offset = offset;
    rd_kafka_resp_err_t status = rd_kafka_pause_partitions(fold->consumer, list);
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) status = list->elems[0].err;
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) {
        list->elems[0].offset = offset; /* pause may have written it */
        rd_kafka_error_t *seek_error = rd_kafka_seek_partitions(fold->consumer, list, -1);
        if (seek_error != NULL) {
            status = rd_kafka_error_code(seek_error);
            rd_kafka_error_destroy(seek_error);
        }
    }
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) status = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    snprintf(error, error_bytes, "view %s (rebuild): pausing partition %d at %lld: %s", projector->view->name,
             (int)partition, (long long)offset, rd_kafka_err2str(status));
    return STEP_FAILED;
}

static int partition_resume(struct projector *projector, struct fold *fold, int32_t partition, char *error,
                            size_t error_bytes)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, projector->topics.events, partition);
    rd_kafka_resp_err_t status = rd_kafka_resume_partitions(fold->consumer, list);
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) status = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    snprintf(error, error_bytes, "view %s (rebuild): resuming partition %d: %s", projector->view->name,
             (int)partition, rd_kafka_err2str(status));
    return STEP_FAILED;
}

/* Ends a rebuild: drops its held events, consumer and connection. reason NULL: it is being swapped in (the
 * file is kept); otherwise the file is removed and the reason logged (as a failure when failed). */
static void rebuild_stop(struct projector *projector, const char *reason, bool failed)
{
    assert(projector->rebuild_active);
    for (size_t i = 0; i < projector->held_count; i++)
        rd_kafka_message_destroy(projector->held[i]); /* before the consumer they belong to */
    projector->held_count = 0;
    fold_consumer_stop(&projector->rebuild);
    fold_db_close(projector, &projector->rebuild);
    projector->rebuild_active = false;
    pthread_mutex_lock(&projector->state_mutex);
    projector->rebuilding = false;
    projector->rebuilds_failed += failed ? 1 : 0;
    pthread_mutex_unlock(&projector->state_mutex);
    if (reason == NULL) return;
    char error[PROJECTOR_ERROR_BYTES];
    if (database_files_remove(projector->rebuild.path, error, sizeof(error)) < 0)
        log_error(COMPONENT, "view %s: %s", projector->view->name, error);
    log_write(failed ? LOG_ERROR : LOG_INFO, COMPONENT,
              "view %s: rebuild abandoned, the live view is kept: %s", projector->view->name, reason);
}

static int rebuild_start(struct projector *projector, char *error, size_t error_bytes)
{
    struct fold *rebuild = &projector->rebuild;
    if (database_files_remove(rebuild->path, error, error_bytes) < 0 ||
        fold_db_open(projector, rebuild, error, error_bytes) != 0)
        return -1;
    if (sqlite_util_exec(rebuild->db, PROJECTOR_REBUILD_PRAGMAS, error, error_bytes) != 0) {
        fold_db_close(projector, rebuild);
        return -1;
    }
    assert(projector->held_count == 0);
    for (int32_t partition = 0; partition < projector->partition_count; partition++) {
        projector->pending_from[partition] = INT64_MAX;
        projector->paused_at[partition] = -1;
        projector->reached[partition] = 0;
    }
    if (fold_consumer_start(projector, rebuild, error, error_bytes) != 0) {
        fold_db_close(projector, rebuild);
        char ignored[PROJECTOR_ERROR_BYTES];
        database_files_remove(rebuild->path, ignored, sizeof(ignored));
        return -1;
    }
    projector->rebuild_active = true;
    projector->rebuild_started_ms = clock_monotonic_ms();
    projector->rebuild_committed_ms = projector->rebuild_started_ms;
    log_info(COMPONENT,
             "view %s: rebuild started: folding %s from offset 0 into %s; the live view serves meanwhile",
             projector->view->name, projector->topics.events, rebuild->path);
    return 0;
}

/* Starts a rebuild when one was asked for. One that cannot start is logged and counted. */
static void rebuild_maybe_start(struct projector *projector)
{
    pthread_mutex_lock(&projector->state_mutex);
    bool wanted = projector->rebuild_wanted && !projector->rebuild_active;
    projector->rebuild_wanted = false;
    projector->rebuilding = projector->rebuilding || wanted;
    projector->rebuild_positions_total = wanted ? 0 : projector->rebuild_positions_total;
    pthread_mutex_unlock(&projector->state_mutex);
    char error[PROJECTOR_ERROR_BYTES];
    if (!wanted || rebuild_start(projector, error, sizeof(error)) == 0) return;
    log_error(COMPONENT, "view %s: rebuild could not start: %s", projector->view->name, error);
    pthread_mutex_lock(&projector->state_mutex);
    projector->rebuilding = false;
    projector->rebuilds_failed++;
    pthread_mutex_unlock(&projector->state_mutex);
}

/* Takes one message of the rebuild consumer, and its ownership. An event below the live position of its
 * partition (with nothing held before it) is folded; one at or past it is held until the live fold has
 * passed it, so the rebuild never gets ahead of the live view. With PROJECTOR_HELD_MAX held, the
 * partition pauses instead and fetches the event again later. Returns 0 or a step status. */
static int rebuild_take(struct projector *projector, rd_kafka_message_t *message, char *error,
                        size_t error_bytes)
{
    struct fold *rebuild = &projector->rebuild;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        int status = fold_consumer_error(projector, rebuild, message, error, error_bytes);
        rd_kafka_message_destroy(message);
        return status;
    }
    int32_t partition = message->partition;
    int64_t offset = message->offset;
    assert(partition >= 0 && partition < projector->partition_count); /* assigned */
    if (projector->paused_at[partition] >= 0) { /* fetched before the pause: fetched again on resume */
        rd_kafka_message_destroy(message);
        return 0;
    }
    if (projector->pending_from[partition] == INT64_MAX && offset < projector->live.next[partition]) {
        int status = fold_event(projector, rebuild, message, error, error_bytes);
        if (status == 0) projector->reached[partition] = offset + 1;
        return status;
    }
    if (projector->pending_from[partition] == INT64_MAX) projector->pending_from[partition] = offset;
    if (projector->held_count < PROJECTOR_HELD_MAX) {
        projector->held[projector->held_count++] = message;
        return 0;
    }
    rd_kafka_message_destroy(message);
    projector->paused_at[partition] = offset;
    counter_add(projector, &projector->rebuild_pauses, 1);
    return partition_pause_at(projector, rebuild, partition, offset, error, error_bytes);
}

/* Folds the held events the live fold has passed meanwhile (keeping the others in order), and resumes
 * paused partitions once half the room for held events is free. Returns 0 or a step status. */
static int rebuild_release_held(struct projector *projector, char *error, size_t error_bytes)
{
    int status = 0;
    size_t kept = 0;
    for (int32_t partition = 0; partition < projector->partition_count; partition++)
        projector->pending_from[partition] = INT64_MAX;
    for (size_t i = 0; i < projector->held_count; i++) {
        rd_kafka_message_t *message = projector->held[i];
        int32_t partition = message->partition;
        if (status == 0 && projector->pending_from[partition] == INT64_MAX &&
            message->offset < projector->live.next[partition]) {
            int64_t offset = message->offset;
            status = fold_event(projector, &projector->rebuild, message, error, error_bytes);
            if (status == 0) projector->reached[partition] = offset + 1;
            continue; /* the fold took it, and a failure abandons the rebuild */
        }
        if (projector->pending_from[partition] == INT64_MAX)
            projector->pending_from[partition] = message->offset;
        projector->held[kept++] = message;
    }
    projector->held_count = kept;
    bool resume = kept <= PROJECTOR_HELD_MAX / 2;
    for (int32_t partition = 0; status == 0 && partition < projector->partition_count; partition++) {
        if (projector->paused_at[partition] < 0) continue;
        if (resume &&
            (status = partition_resume(projector, &projector->rebuild, partition, error, error_bytes)) == 0) {
            projector->paused_at[partition] = -1;
        } else if (projector->pending_from[partition] == INT64_MAX) {
            projector->pending_from[partition] = projector->paused_at[partition];
        }
    }
    return status;
}

/* The positions the rebuild has folded up to, capped at the live ones, into out. Returns true when it
 * has caught up exactly: on every partition it folded every event below the live position, none past. */
static bool rebuild_positions(struct projector *projector, int64_t *out)
{
    fold_consumer_positions(projector, &projector->rebuild, out);
    bool caught_up = true;
    for (int32_t partition = 0; partition < projector->partition_count; partition++) {
        int64_t target = projector->live.next[partition];
        int64_t pending_from = projector->pending_from[partition];
        /* The consumer's position passes transaction markers and aborted records too, but also what is
         * held: only used when nothing is. */
        if (pending_from == INT64_MAX && out[partition] > projector->reached[partition])
            projector->reached[partition] = out[partition];
        bool done =
            pending_from == INT64_MAX ? projector->reached[partition] >= target : pending_from >= target;
        caught_up = caught_up && done;
        out[partition] = done ? target : projector->reached[partition];
    }
    return caught_up;
}

/* Swaps the caught-up rebuild in: closing its connection checkpoints it and deletes its WAL, so the file
 * stands alone; then it is renamed over the live file. Returns 0 (swapped, or abandoned with the live view
 * kept: logged) or STEP_FATAL with a message. */
static int rebuild_swap(struct projector *projector, char *error, size_t error_bytes)
{
    struct fold *rebuild = &projector->rebuild;
    size_t positions_bytes = sizeof(int64_t) * (size_t)projector->partition_count;
    assert(memcmp(rebuild->next, projector->live.next, positions_bytes) == 0); /* caught up exactly */
    int64_t positions_total = 0;
    for (int32_t partition = 0; partition < projector->partition_count; partition++)
        positions_total += rebuild->next[partition];
    /* Folded without journal nor sync: back to a WAL file like any live one, then on disk before the
     * rename, so that the live name never names a file a power cut could leave torn. */
    char detail[PROJECTOR_ERROR_BYTES];
    bool settled = sqlite_util_exec(rebuild->db, PROJECTOR_SWAP_PRAGMAS, detail, sizeof(detail)) == 0;
    rebuild_stop(projector, NULL, false);
    char wal[PROJECTOR_PATH_BYTES_MAX + 8];
    snprintf(wal, sizeof(wal), "%s-wal", rebuild->path);
    int replaced = 1;
    if (!settled)
        snprintf(error, error_bytes, "%.600s: back to WAL: %.300s", rebuild->path, detail);
    else if (file_exists(wal))
        snprintf(error, error_bytes, "%.900s is still there after closing the rebuild", wal);
    else if (file_sync(rebuild->path) != 0)
        snprintf(error, error_bytes, "fsync %.600s: %s", rebuild->path, strerror(errno));
    else
        replaced = live_replace(projector, rebuild->path, error, error_bytes);
    if (replaced < 0) return STEP_FATAL;
    pthread_mutex_lock(&projector->state_mutex);
    projector->rebuilds_completed += replaced == 0 ? 1 : 0;
    projector->rebuilds_failed += replaced == 0 ? 0 : 1;
    pthread_mutex_unlock(&projector->state_mutex);
    if (replaced == 0) {
        log_info(COMPONENT, "view %s: rebuild swapped in after %lld ms, at %lld events of positions",
                 projector->view->name, (long long)(clock_monotonic_ms() - projector->rebuild_started_ms),
                 (long long)positions_total);
        return 0;
    }
    char ignored[PROJECTOR_ERROR_BYTES];
    database_files_remove(rebuild->path, ignored, sizeof(ignored));
    log_error(COMPONENT, "view %s: rebuild not swapped in, the live view is kept: %s", projector->view->name,
              error);
    return 0;
}

/* One rebuild batch: folds the held events the live fold passed, polls up to a batch (only the first poll
 * waits, up to timeout_ms), commits with its positions, and swaps the rebuild in once caught up. Returns
 * 0, STEP_FAILED (abandon the rebuild: error says why) or STEP_FATAL. */
static int rebuild_step(struct projector *projector, int timeout_ms, char *error, size_t error_bytes)
{
    struct fold *rebuild = &projector->rebuild;
    int status = rebuild_release_held(projector, error, error_bytes);
    for (int polls = 0; status == 0 && polls < PROJECTOR_BATCH_EVENTS_MAX; polls++) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(rebuild->consumer, polls == 0 ? timeout_ms : 0);
        if (message == NULL) break;
        status = rebuild_take(projector, message, error, error_bytes);
    }
    if (status != 0) return STEP_FAILED;
    bool caught_up = rebuild_positions(projector, projector->scratch);
    int64_t now_ms = clock_monotonic_ms();
    if (!caught_up && now_ms - projector->rebuild_committed_ms < PROJECTOR_REBUILD_COMMIT_MS)
        return 0; /* the transaction stays open, the decoder busy: the next steps add to them */
    projector->rebuild_committed_ms = now_ms;
    if (fold_flush(projector, rebuild, error, error_bytes) != 0) return STEP_FAILED;
    uint64_t applied = rebuild->batch_applied;
    if (fold_commit(rebuild, projector->scratch, projector->partition_count, error, error_bytes) < 0)
        return STEP_FAILED;
    rebuild->batch_applied = 0;
    rebuild->batch_undecodable = 0; /* counted by the live fold already */
    int64_t positions_total = 0;
    for (int32_t partition = 0; partition < projector->partition_count; partition++)
        positions_total += rebuild->next[partition];
    pthread_mutex_lock(&projector->state_mutex);
    projector->rebuild_events_applied += applied;
    projector->rebuild_positions_total = positions_total;
    pthread_mutex_unlock(&projector->state_mutex);
    return caught_up ? rebuild_swap(projector, error, error_bytes) : 0;
}

/* ---- running ------------------------------------------------------------------------------------------ */

/* A live position is outside its partition. Past the end: the topic was recreated and the view is not its
 * fold: the view is emptied and folds again from offset 0. Below the start: events were deleted and no
 * fold can be whole: fatal. Returns 0 or a step status with a message. */
static int live_out_of_range(struct projector *projector, char *error, size_t error_bytes)
{
    struct fold *live = &projector->live;
    int32_t partition = live->out_of_range;
    if (partition < 0 || partition >= projector->partition_count) return STEP_FATAL;
    int64_t low = -1;
    int64_t high = -1;
    rd_kafka_resp_err_t status = rd_kafka_query_watermark_offsets(
        live->consumer, projector->topics.events, partition, &low, &high, PROJECTOR_ENDS_TIMEOUT_MS);
    int64_t next = live->next[partition];
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR && next < low) {
        snprintf(error, error_bytes,
                 "view %s: %s [%d] starts at offset %lld but the view needs %lld: events were deleted, the "
                 "view cannot be folded whole",
                 projector->view->name, projector->topics.events, (int)partition, (long long)low,
                 (long long)next);
        return STEP_FATAL;
    }
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn(COMPONENT, "%s (watermarks: %s): rewinding", error, rd_kafka_err2str(status));
        return fold_assign(projector, live, error, error_bytes) == 0 ? STEP_FAILED : STEP_FATAL;
    }
    if (next <= high) { /* reported before a rewind or a reset that made the position valid again */
        log_info(COMPONENT, "%s; position %lld is within %lld..%lld now: fetching again", error,
                 (long long)next, (long long)low, (long long)high);
        return fold_assign(projector, live, error, error_bytes) == 0 ? 0 : STEP_FATAL;
    }
    log_warn(COMPONENT,
             "view %s: position %lld of %s [%d] is past its end %lld: the topic was recreated; emptying the "
             "view, which is empty until it has folded the topic again from offset 0",
             projector->view->name, (long long)next, projector->topics.events, (int)partition,
             (long long)high);
    if (projector->rebuild_active) rebuild_stop(projector, "the live view was emptied", false);
    return live_replace(projector, NULL, error, error_bytes) == 0 ? 0 : STEP_FATAL;
}

/* Asks for the end offsets of every partition (last stable offsets: the consumer is read_committed), at
 * most every PROJECTOR_ENDS_REFRESH_MS. An end that cannot be had keeps its last known value. */
static void ends_refresh(struct projector *projector)
{
    int64_t now_ms = clock_monotonic_ms();
    if (now_ms < projector->ends_due_ms) return;
    projector->ends_due_ms = now_ms + PROJECTOR_ENDS_REFRESH_MS;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_copy(projector->live.cursor);
    for (int i = 0; i < list->cnt; i++)
        list->elems[i].offset = RD_KAFKA_OFFSET_END; /* a timestamp here: the latest */
    rd_kafka_resp_err_t status =
        rd_kafka_offsets_for_times(projector->live.consumer, list, PROJECTOR_ENDS_TIMEOUT_MS);
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_debug(COMPONENT, "view %s: end offsets: %s", projector->view->name, rd_kafka_err2str(status));
    pthread_mutex_lock(&projector->state_mutex);
    for (int i = 0; status == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *element = &list->elems[i];
        if (element->err == RD_KAFKA_RESP_ERR_NO_ERROR && element->offset >= 0)
            projector->ends[element->partition] = element->offset;
    }
    ready_log_locked(projector);
    pthread_mutex_unlock(&projector->state_mutex);
    rd_kafka_topic_partition_list_destroy(list);
}

/* One rebuild batch; a rebuild that fails is abandoned (logged), the live view kept. Returns 0, or -1 with
 * a message when the fold cannot go on. */
static int rebuild_turn(struct projector *projector, int timeout_ms, char *error, size_t error_bytes)
{
    char rebuild_error[PROJECTOR_ERROR_BYTES];
    int status = rebuild_step(projector, timeout_ms, rebuild_error, sizeof(rebuild_error));
    if (status == STEP_FATAL) {
        snprintf(error, error_bytes, "%s", rebuild_error);
        return -1;
    }
    if (status != 0) rebuild_stop(projector, rebuild_error, true);
    return 0;
}

/* Records whether the live fold is paused on a transient failure (the view is then not ready) and logs the
 * pause when it starts, every PROJECTOR_PAUSED_LOG_MS while it lasts, and when it ends. */
static void paused_set(struct projector *projector, bool paused, const char *error)
{
    int64_t now_ms = clock_monotonic_ms();
    pthread_mutex_lock(&projector->state_mutex);
    bool was_paused = projector->paused;
    projector->paused = paused;
    pthread_mutex_unlock(&projector->state_mutex);
    if (paused && (!was_paused || now_ms - projector->paused_logged_ms >= PROJECTOR_PAUSED_LOG_MS)) {
        log_error(COMPONENT, "view %s: paused, not ready: %s (retrying every %d ms)", projector->view->name,
                  error, PROJECTOR_FAILURE_BACKOFF_MS);
        projector->paused_logged_ms = now_ms;
    } else if (!paused && was_paused) {
        log_info(COMPONENT, "view %s: resumed", projector->view->name);
    }
}

/* One turn: a live batch, a rebuild batch while one runs, the end offsets when due. After a failed live
 * batch the live fold backs off, but a rebuild goes on: it may be what mends the failure (a damaged live
 * file). Returns 0 to go on, -1 with a message when the fold cannot. */
static int run_turn(struct projector *projector, const atomic_bool *stop, char *error, size_t error_bytes)
{
    rebuild_maybe_start(projector);
    int consumed =
        live_batch(projector, projector->rebuild_active ? 0 : PROJECTOR_POLL_TIMEOUT_MS, error, error_bytes);
    if (consumed == STEP_OUT_OF_RANGE) consumed = live_out_of_range(projector, error, error_bytes);
    if (consumed == STEP_FATAL) return -1;
    bool failed = consumed == STEP_FAILED;
    if (failed && !projector->failure_transient) log_error(COMPONENT, "%s", error);
    /* A transient failure pauses the fold and never makes it give up. */
    projector->failures = failed && !projector->failure_transient ? projector->failures + 1 : 0;
    if (projector->failures >= PROJECTOR_FAILURES_MAX && !projector->rebuild_active) return -1;
    if (projector->rebuild_active &&
        rebuild_turn(projector, consumed == 0 ? PROJECTOR_REBUILD_POLL_MS : 0, error, error_bytes) != 0)
        return -1;
    if (failed || consumed > 0) paused_set(projector, failed && projector->failure_transient, error);
    int64_t backoff_until_ms = failed ? clock_monotonic_ms() + PROJECTOR_FAILURE_BACKOFF_MS : 0;
    while (clock_monotonic_ms() < backoff_until_ms && !atomic_load(stop)) {
        if (!projector->rebuild_active)
            sleep_ms(PROJECTOR_POLL_TIMEOUT_MS);
        else if (rebuild_turn(projector, PROJECTOR_REBUILD_POLL_MS, error, error_bytes) != 0)
            return -1;
    }
    ends_refresh(projector);
    return 0;
}

int projector_run(struct projector *projector, const atomic_bool *stop)
{
    assert(projector != NULL && stop != NULL);
    assert(projector->live.consumer == NULL); /* not running already */
    char error[PROJECTOR_ERROR_BYTES];
    if (projector->live.db == NULL) { /* a previous run failed to reopen it */
        log_error(COMPONENT, "view %s: no live database: not folding", projector->view->name);
        return -1;
    }
    if (fold_consumer_start(projector, &projector->live, error, sizeof(error)) != 0) {
        log_error(COMPONENT, "%s", error);
        return -1;
    }
    log_info(COMPONENT, "view %s: folding %s (%d partitions) into %s", projector->view->name,
             projector->topics.events, (int)projector->partition_count, projector->live.path);
    projector->ends_due_ms = 0;
    projector->failures = 0;
    pthread_mutex_lock(&projector->state_mutex);
    projector->stopped = false;
    pthread_mutex_unlock(&projector->state_mutex);
    int status = 0;
    while (status == 0 && !atomic_load(stop))
        status = run_turn(projector, stop, error, sizeof(error));
    if (status != 0) log_error(COMPONENT, "view %s: the fold stops: %s", projector->view->name, error);
    projector_end_waits(projector); /* nothing will be committed any more */
    if (projector->rebuild_active) rebuild_stop(projector, "shutdown", false);
    fold_consumer_stop(&projector->live);
    return status;
}

/* ---- waiting, status, tokens -------------------------------------------------------------------------- */

void projector_end_waits(struct projector *projector)
{
    assert(projector != NULL);
    pthread_mutex_lock(&projector->state_mutex);
    projector->stopped = true;
    pthread_cond_broadcast(&projector->state_changed);
    pthread_mutex_unlock(&projector->state_mutex);
}

int projector_wait_position(struct projector *projector, struct view_position position, int timeout_ms)
{
    assert(projector != NULL);
    if (position.partition < 0 || position.partition >= projector->partition_count || position.offset < 0)
        return -1;
    timeout_ms = timeout_ms < 0 ? 0 : timeout_ms > PROJECTOR_WAIT_MS_MAX ? PROJECTOR_WAIT_MS_MAX : timeout_ms;
    struct timespec deadline = clock_deadline_after(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&projector->state_mutex);
    while (projector->positions[position.partition] <= position.offset && !projector->stopped) {
        if (pthread_cond_timedwait(&projector->state_changed, &projector->state_mutex, &deadline) ==
            ETIMEDOUT)
            break;
    }
    bool passed = projector->positions[position.partition] > position.offset;
    pthread_mutex_unlock(&projector->state_mutex);
    return passed ? 1 : 0;
}

uint64_t projector_commit_count(struct projector *projector)
{
    assert(projector != NULL);
    pthread_mutex_lock(&projector->state_mutex);
    uint64_t commits = projector->commits;
    pthread_mutex_unlock(&projector->state_mutex);
    return commits;
}

int projector_wait_commit(struct projector *projector, uint64_t seen_commits, int timeout_ms)
{
    assert(projector != NULL);
    timeout_ms = timeout_ms < 0 ? 0 : timeout_ms > PROJECTOR_WAIT_MS_MAX ? PROJECTOR_WAIT_MS_MAX : timeout_ms;
    struct timespec deadline = clock_deadline_after(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&projector->state_mutex);
    assert(seen_commits <= projector->commits); /* a count this projector gave */
    while (projector->commits == seen_commits && !projector->stopped) {
        if (pthread_cond_timedwait(&projector->state_changed, &projector->state_mutex, &deadline) ==
            ETIMEDOUT)
            break;
    }
    int result = projector->commits != seen_commits ? 1 : projector->stopped ? -1 : 0;
    pthread_mutex_unlock(&projector->state_mutex);
    return result;
}

/* Parses the integer in [start, end) (number.h: digits, no sign, no leading zero) into *out, refusing values
 * above maximum. */
static int digits_parse(const char *start, const char *end, int64_t maximum, int64_t *out)
{
    return number_integer_parse(start, (size_t)(end - start), 0, maximum, out) == NUMBER_OK ? 0 : -1;
}

int projector_position_parse(const char *token, struct view_position *out)
{
    assert(out != NULL);
    if (token == NULL) return -1;
    const char *colon = strchr(token, ':');
    if (colon == NULL) return -1;
    int64_t partition = 0;
    int64_t offset = 0;
    if (digits_parse(token, colon, STOCKD_PARTITIONS_MAX - 1, &partition) != 0 ||
        digits_parse(colon + 1, colon + 1 + strlen(colon + 1), INT64_MAX, &offset) != 0)
        return -1;
    out->partition = (int32_t)partition;
    out->offset = offset;
    return 0;
}

void projector_status_get(struct projector *projector, struct projector_status *out)
{
    assert(projector != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->name = projector->view->name;
    out->partition_count = projector->partition_count;
    size_t positions_bytes = sizeof(int64_t) * (size_t)projector->partition_count;
    pthread_mutex_lock(&projector->state_mutex);
    memcpy(out->positions, projector->positions, positions_bytes);
    memcpy(out->ends, projector->ends, positions_bytes);
    out->lag_total = lag_total_locked(projector);
    out->rebuilding = projector->rebuilding;
    out->rebuild_positions_total = projector->rebuild_positions_total;
    out->events_applied = projector->events_applied;
    out->events_undecodable = projector->events_undecodable;
    out->batches_committed = projector->batches_committed;
    out->batches_failed = projector->batches_failed;
    out->consumer_errors = projector->consumer_errors;
    out->rebuild_events_applied = projector->rebuild_events_applied;
    out->rebuild_pauses = projector->rebuild_pauses;
    out->rebuilds_completed = projector->rebuilds_completed;
    out->rebuilds_failed = projector->rebuilds_failed;
    bool paused = projector->paused;
    snprintf(out->stopped_reason, sizeof(out->stopped_reason), "%s", projector->stopped_reason);
    pthread_mutex_unlock(&projector->state_mutex);
    out->ready = !paused && out->stopped_reason[0] == '\0' && out->lag_total >= 0 &&
                 out->lag_total <= projector->config->views_lag_max;
}

int projector_rebuild_request(struct projector *projector)
{
    assert(projector != NULL);
    pthread_mutex_lock(&projector->state_mutex);
    int busy = projector->rebuild_wanted || projector->rebuilding;
    projector->rebuild_wanted = true;
    pthread_mutex_unlock(&projector->state_mutex);
    if (!busy) log_info(COMPONENT, "view %s: rebuild requested", projector->view->name);
    return busy ? 1 : 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------------------- */

/* Deletes the live file when its schema is older than this binary's: the view then folds from offset 0. */
static int live_schema_check(struct projector *projector, char *error, size_t error_bytes)
{
    const char *path = projector->live.path;
    if (!file_exists(path)) {
        log_info(COMPONENT, "view %s: no %s yet: folding from offset 0", projector->view->name, path);
        return 0;
    }
    sqlite3 *db = sqlite_util_open(path, 0, error, error_bytes);
    if (db == NULL) return -1;
    sqlite3_stmt *statement = NULL;
    bool known = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, NULL) == SQLITE_OK &&
                 sqlite3_step(statement) == SQLITE_ROW;
    int version = known ? sqlite3_column_int(statement, 0) : 0;
    if (!known) snprintf(error, error_bytes, "%s: reading its schema version: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(statement);
    sqlite3_close(db);
    int newest = sqlite_util_schema_version(projector->kind);
    if (!known) return -1;
    if (version >= newest) return 0;
    log_warn(COMPONENT,
             "view %s: %s has schema version %d, older than this stockd's %d: deleting it; the view is EMPTY "
             "until it has folded %s again from offset 0",
             projector->view->name, path, version, newest, projector->topics.events);
    return database_files_remove(path, error, error_bytes) < 0 ? -1 : 0;
}

/* Names the files, makes <data_dir>/views, removes a leftover rebuild and a live file of an old schema. */
static int files_prepare(struct projector *projector, char *error, size_t error_bytes)
{
    const char *data_dir = projector->config->data_dir;
    size_t directory_bytes = sizeof(projector->directory);
    size_t path_bytes = sizeof(projector->live.path);
    /* The rebuild's name is the longest: its -journal must fit too. */
    if ((size_t)snprintf(projector->directory, directory_bytes, "%s/views", data_dir) >= directory_bytes ||
        (size_t)snprintf(projector->live.path, path_bytes, "%s/%s.db", projector->directory,
                         projector->view->name) >= path_bytes ||
        (size_t)snprintf(projector->rebuild.path, path_bytes, "%s.rebuild", projector->live.path) + 16 >=
            path_bytes) {
        snprintf(error, error_bytes, "data_dir %s: too long for the view files", data_dir);
        return -1;
    }
    if (directory_make(data_dir, error, error_bytes) != 0 ||
        directory_make(projector->directory, error, error_bytes) != 0)
        return -1;
    int removed = database_files_remove(projector->rebuild.path, error, error_bytes);
    if (removed < 0) return -1;
    if (removed > 0)
        log_warn(COMPONENT,
                 "view %s: removed %s, left by a rebuild that did not finish; the live view is intact",
                 projector->view->name, projector->rebuild.path);
    return live_schema_check(projector, error, error_bytes);
}

static void sync_init(struct projector *projector)
{
    pthread_condattr_t attributes;
    int status = pthread_condattr_init(&attributes);
    status |= pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC); /* deadlines ignore clock changes */
    status |= pthread_mutex_init(&projector->state_mutex, NULL);
    status |= pthread_cond_init(&projector->state_changed, &attributes);
    status |= pthread_mutex_init(&projector->pool_mutex, NULL);
    status |= pthread_cond_init(&projector->pool_released, &attributes);
    status |= pthread_condattr_destroy(&attributes);
    assert(status == 0); /* these only fail on invalid attributes or exhausted kernel objects */
    (void)status;
}

struct projector *projector_create(const struct stockd_config *config, const struct view_ops *view,
                                   char *error, size_t error_bytes)
{
    assert(config != NULL && view != NULL && view->name != NULL);
    assert(view->open != NULL && view->apply != NULL && view->close != NULL);
    assert(strlen(view->name) > 0 && strlen(view->name) < PROJECTOR_VIEW_NAME_BYTES_MAX);
    assert(config->partitions >= 1 && config->partitions <= STOCKD_PARTITIONS_MAX);
    assert(positions_schema() != NULL); /* compiled in from schema/views/positions.sql */
    struct projector *projector = calloc(1, sizeof(*projector));
    if (projector == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    projector->config = config;
    projector->view = view;
    projector->partition_count = config->partitions;
    snprintf(projector->kind, sizeof(projector->kind), "views/%s", view->name);
    kafka_topics_names(config->topic_prefix, &projector->topics);
    projector->live.role = "live";
    projector->rebuild.role = "rebuild";
    sync_init(projector);
    if (files_prepare(projector, error, error_bytes) != 0 ||
        fold_db_open(projector, &projector->live, error, error_bytes) != 0) {
        projector_destroy(projector);
        return NULL;
    }
    int64_t positions_total = 0;
    for (int32_t partition = 0; partition < projector->partition_count; partition++) {
        projector->ends[partition] = -1;
        positions_total += projector->live.next[partition];
    }
    live_publish(projector, 0, 0, false);
    log_info(COMPONENT, "view %s: opened %s at positions totalling %lld", view->name, projector->live.path,
             (long long)positions_total);
    return projector;
}

void projector_destroy(struct projector *projector)
{
    if (projector == NULL) return;
    assert(projector->live.consumer == NULL && !projector->rebuild_active); /* not running */
    for (int i = 0; i < PROJECTOR_READERS_MAX; i++) {
        assert(!projector->readers[i].in_use); /* every reader was released */
        sqlite_util_cached_close(projector->readers[i].db);
    }
    fold_db_close(projector, &projector->live);
    pthread_cond_destroy(&projector->pool_released);
    pthread_mutex_destroy(&projector->pool_mutex);
    pthread_cond_destroy(&projector->state_changed);
    pthread_mutex_destroy(&projector->state_mutex);
    free(projector);
}
