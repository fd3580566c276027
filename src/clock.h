/* clock.h - the clocks stockd reads, one helper each: the monotonic clock for timeouts, deadlines and
 * durations, the wall clock for times that leave the process (record timestamps, event times, logs). */
#ifndef STOCKD_CLOCK_H
#define STOCKD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds and in microseconds (a vDSO call, no system call). */
int64_t clock_monotonic_ms(void);
int64_t clock_monotonic_us(void);

/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

/* The absolute time milliseconds (>= 0) from now on clock (the one a pthread_cond_timedwait's condition
 * variable was set to: CLOCK_REALTIME unless its attributes say otherwise). */
struct timespec clock_deadline_after(clockid_t clock, int milliseconds);

#endif
