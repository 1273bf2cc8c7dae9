/* clock.h - the one monotonic clock every program of qun reads. */
#ifndef QUN_CLOCK_H
#define QUN_CLOCK_H

#include <stdint.h>

/* Milliseconds and microseconds of CLOCK_MONOTONIC: never goes back, counts from an arbitrary
 * start. */
uint64_t now_ms(void);
uint64_t now_us(void);

#endif
