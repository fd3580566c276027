/* outcome_board.c - synchronous answers straight from this instance's handler commits (outcome_board.h).
 *
 * A fixed table of watches under one mutex, each with its own condition variable, so a post wakes only the
 * request it answers. The handler looks at the table only for partitions with a watch (an atomic count). */
#include "outcome_board.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "limits.h"

enum watch_state {
    WATCH_FREE = 0,
    WATCH_WAITING,
    WATCH_DECIDED,
    WATCH_GONE,
};

struct watch {
    enum watch_state state;
    int32_t partition;
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    pthread_cond_t changed;
    struct view_outcome outcome; /* WATCH_DECIDED */
};

struct outcome_board {
    pthread_mutex_t mutex;
    bool closed;
    int watches_max;
    int watches_high;                  /* watches[watches_high ..] have never been used: scans stop there */
    int owners[STOCKD_PARTITIONS_MAX]; /* handler workers holding the partition */
    atomic_int watched[STOCKD_PARTITIONS_MAX]; /* watches waiting on the partition */
    struct watch *watches;                     /* watches_max of them */
};

struct outcome_board *outcome_board_create(int watches_max)
{
    assert(watches_max > 0);
    struct outcome_board *board = calloc(1, sizeof(*board));
    if (board == NULL) return NULL;
    board->watches = calloc((size_t)watches_max, sizeof(*board->watches));
    if (board->watches == NULL || pthread_mutex_init(&board->mutex, NULL) != 0) {
        free(board->watches);
        free(board);
        return NULL;
    }
    int initialised = 0;
    pthread_condattr_t attributes;
    if (pthread_condattr_init(&attributes) == 0 &&
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) == 0) {
        while (initialised < watches_max &&
               pthread_cond_init(&board->watches[initialised].changed, &attributes) == 0)
            initialised++;
        pthread_condattr_destroy(&attributes);
    }
    board->watches_max = watches_max;
    if (initialised < watches_max) {
        board->watches_max = initialised;
        outcome_board_destroy(board);
        return NULL;
    }
    return board;
}

/* Ends a waiting watch as gone. Under the lock. */
static void watch_gone(struct outcome_board *board, struct watch *watch)
{
    assert(watch->state == WATCH_WAITING);
    watch->state = WATCH_GONE;
    atomic_fetch_sub(&board->watched[watch->partition], 1);
    pthread_cond_signal(&watch->changed);
}

void outcome_board_close(struct outcome_board *board)
{
    if (board == NULL) return;
    pthread_mutex_lock(&board->mutex);
    board->closed = true;
    for (int i = 0; i < board->watches_high; i++) {
        if (board->watches[i].state == WATCH_WAITING) watch_gone(board, &board->watches[i]);
    }
    pthread_mutex_unlock(&board->mutex);
}

void outcome_board_destroy(struct outcome_board *board)
{
    if (board == NULL) return;
    for (int i = 0; i < board->watches_max; i++)
        pthread_cond_destroy(&board->watches[i].changed);
    pthread_mutex_destroy(&board->mutex);
    free(board->watches);
    free(board);
}

/* ---- the handler's side -------------------------------------------------------------------------------- */

static bool partition_valid(int32_t partition)
{
    return partition >= 0 && partition < STOCKD_PARTITIONS_MAX;
}

void outcome_board_partition_take(struct outcome_board *board, int32_t partition)
{
    if (board == NULL || !partition_valid(partition)) return;
    pthread_mutex_lock(&board->mutex);
    board->owners[partition]++;
    pthread_mutex_unlock(&board->mutex);
}

/* Ends every waiting watch of the partition as gone. Under the lock. */
static void partition_watches_gone(struct outcome_board *board, int32_t partition)
{
    for (int i = 0; i < board->watches_high; i++) {
        struct watch *watch = &board->watches[i];
        if (watch->state == WATCH_WAITING && watch->partition == partition) watch_gone(board, watch);
    }
}

void outcome_board_partition_give_up(struct outcome_board *board, int32_t partition)
{
    if (board == NULL || !partition_valid(partition)) return;
    pthread_mutex_lock(&board->mutex);
    if (board->owners[partition] > 0) board->owners[partition]--;
    partition_watches_gone(board, partition);
    pthread_mutex_unlock(&board->mutex);
}

void outcome_board_partition_release(struct outcome_board *board, int32_t partition)
{
    if (board == NULL || !partition_valid(partition)) return;
    pthread_mutex_lock(&board->mutex);
    partition_watches_gone(board, partition);
    pthread_mutex_unlock(&board->mutex);
}

bool outcome_board_partition_watched(const struct outcome_board *board, int32_t partition)
{
    return board != NULL && partition_valid(partition) && atomic_load(&board->watched[partition]) > 0;
}

bool outcome_board_wanted(struct outcome_board *board, int32_t partition, const char *command_id)
{
    if (!outcome_board_partition_watched(board, partition)) return false;
    bool wanted = false;
    pthread_mutex_lock(&board->mutex);
    for (int i = 0; i < board->watches_high && !wanted; i++) {
        const struct watch *watch = &board->watches[i];
        wanted = watch->state == WATCH_WAITING && watch->partition == partition &&
                 strcmp(watch->command_id, command_id) == 0;
    }
    pthread_mutex_unlock(&board->mutex);
    return wanted;
}

void outcome_board_post(struct outcome_board *board, int32_t partition, const char *command_id,
                        const struct view_outcome *outcome)
{
    if (!outcome_board_partition_watched(board, partition)) return;
    pthread_mutex_lock(&board->mutex);
    for (int i = 0; i < board->watches_high; i++) {
        struct watch *watch = &board->watches[i];
        if (watch->state != WATCH_WAITING || watch->partition != partition ||
            strcmp(watch->command_id, command_id) != 0)
            continue;
        if (outcome == NULL) {
            watch_gone(board, watch);
            continue;
        }
        watch->outcome = *outcome;
        watch->state = WATCH_DECIDED;
        atomic_fetch_sub(&board->watched[partition], 1);
        pthread_cond_signal(&watch->changed);
    }
    pthread_mutex_unlock(&board->mutex);
}

void outcome_board_outcome_of(const struct event *events, uint32_t event_count, int32_t partition,
                              struct view_outcome *out)
{
    assert(event_count >= 1 && event_count <= STOCKD_DECISION_EVENTS_MAX);
    const struct event *first = &events[0];
    memset(out, 0, sizeof(*out));
    snprintf(out->command_id, sizeof(out->command_id), "%s", first->command_id);
    snprintf(out->sku, sizeof(out->sku), "%s", first->sku);
    out->command_type = domain_event_command_type(first);
    out->accepted = first->type != EVENT_COMMAND_REJECTED;
    out->reason = out->accepted ? REJECT_NONE : first->reject_reason;
    if (!out->accepted) snprintf(out->detail, sizeof(out->detail), "%s", first->detail);
    out->decided_ms = first->time_ms;
    out->decision_count = 1;
    out->event_count = event_count;
    for (uint32_t i = 0; i < event_count; i++) {
        out->events[i].sequence = events[i].sequence;
        out->events[i].type = events[i].type;
        out->events[i].position = (struct view_position){.partition = partition, .offset = -1};
    }
}

/* ---- the API's side ------------------------------------------------------------------------------------ */

int outcome_board_watch(struct outcome_board *board, int32_t partition, const char *command_id)
{
    if (board == NULL || !partition_valid(partition) || strlen(command_id) > STOCKD_ID_BYTES_MAX)
        return OUTCOME_BOARD_NOT_HERE;
    int found = OUTCOME_BOARD_NOT_HERE;
    pthread_mutex_lock(&board->mutex);
    if (!board->closed && board->owners[partition] > 0) {
        for (int i = 0; i < board->watches_max && found < 0; i++) {
            if (board->watches[i].state == WATCH_FREE) found = i;
        }
    }
    if (found >= 0) {
        struct watch *watch = &board->watches[found];
        watch->state = WATCH_WAITING;
        watch->partition = partition;
        snprintf(watch->command_id, sizeof(watch->command_id), "%s", command_id);
        if (found >= board->watches_high) board->watches_high = found + 1;
        atomic_fetch_add(&board->watched[partition], 1);
    }
    pthread_mutex_unlock(&board->mutex);
    return found;
}

enum outcome_board_wait_result outcome_board_wait(struct outcome_board *board, int watch_index,
                                                  int64_t deadline_ms, struct view_outcome *out)
{
    assert(board != NULL && watch_index >= 0 && watch_index < board->watches_max);
    struct watch *watch = &board->watches[watch_index];
    int64_t now_ms = clock_monotonic_ms();
    struct timespec deadline =
        clock_deadline_after(CLOCK_MONOTONIC, deadline_ms > now_ms ? deadline_ms - now_ms : 0);
    pthread_mutex_lock(&board->mutex);
    while (watch->state == WATCH_WAITING) {
        if (pthread_cond_timedwait(&watch->changed, &board->mutex, &deadline) == ETIMEDOUT) break;
    }
    enum outcome_board_wait_result result = OUTCOME_BOARD_TIMEOUT;
    if (watch->state == WATCH_DECIDED) {
        *out = watch->outcome;
        result = OUTCOME_BOARD_DECIDED;
    } else if (watch->state == WATCH_GONE) {
        result = OUTCOME_BOARD_GONE;
    }
    pthread_mutex_unlock(&board->mutex);
    return result;
}

void outcome_board_unwatch(struct outcome_board *board, int watch_index)
{
    if (board == NULL || watch_index < 0) return;
    assert(watch_index < board->watches_max);
    pthread_mutex_lock(&board->mutex);
    struct watch *watch = &board->watches[watch_index];
    if (watch->state == WATCH_WAITING) atomic_fetch_sub(&board->watched[watch->partition], 1);
    watch->state = WATCH_FREE;
    pthread_mutex_unlock(&board->mutex);
}
