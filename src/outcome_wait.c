/* outcome_wait.c - wait_for_outcome: blocks until the outcomes view holds a command's outcome.
 *
 * Sits above the projector and the views: reads the outcomes view through projector readers and sleeps on
 * the projector's commits between tries. Used by the API's synchronous submissions. */
#include "outcome_wait.h"

#include <assert.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "projector.h"
#include "views/view_util.h"

_Static_assert(OUTCOME_WAIT_MS_MAX <= PROJECTOR_WAIT_MS_MAX, "the projector waits this long");

/* One try of outcome_wait: a reader (waiting at most reader_wait_ms for one), one read transaction, the
 * reader given back. Returns as view_outcome_get. */
static int outcome_try(struct projector *projector, const char *command_id, int reader_wait_ms,
                       struct view_outcome *out, char *error, size_t error_bytes)
{
    sqlite3 *reader = projector_reader_acquire_within(projector, reader_wait_ms, error, error_bytes);
    if (reader == NULL) return VIEW_QUERY_ERROR;
    int result = VIEW_QUERY_ERROR;
    if (projector_reader_begin(reader) != 0) {
        snprintf(error, error_bytes, "outcomes: BEGIN: %s", sqlite3_errmsg(reader));
    } else {
        result = view_outcome_get(reader, command_id, out, error, error_bytes);
        projector_reader_commit(reader); /* a read transaction: nothing to lose */
    }
    projector_reader_release(projector, reader); /* rolls back whatever is still open */
    return result;
}

int outcome_wait(struct projector *outcomes_projector, const char *command_id, int timeout_ms,
                 struct view_outcome *out, char *error, size_t error_bytes)
{
    assert(outcomes_projector != NULL && out != NULL);
    if (view_identifier_check(command_id, STOCKD_ID_BYTES_MAX, "command_id", error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    timeout_ms = timeout_ms < 0 ? 0 : timeout_ms > OUTCOME_WAIT_MS_MAX ? OUTCOME_WAIT_MS_MAX : timeout_ms;
    int64_t deadline_ms = clock_monotonic_ms() + timeout_ms;
    /* Bounded: every turn but the last waits for a commit, and commits are finite within the deadline. */
    for (;;) {
        /* Read before the query's snapshot: a commit after it moves the count, so none is missed. */
        uint64_t seen_commits = projector_commit_count(outcomes_projector);
        /* The reader pool's own wait (PROJECTOR_READER_WAIT_MS) would overrun a short deadline. */
        int64_t left_ms = deadline_ms - clock_monotonic_ms();
        int reader_wait_ms = left_ms > 0 ? (int)left_ms : 0;
        int result = outcome_try(outcomes_projector, command_id, reader_wait_ms, out, error, error_bytes);
        if (result != 0) return result;
        int64_t remaining_ms = deadline_ms - clock_monotonic_ms();
        if (remaining_ms <= 0) return 0;
        if (projector_wait_commit(outcomes_projector, seen_commits, (int)remaining_ms) < 0)
            return 0; /* the projector stopped (shutdown): no outcome will come */
    }
}
