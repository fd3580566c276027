/* outcome_board.h - synchronous answers straight from this instance's handler commits.
 *
 * A Prefer: wait submission used to be answered once the outcomes view had folded its events, which comes
 * a few ms after the handler's Kafka transaction committed (the coordinator writes the commit markers, the
 * view fetches, folds and commits). When this instance's handler decides the SKU's partition, the API
 * watches the command id here instead, and the handler, right after its transaction commits, posts the
 * outcome: the same fields the outcomes view will hold, with the positions of the events. Every watch ends:
 * decided, gone (a duplicate the handler dropped, the partition revoked, the board closed, a batch too full
 * to carry it: the caller falls back to the outcomes view), or its deadline. In-process only: no Kafka, no
 * SQLite; any thread. */
#ifndef STOCKD_OUTCOME_BOARD_H
#define STOCKD_OUTCOME_BOARD_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/domain.h"
#include "views/query.h"

struct outcome_board;

/* Creates a board for at most watches_max watches at once (http.waits_max). NULL when out of memory. */
struct outcome_board *outcome_board_create(int watches_max);

/* Ends every watch as gone and refuses new ones (shutdown). */
void outcome_board_close(struct outcome_board *board);

/* Destroys a board nobody uses any more. Accepts NULL. */
void outcome_board_destroy(struct outcome_board *board);

/* ---- the handler's side -------------------------------------------------------------------------------- */

/* A handler worker took (restored) or gave up a partition. Giving one up ends its watches as gone: their
 * commands will be decided elsewhere (or again after a rebalance). Counted: two workers of the process may
 * hold a partition for a moment during a rebalance. */
void outcome_board_partition_take(struct outcome_board *board, int32_t partition);
void outcome_board_partition_give_up(struct outcome_board *board, int32_t partition);

/* Ends every watch on the partition as gone, the partition kept (a batch with more waited-for decisions
 * than it could carry). */
void outcome_board_partition_release(struct outcome_board *board, int32_t partition);

/* Whether any watch is on the partition: one atomic load, for a handler's every command. */
bool outcome_board_partition_watched(const struct outcome_board *board, int32_t partition);

/* Whether command_id is watched on the partition (a scan under the lock). */
bool outcome_board_wanted(struct outcome_board *board, int32_t partition, const char *command_id);

/* Posts a committed decision of command_id on the partition to its watches: outcome, or NULL for gone
 * (dropped as a duplicate, or not carried). Watches of other ids are untouched. */
void outcome_board_post(struct outcome_board *board, int32_t partition, const char *command_id,
                        const struct view_outcome *outcome);

/* Fills out with what the outcomes view will hold for a decision's events (decision_count 1, positions
 * with offset -1: the caller sets them from the delivery reports). Pure. */
void outcome_board_outcome_of(const struct event *events, uint32_t event_count, int32_t partition,
                              struct view_outcome *out);

/* ---- the API's side ------------------------------------------------------------------------------------ */

#define OUTCOME_BOARD_NOT_HERE (-1) /* the partition is decided elsewhere, the board is full or closed */

/* Watches command_id, whose SKU is on the partition, before it is produced. Returns a watch (>= 0) to
 * wait on and end, or OUTCOME_BOARD_NOT_HERE: then wait on the outcomes view. */
int outcome_board_watch(struct outcome_board *board, int32_t partition, const char *command_id);

enum outcome_board_wait_result {
    OUTCOME_BOARD_DECIDED = 1, /* *out holds the outcome */
    OUTCOME_BOARD_GONE = 0,    /* no answer will come here: ask the outcomes view */
    OUTCOME_BOARD_TIMEOUT = -1,
};

/* Waits until the watch is decided or gone, or until deadline_ms (clock_monotonic_ms). */
enum outcome_board_wait_result outcome_board_wait(struct outcome_board *board, int watch, int64_t deadline_ms,
                                                  struct view_outcome *out);

/* Ends a watch (after its wait, or when the command was not produced). */
void outcome_board_unwatch(struct outcome_board *board, int watch);

#endif
