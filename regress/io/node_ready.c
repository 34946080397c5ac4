/*
 * regress/io/node_ready.c — raft-node's Ready loop in the order raft.h
 * documents (persist with one sync, then send, then apply, then advance),
 * the applied-commands file, and the proposals waiting for their commit.
 *
 * The applied file (D/applied) has one line per applied command,
 * "<index> <text>\n".  After a restart, commands up to the last complete
 * line's index are not written again (exactly once); a torn last line
 * (kill -9 in the middle of a write) is cut off first.
 *
 * A command's data is "<node id>:<request id>:<text>", so the node that
 * proposed it recognises it when it is committed, on any leader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "node.h"

#define READY_ROUNDS_MAX 64		/* readies handled per wake-up */

static void
ready_idle_cb(uv_idle_t *idle)
{
	struct node *n = idle->data;

	uv_idle_stop(idle);
	n->ready_scheduled = false;
	node_process_ready(n);
}

void
node_schedule_ready(struct node *n)
{
	if (n->ready_scheduled || n->loop == NULL)
		return;
	n->ready_scheduled = true;
	uv_idle_start(&n->ready_idle, ready_idle_cb);
}

int
node_load_applied(struct node *n)
{
	FILE	   *f;
	char		line[NODE_MAX_LINE + 64];
	off_t		good = 0;
	off_t		pos = 0;

	n->applied_fd = open(n->applied_path, O_RDWR | O_CREAT | O_APPEND, 0600);
	if (n->applied_fd < 0)
		return -1;
	f = fopen(n->applied_path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		size_t		len = strlen(line);

		pos += (off_t) len;
		if (len == 0 || line[len - 1] != '\n')
			break;				/* torn last line */
		n->last_command_index = strtoull(line, NULL, 10);
		good = pos;
	}
	fclose(f);
	if (ftruncate(n->applied_fd, good) != 0)
		return -1;
	node_logf(n, "applied file: commands up to index %llu",
			  (unsigned long long) n->last_command_index);
	return 0;
}

void
node_apply_config(struct node *n, const struct raft_config *c)
{
	/* Dial every member; forget those that left (§4.1). */
	unsigned	kept = 0;

	for (unsigned k = 0; k < n->n_peer_ids; k++)
	{
		if (raft_config_find(c, n->peer_ids[k]) != NULL)
			n->peer_ids[kept++] = n->peer_ids[k];
		else
		{
			node_logf(n, "peer %llu left the configuration",
					  (unsigned long long) n->peer_ids[k]);
			raft_transport_remove_peer(n->transport, n->peer_ids[k]);
		}
	}
	n->n_peer_ids = kept;
	for (uint32_t i = 0; i < c->n; i++)
	{
		const struct raft_member *m = &c->members[i];
		bool		known = false;
		int			rc;

		if (m->id == n->id)
			continue;
		rc = raft_transport_set_peer(n->transport, m->id, m->addr);
		if (rc != RAFT_OK)
		{
			node_logf(n, "peer %llu at %s: %s", (unsigned long long) m->id,
					  m->addr, raft_strerror(rc));
			continue;
		}
		for (unsigned k = 0; k < n->n_peer_ids; k++)
			known |= n->peer_ids[k] == m->id;
		if (!known && n->n_peer_ids < RAFT_MAX_MEMBERS)
			n->peer_ids[n->n_peer_ids++] = m->id;
	}
}

/* A leader stops pipelining to a peer it cannot reach (it probes). */
void
node_report_unreachable(struct node *n)
{
	for (unsigned k = 0; k < n->n_peer_ids; k++)
		if (!raft_transport_connected(n->transport, n->peer_ids[k]))
			raft_report_unreachable(n->raft, n->peer_ids[k]);
}

static struct node_pending *
find_pending(struct node *n, uint64_t reqid)
{
	for (int i = 0; i < NODE_MAX_PENDING; i++)
		if (n->pending[i].used && n->pending[i].reqid == reqid)
			return &n->pending[i];
	return NULL;
}

void
node_forget_client(struct node *n, struct node_client *client)
{
	for (int i = 0; i < NODE_MAX_PENDING; i++)
		if (n->pending[i].used && n->pending[i].client == client)
			n->pending[i].client = NULL;
}

void
node_propose(struct node *n, struct node_client *client, const char *text)
{
	char		data[NODE_MAX_LINE + 64];
	struct node_pending *p = NULL;
	raft_index	index = 0;
	int			len;
	int			rc;

	for (int i = 0; i < NODE_MAX_PENDING && p == NULL; i++)
		if (!n->pending[i].used)
			p = &n->pending[i];
	if (p == NULL)
	{
		node_client_reply(client, "err busy");
		return;
	}
	len = snprintf(data, sizeof(data), "%llu:%llu:%s",
				   (unsigned long long) n->id,
				   (unsigned long long) ++n->next_reqid, text);
	rc = raft_propose(n->raft, data, (size_t) len, &index);
	if (rc != RAFT_OK)
	{
		node_client_reply(client, "err %s", raft_strerror(rc));
		return;
	}
	p->used = true;
	p->reqid = n->next_reqid;
	p->client = client;
	p->deadline_ms = uv_now(n->loop) + NODE_PROPOSE_TIMEOUT_MS;
	node_schedule_ready(n);
}

/* A proposal whose entry was lost (leader change) is never answered. */
void
node_expire_pending(struct node *n)
{
	uint64_t	now = uv_now(n->loop);

	for (int i = 0; i < NODE_MAX_PENDING; i++)
	{
		struct node_pending *p = &n->pending[i];

		if (p->used && now >= p->deadline_ms)
		{
			if (p->client != NULL)
				node_client_reply(p->client, "err timeout");
			p->used = false;
		}
	}
}

static void
apply_command(struct node *n, const struct raft_entry *e)
{
	const char *data = e->data.base;
	size_t		len = e->data.len;
	unsigned long long from = 0;
	unsigned long long reqid = 0;
	const char *text = data;
	size_t		text_len = len;
	char		line[NODE_MAX_LINE + 128];
	int			head;
	const char *c1 = len > 0 ? memchr(data, ':', len) : NULL;
	const char *c2 = c1 != NULL ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - data)) : NULL;

	if (c2 != NULL)
	{
		from = strtoull(data, NULL, 10);
		reqid = strtoull(c1 + 1, NULL, 10);
		text = c2 + 1;
		text_len = len - (size_t) (text - data);
	}
	if (text_len > NODE_MAX_LINE)
		text_len = NODE_MAX_LINE;
	if (e->index > n->last_command_index)
	{
		head = snprintf(line, sizeof(line), "%llu ",
						(unsigned long long) e->index);
		memcpy(line + head, text, text_len);
		line[head + text_len] = '\n';
		if (write(n->applied_fd, line, (size_t) head + text_len + 1) !=
			(ssize_t) (head + text_len + 1))
			node_fatal("write %s: %s", n->applied_path, strerror(errno));
		n->last_command_index = e->index;
	}
	if (from == n->id)
	{
		struct node_pending *p = find_pending(n, reqid);

		if (p != NULL)
		{
			if (p->client != NULL)
				node_client_reply(p->client, "ok %llu",
								  (unsigned long long) e->index);
			p->used = false;
		}
	}
}

static void
apply(struct node *n, const struct raft_entry *e)
{
	if (e->type == RAFT_ENTRY_COMMAND)
		apply_command(n, e);
	else if (e->type == RAFT_ENTRY_CONFIG)
	{
		static struct raft_config c;

		if (raft_decode_config(e->data.base, e->data.len, &c) == RAFT_OK)
			node_apply_config(n, &c);
	}
	n->applied_through = e->index;
}

static void
persist(struct node *n, const struct raft_ready *rd)
{
	int			rc;

	if (rd->snapshot != NULL)
	{
		rc = raft_log_save_snapshot(n->log, rd->snapshot);
		if (rc != RAFT_OK)
			node_fatal("save snapshot: %s", raft_log_errmsg(n->log));
	}
	if (rd->n_entries > 0)
	{
		struct raft_log_info info;

		raft_log_get_info(n->log, &info);
		if (info.last_index >= rd->entries[0].index)
		{
			rc = raft_log_truncate(n->log, rd->entries[0].index);
			if (rc != RAFT_OK)
				node_fatal("truncate at %llu: %s",
						   (unsigned long long) rd->entries[0].index,
						   raft_log_errmsg(n->log));
		}
		rc = raft_log_append(n->log, rd->entries, rd->n_entries);
		if (rc == RAFT_OK)
			rc = raft_log_sync(n->log);
		if (rc != RAFT_OK)
			node_fatal("append: %s", raft_log_errmsg(n->log));
	}
	if (rd->hard_state_changed)
	{
		rc = raft_log_save_hard_state(n->log, &rd->hard_state);
		if (rc != RAFT_OK)
			node_fatal("save hard state: %s", raft_log_errmsg(n->log));
	}
}

void
node_process_ready(struct node *n)
{
	for (int round = 0; round < READY_ROUNDS_MAX && raft_has_ready(n->raft);
		 round++)
	{
		struct raft_ready rd;

		raft_ready(n->raft, &rd);
		if (rd.soft_state_changed)
			node_logf(n, "role %s, leader %llu", raft_role_name(rd.role),
					  (unsigned long long) rd.leader);
		/* 1-2: durable before anything that depends on it is sent */
		persist(n, &rd);
		/* 3: send, corked: one write per peer */
		raft_transport_cork(n->transport);
		for (uint32_t i = 0; i < rd.n_messages; i++)
		{
			int			rc = raft_transport_send(n->transport, &rd.messages[i]);

			if (rc != RAFT_OK && rc != RAFT_EBUSY && n->verbose)
				node_logf(n, "send to %llu: %s",
						  (unsigned long long) rd.messages[i].to,
						  raft_strerror(rc));
		}
		raft_transport_flush(n->transport);
		/* 4: apply */
		for (uint32_t i = 0; i < rd.n_committed; i++)
			apply(n, &rd.committed[i]);
		/* 6: advance */
		raft_advance(n->raft, &rd);
	}
	if (raft_has_ready(n->raft))
		node_schedule_ready(n);
}
