/* dates.c - RFC 3339 times and YYYY-MM-DD days, UTC, by arithmetic (contract in dates.h).
 *
 * The day counts are Howard Hinnant's days_from_civil and civil_from_days, on 400-year eras. */
#include "api/dates.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

static int64_t days_from_civil(int64_t year, int64_t month, int64_t day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static bool leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Reads exactly count ASCII digits at text. Returns the value, or -1. */
static int64_t digits_read(const char *text, int count)
{
    int64_t value = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* Reads "YYYY-MM-DD" at text (10 bytes) into days since 1970-01-01. Returns 0, or -1. */
static int date_read(const char *text, int64_t *day)
{
    static const int days_in_month[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t year = digits_read(text, 4), month = digits_read(text + 5, 2), mday = digits_read(text + 8, 2);
    if (year < 1 || text[4] != '-' || text[7] != '-' || month < 1 || month > 12 || mday < 1) return -1;
    int64_t month_days = days_in_month[month] + (month == 2 && leap_year(year) ? 1 : 0);
    if (mday > month_days) return -1;
    *day = days_from_civil(year, month, mday);
    return 0;
}

int api_date_parse(const char *text, int64_t *day)
{
    assert(text != NULL && day != NULL);
    if (strlen(text) != 10) return -1;
    return date_read(text, day);
}

int api_time_parse(const char *text, int64_t *time_ms)
{
    assert(text != NULL && time_ms != NULL);
    size_t length = strnlen(text, 64);
    int64_t day;
    if (length < 20 || length == 64 || date_read(text, &day) != 0) return -1;
    if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return -1;
    int64_t hour = digits_read(text + 11, 2), minute = digits_read(text + 14, 2),
            second = digits_read(text + 17, 2);
    if (hour < 0 || hour > 23 || text[13] != ':' || minute < 0 || minute > 59 || text[16] != ':' ||
        second < 0 || second > 59)
        return -1;
    size_t at = 19;
    int64_t millisecond = 0;
    if (text[at] == '.') {
        size_t first = ++at;
        while (at < length && text[at] >= '0' && text[at] <= '9') {
            if (at - first < 3) millisecond = millisecond * 10 + (text[at] - '0');
            at++;
        }
        if (at == first || at - first > 9) return -1;
        for (size_t scale = at - first; scale < 3; scale++)
            millisecond *= 10;
    }
    int64_t offset_minutes = 0;
    if ((text[at] == 'Z' || text[at] == 'z') && at + 1 == length) {
        offset_minutes = 0;
    } else if ((text[at] == '+' || text[at] == '-') && at + 6 == length && text[at + 3] == ':') {
        int64_t offset_hour = digits_read(text + at + 1, 2), offset_minute = digits_read(text + at + 4, 2);
        if (offset_hour < 0 || offset_hour > 23 || offset_minute < 0 || offset_minute > 59) return -1;
        offset_minutes = (offset_hour * 60 + offset_minute) * (text[at] == '-' ? -1 : 1);
    } else {
        return -1;
    }
    int64_t seconds = day * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    *time_ms = seconds * 1000 + millisecond;
    return 0;
}

void api_date_format(int64_t day, char out[API_DATE_BYTES])
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_index = (5 * day_of_year + 2) / 153;
    int64_t mday = day_of_year - (153 * month_index + 2) / 5 + 1;
    int64_t month = month_index < 10 ? month_index + 3 : month_index - 9;
    int64_t year = year_of_era + era * 400 + (month <= 2);
    assert(year >= 1 && year <= 9999);
    snprintf(out, API_DATE_BYTES, "%04d-%02d-%02d", (int)year, (int)month, (int)mday);
}

int64_t api_day_of(int64_t time_ms)
{
    int64_t day = time_ms / DAY_MS;
    return time_ms % DAY_MS < 0 ? day - 1 : day;
}
