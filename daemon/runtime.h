/*
 * runtime.h — the small process plumbing both daemons share: signal
 * handlers without SA_RESTART, an interruptible pause, a monotonic clock,
 * malloc on huge pages.
 */
#ifndef PGCDC_DAEMON_RUNTIME_H
#define PGCDC_DAEMON_RUNTIME_H

#include <signal.h>
#include <stdint.h>

/* Installs fn for signo without SA_RESTART: the signal interrupts poll() and sleeps at once. */
extern void runtime_on_signal(int signo, void (*fn) (int));
/* Sleeps ms milliseconds, or less once *stop is non-zero. */
extern void runtime_pause_ms(int ms, const volatile sig_atomic_t *stop);
/* Milliseconds on the monotonic clock. */
extern int64_t runtime_now_ms(void);
/*
 * glibc backs malloc's heap with transparent huge pages only when told so
 * at process start (the tunable glibc.malloc.hugetlb=1).  Unless
 * GLIBC_TUNABLES is set already (an empty value opts out), sets it and
 * executes the program again, with the same arguments; returns when that
 * cannot be done, and in the program executed again.
 */
extern void runtime_huge_pages(char **argv);

#endif							/* PGCDC_DAEMON_RUNTIME_H */
