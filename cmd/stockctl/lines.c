/* lines.c - one line of a command file at a time, for submit --file and send.
 *
 * A line longer than the buffer is skipped whole and reported as such, so that the lines after it keep
 * their numbers. */
#include "stockctl.h"

#include <assert.h>
#include <string.h>

enum stockctl_line stockctl_line_next(FILE *stream, char *line, size_t line_bytes, size_t *length)
{
    assert(stream != NULL && line != NULL && line_bytes >= 2 && length != NULL);
    if (fgets(line, (int)line_bytes, stream) == NULL) return STOCKCTL_LINE_END;
    size_t used = strlen(line);
    if (used == line_bytes - 1 && line[used - 1] != '\n') {
        int c;
        while ((c = fgetc(stream)) != EOF && c != '\n') {
        }
        *length = 0;
        line[0] = '\0';
        return STOCKCTL_LINE_TOO_LONG;
    }
    while (used > 0 && (line[used - 1] == '\n' || line[used - 1] == '\r'))
        line[--used] = '\0';
    *length = used;
    return STOCKCTL_LINE_OK;
}
