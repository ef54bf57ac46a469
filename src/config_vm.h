/* Building one struct vm_config from key=value pairs, whatever their source
 * (single-VM flags, --vm, YAML), then checking a list of them as a whole.
 * Every error is printed to err as "<label>: <key>: <problem>" where the
 * label names the VM ("--vm #2", "cfg.yaml vms[1]"); functions return false
 * after printing. */
#ifndef VSOCK_CONFIG_VM_H
#define VSOCK_CONFIG_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "vm_config.h"

/* Limits enforced on every VM (documented in --help). */
#define CONFIG_MIN_TX_BUFFER_SIZE 4096u
#define CONFIG_MAX_TX_BUFFER_SIZE (64u << 20)
#define CONFIG_MAX_LIST_ITEMS 256u
#define CONFIG_UNIX_PATH_MAX 107u /* sizeof(sun_path) minus the NUL */
#define CONFIG_MAX_MAX_CONNECTIONS (1u << 20)
#define CONFIG_MAX_MAX_HANDSHAKES 65536u
#define CONFIG_MIN_TX_BUFFER_TOTAL 65536u
#define CONFIG_MAX_TX_BUFFER_TOTAL (1ull << 40)
#define CONFIG_MAX_SOCKET_MODE 0777u

enum vm_key {
	VM_KEY_GUEST_CID,
	VM_KEY_SOCKET,
	VM_KEY_FD,
	VM_KEY_UDS_PATH,
	VM_KEY_FORWARD_CID,
	VM_KEY_FORWARD_LISTEN,
	VM_KEY_TX_BUFFER_SIZE,
	VM_KEY_QUEUE_SIZE,
	VM_KEY_GROUPS,
	VM_KEY_MAX_CONNECTIONS,
	VM_KEY_MAX_HANDSHAKES,
	VM_KEY_MAX_PENDING,
	VM_KEY_TX_BUFFER_TOTAL,
	VM_KEY_SOCKET_GROUP,
	VM_KEY_SOCKET_MODE,
	VM_KEY_COUNT,
};

/* Canonical (dash) spelling, e.g. "guest-cid". */
const char *vm_key_name(enum vm_key key);
/* Accepts the dash and the underscore spelling of every key, and
 * socket-path for socket (QEMU's name for it). */
bool vm_key_lookup(const char *name, enum vm_key *out);
/* Every key name, comma-separated, with dash (the canonical '-' or '_')
 * between words: for "unknown key" messages. */
void vm_key_list(char *buf, size_t size, char dash);
/* True for the '+'-separated list keys (forward-listen, groups). */
bool vm_key_is_list(enum vm_key key);

struct vm_entry {
	struct vm_config vm;
	char *label;            /* names this VM in messages */
	const char *key_prefix; /* "--" when keys came from single-VM flags */
	uint32_t given;         /* bit per enum vm_key already set */
};

/* Prints "vhost-device-vsock: error: <message>\n" to err; returns false. */
bool config_error(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct vm_list {
	struct vm_entry *items;
	size_t n;
	size_t cap;
};

/* Appends an empty entry labelled by the printf-style format; NULL when out
 * of memory (already reported to err). */
struct vm_entry *vm_list_add(struct vm_list *list, FILE *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vm_list_free(struct vm_list *list);

/* Sets one key.  spelling is the key as the user wrote it (for messages).
 * List keys split value on '+'.  Setting a key twice is an error. */
bool vm_entry_set(struct vm_entry *e, enum vm_key key, const char *spelling,
		  const char *value, FILE *err);
/* Sets a list key from separate items (a YAML sequence): no '+' splitting. */
bool vm_entry_set_items(struct vm_entry *e, enum vm_key key, const char *spelling,
			const char *const *items, size_t n_items, FILE *err);
bool vm_entry_has(const struct vm_entry *e, enum vm_key key);
/* Checks required keys and the backend choice, then fills in defaults
 * (not socket-mode and socket-group: config.c applies the global ones). */
bool vm_entry_finish(struct vm_entry *e, FILE *err);

/* Parse a socket-group (a group name or number) or a socket-mode (octal,
 * at most 0777) for label/spelling's messages. */
bool config_parse_group(const char *label, const char *spelling, const char *value,
			gid_t *out, FILE *err);
bool config_parse_mode(const char *label, const char *spelling, const char *value,
		       uint32_t *out, FILE *err);

/* Checks what no single entry can see: duplicate guest CIDs, a path used
 * twice as socket or uds-path, one forward-listen port claimed twice. */
bool vm_list_check(const struct vm_list *list, FILE *err);

/* A VM's socket group and mode: its own keys, else the global ones, else
 * the default mode. */
void config_apply_perms(struct vm_entry *e, const struct socket_perms *perms);

/* The checks of vm_list_check() for one VM added to the n VMs served. */
bool vm_list_check_added(const struct vm_config *served, size_t n, const struct vm_entry *added,
			 FILE *err);

/* Moves the VMs into cfg; the list is left empty on success. */
bool vm_list_move_to(struct vm_list *list, struct daemon_config *cfg, FILE *err);

#endif
