/* stockctl.h - what stockctl's command files share: the exit codes scripts rely on and each command's entry.
 *
 * main.c dispatches to these. local_commands.c works offline, kafka_commands.c talks to Kafka like stockd,
 * api_commands.c talks to a running stockd over HTTP (http.c); lines.c reads their command files. */
#ifndef STOCKCTL_H
#define STOCKCTL_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes: stable, documented in the usage text. Never renumber. */
enum stockctl_exit {
    EXIT_OK = 0,        /* success (HTTP 2xx) */
    EXIT_INVALID = 1,   /* invalid input or a rejected command (HTTP 4xx other than 401, 403, 404) */
    EXIT_USAGE = 2,     /* the command line is wrong: nothing was sent */
    EXIT_IO = 3,        /* I/O, connection, Kafka, an unreadable answer, or HTTP 5xx (503 not ready) */
    EXIT_NOT_FOUND = 4, /* HTTP 404: no such SKU, reservation, command or view (yet) */
    EXIT_AUTH = 5,      /* HTTP 401 or 403: missing, unknown or expired key, or a role too low */
};

int command_validate(int argc, char **argv);
int command_partition(int argc, char **argv);
int command_send(int argc, char **argv);
int command_tail(int argc, char **argv);
int command_verify(int argc, char **argv);

int command_submit(int argc, char **argv);
int command_get(int argc, char **argv);
int command_history(int argc, char **argv);
int command_views(int argc, char **argv);
int command_lag(int argc, char **argv);
int command_rebuild(int argc, char **argv);
int command_health(int argc, char **argv);
int command_import(int argc, char **argv);

/* Whether argv holds --help or -h before a "--", other than as an option's value (each command's own
 * help). */
int stockctl_wants_help(int argc, char **argv);

/* Reads the next line of a command file into line (without its \n or \r\n). A line that does not fit in
 * line_bytes - 1 bytes is skipped up to its end: STOCKCTL_LINE_TOO_LONG, so later lines keep their numbers.
 */
enum stockctl_line {
    STOCKCTL_LINE_OK,
    STOCKCTL_LINE_TOO_LONG,
    STOCKCTL_LINE_END, /* end of file or a read error (ferror tells) */
};
enum stockctl_line stockctl_line_next(FILE *stream, char *line, size_t line_bytes, size_t *length);

#endif
