/* The route table. */
#include "api/api.h"

const struct route api_routes[] = {
	{ M_GET, "/v1/health", health_get, ROUTE_PUBLIC },
	{ M_GET, "/v1/ready", ready_get, ROUTE_PUBLIC },
	/* open, or behind --metrics-token (checked by the handler) */
	{ M_GET, "/metrics", metrics_get, ROUTE_PUBLIC },
	{ M_GET, "/v1/openapi.json", openapi_get, ROUTE_PUBLIC },
	{ M_GET, "/v1/tokenInfo", tokeninfo_get, 0 },
	{ M_GET, "/v1/exports", exports_list, 0 },
	{ M_POST, "/v1/exports", exports_create, 0 },
	{ M_GET, "/v1/exports/:id", exports_get, 0 },
	{ M_PUT, "/v1/exports/:id", exports_replace, 0 },
	{ M_DELETE, "/v1/exports/:id", exports_delete, 0 },
	{ M_GET, "/v1/exports/:id/distributed", exports_distributed_get, 0 },
	{ M_PUT, "/v1/exports/:id/distributed", exports_distributed_put, 0 },
	{ M_POST, "/v1/exports/:id/clone", exports_clone, 0 },
	{ M_GET, "/v1/exports/:id/audit", exports_audit, 0 },
	{ M_GET, "/v1/exports/:id/state", exports_state_keys, 0 },
	{ M_GET, "/v1/exports/:id/state/:key", exports_state_get, 0 },
	{ M_PUT, "/v1/exports/:id/state/:key", exports_state_put, 0 },
	{ M_DELETE, "/v1/exports/:id/state/:key", exports_state_delete, 0 },
	{ M_GET, "/v1/audit", audit_list, 0 },
	{ M_GET, "/v1/state", state_global_keys, 0 },
	{ M_DELETE, "/v1/state", state_global_delete, 0 },
	{ M_GET, "/v1/state/:key", state_global_get, 0 },
	{ M_PUT, "/v1/state/:key", state_global_put, 0 },
	{ M_DELETE, "/v1/state/:key", state_global_delete, 0 },
	{ M_GET, "/v1/exports/:id/inbox", inbox_get, 0 },
	{ M_POST, "/v1/exports/:id/inbox/ack", inbox_ack, 0 },
	/* the public webhook listener: no bearer token */
	{ M_POST | M_PUT | M_GET, "/v1/exports/:id/data", listener_receive,
	  ROUTE_PUBLIC | ROUTE_LISTENER },
	{ M_POST | M_PUT | M_GET, "/v1/exports/:id/:token/data",
	  listener_receive, ROUTE_PUBLIC | ROUTE_LISTENER },
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
