#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/sysinfo.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* Allowed with any arguments.  Kept to what runs after start-up, found by
 * reading the code and by running every suite with --seccomp=log. */
static const int allowed[] = {
	/* The event loops and the data path. */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(timerfd_settime), SCMP_SYS(close),
	/* Host connections: accepted, or made for the guest. */
	SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(shutdown), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(fcntl),
	/* Guest memory from the front-end's fds, checked before mapping. */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	/* malloc, threads, time and signals. */
	SCMP_SYS(brk), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(mprotect),
	SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigtimedwait),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction), SCMP_SYS(restart_syscall),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(sched_yield),
	/* A device thread may still be starting: glibc's thread set-up. */
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	/* sd_notify() sends its credentials along. */
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	/* The API counts the process's descriptors in /proc/self/fd, opened
	 * at start-up and read again each time. */
	SCMP_SYS(lseek), SCMP_SYS(getdents64),
	/* Shutdown: the socket files go, the threads end. */
	SCMP_SYS(lstat), SCMP_SYS(stat), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* Starting a device at run time (the API's PUT /vms): its listeners are
 * bound under a temporary name, given their mode and group, and renamed
 * into place; it gets an epoll set, eventfds, timerfds and a thread. */
static const int device_start[] = {
	SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(epoll_create1), SCMP_SYS(eventfd2),
	SCMP_SYS(timerfd_create), SCMP_SYS(clone3), SCMP_SYS(clone),
	/* rename(), chmod(), chown(): the *at calls where the old ones do not
	 * exist (arm64). */
	SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(chmod),
	SCMP_SYS(fchmodat), SCMP_SYS(chown), SCMP_SYS(fchownat),
	/* A socket-group name looked up (the name service: libnss_systemd
	 * seeds a hash with getrandom). */
	SCMP_SYS(getrandom),
};

/* The sanitizers' runtime makes calls no list of ours should allow
 * (LeakSanitizer stops the world at exit: clone, ptrace, /proc reads), so
 * a sanitizer build logs what is off the list where it would kill, and
 * lets files open.  The tests of the plain build run with kill. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

/* openat(): read-only opens only (SANDBOX_READ_FILES), each of these
 * flags refused with EACCES, as all opens are without it. */
static const int write_flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};

static int add_read_only_opens(scmp_filter_ctx ctx)
{
	int rc = 0, all = 0;

	for (size_t i = 0; i < sizeof(write_flags) / sizeof(write_flags[0]) && rc == 0; i++) {
		all |= write_flags[i];
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)write_flags[i],
					      (scmp_datum_t)write_flags[i]));
	}
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)all, 0));
	return rc;
}

static int add_rules(scmp_filter_ctx ctx, unsigned needs)
{
	int rc = 0;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; (needs & SANDBOX_START_DEVICES) &&
			   i < sizeof(device_start) / sizeof(device_start[0]) && rc == 0;
	     i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, device_start[i], 0);
	/* New sockets only of the families the backends use. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_VSOCK));
	/* FIONREAD only: how much a host socket holds. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	/* No file is opened after start-up; glibc's malloc still tries
	 * /proc/sys/vm/overcommit_memory the first time it shrinks a thread's
	 * heap, and takes a failure as "not in strict overcommit mode". */
	if (rc == 0 && (needs & SANDBOX_READ_FILES) && !SANITIZER_BUILD)
		rc = add_read_only_opens(ctx);
	else if (rc == 0 && !SANITIZER_BUILD)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
	if (rc == 0 && !SANITIZER_BUILD)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
	/* The API's thread (libmicrohttpd) names itself when it starts, which
	 * may be after the filter is on; libnss_systemd reads the capability
	 * bounding set when a group name is looked up at run time. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (rc == 0 && (needs & SANDBOX_START_DEVICES))
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_CAPBSET_READ));
	/* process_fail(): a signal to this process only. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	return rc;
}

int sandbox_apply(enum seccomp_mode mode, unsigned needs)
{
	scmp_filter_ctx ctx;
	int rc;

	/* glibc's malloc reads /sys/devices/system/cpu/online to size its
	 * arena limit the first time a process has more than 8 arenas (a
	 * daemon with many VMs); settle it now, at the value glibc would
	 * compute, so no file is opened later. */
	mallopt(M_ARENA_MAX, 8 * get_nprocs());
	if (mode == SECCOMP_NONE) {
		log_info("seccomp: none (no system-call filter)");
		return 0;
	}
	ctx = seccomp_init(mode == SECCOMP_LOG || SANITIZER_BUILD ? SCMP_ACT_LOG
								  : SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		log_err("seccomp: cannot create the filter");
		return -ENOMEM;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* A binary tree of the allowed calls, not a list: every system call
	 * of the data path runs the filter. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc == 0)
		rc = add_rules(ctx, needs);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		log_err("seccomp: cannot install the filter: %s", strerror(-rc));
		return rc;
	}
	log_info("seccomp: %s", mode == SECCOMP_LOG ? "log (calls off the list are logged)"
						     : "kill (calls off the list end the process)");
	return 0;
}
