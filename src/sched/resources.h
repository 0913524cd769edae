/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mesos' text syntax for an agent's resources and attributes, as
 * `pacer agent --resources ... --attributes ...` takes them:
 *
 *   resources   "cpus:4;mem:8192;disk:20000;gpus:1;ports:[31000-32000,33000-33100]"
 *               "cpus(prod):2;cpus:2"      a "(role)" after the name reserves
 *                                          that amount for a role; default "*"
 *   attributes  "rack:r1;zone:a;level:2;slots:[1-4];tags:{a,b}"
 *
 * Scalars are kept as Mesos keeps them, in fixed point with three decimals
 * (int64 thousandths: "cpus:0.1" is 100), so sums of many small requests
 * never drift. Attribute values are kept as the text Marathon compares in
 * constraints (Constraints.scala getValueString): text as given, scalars as
 * Java's NumberFormat writes them ("2.50" -> "2.5", "1000" -> "1,000", at
 * most three decimals), ranges as "[b-e,...]" sorted by begin, sets as
 * "{a,b}" sorted.
 *
 * Parsers return 0, or PACER_EBADCONFIG with a message appended to err (if
 * not NULL) that quotes the input and names the bad part:
 *   invalid resources 'cpus:x': 'x' is not a number
 */
#ifndef PACER_SCHED_RESOURCES_H
#define PACER_SCHED_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

struct strbuf;

/* The scalar resources, in this order everywhere. */
enum sched_scalar { SCHED_CPUS, SCHED_MEM, SCHED_DISK, SCHED_GPUS, SCHED_NSCALARS };

/* Converts between a double and Mesos' fixed point (thousandths, rounded). */
int64_t sched_milli(double v);
double sched_unmilli(int64_t m);

/* A range of ports, both ends included; begin <= end, 1..65535. */
struct sched_port_range {
	uint16_t begin;
	uint16_t end;
};

/* The resources an agent offers to one role. */
struct sched_pool_desc {
	char *role;                      /* "*" when unreserved; owned */
	int64_t scalar[SCHED_NSCALARS];  /* thousandths */
	struct sched_port_range *ports;  /* sorted, disjoint, not adjacent; owned */
	size_t nports;                   /* number of ranges */
};

/* An agent's resources: one pool per role, in order of first mention. */
struct sched_resources {
	struct sched_pool_desc *pools;
	size_t npools;
};

void sched_resources_init(struct sched_resources *r);
void sched_resources_release(struct sched_resources *r);
/*
 * Parses text into r (which must be freshly initialized). Names other than
 * cpus, mem, disk, gpus and ports are refused (a typo like "mems" would
 * otherwise go unnoticed), as are negative or non-finite scalars, ports
 * outside 1..65535, a range whose end is before its begin, and a resource
 * given twice for the same role. Overlapping port ranges are merged, as
 * Mesos does. Empty items (";;") are skipped. On error r is left empty.
 */
int sched_resources_parse(struct sched_resources *r, const char *text, struct strbuf *err);

struct sched_attr {
	char *name;  /* owned */
	char *value; /* owned; normalized as described above */
};

struct sched_attrs {
	struct sched_attr *v;
	size_t n;
};

void sched_attrs_init(struct sched_attrs *a);
void sched_attrs_release(struct sched_attrs *a);
/*
 * Parses "name:value;..." into a (freshly initialized). Each item needs
 * exactly one ':' and a non-empty name and value (as in Mesos); a name given
 * twice is refused. On error a is left empty.
 */
int sched_attrs_parse(struct sched_attrs *a, const char *text, struct strbuf *err);
/* Appends a copy of name:value (value used as is, not normalized). */
void sched_attrs_add(struct sched_attrs *a, const char *name, const char *value);

/*
 * Writes a scalar as Java's NumberFormat.getInstance() does in Marathon
 * (en-US: grouping commas, up to three decimals, half-even): appended to sb.
 */
void sched_format_scalar(struct strbuf *sb, double v);

#endif
