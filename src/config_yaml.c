#include "config_yaml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* Reads the whole file (it may be a pipe, e.g. --config <(...)). */
static char *read_file(const char *path, size_t *len, FILE *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf = NULL;

	if (!f) {
		config_error(err, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		config_error(err, "%s: is a directory", path);
		goto out;
	}
	buf = malloc(CONFIG_YAML_MAX_BYTES + 1);
	if (!buf) {
		config_error(err, "out of memory");
		goto out;
	}
	*len = fread(buf, 1, CONFIG_YAML_MAX_BYTES + 1, f);
	if (ferror(f)) {
		config_error(err, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	if (*len > CONFIG_YAML_MAX_BYTES) {
		config_error(err, "%s: larger than %u bytes", path, CONFIG_YAML_MAX_BYTES);
		goto fail;
	}
	goto out;
fail:
	free(buf);
	buf = NULL;
out:
	fclose(f);
	return buf;
}

static bool report_parser_error(const yaml_parser_t *parser, const char *path, FILE *err)
{
	const char *problem = parser->problem ? parser->problem : "cannot be parsed";

	if (parser->error == YAML_MEMORY_ERROR)
		return config_error(err, "out of memory");
	if (parser->context)
		return config_error(err, "%s: line %zu column %zu: YAML syntax error: %s %s",
				    path, parser->problem_mark.line + 1,
				    parser->problem_mark.column + 1, problem,
				    parser->context);
	return config_error(err, "%s: line %zu column %zu: YAML syntax error: %s", path,
			    parser->problem_mark.line + 1, parser->problem_mark.column + 1,
			    problem);
}

static size_t line_of(const yaml_node_t *node) { return node->start_mark.line + 1; }

static bool is_null_scalar(const yaml_node_t *node)
{
	const char *v = (const char *)node->data.scalar.value;

	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* Checks that node is a usable text value and returns it. */
static const char *scalar_text(const struct vm_entry *e, const char *key,
			       const yaml_node_t *node, FILE *err)
{
	const char *text = (const char *)node->data.scalar.value;

	if (node->type != YAML_SCALAR_NODE) {
		config_error(err, "%s: %s: line %zu: expected a single value", e->label, key,
			     line_of(node));
		return NULL;
	}
	if (is_null_scalar(node)) {
		config_error(err, "%s: %s: line %zu: no value given", e->label, key,
			     line_of(node));
		return NULL;
	}
	if (strlen(text) != node->data.scalar.length) {
		config_error(err, "%s: %s: line %zu: value contains a NUL character",
			     e->label, key, line_of(node));
		return NULL;
	}
	return text;
}

static bool load_list_value(yaml_document_t *doc, struct vm_entry *e, enum vm_key key,
			    const char *spelling, const yaml_node_t *seq, FILE *err)
{
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	const char **items = calloc(n ? n : 1, sizeof(*items));
	bool ok = true;

	if (!items)
		return config_error(err, "out of memory");
	for (size_t i = 0; i < n && ok; i++) {
		yaml_node_t *node = yaml_document_get_node(doc, seq->data.sequence.items.start[i]);

		items[i] = scalar_text(e, spelling, node, err);
		ok = items[i] != NULL;
	}
	ok = ok && vm_entry_set_items(e, key, spelling, items, n, err);
	free(items);
	return ok;
}

static bool load_pair(yaml_document_t *doc, struct vm_entry *e, const yaml_node_pair_t *pair,
		      FILE *err)
{
	yaml_node_t *key_node = yaml_document_get_node(doc, pair->key);
	yaml_node_t *value = yaml_document_get_node(doc, pair->value);
	const char *spelling;
	char keys[512];
	enum vm_key key;

	if (key_node->type != YAML_SCALAR_NODE)
		return config_error(err, "%s: line %zu: keys must be plain names", e->label,
				    line_of(key_node));
	spelling = (const char *)key_node->data.scalar.value;
	if (!vm_key_lookup(spelling, &key)) {
		vm_key_list(keys, sizeof(keys), '_');
		return config_error(err, "%s: %s: line %zu: unknown key (valid: %s)", e->label,
				    spelling, line_of(key_node), keys);
	}
	if (value->type == YAML_SEQUENCE_NODE && vm_key_is_list(key))
		return load_list_value(doc, e, key, spelling, value, err);
	const char *text = scalar_text(e, spelling, value, err);
	return text && vm_entry_set(e, key, spelling, text, err);
}

static bool load_vm(yaml_document_t *doc, const yaml_node_t *node, struct vm_list *list,
		    const char *path, size_t index, FILE *err)
{
	struct vm_entry *e = vm_list_add(list, err, "%s vms[%zu] (line %zu)", path, index,
					 line_of(node));
	if (!e)
		return false;
	if (node->type != YAML_MAPPING_NODE)
		return config_error(err, "%s: expected a map of keys (socket, uds_path, ...)",
				    e->label);
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     p < node->data.mapping.pairs.top; p++)
		if (!load_pair(doc, e, p, err))
			return false;
	return vm_entry_finish(e, err);
}

static bool load_vms(yaml_document_t *doc, const yaml_node_t *vms, struct vm_list *list,
		     const char *path, FILE *err)
{
	size_t index = 0;

	if (vms->type != YAML_SEQUENCE_NODE)
		return config_error(err, "%s: line %zu: 'vms' must be a list", path,
				    line_of(vms));
	if (vms->data.sequence.items.start == vms->data.sequence.items.top)
		return config_error(err, "%s: line %zu: 'vms' is empty", path, line_of(vms));
	for (yaml_node_item_t *it = vms->data.sequence.items.start;
	     it < vms->data.sequence.items.top; it++, index++)
		if (!load_vm(doc, yaml_document_get_node(doc, *it), list, path, index, err))
			return false;
	return true;
}

/* The top-level api-socket: a non-empty path. */
static bool load_api_socket(const yaml_node_t *node, char **api_socket, const char *path,
			    FILE *err)
{
	if (*api_socket)
		return config_error(err, "%s: line %zu: 'api-socket' given more than once", path,
				    line_of(node));
	if (node->type != YAML_SCALAR_NODE || is_null_scalar(node) ||
	    !*(const char *)node->data.scalar.value)
		return config_error(err, "%s: line %zu: 'api-socket' must be a path", path,
				    line_of(node));
	*api_socket = strdup((const char *)node->data.scalar.value);
	return *api_socket || config_error(err, "out of memory");
}

static bool load_root(yaml_document_t *doc, struct vm_list *list, char **api_socket,
		      const char *path, FILE *err)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_t *vms = NULL;

	if (!root || (root->type == YAML_SCALAR_NODE && is_null_scalar(root)))
		return config_error(err, "%s: empty document, expected a top-level 'vms' list",
				    path);
	if (root->type != YAML_MAPPING_NODE)
		return config_error(err, "%s: line %zu: expected a top-level map with a 'vms' "
				    "list", path, line_of(root));
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *key = yaml_document_get_node(doc, p->key);
		const char *name = key->type == YAML_SCALAR_NODE
					   ? (const char *)key->data.scalar.value : "";

		if (!strcmp(name, "api-socket") || !strcmp(name, "api_socket")) {
			if (!load_api_socket(yaml_document_get_node(doc, p->value), api_socket,
					     path, err))
				return false;
			continue;
		}
		if (strcmp(name, "vms") != 0)
			return config_error(err, "%s: line %zu: unknown top-level key (only "
					    "'vms' and 'api-socket' are allowed)", path,
					    line_of(key));
		if (vms)
			return config_error(err, "%s: line %zu: 'vms' given more than once",
					    path, line_of(key));
		vms = yaml_document_get_node(doc, p->value);
	}
	if (!vms)
		return config_error(err, "%s: no 'vms' list", path);
	return load_vms(doc, vms, list, path, err);
}

/* Only one document is allowed; a second one is probably a mistake. */
static bool expect_end(yaml_parser_t *parser, const char *path, FILE *err)
{
	yaml_document_t extra;
	bool ok;

	if (!yaml_parser_load(parser, &extra))
		return report_parser_error(parser, path, err);
	ok = yaml_document_get_root_node(&extra) == NULL;
	yaml_document_delete(&extra);
	return ok || config_error(err, "%s: more than one YAML document", path);
}

bool config_yaml_load(const char *path, struct vm_list *list, char **api_socket, FILE *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t len = 0;
	char *text = read_file(path, &len, err);
	bool ok = false;

	if (!text)
		return false;
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return config_error(err, "out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		report_parser_error(&parser, path, err);
	} else {
		ok = load_root(&doc, list, api_socket, path, err) &&
		     expect_end(&parser, path, err);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	free(text);
	return ok;
}
