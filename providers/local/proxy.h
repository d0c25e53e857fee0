// The local provider's endpoint proxy: `kiln __local-proxy ROOT ID`
// (hidden), one detached process per endpoint, an HTTP reverse proxy (on
// Debian's cpp-httplib) listening on the endpoint's `url`, in front of its
// replicas.
//
// Files under ROOT/endpoints/<id>/ connect it with the provider:
// - proxy.json (written by kiln, re-read by the proxy when it changes): the
//   port, the replicas to route to ({index, port, track, pid}), the health
//   check, the canary weight, the autoscaling policy and a generation number.
// - proxy.pid: the proxy's pid (its session id).
// - metrics.json (written by the proxy twice a second and after each
//   reload): the generation it routes by, requests, errors and latency
//   percentiles per replica set (`stable`, `canary`), the measured load, the
//   replicas ready now and those it drains (removed from the routing, with
//   requests still in flight).
// - autoscaled.json (written by the proxy): the replicas it started itself
//   above `replicas.min`; replica_spec.json (0600, written by kiln): how to
//   start one (command, environment with secrets, GPU pool).
//
// Kiln starts the `replicas.min` base replicas and the canary replica; the
// proxy owns the replicas autoscaling adds, starts and stops them (GPU
// leases as for any replica) and stops them when it is stopped.
#pragma once

#include <string>

#include "providers/local/util.h"

namespace kiln::local {

// What a metrics.json says, reduced to the figures users read.
struct ProxyFigures {
  bool present = false;
  int64_t generation = -1;
  json draining = json::array();  // ports with requests in flight
};
ProxyFigures ReadProxyFigures(const fs::path& dir);
// The `traffic` attribute of an endpoint from its metrics.json (null when
// the proxy has written none).
json TrafficSummary(const fs::path& dir);
// One line for the plan: "1200 requests, p50 2.1 ms, p95 8.0 ms, 0.0% errors, 2 replicas now".
std::string TrafficLine(const json& traffic);

int ProxyMain(int argc, char** argv);

}  // namespace kiln::local
