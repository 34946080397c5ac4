/*
 * extension/snapshot_data.c — the opaque data of a Raft snapshot: where a
 * server that needs the snapshot fetches the replicated tables from.
 *
 * The tables themselves are not in the log (they are this server's heap
 * tables as of raft.applied); the data is one line of text:
 *
 *     pg_raft-snapshot 1 node=<id> <libpq conninfo>
 *     node=<id> <libpq conninfo>          (zero or more lines)
 *
 * The first line names the server that took the snapshot; the others
 * name other members of the configuration whose conninfo the taker knows
 * (given to raft.add_node, or read in an earlier snapshot's data): the
 * receiver tries them when the first is unreachable (snapshot_install.c).
 * What a server knows is kept in shared memory (known_node/conninfo) and
 * found again after a restart in the snapshot of its own log.
 *
 * The conninfo is pg_raft.conninfo, or, when that is empty, one derived
 * from this server: host of pg_raft.listen_addr, the server's port, and
 * pg_raft.database.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "postmaster/postmaster.h"

#include "pg_raft.h"
#include "shmem.h"
#include "snapshot.h"
#include "worker_config.h"

#define SNAPSHOT_DATA_MAGIC "pg_raft-snapshot 1 node="

/* This server's conninfo for others (palloc'd). */
char *
pgraft_own_conninfo(void)
{
	char		host[RAFT_ADDR_LEN];
	int			port;
	char		err[128];

	if (pgraft_conninfo != NULL && pgraft_conninfo[0] != '\0')
		return pstrdup(pgraft_conninfo);
	if (!pgraft_parse_addr(pgraft_listen_addr, host, sizeof(host), &port,
						   err, sizeof(err)))
		strlcpy(host, "localhost", sizeof(host));
	return psprintf("host=%s port=%d dbname=%s", host, PostPortNumber,
					pgraft_database);
}

void
pgraft_remember_conninfo(int node, const char *conninfo)
{
	int			i;
	int			slot = -1;

	if (node < 1 || conninfo == NULL || conninfo[0] == '\0' ||
		strchr(conninfo, '\n') != NULL || strlen(conninfo) >= PGRAFT_CONNINFO_LEN)
		return;
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		if (pgraft_shared->known_node[i] == node)
		{
			slot = i;
			break;
		}
		if (slot < 0 && pgraft_shared->known_node[i] == 0)
			slot = i;
	}
	if (slot < 0)
	{
		/* full: drop one that is no longer a member */
		for (i = 0; i < RAFT_MAX_MEMBERS && slot < 0; i++)
			if (raft_config_find(&pgraft_shared->status.config,
								 pgraft_shared->known_node[i]) == NULL)
				slot = i;
	}
	if (slot >= 0)
	{
		pgraft_shared->known_node[slot] = node;
		strlcpy(pgraft_shared->known_conninfo[slot], conninfo, PGRAFT_CONNINFO_LEN);
	}
	LWLockRelease(pgraft_shared->lock);
}

bool
pgraft_known_conninfo(int node, char *conninfo)
{
	int			i;
	bool		found = false;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	for (i = 0; i < RAFT_MAX_MEMBERS && !found; i++)
		if (pgraft_shared->known_node[i] == node)
		{
			strlcpy(conninfo, pgraft_shared->known_conninfo[i], PGRAFT_CONNINFO_LEN);
			found = true;
		}
	LWLockRelease(pgraft_shared->lock);
	return found;
}

void
pgraft_snapshot_data_build(struct raft_buffer *data)
{
	char	   *conninfo = pgraft_own_conninfo();
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, SNAPSHOT_DATA_MAGIC "%d %s", pgraft_node_id, conninfo);
	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	for (i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		int			node = pgraft_shared->known_node[i];

		if (node != 0 && node != pgraft_node_id &&
			raft_config_find(&pgraft_shared->status.config, node) != NULL)
			appendStringInfo(&buf, "\nnode=%d %s", node, pgraft_shared->known_conninfo[i]);
	}
	LWLockRelease(pgraft_shared->lock);
	data->base = buf.data;
	data->len = buf.len;
	pfree(conninfo);
}

/* "<id> <conninfo>" up to end: false if malformed. */
static bool
parse_line(const char *p, const char *end, int *node, char *conninfo)
{
	char	   *stop;
	long		id;
	size_t		rest;

	errno = 0;
	id = strtol(p, &stop, 10);
	if (errno != 0 || stop == p || stop >= end || id < 1 || id > PG_INT32_MAX ||
		*stop != ' ')
		return false;
	stop++;
	rest = end - stop;
	if (rest == 0 || rest >= PGRAFT_CONNINFO_LEN || memchr(stop, '\0', rest) != NULL)
		return false;
	*node = (int) id;
	memcpy(conninfo, stop, rest);
	conninfo[rest] = '\0';
	return true;
}

bool
pgraft_snapshot_data_parse(const struct raft_buffer *data, PgRaftSnapshotSource *src)
{
	const char *p;
	const char *end;
	const char *nl;
	size_t		magic = strlen(SNAPSHOT_DATA_MAGIC);

	memset(src, 0, sizeof(*src));
	if (data->base == NULL || data->len <= magic ||
		memcmp(data->base, SNAPSHOT_DATA_MAGIC, magic) != 0)
		return false;
	p = (const char *) data->base + magic;
	end = (const char *) data->base + data->len;
	nl = memchr(p, '\n', end - p);
	if (!parse_line(p, nl ? nl : end, &src->node_id, src->conninfo))
		return false;
	while (nl != NULL && src->n_alt < RAFT_MAX_MEMBERS)
	{
		p = nl + 1;
		nl = memchr(p, '\n', end - p);
		if (end - p <= 5 || memcmp(p, "node=", 5) != 0 ||
			!parse_line(p + 5, nl ? nl : end, &src->alt_node[src->n_alt],
						src->alt_conninfo[src->n_alt]))
			break;				/* the first line is enough */
		src->n_alt++;
	}
	return true;
}
