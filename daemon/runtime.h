/*
 * runtime.h — the small process plumbing both daemons share: signal
 * handlers without SA_RESTART, an interruptible pause, a monotonic clock.
 */
#ifndef PGCDC_RUNTIME_H
#define PGCDC_RUNTIME_H

#include <signal.h>
#include <stdint.h>

/* Installs fn for signo without SA_RESTART: the signal interrupts poll() and sleeps at once. */
extern void runtime_on_signal(int signo, void (*fn) (int));
/* Sleeps ms milliseconds, or less once *stop is non-zero. */
extern void runtime_pause_ms(int ms, const volatile sig_atomic_t *stop);
/* Milliseconds on the monotonic clock. */
extern int64_t runtime_now_ms(void);

#endif							/* PGCDC_RUNTIME_H */
