/* log.c - one-line logs to stderr with UTC millisecond timestamps.
 *
 * Each line is formatted into a local buffer and written with one write(2), so lines from different
 * threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level_current = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_init(const char *level_name)
{
    for (int level = LOG_ERROR; level <= LOG_DEBUG; level++) {
        if (strcmp(level_names[level], level_name) == 0) {
            atomic_store(&log_level_current, level);
            return 0;
        }
    }
    return -1;
}

int log_enabled(enum log_level level)
{
    return (int)level <= atomic_load(&log_level_current);
}

void log_write(enum log_level level, const char *component, const char *format, ...)
{
    if (!log_enabled(level)) return;
    char line[2048];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    size_t length = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc);
    int written = snprintf(line + length, sizeof(line) - length, ".%03ldZ %s %s: ", now.tv_nsec / 1000000L,
                           level_names[level], component);
    if (written > 0) length += (size_t)written;
    va_list arguments;
    va_start(arguments, format);
    written = vsnprintf(line + length, sizeof(line) - length - 1, format, arguments);
    va_end(arguments);
    if (written > 0) length += (size_t)written;
    if (length > sizeof(line) - 2) length = sizeof(line) - 2;
    line[length++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, length);
    (void)ignored;
}
