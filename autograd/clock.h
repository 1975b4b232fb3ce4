/* Wall time for rates, timeouts and progress: seconds on the monotonic clock (never jumps back when the
 * system time is set). Only differences mean anything:
 *     double t0 = cf_now();  ...;  printf("%.2f s\n", cf_now() - t0); */
#ifndef CF_CLOCK_H
#define CF_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC), with nanosecond resolution. */
double cf_now(void);

#endif
