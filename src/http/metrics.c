/* Request metrics: one histogram cell per route, method and status
 * class. Cells are added to with relaxed atomics from every server
 * thread (and the gate's), so the request path takes no lock; a scrape
 * reads them as they are and renders only the cells that were used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/gate.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "util/metrics.h"
#include "util/xmalloc.h"

#define NMETHODS	9	/* the 8 bits of enum http_method, and none */
#define NCLASSES	5	/* 1xx .. 5xx */

static const char *const method_names[NMETHODS] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
	"none",
};

struct http_metrics {
	size_t			 nslots;
	struct metrics_hist	*cells;	/* [slot][method][class] */
};

struct http_metrics *
http_metrics_new(size_t nroutes)
{
	struct http_metrics	*m;

	m = xcalloc(1, sizeof(*m));
	m->nslots = nroutes + 2;
	m->cells = xcalloc(m->nslots * NMETHODS * NCLASSES,
	    sizeof(*m->cells));
	return m;
}

void
http_metrics_free(struct http_metrics *m)
{
	if (m == NULL)
		return;
	free(m->cells);
	free(m);
}

/* The index of a method bit (M_GET: 0, ..., M_OTHER: 7; none: 8). */
static unsigned
method_index(unsigned method)
{
	unsigned	i;

	for (i = 0; i < NMETHODS - 1; i++)
		if (method == 1u << i)
			return i;
	return NMETHODS - 1;
}

void
http_metrics_request(struct http_metrics *m, size_t slot, unsigned method,
    unsigned status, int64_t us)
{
	unsigned	cls;

	if (m == NULL || slot >= m->nslots || status < 100 || status > 599)
		return;
	cls = status / 100 - 1;
	metrics_observe(&m->cells[(slot * NMETHODS + method_index(method)) *
	    NCLASSES + cls], &metrics_latency, us);
}

/* The label list of a cell: route, method, code class. */
static void
cell_labels(struct buf *b, const struct server *srv, size_t slot,
    unsigned mi, unsigned cls)
{
	buf_reset(b);
	buf_adds(b, "route=\"");
	if (slot < srv->nroutes)
		metrics_label_value(b, srv->routes[slot].pattern);
	else
		buf_adds(b, slot == HTTP_SLOT_GATE(srv->nroutes) ? "gate" :
		    "unmatched");
	buf_printf(b, "\",method=\"%s\",code=\"%uxx\"", method_names[mi],
	    cls + 1);
}

/* Each used cell of the server's table, once as a counter (name given)
 * or once as a histogram (name NULL). */
static void
cells_render(const struct server *srv, struct buf *b, const char *counter)
{
	const struct http_metrics	*m = srv->metrics;
	const struct metrics_hist	*h;
	struct buf			 labels;
	uint64_t			 n;
	size_t				 slot;
	unsigned			 mi, cls;

	buf_init(&labels, 0);
	for (slot = 0; slot < m->nslots; slot++)
		for (mi = 0; mi < NMETHODS; mi++)
			for (cls = 0; cls < NCLASSES; cls++) {
				h = &m->cells[(slot * NMETHODS + mi) *
				    NCLASSES + cls];
				if ((n = metrics_hist_count(h)) == 0)
					continue;
				cell_labels(&labels, srv, slot, mi, cls);
				if (counter != NULL)
					buf_printf(b, "%s{%s} %llu\n", counter,
					    labels.data, (unsigned long long)n);
				else
					metrics_hist_render(b,
					    "exportd_http_request_duration_seconds",
					    labels.data, h, &metrics_latency);
			}
	buf_free(&labels);
}

void
http_metrics_render(const struct server *srv, struct buf *b)
{
	metrics_family(b, "exportd_http_requests_total", "counter",
	    "HTTP requests answered, by route pattern, method and status "
	    "class (route \"gate\": refused by the gate before routing)");
	cells_render(srv, b, "exportd_http_requests_total");
	metrics_family(b, "exportd_http_request_duration_seconds", "histogram",
	    "Time from a request's first byte until its answer was sent");
	cells_render(srv, b, NULL);
	metrics_family(b, "exportd_http_open_connections", "gauge",
	    "Client connections open (waiting for a head or held by the "
	    "server)");
	buf_printf(b, "exportd_http_open_connections %u\n",
	    srv->gate != NULL ? gate_open(srv->gate) : 0);
	metrics_family(b, "exportd_http_requests_in_flight", "gauge",
	    "Requests received and not yet answered");
	buf_printf(b, "exportd_http_requests_in_flight %ld\n",
	    (long)atomic_load(&srv->inflight));
}
