/*
 * regress/io/node.h — the test node program (build/io/raft-node): one Raft
 * node made of the core (raft.h), the durable log (storage.h) and the
 * transport (transport.h) in one libuv loop, with a line-oriented control
 * channel for the check-io tests.  node_main.c: options, start-up, loop;
 * node_ready.c: the Ready loop, applying, proposals; node_control.c: the
 * control channel.
 */
#ifndef RAFT_IO_NODE_H
#define RAFT_IO_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "raft.h"
#include "storage.h"
#include "transport.h"

#define NODE_MAX_PENDING 1024	/* proposals waiting for their commit */
#define NODE_PROPOSE_TIMEOUT_MS 5000
#define NODE_MAX_LINE 4096		/* control channel line */
#define NODE_MAX_CLIENTS 32

struct node_client;

struct node_pending
{
	bool		used;
	uint64_t	reqid;
	struct node_client *client; /* NULL if it went away */
	uint64_t	deadline_ms;
};

struct node
{
	uv_loop_t  *loop;
	uv_timer_t	tick_timer;
	uv_idle_t	ready_idle;		/* runs the Ready loop once per wake-up */
	bool		ready_scheduled;
	raft_id		id;
	char		dir[512];
	char		log_dir[600];
	char		applied_path[600];
	int			applied_fd;
	raft_index	last_command_index; /* last command in the applied file */
	raft_index	applied_through;	/* last committed entry handled */
	unsigned	tick_ms;
	bool		verbose;
	struct raft *raft;
	struct raft_log *log;
	struct raft_transport *transport;
	struct raft_config initial;
	raft_id		peer_ids[RAFT_MAX_MEMBERS];	/* given to the transport */
	unsigned	n_peer_ids;
	uint64_t	next_reqid;
	struct node_pending pending[NODE_MAX_PENDING];
	uv_tcp_t	control;
	bool		control_on;
	struct node_client *clients[NODE_MAX_CLIENTS];
};

/* node_main.c */
void		node_fatal(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
void		node_logf(struct node *n, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* node_ready.c */
void		node_schedule_ready(struct node *n);
void		node_process_ready(struct node *n);
int			node_load_applied(struct node *n);
void		node_apply_config(struct node *n, const struct raft_config *c);
void		node_report_unreachable(struct node *n);
/* Proposes text for client; replies come through node_client_reply. */
void		node_propose(struct node *n, struct node_client *client, const char *text);
void		node_expire_pending(struct node *n);
void		node_forget_client(struct node *n, struct node_client *client);

/* node_control.c */
int			node_control_start(struct node *n, const char *addr);
void		node_client_reply(struct node_client *c, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

#endif							/* RAFT_IO_NODE_H */
