/*
 * runtime.c — signals, pauses and the clock, for both daemons.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

void
runtime_on_signal(int signo, void (*fn) (int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(signo, &sa, NULL);
}

void
runtime_pause_ms(int ms, const volatile sig_atomic_t *stop)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};

	while (*stop == 0 && nanosleep(&ts, &ts) != 0)
		;
}

int64_t
runtime_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The program's own path, not /proc/self/exe: the process is named after the
 * file executed, and ps, top and pkill would see "exe".
 */
void
runtime_huge_pages(char **argv)
{
	char		self[4096];
	ssize_t		n;

	if (getenv("GLIBC_TUNABLES") != NULL)
		return;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t) n >= sizeof(self) - 1 || setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0)
		return;
	self[n] = '\0';
	execv(self, argv);			/* returns only on failure (the file replaced, say) */
	unsetenv("GLIBC_TUNABLES");
}
