/*
 * regress/io/node_control.c — raft-node's control channel for the tests:
 * TCP on a loopback address, one command per line, one reply per line
 * (except `log`):
 *
 *   propose <text>  ->  "ok <index>" once the entry is committed and
 *                       applied here, or "err <reason>"
 *   status          ->  "status id=1 role=leader term=3 leader=1 commit=9
 *                        applied=9 last=9"
 *   log             ->  "log <n>" then n lines "<index> <text>"
 *   ping            ->  "pong"
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

struct node_client
{
	uv_tcp_t	tcp;
	struct node *n;
	int			slot;
	bool		closing;
	char		buf[NODE_MAX_LINE + 1];
	size_t		len;
};

struct reply
{
	uv_write_t	req;
	size_t		len;
	char		text[];
};

static void
client_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
client_close(struct node_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	node_forget_client(c->n, c);
	c->n->clients[c->slot] = NULL;
	uv_close((uv_handle_t *) &c->tcp, client_closed);
}

static void
reply_done(uv_write_t *req, int status)
{
	free(req->data);
}

static void
send_text(struct node_client *c, const char *text, size_t len)
{
	struct reply *r;
	uv_buf_t	buf;

	if (c->closing)
		return;
	r = malloc(sizeof(*r) + len);
	if (r == NULL)
		return;
	memcpy(r->text, text, len);
	r->len = len;
	r->req.data = r;
	buf = uv_buf_init(r->text, (unsigned) len);
	if (uv_write(&r->req, (uv_stream_t *) &c->tcp, &buf, 1, reply_done) != 0)
	{
		free(r);
		client_close(c);
	}
}

void
node_client_reply(struct node_client *c, const char *fmt,...)
{
	char		line[512];
	va_list		ap;
	int			len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t) len > sizeof(line) - 2)
		len = (int) sizeof(line) - 2;
	line[len++] = '\n';
	send_text(c, line, (size_t) len);
}

static void
reply_status(struct node_client *c)
{
	static struct raft_status st;
	struct node *n = c->n;

	raft_get_status(n->raft, &st);
	node_client_reply(c, "status id=%llu role=%s term=%llu leader=%llu "
					  "commit=%llu applied=%llu last=%llu",
					  (unsigned long long) n->id, raft_role_name(st.role),
					  (unsigned long long) st.term,
					  (unsigned long long) st.leader,
					  (unsigned long long) st.commit,
					  (unsigned long long) n->applied_through,
					  (unsigned long long) st.last_index);
}

/* The applied file as it is, after a count line. */
static void
reply_log(struct node_client *c)
{
	FILE	   *f = fopen(c->n->applied_path, "r");
	char	   *all = NULL;
	size_t		len = 0;
	size_t		lines = 0;
	char		head[64];
	int			hlen;

	if (f != NULL)
	{
		size_t		cap = 0;
		char		chunk[8192];
		size_t		got;

		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		{
			if (len + got > cap)
			{
				char	   *grown;

				cap = (len + got) * 2;
				grown = realloc(all, cap);
				if (grown == NULL)
					break;
				all = grown;
			}
			memcpy(all + len, chunk, got);
			len += got;
		}
		fclose(f);
	}
	/* Only complete lines. */
	while (len > 0 && all[len - 1] != '\n')
		len--;
	for (size_t i = 0; i < len; i++)
		lines += all[i] == '\n';
	hlen = snprintf(head, sizeof(head), "log %zu\n", lines);
	send_text(c, head, (size_t) hlen);
	if (len > 0)
		send_text(c, all, len);
	free(all);
}

static void
handle_line(struct node_client *c, char *line)
{
	size_t		len = strlen(line);

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (strncmp(line, "propose ", 8) == 0 && line[8] != '\0')
		node_propose(c->n, c, line + 8);
	else if (strcmp(line, "status") == 0)
		reply_status(c);
	else if (strcmp(line, "log") == 0)
		reply_log(c);
	else if (strcmp(line, "ping") == 0)
		node_client_reply(c, "pong");
	else
		node_client_reply(c, "err unknown command");
}

static void
client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct node_client *c = h->data;

	buf->base = c->buf + c->len;
	buf->len = NODE_MAX_LINE - c->len;
}

static void
client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct node_client *c = s->data;
	char	   *start;
	char	   *nl;

	if (nread < 0)
	{
		client_close(c);
		return;
	}
	c->len += (size_t) nread;
	c->buf[c->len] = '\0';
	start = c->buf;
	while (!c->closing && (nl = memchr(start, '\n', c->len - (size_t) (start - c->buf))) != NULL)
	{
		*nl = '\0';
		handle_line(c, start);
		start = nl + 1;
	}
	c->len -= (size_t) (start - c->buf);
	memmove(c->buf, start, c->len);
	if (c->len >= NODE_MAX_LINE)
	{
		node_client_reply(c, "err line too long");
		client_close(c);
	}
}

static void
on_client(uv_stream_t *server, int status)
{
	struct node *n = server->data;
	struct node_client *c;
	int			slot = -1;

	if (status != 0)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->n = n;
	uv_tcp_init(n->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0)
	{
		uv_close((uv_handle_t *) &c->tcp, client_closed);
		return;
	}
	for (int i = 0; i < NODE_MAX_CLIENTS && slot < 0; i++)
		if (n->clients[i] == NULL)
			slot = i;
	if (slot < 0)
	{
		uv_close((uv_handle_t *) &c->tcp, client_closed);
		return;
	}
	c->slot = slot;
	n->clients[slot] = c;
	uv_read_start((uv_stream_t *) &c->tcp, client_alloc, client_read);
}

int
node_control_start(struct node *n, const char *addr)
{
	char		host[64];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sa;

	if (colon == NULL || (size_t) (colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, (size_t) (colon - addr));
	host[colon - addr] = '\0';
	if (uv_ip4_addr(host, atoi(colon + 1), &sa) != 0)
		return -1;
	uv_tcp_init(n->loop, &n->control);
	n->control.data = n;
	if (uv_tcp_bind(&n->control, (struct sockaddr *) &sa, 0) != 0 ||
		uv_listen((uv_stream_t *) &n->control, 16, on_client) != 0)
		return -1;
	n->control_on = true;
	return 0;
}
