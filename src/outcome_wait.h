/* outcome_wait.h - wait_for_outcome over the outcomes view and its projector (read-your-writes for the API).
 */
#ifndef STOCKD_OUTCOME_WAIT_H
#define STOCKD_OUTCOME_WAIT_H

#include <stddef.h>

#include "views/query.h"

struct projector;

/* Longest wait for an outcome: as long as the projector's longest wait (projector.h), which it must not
 * exceed; longer timeouts are cut to this. */
#define OUTCOME_WAIT_MS_MAX 60000

/* wait_for_outcome: blocks until the outcomes view folded by outcomes_projector holds the outcome of
 * command_id, or timeout_ms elapses (cut to [0, OUTCOME_WAIT_MS_MAX]). Each try acquires a reader,
 * reads in one transaction and releases the reader; between tries it sleeps until the projector's next
 * commit, so it returns within about one batch of the outcome being folded. Unlike the other queries it
 * manages its own reader and transaction. Returns 1 and fills *out, 0 when the timeout passed without
 * the outcome, VIEW_QUERY_INVALID for a malformed command id, VIEW_QUERY_ERROR when no reader could be
 * had or the database failed. */
int outcome_wait(struct projector *outcomes_projector, const char *command_id, int timeout_ms,
                 struct view_outcome *out, char *error, size_t error_bytes);

#endif
