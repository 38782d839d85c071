/* sluice: a Redis-backed background job queue whose admission controller
 * makes non-critical work yield when the database is under pressure.
 * Include this one header; link with `pkg-config --libs sluice`. The worker
 * runtime (sluice/worker.h, libsluice-worker) and the simulator
 * (sluice/sim.h, libsluice-sim) are libraries of their own. The libraries
 * are built with -fvisibility=hidden: each header under sluice/ exports what it
 * declares (#pragma GCC visibility), and nothing else leaves libsluice.so. */
#ifndef SLUICE_H
#define SLUICE_H

#include "sluice/error.h"
#include "sluice/client.h"
#include "sluice/job.h"
#include "sluice/deadline.h"
#include "sluice/tier.h"
#include "sluice/window.h"
#include "sluice/fair.h"
#include "sluice/class.h"
#include "sluice/gate.h"
#include "sluice/view.h"
#include "sluice/signal.h"
#include "sluice/law.h"
#include "sluice/governor.h"
#include "sluice/audit.h"
#include "sluice/check.h"
#include "sluice/command.h"
#include "sluice/parse.h"

#define SLUICE_VERSION "0.1.0"

#endif
