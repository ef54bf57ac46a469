#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Logs each line config_error() printed, as warnings. */
static void log_lines(char *text, const char *why)
{
	static const char prefix[] = "vhost-device-vsock: error: ";

	if (!text)
		return;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, prefix, strlen(prefix)))
			line += strlen(prefix);
		log_warn("reload: %s%s", line, why);
	}
}

void reload_config(struct vm_registry *reg, int argc, char **argv)
{
	struct daemon_config next;
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	bool ok;

	if (!err) {
		log_warn("reload: out of memory; nothing changed");
		return;
	}
	ok = config_parse_args(argc, argv, &next, err, err) == CONFIG_OK;
	if (ok) {
		if (!next.api_socket != !reg->cfg->api_socket ||
		    (next.api_socket && strcmp(next.api_socket, reg->cfg->api_socket)))
			log_warn("reload: api-socket changed; the API stays where it is until "
				 "a restart");
		pthread_mutex_lock(&reg->lock);
		ok = vm_registry_apply(reg, &next, err);
		pthread_mutex_unlock(&reg->lock);
		config_free(&next);
	}
	fclose(err);
	log_lines(text, ok ? "" : "; nothing changed");
	free(text);
}
