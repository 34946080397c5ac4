/*
 * extension/worker_config.c — parses pg_raft.listen_addr and
 * pg_raft.initial_cluster, and checks the settings against each other
 * before the Raft worker starts.  No palloc in the parsers: the GUC check
 * hooks use them too.
 */
#include "postgres.h"

#include <arpa/inet.h>

#include "common/hashfn.h"

#include "pg_raft.h"
#include "worker_config.h"

bool
pgraft_parse_addr(const char *s, char *host, size_t hostlen, int *port,
				  char *err, size_t errlen)
{
	const char *colon;
	const char *h;
	size_t		hlen;
	char		hbuf[RAFT_ADDR_LEN];
	unsigned char sockaddr[sizeof(struct in6_addr)];
	bool		v6 = false;
	long		p;
	char	   *end;

	if (s == NULL || s[0] == '\0')
	{
		snprintf(err, errlen, "the address is empty");
		return false;
	}
	if (strlen(s) >= RAFT_ADDR_LEN)
	{
		snprintf(err, errlen, "the address is longer than %d bytes",
				 RAFT_ADDR_LEN - 1);
		return false;
	}
	if (s[0] == '[')
	{
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
		{
			snprintf(err, errlen, "\"%s\" is not [ipv6]:port", s);
			return false;
		}
		h = s + 1;
		hlen = close - h;
		colon = close + 1;
		v6 = true;
	}
	else
	{
		colon = strrchr(s, ':');
		if (colon == NULL)
		{
			snprintf(err, errlen, "\"%s\" has no port (expected host:port)", s);
			return false;
		}
		h = s;
		hlen = colon - s;
	}
	memcpy(hbuf, h, hlen);
	hbuf[hlen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, hbuf, sockaddr) != 1)
	{
		snprintf(err, errlen,
				 "\"%s\" is not a numeric %s address (names are not resolved)",
				 hbuf, v6 ? "IPv6" : "IPv4");
		return false;
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535)
	{
		snprintf(err, errlen, "\"%s\" is not a port number in 1..65535",
				 colon + 1);
		return false;
	}
	if (host)
		strlcpy(host, hbuf, hostlen);
	if (port)
		*port = (int) p;
	return true;
}

bool
pgraft_parse_cluster(const char *s, struct raft_config *cfg,
					 char *err, size_t errlen)
{
	const char *p = s ? s : "";

	memset(cfg, 0, sizeof(*cfg));
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return true;

	for (;;)
	{
		const char *end = strchr(p, ',');
		size_t		len = end ? (size_t) (end - p) : strlen(p);
		char		item[RAFT_ADDR_LEN + 32];
		char	   *eq;
		char	   *idend;
		char	   *addr;
		long		id;
		char		aerr[128];
		uint32		i;

		if (len == 0 || len >= sizeof(item))
		{
			snprintf(err, errlen, "an entry is empty or too long");
			return false;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		/* trim blanks around the entry */
		while (len > 0 && item[len - 1] == ' ')
			item[--len] = '\0';
		addr = item;
		while (*addr == ' ')
			addr++;
		eq = strchr(addr, '=');
		if (eq == NULL)
		{
			snprintf(err, errlen, "entry \"%s\" is not id=host:port", addr);
			return false;
		}
		*eq = '\0';
		errno = 0;
		id = strtol(addr, &idend, 10);
		if (addr[0] == '\0' || *idend != '\0' || errno != 0 || id < 1 ||
			id > PG_INT32_MAX)
		{
			snprintf(err, errlen, "\"%s\" is not a node id (an integer >= 1)",
					 addr);
			return false;
		}
		if (!pgraft_parse_addr(eq + 1, NULL, 0, NULL, aerr, sizeof(aerr)))
		{
			snprintf(err, errlen, "node %ld: %s", id, aerr);
			return false;
		}
		for (i = 0; i < cfg->n; i++)
		{
			if (cfg->members[i].id == (raft_id) id)
			{
				snprintf(err, errlen, "node %ld is listed twice", id);
				return false;
			}
			if (strcmp(cfg->members[i].addr, eq + 1) == 0)
			{
				snprintf(err, errlen, "nodes %llu and %ld have the same address %s",
						 (unsigned long long) cfg->members[i].id, id, eq + 1);
				return false;
			}
		}
		if (cfg->n >= RAFT_MAX_MEMBERS)
		{
			snprintf(err, errlen, "more than %d members", RAFT_MAX_MEMBERS);
			return false;
		}
		cfg->members[cfg->n].id = (raft_id) id;
		cfg->members[cfg->n].flags = RAFT_VOTER_NEW;
		strlcpy(cfg->members[cfg->n].addr, eq + 1, RAFT_ADDR_LEN);
		cfg->n++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return true;
}

bool
pgraft_check_settings(int elevel)
{
	struct raft_config cfg;
	char		err[256];
	const struct raft_member *self;

	if (pgraft_node_id < 1)
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_raft.node_id is not set"),
				 errdetail("Every server of a pg_raft cluster needs a unique node id, an integer >= 1."),
				 errhint("Set pg_raft.node_id in postgresql.conf.")));
		return false;
	}
	if (pgraft_listen_addr == NULL || pgraft_listen_addr[0] == '\0')
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_raft.listen_addr is not set"),
				 errhint("Set pg_raft.listen_addr to this server's numeric host:port for Raft traffic.")));
		return false;
	}
	if (!pgraft_parse_addr(pgraft_listen_addr, NULL, 0, NULL, err, sizeof(err)))
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for pg_raft.listen_addr: %s", err),
				 errhint("Set pg_raft.listen_addr to this server's numeric host:port for Raft traffic.")));
		return false;
	}
	if (!pgraft_parse_cluster(pgraft_initial_cluster, &cfg, err, sizeof(err)))
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for pg_raft.initial_cluster: %s", err),
				 errhint("The format is \"1=host:port,2=host:port,3=host:port\".")));
		return false;
	}
	if (cfg.n > 0)
	{
		self = raft_config_find(&cfg, (raft_id) pgraft_node_id);
		if (self == NULL)
		{
			uint32		i;

			/*
			 * Not listed: a server that joins an existing cluster (through
			 * raft.add_node) and uses the list only to reach its members.
			 * Unless its own address is listed under another id: then the
			 * id is wrong.
			 */
			for (i = 0; i < cfg.n; i++)
			{
				if (strcmp(cfg.members[i].addr, pgraft_listen_addr) == 0)
				{
					ereport(elevel,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("pg_raft.node_id %d is not in pg_raft.initial_cluster, which lists this server's pg_raft.listen_addr %s as node %llu",
									pgraft_node_id, pgraft_listen_addr,
									(unsigned long long) cfg.members[i].id),
							 errhint("Set pg_raft.node_id to %llu, or change the address.",
									 (unsigned long long) cfg.members[i].id)));
					return false;
				}
			}
		}
		else if (strcmp(self->addr, pgraft_listen_addr) != 0)
		{
			ereport(elevel,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pg_raft.listen_addr \"%s\" differs from the address of node %d in pg_raft.initial_cluster, \"%s\"",
							pgraft_listen_addr, pgraft_node_id, self->addr),
					 errhint("Peers dial the address in pg_raft.initial_cluster; make both the same.")));
			return false;
		}
	}
	if (pgraft_heartbeat_interval_ms >= pgraft_election_timeout_ms)
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_raft.heartbeat_interval (%d ms) must be shorter than pg_raft.election_timeout (%d ms)",
						pgraft_heartbeat_interval_ms, pgraft_election_timeout_ms),
				 errhint("A heartbeat interval of a tenth of the election timeout is usual.")));
		return false;
	}
	if (pgraft_cluster_secret == NULL || pgraft_cluster_secret[0] == '\0')
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_raft.cluster_secret is not set"),
				 errdetail("Peers authenticate each other with this shared secret."),
				 errhint("Set the same pg_raft.cluster_secret on every server of the cluster.")));
		return false;
	}
	return true;
}

uint64
pgraft_cluster_id(const char *secret)
{
	/*
	 * From the secret, so that a server that joins later (with an empty
	 * pg_raft.initial_cluster) has the same id.  It reveals nothing the
	 * handshake's HMAC proofs do not already expose to an observer.
	 */
	return hash_bytes_extended((const unsigned char *) secret, strlen(secret),
							   UINT64CONST(0x70675f72616674));	/* "pg_raft" */
}
