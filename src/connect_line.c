#include "connect_line.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

/* Parses buf[0..len), the line without its '\n'. */
static enum connect_line_status parse_line(const char *p, const char *end,
					   uint32_t *port)
{
	static const char verb[] = "connect";
	const size_t verb_len = sizeof(verb) - 1;
	uint64_t value = 0;
	const char *digits;

	p = skip_blanks(p, end);
	if ((size_t)(end - p) < verb_len || strncasecmp(p, verb, verb_len) != 0)
		return CONNECT_LINE_BAD;
	p += verb_len;
	if (p == end || !is_blank(*p))
		return CONNECT_LINE_BAD;
	p = skip_blanks(p, end);
	if (p < end && *p == '+')
		p++;
	digits = p;
	while (p < end && *p >= '0' && *p <= '9') {
		value = value * 10 + (uint64_t)(*p - '0');
		if (value > UINT32_MAX)
			return CONNECT_LINE_BAD;
		p++;
	}
	if (p == digits || (p < end && !is_blank(*p)))
		return CONNECT_LINE_BAD;
	*port = (uint32_t)value;
	return CONNECT_LINE_DONE;
}

void connect_line_init(struct connect_line *cl)
{
	cl->len = 0;
}

enum connect_line_status connect_line_feed(struct connect_line *cl,
					   const void *data, size_t n,
					   size_t *consumed, uint32_t *port)
{
	const char *nl = memchr(data, '\n', n);
	size_t take = nl ? (size_t)(nl - (const char *)data) + 1 : n;

	*consumed = take;
	if (take == 0)
		return CONNECT_LINE_MORE;
	if (take > CONNECT_LINE_MAX - cl->len)
		return CONNECT_LINE_BAD;
	memcpy(cl->buf + cl->len, data, take);
	cl->len += take;
	if (!nl)
		return cl->len == CONNECT_LINE_MAX ? CONNECT_LINE_BAD : CONNECT_LINE_MORE;
	return parse_line(cl->buf, cl->buf + cl->len - 1, port);
}
