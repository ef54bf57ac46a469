#include "rig_daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

#define MAX_ARGS 64

static void child_exec(const struct rig_daemon *d, const char *const *argv, unsigned nofile,
		       pid_t parent)
{
	int log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct rlimit lim = {nofile, nofile};

	if (nofile && setrlimit(RLIMIT_NOFILE, &lim) < 0)
		_exit(126);
	/* A test killed by its timeout must not leave its daemon running
	 * (a mutant's daemon may spin, and slow every later test). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(126);

	if (log_fd >= 0) {
		dup2(log_fd, STDERR_FILENO);
		close(log_fd);
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/* paths: NULL-terminated. */
static bool all_sockets(const char *const *paths)
{
	for (; *paths; paths++)
		if (!is_socket(*paths))
			return false;
	return true;
}

/* Waits until every path is a socket, watching the directory for creations
 * (the daemon binds each under a temporary name, then renames it). */
static int wait_sockets(struct rig_daemon *d, int inotify_fd, const char *const *paths)
{
	struct pollfd pfds[2] = {{.fd = inotify_fd, .events = POLLIN},
				 {.fd = d->pidfd, .events = POLLIN}};
	char buf[4096];

	while (!all_sockets(paths)) {
		int n = poll(pfds, 2, START_TIMEOUT_MS);

		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (pfds[1].revents)
			return -ECHILD;
		if (pfds[0].revents && read(inotify_fd, buf, sizeof(buf)) < 0 &&
		    errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int rig_daemon_prepare(struct rig_daemon *d)
{
	const char *tmp = getenv("TMPDIR");

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	d->pidfd = -1;
	if (snprintf(d->dir, sizeof(d->dir), "%s/rig-XXXXXX", tmp ? tmp : "/tmp") >=
	    (int)sizeof(d->dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->socket_path, sizeof(d->socket_path), "%s/vhost.socket", d->dir);
	snprintf(d->uds_path, sizeof(d->uds_path), "%s/vm.vsock", d->dir);
	snprintf(d->log_path, sizeof(d->log_path), "%s/daemon.log", d->dir);
	return 0;
}

/* rig_daemon_prepare; *bin is the daemon binary ($RIG_DAEMON_ENV). */
static int prepare(struct rig_daemon *d, const char **bin)
{
	*bin = getenv(RIG_DAEMON_ENV);
	if (!*bin)
		return -ENOENT;
	return rig_daemon_prepare(d);
}

/* Runs argv (NULL-terminated), with RLIMIT_NOFILE nofile unless 0, and
 * waits until every socket in paths exists. */
static int spawn(struct rig_daemon *d, const char *const *argv, const char *const *paths,
		 unsigned nofile)
{
	int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	pid_t parent = getpid();
	int err;

	if (inotify_fd < 0 ||
	    inotify_add_watch(inotify_fd, d->dir, IN_CREATE | IN_MOVED_TO) < 0)
		return -errno;
	d->pid = fork();
	if (d->pid < 0) {
		close(inotify_fd);
		return -errno;
	}
	if (d->pid == 0)
		child_exec(d, argv, nofile, parent);
	d->pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	err = d->pidfd < 0 ? -errno : wait_sockets(d, inotify_fd, paths);
	close(inotify_fd);
	return err;
}

int rig_daemon_spawn(struct rig_daemon *d, const char *const *argv,
		     const char *const *sockets)
{
	return spawn(d, argv, sockets, 0);
}

int rig_daemon_start(struct rig_daemon *d, unsigned cid,
		     const char *const *extra)
{
	const char *argv[MAX_ARGS];
	const char *paths[3];
	const char *bin;
	char cid_str[16];
	unsigned n = 0;
	int err = prepare(d, &bin);

	if (err)
		return err;
	snprintf(cid_str, sizeof(cid_str), "%u", cid);
	argv[n++] = bin;
	argv[n++] = "--guest-cid";
	argv[n++] = cid_str;
	argv[n++] = "--socket";
	argv[n++] = d->socket_path;
	argv[n++] = "--uds-path";
	argv[n++] = d->uds_path;
	for (; extra && *extra && n < MAX_ARGS - 1; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	paths[0] = d->socket_path;
	paths[1] = d->uds_path;
	paths[2] = NULL;
	return spawn(d, argv, paths, 0);
}

void rig_daemon_vm_path(const struct rig_daemon *d, unsigned cid, bool uds, char *buf,
			size_t size)
{
	snprintf(buf, size, "%s/%s%u.%s", d->dir, uds ? "vm" : "vhost", cid,
		 uds ? "vsock" : "socket");
}

int rig_daemon_start_vms(struct rig_daemon *d, const struct rig_vm *vms, unsigned n_vms)
{
	return rig_daemon_start_vms_nofile(d, vms, n_vms, 0);
}

int rig_daemon_start_vms_nofile(struct rig_daemon *d, const struct rig_vm *vms,
				unsigned n_vms, unsigned nofile)
{
	char spec[RIG_DAEMON_MAX_VMS][512], path[RIG_DAEMON_MAX_VMS][2][96];
	const char *argv[2 + 2 * RIG_DAEMON_MAX_VMS];
	const char *paths[2 * RIG_DAEMON_MAX_VMS + 1];
	const char *bin;
	unsigned n = 0;
	int err;

	if (n_vms == 0 || n_vms > RIG_DAEMON_MAX_VMS)
		return -EINVAL;
	err = prepare(d, &bin);
	if (err)
		return err;
	argv[n++] = bin;
	for (unsigned i = 0; i < n_vms; i++) {
		rig_daemon_vm_path(d, vms[i].cid, false, path[i][0], sizeof(path[i][0]));
		rig_daemon_vm_path(d, vms[i].cid, true, path[i][1], sizeof(path[i][1]));
		if (snprintf(spec[i], sizeof(spec[i]), "guest-cid=%u,socket=%s,uds-path=%s%s%s%s%s",
			     vms[i].cid, path[i][0], path[i][1], vms[i].groups ? ",groups=" : "",
			     vms[i].groups ? vms[i].groups : "", vms[i].keys ? "," : "",
			     vms[i].keys ? vms[i].keys : "") >= (int)sizeof(spec[i]))
			return -ENAMETOOLONG;
		argv[n++] = "--vm";
		argv[n++] = spec[i];
		paths[2 * i] = path[i][0];
		paths[2 * i + 1] = path[i][1];
	}
	argv[n] = NULL;
	paths[2 * n_vms] = NULL;
	return spawn(d, argv, paths, nofile);
}

static int wait_exit(struct rig_daemon *d, int timeout_ms)
{
	struct pollfd pfd = {.fd = d->pidfd, .events = POLLIN};
	int status;

	if (d->pidfd >= 0 && poll(&pfd, 1, timeout_ms) == 0)
		return -ETIMEDOUT;
	if (waitpid(d->pid, &status, 0) < 0)
		return -errno;
	d->pid = -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 256 + WTERMSIG(status);
}

static void remove_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (!dp)
		return;
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(dp);
	rmdir(dir);
}

int rig_daemon_terminate(struct rig_daemon *d, int timeout_ms)
{
	int status = 0;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		status = wait_exit(d, timeout_ms);
		if (status == -ETIMEDOUT) {
			kill(d->pid, SIGKILL);
			wait_exit(d, -1);
		}
	}
	return status;
}

int rig_daemon_stop(struct rig_daemon *d, int timeout_ms)
{
	int status = rig_daemon_terminate(d, timeout_ms);

	if (d->pidfd >= 0)
		close(d->pidfd);
	d->pidfd = -1;
	if (d->dir[0])
		remove_dir(d->dir);
	d->dir[0] = '\0';
	return status;
}

bool rig_daemon_alive(struct rig_daemon *d)
{
	struct pollfd pfd = {.fd = d->pidfd, .events = POLLIN};

	return d->pid > 0 && poll(&pfd, 1, 0) == 0;
}

int rig_daemon_fd_count(const struct rig_daemon *d)
{
	char path[64];
	DIR *dp;
	struct dirent *e;
	int count = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dp = opendir(path);
	if (!dp)
		return -errno;
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.')
			count++;
	closedir(dp);
	return count;
}

void rig_daemon_dump_log(const struct rig_daemon *d)
{
	FILE *f = fopen(d->log_path, "r");
	char line[1024];

	if (!f)
		return;
	fprintf(stderr, "---- daemon log (%s) ----\n", d->log_path);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of daemon log ----\n");
	fclose(f);
}

int rig_daemon_log_count(const struct rig_daemon *d, const char *needle)
{
	FILE *f = fopen(d->log_path, "r");
	char line[1024];
	int count = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			count++;
	fclose(f);
	return count;
}
