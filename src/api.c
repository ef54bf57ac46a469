/* The HTTP server of the API: libmicrohttpd on the daemon's listening
 * socket, a thread of its own, a table of routes.  Errors are JSON objects
 * {"error": "..."} with their status: 404 for an unknown path, 405 (with
 * Allow) for a method the path does not take, 413 for a body over
 * API_MAX_BODY. */
#include "api.h"

#include "log.h"

#ifdef HAVE_API
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_render.h"
#include "config_vm.h"
#include "vm_registry.h"

/* No request of this API needs more. */
#define API_MAX_BODY (64u * 1024)
/* How long a client may stay idle (seconds). */
#define API_IDLE_TIMEOUT_S 10

struct api {
	struct MHD_Daemon *mhd;
	struct vm_registry *reg;
	/* /proc/self/fd, opened before the sandbox forbids opening files:
	 * rewound and read again for each count. */
	DIR *fd_dir;
};

/* One request's body, gathered across the handler's calls. */
struct request {
	char *body;
	size_t len;
	bool too_large;
};

/* Sends text (freed here) as the body, of type unless NULL; allow, unless
 * NULL, is the Allow header of a 405. */
static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status,
				 const char *type, char *text, size_t len, const char *allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (!r) {
		free(text);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* When no document could be made (out of memory): a fixed answer. */
static enum MHD_Result send_no_memory(struct MHD_Connection *conn)
{
	static const char body[] = "{\"error\": \"out of memory\"}";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	rc = MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, r);
	MHD_destroy_response(r);
	return rc;
}

/* Sends j (its reference taken) as the body; NULL is out of memory. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *j,
				 const char *allow)
{
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	if (!text)
		return send_no_memory(conn);
	return send_text(conn, status, "application/json", text, strlen(text), allow);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
				  const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
				  const char *allow, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* It may quote the client's bytes, cut anywhere: JSON strings must be
	 * UTF-8, so what is not plain ASCII shows as '?'. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return send_json(conn, status, json_pack("{s:s}", "error", msg), allow);
}

/* Descriptors open in the process, -1 if they cannot be counted. */
static long count_fds(struct api *api)
{
	long n = 0;

	if (!api->fd_dir)
		return -1;
	rewinddir(api->fd_dir);
	for (struct dirent *d; (d = readdir(api->fd_dir));)
		n += d->d_name[0] != '.';
	return n - 1; /* the directory's own */
}

/* A route's handler, the registry locked; vm is the index of the VM its
 * {cid} names, req the request's body. */
typedef enum MHD_Result handler_fn(struct api *api, struct MHD_Connection *conn, size_t vm,
				   const struct request *req);

static enum MHD_Result get_vms(struct api *api, struct MHD_Connection *conn, size_t vm,
			       const struct request *req)
{
	(void)vm;
	(void)req;
	return send_json(conn, MHD_HTTP_OK, api_vms_json(api->reg), NULL);
}

static enum MHD_Result get_connections(struct api *api, struct MHD_Connection *conn,
				       size_t vm, const struct request *req)
{
	struct conn_report *r = NULL;
	ssize_t n = vsock_device_connections(api->reg->devs[vm], &r);
	json_t *j;

	(void)req;
	if (n == -ESHUTDOWN)
		return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
				  "cid %u is stopping", api->reg->vms[vm].guest_cid);
	if (n < 0)
		return send_no_memory(conn);
	j = api_connections_json(r, (size_t)n);
	free(r);
	return send_json(conn, MHD_HTTP_OK, j, NULL);
}

static enum MHD_Result delete_vm(struct api *api, struct MHD_Connection *conn, size_t vm,
				 const struct request *req)
{
	(void)req;
	vm_registry_remove(api->reg, vm);
	return send_text(conn, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, NULL);
}

/* The text config_error() printed to f, without its prefix and newline. */
static char *config_message(FILE *f, char **text)
{
	static const char prefix[] = "vhost-device-vsock: error: ";
	char *msg;

	if (fclose(f) != 0 || !*text)
		return NULL;
	msg = strncmp(*text, prefix, strlen(prefix)) ? *text : *text + strlen(prefix);
	msg[strcspn(msg, "\n")] = '\0';
	return msg;
}

/* PUT /vms: 201 with the VM, as GET /vms shows it, once its sockets accept
 * connections; 400 for what --vm would refuse, 409 for a CID, path or port
 * taken or descriptors that do not fit. */
static enum MHD_Result put_vm(struct api *api, struct MHD_Connection *conn, size_t vm,
			      const struct request *req)
{
	struct vm_entry e = {.label = "PUT /vms"};
	json_error_t jerr;
	/* A key given twice is an error, as in --vm. */
	json_t *obj = json_loadb(req->body ? req->body : "", req->len, JSON_REJECT_DUPLICATES,
				 &jerr);
	char *text = NULL, *msg;
	size_t text_len = 0;
	unsigned status = MHD_HTTP_BAD_REQUEST;
	FILE *err;
	int rc;

	(void)vm;
	if (!obj)
		return send_error(conn, MHD_HTTP_BAD_REQUEST, NULL, "the body is not JSON: %s",
				  jerr.text);
	err = open_memstream(&text, &text_len);
	if (!err) {
		json_decref(obj);
		return send_no_memory(conn);
	}
	if (api_vm_entry(obj, &e, err) && vm_entry_finish(&e, err)) {
		config_apply_perms(&e, &api->reg->cfg->perms);
		rc = vm_registry_add(api->reg, &e, err);
		if (rc == 0) {
			fclose(err);
			free(text);
			json_decref(obj);
			return send_json(conn, MHD_HTTP_CREATED,
					 api_vm_json(api->reg, api->reg->n - 1), NULL);
		}
		status = rc == -EIO || rc == -ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR
						     : MHD_HTTP_CONFLICT;
	}
	vm_config_clear(&e.vm);
	json_decref(obj);
	msg = config_message(err, &text);
	rc = send_error(conn, status, NULL, "%s", msg ? msg : "invalid VM");
	free(text);
	return rc;
}

static enum MHD_Result get_metrics(struct api *api, struct MHD_Connection *conn, size_t vm,
				   const struct request *req)
{
	size_t len = 0;
	char *text = api_metrics_text(api->reg, count_fds(api), &len);

	(void)vm;
	(void)req;
	if (!text)
		return send_no_memory(conn);
	return send_text(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
			 len, NULL);
}

struct route {
	const char *pattern; /* CID_PART stands for one VM's CID */
	handler_fn *get;     /* GET and HEAD */
	handler_fn *put;
	handler_fn *delete;
	const char *allow;   /* the methods it takes */
};

#define CID_PART "{cid}"

static const struct route routes[] = {
	{"/vms", get_vms, put_vm, NULL, "GET, HEAD, PUT"},
	{"/vms/" CID_PART, NULL, NULL, delete_vm, "DELETE"},
	{"/vms/" CID_PART "/connections", get_connections, NULL, NULL, "GET, HEAD"},
	{"/metrics", get_metrics, NULL, NULL, "GET, HEAD"},
};

/* Whether url fits pattern; *cid is then the CID it names (0: none). */
static bool match(const char *pattern, const char *url, unsigned long *cid)
{
	const char *part = strstr(pattern, CID_PART);
	size_t head = part ? (size_t)(part - pattern) : strlen(pattern);
	const char *tail;
	char *end;

	*cid = 0;
	if (!part)
		return strcmp(pattern, url) == 0;
	tail = part + strlen(CID_PART);
	if (strncmp(pattern, url, head) != 0 || url[head] < '0' || url[head] > '9')
		return false;
	errno = 0;
	*cid = strtoul(url + head, &end, 10);
	return errno == 0 && *cid <= UINT32_MAX && end - (url + head) <= 10 &&
	       strcmp(end, tail) == 0;
}

/* The route's handler for method; NULL if it takes no such method. */
static handler_fn *handler_for(const struct route *route, const char *method)
{
	/* libmicrohttpd leaves out the body of a HEAD's answer. */
	if (!strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD))
		return route->get;
	if (!strcmp(method, MHD_HTTP_METHOD_PUT))
		return route->put;
	if (!strcmp(method, MHD_HTTP_METHOD_DELETE))
		return route->delete;
	return NULL;
}

/* The registry locked: finds the route and the VM it names. */
static enum MHD_Result route_locked(struct api *api, struct MHD_Connection *conn,
				    const char *url, const char *method, const struct request *req)
{
	const struct route *route = NULL;
	unsigned long cid = 0;
	handler_fn *handler;
	ssize_t vm = 0;

	for (size_t i = 0; !route && i < sizeof(routes) / sizeof(routes[0]); i++)
		if (match(routes[i].pattern, url, &cid))
			route = &routes[i];
	if (!route)
		return send_error(conn, MHD_HTTP_NOT_FOUND, NULL, "no such path: %s", url);
	handler = handler_for(route, method);
	if (!handler)
		return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, route->allow,
				  "%s takes %s, not %s", url, route->allow, method);
	if (strstr(route->pattern, CID_PART)) {
		vm = vm_registry_find(api->reg, (uint32_t)cid);
		if (vm < 0)
			return send_error(conn, MHD_HTTP_NOT_FOUND, NULL, "no VM with cid %lu",
					  cid);
	}
	return handler(api, conn, (size_t)vm, req);
}

static enum MHD_Result dispatch(struct api *api, struct MHD_Connection *conn, const char *url,
				const char *method, const struct request *req)
{
	enum MHD_Result rc;

	pthread_mutex_lock(&api->reg->lock);
	rc = route_locked(api, conn, url, method, req);
	pthread_mutex_unlock(&api->reg->lock);
	return rc;
}

/* Whether the announced body is over the limit: answered at once, before
 * any of it is read. */
static bool announced_too_large(struct MHD_Connection *conn)
{
	const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_LENGTH);

	return len && strtoull(len, NULL, 10) > API_MAX_BODY;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct api *api = cls;
	struct request *req = *con_cls;

	(void)version;
	if (!req) {
		if (announced_too_large(conn))
			return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
					  "the body is larger than %u bytes", API_MAX_BODY);
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size) {
		/* A chunked body gives no length first: it is read and
		 * dropped past the limit, then refused. */
		if (!req->too_large && req->len + *upload_size <= API_MAX_BODY) {
			char *body = realloc(req->body, req->len + *upload_size);

			if (!body)
				return MHD_NO;
			memcpy(body + req->len, upload, *upload_size);
			req->body = body;
			req->len += *upload_size;
		} else {
			req->too_large = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->too_large)
		return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
				  "the body is larger than %u bytes", API_MAX_BODY);
	return dispatch(api, conn, url, method, req);
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)why;
	if (req) {
		free(req->body);
		free(req);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_info_rl("api: %s", msg);
}

struct api *api_start(int fd, struct vm_registry *reg)
{
	struct api *api = calloc(1, sizeof(*api));

	if (!api) {
		log_err("api: out of memory");
		return NULL;
	}
	api->reg = reg;
	api->fd_dir = opendir("/proc/self/fd");
	if (!api->fd_dir)
		log_warn("api: cannot open /proc/self/fd: open_fds will read -1");
	/* The Date header's time zone and jansson's hash seed (from
	 * /dev/urandom), read now: no file opens once the sandbox is on. */
	tzset();
	json_object_seed(0);
	api->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, handle, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)API_MAX_CLIENTS, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)API_IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
		MHD_OPTION_END);
	if (!api->mhd) {
		log_err("api: cannot start the HTTP server");
		if (api->fd_dir)
			closedir(api->fd_dir);
		free(api);
		return NULL;
	}
	return api;
}

void api_stop(struct api *api)
{
	if (!api)
		return;
	/* Else libmicrohttpd would close the socket, which is the caller's. */
	MHD_quiesce_daemon(api->mhd);
	MHD_stop_daemon(api->mhd);
	if (api->fd_dir)
		closedir(api->fd_dir);
	free(api);
}

#else

struct api *api_start(int fd, struct vm_registry *reg)
{
	(void)fd;
	(void)reg;
	log_err("api: this build has no HTTP server (libmicrohttpd): --api-socket cannot work");
	return NULL;
}

void api_stop(struct api *api) { (void)api; }

#endif
