/*
 * regress/jepsen/check_tables.c — the set workload and the final tables of
 * a Jepsen-style history: every acknowledged insert is on every server,
 * none twice, no failed insert anywhere, no id nobody inserted; the final
 * registers and sets are identical on every server that answered.
 */
#include "checker.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_id(const void *x, const void *y)
{
	long		a = *(const long *) x;
	long		b = *(const long *) y;

	return (a > b) - (a < b);
}

static int
set_has(const long *set, size_t n, long id)
{
	return bsearch(&id, set, n, sizeof(long), cmp_id) != NULL;
}

void
jepsen_print_op(FILE *out, const JepsenOp *op)
{
	static const char *kinds[] = {"read", "write", "cas", "add"};
	static const char *outcomes[] = {"ok", "fail", "unknown"};

	fprintf(out, "op %d %s %d %ld %ld %s %ld %" PRId64 " %" PRId64 " %d",
			op->client, kinds[op->kind], op->key, op->a, op->b,
			outcomes[op->outcome], op->result, op->t0, op->t1, op->server);
}

int
jepsen_check_set(const JepsenHistory *h, FILE *out)
{
	int			anomalies = 0;
	size_t		nadd = 0;
	long	   *added = malloc((h->nops ? h->nops : 1) * sizeof(long));

	if (!added)
	{
		fprintf(out, "ANOMALY set: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < h->nops; i++)
	{
		const JepsenOp *op = &h->ops[i];

		if (op->kind != JOP_ADD)
			continue;
		added[nadd++] = op->a;
		for (int s = 1; s <= JEPSEN_MAX_SERVERS; s++)
		{
			const JepsenFinal *f = &h->final[s];

			if (!f->present)
				continue;
			int			has = set_has(f->set, f->nset, op->a);

			if (op->outcome == JOUT_OK && !has)
			{
				fprintf(out, "ANOMALY set: acknowledged insert %ld lost on server %d: ", op->a, s);
				jepsen_print_op(out, op);
				fputc('\n', out);
				anomalies++;
			}
			if (op->outcome == JOUT_FAIL && has)
			{
				fprintf(out, "ANOMALY set: failed insert %ld present on server %d: ", op->a, s);
				jepsen_print_op(out, op);
				fputc('\n', out);
				anomalies++;
			}
		}
	}
	qsort(added, nadd, sizeof(long), cmp_id);
	for (size_t i = 1; i < nadd; i++)
		if (added[i] == added[i - 1])
		{
			fprintf(out, "ANOMALY set: the driver inserted id %ld twice\n", added[i]);
			anomalies++;
		}
	for (int s = 1; s <= JEPSEN_MAX_SERVERS; s++)
	{
		const JepsenFinal *f = &h->final[s];

		for (size_t i = 0; f->present && i < f->nset; i++)
		{
			if (i > 0 && f->set[i] == f->set[i - 1])
			{
				fprintf(out, "ANOMALY set: id %ld present twice on server %d\n", f->set[i], s);
				anomalies++;
			}
			if (!set_has(added, nadd, f->set[i]))
			{
				fprintf(out, "ANOMALY set: id %ld on server %d was never inserted\n", f->set[i], s);
				anomalies++;
			}
		}
	}
	free(added);
	return anomalies;
}

int
jepsen_check_divergence(const JepsenHistory *h, FILE *out)
{
	int			anomalies = 0;
	int			first = 0;
	int			servers = 0;

	for (int s = 1; s <= JEPSEN_MAX_SERVERS; s++)
	{
		const JepsenFinal *f = &h->final[s];

		if (!f->present)
			continue;
		servers++;
		if (!first)
		{
			first = s;
			continue;
		}
		const JepsenFinal *g = &h->final[first];

		for (int k = 0; k < JEPSEN_MAX_KEYS; k++)
			if (f->reg[k] != g->reg[k])
			{
				fprintf(out, "ANOMALY divergence: register %d is %ld on server %d, %ld on server %d\n",
						k, f->reg[k], s, g->reg[k], first);
				anomalies++;
			}
		if (f->nset != g->nset || (f->nset && memcmp(f->set, g->set, f->nset * sizeof(long)) != 0))
		{
			fprintf(out, "ANOMALY divergence: the set has %zu rows on server %d, %zu on server %d, or other ids\n",
					f->nset, s, g->nset, first);
			anomalies++;
		}
	}
	if (servers == 0)
	{
		fprintf(out, "ANOMALY final: no server answered the final reads\n");
		anomalies++;
	}
	return anomalies;
}
