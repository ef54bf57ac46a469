/* Fuzzes the configuration front door, config_parse_args() (src/config*.c):
 * options, --vm values, the YAML file and the checks across VMs.  A
 * configuration it accepts must keep the promises main.c relies on (values
 * in range, nothing bound twice); every outcome must free what it
 * allocated (LeakSanitizer).
 *
 * Input: ARGS, optionally followed by "\0\0" and a YAML file.  ARGS are
 * the NUL-separated words of argv after argv[0].  When the YAML file is
 * there it is written to a memfd, and in every word that is "@" or ends in
 * "=@" the "@" becomes the file's path, so "--config\0@" reads it.  Help,
 * version and error messages go to /dev/null. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "config_vm.h"
#include "fuzz_input.h"

static FILE *devnull;
static int yaml_fd = -1;
static char yaml_path[32];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	yaml_fd = memfd_create("fuzz-config.yaml", MFD_CLOEXEC);
	if (!devnull || yaml_fd < 0) {
		perror("fuzz_config: setting up");
		exit(1);
	}
	snprintf(yaml_path, sizeof(yaml_path), "/proc/self/fd/%d", yaml_fd);
	return 0;
}

static void write_yaml(const uint8_t *text, size_t len)
{
	FUZZ_CHECK(ftruncate(yaml_fd, 0) == 0);
	FUZZ_CHECK(pwrite(yaml_fd, text, len, 0) == (ssize_t)len);
}

/* One argv word, with "@" standing for the YAML file when there is one. */
static char *make_word(const uint8_t *bytes, size_t len, bool has_yaml)
{
	bool names_file = has_yaml && len > 0 && bytes[len - 1] == '@' &&
			  (len == 1 || bytes[len - 2] == '=');
	size_t keep = names_file ? len - 1 : len;
	const char *tail = names_file ? yaml_path : "";
	char *word = malloc(keep + strlen(tail) + 1);

	FUZZ_CHECK(word);
	memcpy(word, bytes, keep);
	strcpy(word + keep, tail);
	return word;
}

/* argv[0] plus the NUL-separated words of args[0..len); NULL-terminated. */
static char **make_argv(const uint8_t *args, size_t len, bool has_yaml, int *argc)
{
	size_t max_words = 2 + len / 2 + 1;
	char **argv = calloc(max_words, sizeof(*argv));
	size_t n = 0;

	FUZZ_CHECK(argv);
	argv[n++] = strdup("vhost-device-vsock");
	for (size_t start = 0; start < len; ) {
		const uint8_t *nul = memchr(args + start, '\0', len - start);
		size_t end = nul ? (size_t)(nul - args) : len;

		argv[n++] = make_word(args + start, end - start, has_yaml);
		start = end + 1;
	}
	*argc = (int)n;
	return argv;
}

static void free_argv(char **argv)
{
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

static bool is_reserved_cid(uint32_t cid)
{
	return cid <= 2 || cid == UINT32_MAX;
}

/* What an accepted configuration promises (config.h, config_vm.h). */
static void check_vm(const struct vm_config *vm)
{
	FUZZ_CHECK(!is_reserved_cid(vm->guest_cid));
	FUZZ_CHECK(vm->socket_path && *vm->socket_path);
	FUZZ_CHECK(strlen(vm->socket_path) <= CONFIG_UNIX_PATH_MAX);
	if (vm->backend == BACKEND_UDS) {
		FUZZ_CHECK(vm->uds_path && *vm->uds_path);
		FUZZ_CHECK(vm->n_forward_listen == 0);
	} else {
		FUZZ_CHECK(vm->backend == BACKEND_VSOCK && !vm->uds_path);
	}
	FUZZ_CHECK(vm->tx_buffer_size >= CONFIG_MIN_TX_BUFFER_SIZE &&
		   vm->tx_buffer_size <= CONFIG_MAX_TX_BUFFER_SIZE);
	FUZZ_CHECK(vm->queue_size >= 1 && vm->queue_size <= CONFIG_MAX_QUEUE_SIZE &&
		   (vm->queue_size & (vm->queue_size - 1)) == 0);
	FUZZ_CHECK(vm->n_groups >= 1 && vm->n_groups <= CONFIG_MAX_LIST_ITEMS);
	FUZZ_CHECK(vm->n_forward_listen <= CONFIG_MAX_LIST_ITEMS);
	FUZZ_CHECK(!vm->uds_path || strcmp(vm->socket_path, vm->uds_path) != 0);
	for (size_t i = 0; i < vm->n_forward_listen; i++)
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(vm->forward_listen[i] != vm->forward_listen[j]);
	for (size_t i = 0; i < vm->n_groups; i++) {
		FUZZ_CHECK(vm->groups[i] && *vm->groups[i]);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(vm->groups[i], vm->groups[j]) != 0);
	}
}

/* Two VMs share nothing they bind: CID, socket or uds paths, listen ports. */
static void check_apart(const struct vm_config *a, const struct vm_config *b)
{
	const char *a_paths[] = {a->socket_path, a->uds_path};
	const char *b_paths[] = {b->socket_path, b->uds_path};

	FUZZ_CHECK(a->guest_cid != b->guest_cid);
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 2; j++)
			FUZZ_CHECK(!a_paths[i] || !b_paths[j] ||
				   strcmp(a_paths[i], b_paths[j]) != 0);
	for (size_t i = 0; i < a->n_forward_listen; i++)
		for (size_t j = 0; j < b->n_forward_listen; j++)
			FUZZ_CHECK(a->forward_listen[i] != b->forward_listen[j]);
}

static void check_config(const struct daemon_config *cfg)
{
	FUZZ_CHECK(cfg->n_vms >= 1);
	FUZZ_CHECK(cfg->poll_us <= CONFIG_MAX_POLL_US);
	for (size_t i = 0; i < cfg->n_vms; i++) {
		check_vm(&cfg->vms[i]);
		for (size_t j = 0; j < i; j++)
			check_apart(&cfg->vms[i], &cfg->vms[j]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t separator[2] = {0, 0};
	const uint8_t *sep = memmem(data, size, separator, sizeof(separator));
	size_t args_len = sep ? (size_t)(sep - data) : size;
	struct daemon_config cfg;
	char **argv;
	int argc;

	if (sep)
		write_yaml(sep + sizeof(separator), size - args_len - sizeof(separator));
	argv = make_argv(data, args_len, sep != NULL, &argc);
	if (config_parse_args(argc, argv, &cfg, devnull, devnull) == CONFIG_OK) {
		check_config(&cfg);
		config_free(&cfg);
	}
	free_argv(argv);
	return 0;
}
