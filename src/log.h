/* log.h - one-line structured logs to stderr, safe from any thread.
 *
 * `2026-11-25T02:31:43.123Z info handler: assigned partitions 0,1,2`. Never logs secrets: callers pass
 * what may be shown. The level is set once at start (log_init) and read-only afterwards. */
#ifndef STOCKD_LOG_H
#define STOCKD_LOG_H

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

/* Sets the level from its name (error, warn, info, debug). Returns 0, or -1 for an unknown name. */
int log_init(const char *level_name);

/* True when messages at level are written (to skip building costly messages). */
int log_enabled(enum log_level level);

/* Writes one line: time, level, component, message. Lines longer than 2 KiB are cut. */
void log_write(enum log_level level, const char *component, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(component, ...) log_write(LOG_ERROR, component, __VA_ARGS__)
#define log_warn(component, ...)  log_write(LOG_WARN, component, __VA_ARGS__)
#define log_info(component, ...)  log_write(LOG_INFO, component, __VA_ARGS__)
#define log_debug(component, ...)                                                                            \
    do {                                                                                                     \
        if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, component, __VA_ARGS__);                            \
    } while (0)

#endif
