/* clock.h - the clocks stockd reads, one helper each: the monotonic clock for timeouts, deadlines and
 * durations, the wall clock for times that leave the process (record timestamps, event times, logs). */
#ifndef STOCKD_CLOCK_H
#define STOCKD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds and in microseconds (a vDSO call, no system call). */
int64_t clock_monotonic_ms(void);
int64_t clock_monotonic_us(void);

/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

#endif
