/* sluice: a Redis-backed background job queue whose admission controller
 * makes non-critical work yield when the database is under pressure.
 * Include this one header; link with `pkg-config --libs sluice`. */
#ifndef SLUICE_H
#define SLUICE_H

#include "sluice/error.h"
#include "sluice/tier.h"
#include "sluice/job.h"
#include "sluice/client.h"
#include "sluice/governor.h"
#include "sluice/admin.h"
#include "sluice/proto.h"
#include "sluice/govern.h"
#include "sluice/audit.h"
#include "sluice/parse.h"
#include "sluice/sim.h"
#include "sluice/check.h"

#define SLUICE_VERSION "0.1.0"

#endif
