/*
 * extension/snapshot_data.c — the opaque data of a Raft snapshot: where a
 * server that needs the snapshot fetches the replicated tables from.
 *
 * The tables themselves are not in the log (they are this server's heap
 * tables as of raft.applied); the data is one line of text:
 *
 *     pg_raft-snapshot 1 node=<id> <libpq conninfo>
 *
 * The conninfo is pg_raft.conninfo, or, when that is empty, one derived
 * from this server: host of pg_raft.listen_addr, the server's port, and
 * pg_raft.database.
 */
#include "postgres.h"

#include "postmaster/postmaster.h"

#include "pg_raft.h"
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
pgraft_snapshot_data_build(struct raft_buffer *data)
{
	char	   *conninfo = pgraft_own_conninfo();
	char	   *s;

	s = psprintf(SNAPSHOT_DATA_MAGIC "%d %s", pgraft_node_id, conninfo);
	data->base = s;
	data->len = strlen(s);
	pfree(conninfo);
}

bool
pgraft_snapshot_data_parse(const struct raft_buffer *data, PgRaftSnapshotSource *src)
{
	const char *p;
	char	   *end;
	long		id;
	size_t		magic = strlen(SNAPSHOT_DATA_MAGIC);
	size_t		rest;

	memset(src, 0, sizeof(*src));
	if (data->base == NULL || data->len <= magic ||
		memcmp(data->base, SNAPSHOT_DATA_MAGIC, magic) != 0)
		return false;
	p = (const char *) data->base + magic;
	errno = 0;
	id = strtol(p, &end, 10);
	if (errno != 0 || end == p || id < 1 || id > PG_INT32_MAX || *end != ' ')
		return false;
	end++;
	rest = data->len - (end - (const char *) data->base);
	if (rest == 0 || rest >= sizeof(src->conninfo) || memchr(end, '\0', rest) != NULL)
		return false;
	src->node_id = (int) id;
	memcpy(src->conninfo, end, rest);
	src->conninfo[rest] = '\0';
	return true;
}
