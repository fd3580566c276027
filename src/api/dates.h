/* dates.h - the calendar the query parameters speak: RFC 3339 times and YYYY-MM-DD days, UTC.
 *
 * Pure arithmetic on the proleptic Gregorian calendar (no time zone database, no locale, no libc time
 * functions), years 0001 to 9999 as RFC 3339 writes them. Days are counted from 1970-01-01. */
#ifndef STOCKD_API_DATES_H
#define STOCKD_API_DATES_H

#include <stdint.h>

/* "YYYY-MM-DD" and a NUL. */
#define API_DATE_BYTES 11

/* Parses an RFC 3339 date-time ("2026-12-01T10:00:00Z", "2026-12-01t10:00:00.5+01:00", a space for the T
 * as RFC 3339 allows) into Unix epoch milliseconds; fractions beyond milliseconds are cut (an event at
 * millisecond m is at or before the time exactly when m is at or before the result). Leap seconds (:60)
 * are refused. Returns 0, or -1 when text is not such a time. */
int api_time_parse(const char *text, int64_t *time_ms);

/* Parses "YYYY-MM-DD" into days since 1970-01-01. Returns 0, or -1. */
int api_date_parse(const char *text, int64_t *day);

/* Writes day (days since 1970-01-01, within years 0001..9999) as "YYYY-MM-DD". */
void api_date_format(int64_t day, char out[API_DATE_BYTES]);

/* The day of a Unix time in milliseconds (floor). */
int64_t api_day_of(int64_t time_ms);

#endif
