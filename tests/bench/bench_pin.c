/* --pin: where the three parties run.  On two CPUs, which two of them share
 * a CPU decides every single-connection figure (a wakeup that crosses CPUs
 * costs tens of microseconds on these virtual machines, one on the same CPU
 * a few), so scripts/bench-placement.sh measures each placement in turn. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* A CPU this process may run on (online, and in its cpuset and affinity). */
static int parse_cpu(const char **s, const cpu_set_t *allowed, int *cpu)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(*s, &end, 10);
	if (errno || end == *s || v < 0 || v >= CPU_SETSIZE || !CPU_ISSET((int)v, allowed))
		return -EINVAL;
	*cpu = (int)v;
	*s = end;
	return 0;
}

int bench_pin_parse(const char *arg, struct bench_pin *pin)
{
	int *const slots[] = {&pin->daemon, &pin->guest, &pin->peer};
	cpu_set_t allowed;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return -errno;
	for (unsigned i = 0; i < 3; i++) {
		if (parse_cpu(&arg, &allowed, slots[i]))
			return -EINVAL;
		if (*arg != (i < 2 ? ',' : '\0'))
			return -EINVAL;
		arg++;
	}
	pin->on = true;
	return 0;
}

/* Every thread of pid, so that a daemon's device threads move too. */
int bench_pin_process(pid_t pid, int cpu)
{
	char path[64];
	struct dirent *d;
	cpu_set_t set;
	DIR *dir;
	int err = 0;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while (!err && (d = readdir(dir))) {
		pid_t tid = (pid_t)atoi(d->d_name);

		/* ESRCH: the thread has just exited. */
		if (tid > 0 && sched_setaffinity(tid, sizeof(set), &set) < 0 && errno != ESRCH)
			err = -errno;
	}
	closedir(dir);
	return err;
}
